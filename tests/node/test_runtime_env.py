"""Filling in the env values only the provider knows."""

from typing import Any

from vk_trio.node._runtime_env import apply_runtime_fields, deferred_env_names


def field(path: str) -> dict[str, Any]:
    return {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}


POD: dict[str, Any] = {
    "metadata": {"name": "p"},
    "spec": {
        "containers": [
            {
                "name": "c",
                "env": [
                    {"name": "BEFORE", "value": "$(POD_IP)"},
                    {"name": "POD_IP", "valueFrom": field("status.podIP")},
                    {"name": "POD_IPS", "valueFrom": field("status.podIPs")},
                    {"name": "HOST_IP", "valueFrom": field("status.hostIP")},
                    {"name": "HOST_IPS", "valueFrom": field("status.hostIPs")},
                    {"name": "PHASE", "valueFrom": field("status.phase")},
                    {"name": "URL", "value": "http://$(POD_IP):80 on $(HOST_IP) $(OTHER) $$"},
                ],
            }
        ],
        "initContainers": [{"name": "i", "env": [{"name": "X", "value": "$(POD_IP)"}]}],
    },
}


def test_deferred_names() -> None:
    assert deferred_env_names(POD["spec"]["containers"][0]) == {
        "POD_IP": "status.podIP",
        "POD_IPS": "status.podIPs",
        "HOST_IP": "status.hostIP",
        "HOST_IPS": "status.hostIPs",
        "PHASE": "status.phase",
    }


def test_apply_runtime_fields() -> None:
    pod = apply_runtime_fields(
        POD, pod_ips=["10.1.0.5", "fd00::5"], host_ips=["192.168.0.2"], phase="Running"
    )
    env = pod["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "BEFORE", "value": "$(POD_IP)"},  # refers to a later variable: stays literal
        {"name": "POD_IP", "value": "10.1.0.5"},
        {"name": "POD_IPS", "value": "10.1.0.5,fd00::5"},
        {"name": "HOST_IP", "value": "192.168.0.2"},
        {"name": "HOST_IPS", "value": "192.168.0.2"},
        {"name": "PHASE", "value": "Running"},
        {"name": "URL", "value": "http://10.1.0.5:80 on 192.168.0.2 $(OTHER) $$"},
    ]
    # containers without deferred entries are unchanged; the input is untouched
    assert pod["spec"]["initContainers"][0]["env"] == [{"name": "X", "value": "$(POD_IP)"}]
    assert POD["spec"]["containers"][0]["env"][1]["valueFrom"] == field("status.podIP")


def test_unknown_values_become_empty() -> None:
    pod = apply_runtime_fields(POD)
    env = {entry["name"]: entry["value"] for entry in pod["spec"]["containers"][0]["env"]}
    assert env["POD_IP"] == env["POD_IPS"] == env["PHASE"] == ""
