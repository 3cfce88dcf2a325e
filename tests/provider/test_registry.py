"""Provider discovery through the ``vk_trio.providers`` entry-point group."""

import json
from importlib.metadata import EntryPoint

import pytest

from vk_trio.provider import (
    ENTRY_POINT_GROUP,
    ProviderEntry,
    ProviderLoadError,
    UnknownProviderError,
    list_providers,
    load_provider_factory,
)


def ep(name: str, value: str, group: str = ENTRY_POINT_GROUP) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=group)


def test_group_name() -> None:
    assert ENTRY_POINT_GROUP == "vk_trio.providers"


def test_installed_mock_is_listed() -> None:
    names = [entry.name for entry in list_providers()]
    assert "mock" in names
    (mock,) = [e for e in list_providers() if e.name == "mock"]
    assert mock.target == "vk_trio_mock:create_provider"
    assert mock.distribution == "vk-trio"


def test_listing_is_sorted_deduplicated_and_filtered_by_group() -> None:
    found = [
        ep("zeta", "pkg_z:make"),
        ep("alpha", "pkg_a:make"),
        ep("alpha", "pkg_a:make"),
        ep("other", "x:y", group="console_scripts"),
    ]
    assert list_providers(found) == [
        ProviderEntry(name="alpha", target="pkg_a:make", distribution=None),
        ProviderEntry(name="zeta", target="pkg_z:make", distribution=None),
    ]


def test_loading_imports_only_the_chosen_provider() -> None:
    found = [ep("good", "json:dumps"), ep("broken", "no_such_module_xyz:make")]
    factory: object = load_provider_factory("good", found)
    assert factory is json.dumps


def test_unknown_provider_lists_the_available_ones() -> None:
    with pytest.raises(UnknownProviderError) as info:
        load_provider_factory("nope", [ep("b", "json:dumps"), ep("a", "json:loads")])
    assert str(info.value) == "provider 'nope' not found (available: a, b)"
    assert info.value.available == ("a", "b")
    assert isinstance(info.value, LookupError)
    with pytest.raises(UnknownProviderError, match=r"\(available: none installed\)"):
        load_provider_factory("nope", [])


def test_import_failure_is_a_load_error() -> None:
    with pytest.raises(ProviderLoadError) as info:
        load_provider_factory("broken", [ep("broken", "no_such_module_xyz:make")])
    assert str(info.value).startswith(
        "provider 'broken': cannot import no_such_module_xyz:make: ModuleNotFoundError"
    )


def test_conflicting_registrations_are_a_load_error() -> None:
    with pytest.raises(ProviderLoadError, match="registered more than once: a:f, b:f"):
        load_provider_factory("dup", [ep("dup", "b:f"), ep("dup", "a:f")])


def test_non_callable_target_is_a_load_error() -> None:
    with pytest.raises(ProviderLoadError, match="json:__doc__ is not callable"):
        load_provider_factory("doc", [ep("doc", "json:__doc__")])
