"""Typed status values and their Kubernetes JSON form."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from cattrs.errors import ClassValidationError

from vk_trio.provider import (
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    HostIP,
    NodeAddress,
    NodeCondition,
    PodCondition,
    PodIP,
    PodStatus,
    node_condition_to_dict,
    pod_status_from_dict,
    pod_status_to_dict,
    pod_with_status,
)

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def running_status() -> PodStatus:
    return PodStatus(
        phase="Running",
        host_ip="1.2.3.4",
        host_ips=(HostIP(ip="1.2.3.4"),),
        pod_ip="5.6.7.8",
        pod_ips=(PodIP(ip="5.6.7.8"),),
        start_time=T0,
        conditions=(PodCondition(type="Ready", status="True", last_transition_time=T0),),
        container_statuses=(
            ContainerStatus(
                name="app",
                image="nginx",
                ready=True,
                container_id="mock://abc",
                state=ContainerState(running=ContainerStateRunning(started_at=T0)),
            ),
        ),
    )


def test_pod_status_serialises_with_kubernetes_names_and_omits_unset_fields() -> None:
    assert running_status().to_dict() == {
        "phase": "Running",
        "hostIP": "1.2.3.4",
        "hostIPs": [{"ip": "1.2.3.4"}],
        "podIP": "5.6.7.8",
        "podIPs": [{"ip": "5.6.7.8"}],
        "startTime": "2024-05-06T07:08:09Z",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-06T07:08:09Z"}
        ],
        "containerStatuses": [
            {
                "name": "app",
                "ready": True,
                "restartCount": 0,
                "image": "nginx",
                "imageID": "",
                "containerID": "mock://abc",
                "state": {"running": {"startedAt": "2024-05-06T07:08:09Z"}},
            }
        ],
    }


def test_empty_status_is_an_empty_dict() -> None:
    assert PodStatus().to_dict() == {}


def test_terminated_state_always_writes_exit_code() -> None:
    state = ContainerState(terminated=ContainerStateTerminated(reason="Completed"))
    status = PodStatus(container_statuses=(ContainerStatus(name="c", state=state),))
    entry = status.to_dict()["containerStatuses"][0]
    assert entry["state"] == {"terminated": {"exitCode": 0, "reason": "Completed"}}


def test_round_trip_through_dict_is_lossless_for_modelled_fields() -> None:
    status = PodStatus(
        phase="Failed",
        reason="ProviderFailed",
        message="boom",
        qos_class="BestEffort",
        init_container_statuses=(
            ContainerStatus(
                name="init",
                state=ContainerState(waiting=ContainerStateWaiting(reason="PodInitializing")),
                last_state=ContainerState(
                    terminated=ContainerStateTerminated(
                        exit_code=137, signal=9, started_at=T0, finished_at=T0, container_id="x"
                    )
                ),
                restart_count=2,
                started=False,
            ),
        ),
    )
    assert pod_status_from_dict(status.to_dict()) == status
    assert pod_status_from_dict(running_status().to_dict()) == running_status()


def test_from_dict_ignores_unknown_fields_and_reads_offsets() -> None:
    status = pod_status_from_dict(
        {"phase": "Pending", "resize": "Proposed", "startTime": "2024-05-06T09:08:09+02:00"}
    )
    assert status.phase == "Pending"
    assert status.start_time == T0


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive = PodStatus(start_time=datetime(2024, 5, 6, 7, 8, 9))
    assert naive.to_dict()["startTime"] == "2024-05-06T07:08:09Z"
    other_zone = PodStatus(start_time=T0.astimezone(timezone(timedelta(hours=-5))))
    assert other_zone.to_dict()["startTime"] == "2024-05-06T07:08:09Z"


def test_from_dict_rejects_wrong_types() -> None:
    with pytest.raises(ClassValidationError):
        pod_status_from_dict({"startTime": 12})
    with pytest.raises(ClassValidationError):
        pod_status_from_dict({"startTime": "yesterday"})


def test_pod_status_to_dict_accepts_typed_and_mapping_values() -> None:
    raw = {"phase": "Running"}
    copy = pod_status_to_dict(raw)
    assert copy == raw
    assert copy is not raw
    assert pod_status_to_dict(PodStatus(phase="Running")) == raw


def test_pod_with_status_is_a_shallow_copy_with_the_new_status() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {"phase": "Pending"}}
    notified = pod_with_status(pod, PodStatus(phase="Running"))
    assert notified["status"] == {"phase": "Running"}
    assert pod["status"] == {"phase": "Pending"}
    assert notified["metadata"] is pod["metadata"]


def test_node_condition_and_address() -> None:
    cond = NodeCondition(
        type="Ready",
        status="True",
        reason="KubeletReady",
        message="Kubelet is ready",
        last_heartbeat_time=T0,
    )
    assert node_condition_to_dict(cond) == {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "Kubelet is ready",
        "lastHeartbeatTime": "2024-05-06T07:08:09Z",
    }
    assert node_condition_to_dict({"type": "X", "status": "False"}) == {
        "type": "X",
        "status": "False",
    }
    assert NodeAddress(type="InternalIP", address="10.0.0.1").to_dict() == {
        "type": "InternalIP",
        "address": "10.0.0.1",
    }


def test_values_are_frozen() -> None:
    status = PodStatus(phase="Running")
    with pytest.raises(AttributeError):
        status.phase = "Failed"  # type: ignore[misc]
