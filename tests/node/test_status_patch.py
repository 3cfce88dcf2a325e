"""Pod status patches: only the status, only the difference, only the node's fields and
condition types, readiness gates folded into Ready (strategic merge patches keyed by type)."""

import datetime as dt
from typing import Any

from vk_trio.node._pod_conditions import (
    READINESS_GATES_NOT_READY,
    desired_conditions,
    readiness_gates,
)
from vk_trio.node._status_patch import _unchanged, desired_status, merge_patch, status_patch
from vk_trio.node._strategic import apply_strategic_patch

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
STAMP = "2026-01-02T03:04:05Z"
EARLIER = "2025-12-31T00:00:00Z"


def now() -> dt.datetime:
    return NOW


def apply(current: dict[str, Any], provider: dict[str, Any], gates: tuple[str, ...] = ()) -> Any:
    """What the API server holds after our patch (the status part)."""
    patch = status_patch(current, provider, gates, now)
    if patch is None:
        return current
    return apply_strategic_patch({"status": current}, patch)["status"]


def test_no_difference_is_no_patch() -> None:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert status_patch(status, dict(status)) is None
    # absent, empty and null are the same
    assert status_patch({"phase": "Running", "message": ""}, {"phase": "Running"}) is None
    assert status_patch(None, {}) is None


def test_changes_additions_and_removals_in_the_nodes_fields() -> None:
    current = {
        "phase": "Pending",
        "reason": "ProviderFailed",
        "message": "boom",
        "qosClass": "BestEffort",
    }
    provider = {"phase": "Running", "podIP": "5.6.7.8", "hostIPs": [{"ip": "1.2.3.4"}]}
    assert status_patch(current, provider) == {
        "status": {
            "phase": "Running",
            "podIP": "5.6.7.8",
            # merged by ip on the server: ours replace the list, the first is the primary
            "hostIPs": [{"ip": "1.2.3.4"}, {"$patch": "replace"}],
            "reason": None,
            "message": None,
        }
    }


def test_ip_lists_are_replaced_not_merged() -> None:
    current = {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}
    provider = {"podIP": "10.0.0.2", "podIPs": [{"ip": "10.0.0.2"}]}
    assert apply(current, provider) == provider


def test_container_statuses_are_replaced_whole() -> None:
    current = {"containerStatuses": [{"name": "a", "ready": True, "restartCount": 1}]}
    provider = {"containerStatuses": [{"name": "a", "ready": False}]}
    assert status_patch(current, provider) == {
        "status": {"containerStatuses": [{"name": "a", "ready": False}]}
    }


def test_fields_outside_the_nodes_domain_are_never_written() -> None:
    current = {
        "phase": "Running",
        "nominatedNodeName": "other",
        "resize": "InProgress",
        "resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "c"}],
    }
    # nothing the provider says about them is written, and their absence removes nothing
    assert status_patch(current, {"phase": "Running"}) is None
    assert status_patch(current, {"phase": "Running", "nominatedNodeName": "mine"}) is None
    patch = status_patch(current, {"phase": "Succeeded"})
    assert patch == {"status": {"phase": "Succeeded"}}


def test_server_owned_fields_are_kept_unless_the_provider_sets_them() -> None:
    assert status_patch({"qosClass": "Burstable"}, {}) is None
    assert status_patch({"qosClass": "Burstable"}, {"qosClass": "Guaranteed"}) == {
        "status": {"qosClass": "Guaranteed"}
    }


def test_others_conditions_survive_and_are_not_in_the_patch() -> None:
    others = [
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"},
        {"type": "example.com/lb-ready", "status": "True"},
    ]
    current = {"phase": "Running", "conditions": [*others]}
    provider = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER},
            # a stale copy of someone else's condition is not ours to write
            {"type": "example.com/lb-ready", "status": "False"},
        ],
    }
    patch = status_patch(current, provider, (), now)
    assert patch == {
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": EARLIER}]
        }
    }
    result = apply(current, provider)
    assert result["conditions"] == [
        *others,
        {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER},
    ]
    # a change to someone else's condition makes no write
    changed = {
        **result,
        "conditions": [{**others[0], "status": "False"}, *result["conditions"][1:]],
    }
    assert status_patch(changed, provider, (), now) is None


