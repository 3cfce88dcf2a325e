"""Finding providers: the ``vk_trio.providers`` entry-point group.

The shipped providers and third-party ones register the same way, in their package metadata::

    [project.entry-points."vk_trio.providers"]
    mycloud = "mycloud_vk:create_provider"

where ``create_provider`` is a :data:`ProviderFactory`.  Nothing is imported until a provider is
actually chosen, so a broken third-party package cannot stop ``vk-trio providers`` or another
provider from working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import final

import attrs

from ._config import ProviderConfig
from ._protocols import PodLifecycleHandler

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderEntry",
    "ProviderFactory",
    "ProviderLoadError",
    "ProviderRegistryError",
    "UnknownProviderError",
    "list_providers",
    "load_provider_factory",
]

ENTRY_POINT_GROUP = "vk_trio.providers"

ProviderFactory = Callable[[ProviderConfig], PodLifecycleHandler]
"""Builds the provider; raises ``InvalidInputError`` or ``OSError`` for a configuration problem."""


class ProviderRegistryError(Exception):
    """A provider could not be looked up or loaded."""


@final
class UnknownProviderError(ProviderRegistryError, LookupError):
    """No installed package registers a provider of that name."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(available)
        listed = ", ".join(self.available) or "none installed"
        super().__init__(f"provider {name!r} not found (available: {listed})")


@final
class ProviderLoadError(ProviderRegistryError):
    """The provider is registered but its factory could not be imported or is ambiguous, or the
    object it built does not have the shape of a provider (:func:`check_provider`)."""


@final
@attrs.frozen
class ProviderEntry:
    """One registered provider: its name, the ``module:attr`` it points at, and who ships it."""

    name: str
    target: str
    distribution: str | None


def _group(found: Iterable[EntryPoint] | None) -> list[EntryPoint]:
    if found is not None:
        return [ep for ep in found if ep.group == ENTRY_POINT_GROUP]
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _entry(ep: EntryPoint) -> ProviderEntry:
    dist = ep.dist.name if ep.dist is not None else None
    return ProviderEntry(name=ep.name, target=ep.value, distribution=dist)


def list_providers(found: Iterable[EntryPoint] | None = None) -> list[ProviderEntry]:
    """Every registered provider, sorted by name (``found`` replaces the installed entry points).

    The same distribution can appear twice on ``sys.path`` (an editable install next to a
    built one); identical registrations are listed once.
    """
    unique = {(e.name, e.target): e for e in map(_entry, _group(found))}
    return sorted(unique.values(), key=lambda e: (e.name, e.target))


def load_provider_factory(name: str, found: Iterable[EntryPoint] | None = None) -> ProviderFactory:
    """Import and return the factory registered as ``name``.

    Raises :class:`UnknownProviderError` if nothing registers ``name`` and
    :class:`ProviderLoadError` if two packages register it differently, or the import fails, or
    the target is not callable.
    """
    candidates = [ep for ep in _group(found) if ep.name == name]
    if not candidates:
        raise UnknownProviderError(name, sorted({e.name for e in list_providers(found)}))
    targets = sorted({ep.value for ep in candidates})
    if len(targets) > 1:
        raise ProviderLoadError(
            f"provider {name!r} is registered more than once: {', '.join(targets)}"
        )
    try:
        factory = candidates[0].load()
    except Exception as exc:
        raise ProviderLoadError(
            f"provider {name!r}: cannot import {targets[0]}: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(factory):
        raise ProviderLoadError(f"provider {name!r}: {targets[0]} is not callable")
    result: ProviderFactory = factory
    return result
