"""Pod status merge patches: only the status, only the difference, server fields kept."""

from vk_trio.node._status_patch import merge_patch, status_patch


def test_no_difference_is_no_patch() -> None:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert status_patch(status, dict(status)) is None
    # absent, empty and null are the same
    assert status_patch({"phase": "Running", "message": ""}, {"phase": "Running"}) is None
    assert status_patch(None, {}) is None


def test_changes_additions_and_removals() -> None:
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
            "hostIPs": [{"ip": "1.2.3.4"}],
            "reason": None,
            "message": None,
        }
    }


def test_lists_are_replaced_whole_and_nested_maps_merged() -> None:
    current = {
        "containerStatuses": [{"name": "a", "ready": True}],
        "nested": {"keep": 1, "drop": 2},
    }
    provider = {
        "containerStatuses": [{"name": "a", "ready": False}],
        "nested": {"keep": 1, "new": 3},
    }
    assert status_patch(current, provider) == {
        "status": {
            "containerStatuses": [{"name": "a", "ready": False}],
            "nested": {"new": 3, "drop": None},
        }
    }


def test_server_owned_fields_are_kept_unless_the_provider_sets_them() -> None:
    assert status_patch({"qosClass": "Burstable"}, {}) is None
    assert status_patch({"qosClass": "Burstable"}, {"qosClass": "Guaranteed"}) == {
        "status": {"qosClass": "Guaranteed"}
    }


def test_merge_patch_of_scalars() -> None:
    assert merge_patch(1, 1) is None
    assert merge_patch(1, 2) == 2
    assert merge_patch({"a": 1}, [1]) == [1]
