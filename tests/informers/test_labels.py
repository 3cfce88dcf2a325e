from __future__ import annotations

import pytest

from vk_trio.informers import LabelSelector, LabelSelectorError


def sel(text: str) -> LabelSelector:
    return LabelSelector.parse(text)


def test_empty_selector_matches_everything() -> None:
    assert sel("").empty
    assert sel("  ").matches({})
    assert sel("").matches({"a": "b"})


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),  # absent key satisfies !=
        ("app!=web", {"app": "web"}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env in (prod,staging)", {"env": "dev"}, False),
        ("env in (prod)", {}, False),
        ("env notin (prod)", {}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("canary", {"canary": ""}, True),
        ("canary", {}, False),
        ("!canary", {}, True),
        ("!canary", {"canary": "yes"}, False),
        ("tier=", {"tier": ""}, True),
        ("replicas>2", {"replicas": "3"}, True),
        ("replicas>2", {"replicas": "2"}, False),
        ("replicas<2", {"replicas": "1"}, True),
        ("replicas<2", {"replicas": "x"}, False),
        ("example.com/role=edge", {"example.com/role": "edge"}, True),
        ("app=web,tier!=db,env in (a,b),!canary", {"app": "web", "env": "a"}, True),
        ("app=web,tier!=db,env in (a,b),!canary", {"app": "web", "env": "a", "canary": "1"}, False),
    ],
)
def test_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert sel(text).matches(labels) is expected


@pytest.mark.parametrize(
    "text", ["app=web,", "=web", "env in prod", "env in ()", "a b", "x>y", "app=web)", "a@b"]
)
def test_bad_selectors_are_rejected(text: str) -> None:
    with pytest.raises(LabelSelectorError):
        sel(text)


def test_round_trip_to_string() -> None:
    text = "app=web,tier!=db,env in (a,b),env2 notin (c),!canary,release,n>3,m<4"
    parsed = sel(text)
    assert sel(str(parsed)) == parsed
    assert str(parsed) == text


def test_from_labels_and_from_api() -> None:
    assert LabelSelector.from_labels({"b": "2", "a": "1"}) == sel("a=1,b=2")
    api = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "Exists"},
            {"key": "zone", "operator": "NotIn", "values": ["z1"]},
        ],
    }
    parsed = LabelSelector.from_api(api)
    assert parsed.matches({"app": "web", "env": "prod", "tier": "x"})
    assert not parsed.matches({"app": "web", "env": "prod", "tier": "x", "zone": "z1"})
    with pytest.raises(LabelSelectorError):
        LabelSelector.from_api({"matchExpressions": [{"key": "a", "operator": "Near"}]})
    with pytest.raises(LabelSelectorError):
        LabelSelector.from_api({"matchExpressions": [{"key": "a", "operator": "In"}]})