def test_owned_conditions_the_provider_drops_are_deleted_by_type() -> None:
    current = {
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER},
            {"type": "Ready", "status": "True"},
            {"type": "ContainersReady", "status": "True"},
            {"type": "DisruptionTarget", "status": "True"},
        ]
    }
    provider = {"phase": "Failed", "conditions": [{"type": "Ready", "status": "True"}]}
    assert status_patch(current, provider, (), now) == {
        "status": {
            "phase": "Failed",
            "conditions": [{"type": "ContainersReady", "$patch": "delete"}],
        }
    }
    # PodScheduled (set by the binding) stays even when the provider reports no conditions
    assert apply(current, {"phase": "Failed"})["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER},
        {"type": "DisruptionTarget", "status": "True"},
    ]


def test_transition_times() -> None:
    current = {
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER}]
    }
    provider = {
        "conditions": [
            {"type": "PodScheduled", "status": "True"},  # unchanged: keeps the API's time
            {"type": "Initialized", "status": "True"},  # new, no time given: now
            {"type": "Ready", "status": "False", "lastTransitionTime": EARLIER},  # given: kept
        ]
    }
    assert apply(current, provider)["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER},
        {"type": "Initialized", "status": "True", "lastTransitionTime": STAMP},
        {"type": "Ready", "status": "False", "lastTransitionTime": EARLIER},
    ]


def test_readiness_gates_fold_into_ready() -> None:
    gate = "example.com/lb-ready"
    provider = {
        "phase": "Running",
        "conditions": [
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": EARLIER},
            {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER},
        ],
    }
    # no gate condition yet: not ready
    first = apply({}, provider, (gate,))
    ready = {c["type"]: c for c in first["conditions"]}["Ready"]
    assert ready["status"] == "False"
    assert ready["reason"] == READINESS_GATES_NOT_READY
    assert gate in ready["message"]
    assert ready["lastTransitionTime"] == STAMP
    assert {c["type"]: c for c in first["conditions"]}["ContainersReady"]["status"] == "True"
    assert status_patch(first, provider, (gate,), now) is None  # stable

    # the gate's owner sets it False, then True: Ready follows, the gate is never written
    gated_false = {**first, "conditions": [*first["conditions"], {"type": gate, "status": "False"}]}
    assert status_patch(gated_false, provider, (gate,), now) == {
        "status": {
            "conditions": [
                {"type": "Ready", "message": f'readiness gate "{gate}" is False, not True'}
            ]
        }
    }
    gated_true = {**first, "conditions": [*first["conditions"], {"type": gate, "status": "True"}]}
    later = dt.datetime(2026, 1, 2, 4, 0, 0, tzinfo=dt.UTC)
    patch = status_patch(gated_true, provider, (gate,), lambda: later)
    # the provider's (older) time is not used: it cannot know when the gate flipped
    assert patch == {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": None,
                    "message": None,
                    "lastTransitionTime": "2026-01-02T04:00:00Z",
                }
            ]
        }
    }
    # the provider's own not-ready wins over the gates' reason
    not_ready = {
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
    }
    result = apply(gated_true, not_ready, (gate,))
    ready = {c["type"]: c for c in result["conditions"]}["Ready"]
    assert ready["reason"] == "ContainersNotReady"
    assert {c["type"]: c for c in result["conditions"]}[gate] == {"type": gate, "status": "True"}


def test_readiness_gates_of_a_pod() -> None:
    pod = {"spec": {"readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}, {}]}}
    assert readiness_gates(pod) == ("a", "b")
    assert readiness_gates({}) == ()


def test_conditions_keep_the_api_servers_order() -> None:
    current = [{"type": "X", "status": "True"}, {"type": "Ready", "status": "True"}]
    reported = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]
    result = desired_conditions(current, reported, (), now)
    assert [c["type"] for c in result] == ["X", "Ready", "Initialized"]


def test_merge_patch_of_scalars() -> None:
    assert merge_patch(1, 1) is None
    assert merge_patch(1, 2) == 2
    assert merge_patch({"a": 1}, [1]) == [1]


def test_the_quick_check_never_disagrees_with_the_full_comparison() -> None:
    base = {
        "phase": "Running",
        "qosClass": "BestEffort",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER},
            {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER},
            {"type": "DisruptionTarget", "status": "True"},
        ],
    }
    providers: list[dict[str, Any]] = [
        {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]},
        {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}]},
        {"phase": "Running", "conditions": []},
        {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "reason": "x"}]},
        {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": STAMP},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER},
            ],
        },
        {"phase": "Running", "nominatedNodeName": "x", "conditions": base["conditions"]},
        {"phase": "Failed", "conditions": base["conditions"]},
        {"conditions": base["conditions"]},
    ]
    for provider in providers:
        quick = _unchanged(base, provider)
        full = desired_status(base, provider, (), now) == base
        assert not quick or full, provider
    assert _unchanged(base, providers[0])  # the mock's shape takes the quick path
