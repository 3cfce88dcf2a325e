"""Downward-API field and resource references for env."""

from typing import Any

import pytest

from vk_trio.node._fieldref import (
    FieldRefError,
    format_map,
    resolve_field_ref,
    resolve_resource_field_ref,
)

POD: dict[str, Any] = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "uid": "1234",
        "labels": {"b": "2", "a": 'say "hi"'},
        "annotations": {"note": "line1\nline2", "x.io/Key": "v"},
    },
    "spec": {
        "nodeName": "vk",
        "serviceAccountName": "sa",
        "restartPolicy": "Never",
        "schedulerName": "default-scheduler",
        "containers": [
            {
                "name": "app",
                "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": "250m", "memory": "64Mi", "hugepages-2Mi": "4Mi"},
                },
            },
            {"name": "side"},
        ],
        "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "1"}}}],
    },
    "status": {"phase": "Pending"},
}


def ref(path: str, api_version: str | None = "v1") -> dict[str, str]:
    out = {"fieldPath": path}
    if api_version is not None:
        out["apiVersion"] = api_version
    return out


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("metadata.name", "web"),
        ("metadata.namespace", "shop"),
        ("metadata.uid", "1234"),
        ("spec.nodeName", "vk"),
        ("spec.host", "vk"),
        ("spec.serviceAccountName", "sa"),
        ("spec.restartPolicy", "Never"),
        ("spec.schedulerName", "default-scheduler"),
        ("metadata.labels", 'a="say \\"hi\\""\nb="2"'),
        ("metadata.annotations", 'note="line1\\nline2"\nx.io/Key="v"'),
        ("metadata.labels['b']", "2"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['x.io/Key']", "v"),
    ],
)
def test_field_ref_values(path: str, expected: str) -> None:
    assert resolve_field_ref(POD, ref(path)) == expected


@pytest.mark.parametrize(
    "path", ["status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs", "status.phase"]
)
def test_runtime_fields_are_deferred(path: str) -> None:
    assert resolve_field_ref(POD, ref(path)) is None


def test_api_version_defaults_to_v1_but_others_fail() -> None:
    assert resolve_field_ref(POD, ref("metadata.name", None)) == "web"
    with pytest.raises(FieldRefError, match="unsupported pod version: v2"):
        resolve_field_ref(POD, ref("metadata.name", "v2"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("spec.bogus", "field label not supported: spec.bogus"),
        ("metadata.name['x']", r"field label does not support subscript: metadata.name\['x'\]"),
        ("metadata.labels['-bad-']", r"invalid key subscript in metadata.labels\['-bad-'\]"),
        ("metadata.labels['a/b/c']", "invalid key subscript"),
    ],
)
def test_field_ref_errors(path: str, message: str) -> None:
    with pytest.raises(FieldRefError, match=message):
        resolve_field_ref(POD, ref(path))


def test_format_map_of_nothing_is_empty() -> None:
    # (quoting itself is vk_trio.util.go_quote, checked against Go in tests/util/test_gotext.py)
    assert format_map({}) == ""


def container(name: str) -> dict[str, Any]:
    for group in ("containers", "initContainers"):
        for item in POD["spec"][group]:
            if item["name"] == name:
                return dict(item)
    raise AssertionError(name)


ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


@pytest.mark.parametrize(
    ("container_name", "resource_ref", "expected"),
    [
        ("app", {"resource": "limits.cpu"}, "1"),  # 0.5 cpu rounded up to whole cores
        ("app", {"resource": "limits.cpu", "divisor": "1m"}, "500"),
        ("app", {"resource": "requests.cpu", "divisor": "1m"}, "250"),
        ("app", {"resource": "limits.memory"}, str(128 * 1024**2)),
        ("app", {"resource": "limits.memory", "divisor": "1Mi"}, "128"),
        ("app", {"resource": "requests.memory", "divisor": "1Mi"}, "64"),
        ("app", {"resource": "requests.hugepages-2Mi", "divisor": "1Mi"}, "4"),
        ("app", {"resource": "limits.hugepages-2Mi"}, "0"),
        # unset limits default to the node's allocatable amount
        ("side", {"resource": "limits.cpu", "divisor": "1m"}, "4000"),
        ("side", {"resource": "limits.memory", "divisor": "1Gi"}, "8"),
        ("side", {"resource": "limits.ephemeral-storage", "divisor": "1Gi"}, "100"),
        ("side", {"resource": "requests.cpu"}, "0"),
        # another container by name, including an init container
        ("side", {"resource": "limits.cpu", "containerName": "app", "divisor": "1m"}, "500"),
        ("side", {"resource": "requests.cpu", "containerName": "init"}, "1"),
        ("app", {"resource": "limits.memory", "divisor": "0"}, str(128 * 1024**2)),
    ],
)
def test_resource_field_ref(
    container_name: str, resource_ref: dict[str, str], expected: str
) -> None:
    result = resolve_resource_field_ref(POD, container(container_name), resource_ref, ALLOCATABLE)
    assert result == expected


@pytest.mark.parametrize(
    ("resource_ref", "message"),
    [
        ({"resource": "limits.gpu"}, "unsupported container resource : limits.gpu"),
        ({"resource": "cpu"}, "unsupported container resource : cpu"),
        ({"resource": "limits.cpu", "containerName": "nope"}, "container nope not found"),
        ({"resource": "limits.cpu", "divisor": "lots"}, "quantities must match"),
        ({"resource": "limits.cpu", "divisor": "-1"}, "invalid divisor"),
    ],
)
def test_resource_field_ref_errors(resource_ref: dict[str, str], message: str) -> None:
    with pytest.raises(FieldRefError, match=message):
        resolve_resource_field_ref(POD, container("app"), resource_ref, ALLOCATABLE)
