"""KubeClient against the real API server (the ``controlplane`` fixture): every verb, paging,
watches with bookmarks, the four patch types, preconditions and the typed errors."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio.kube import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Invalid,
    KubeClient,
    KubeConfig,
    NotFound,
    PatchType,
    Unauthorized,
    WatchEvent,
    load_config,
    resource_path,
)


def admin_config(cp: ControlPlane) -> KubeConfig:
    context = cp.ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return KubeConfig(server=cp.server, ssl_context=context, source="controlplane admin")


@pytest.fixture
async def client(controlplane: ControlPlane) -> AsyncIterator[KubeClient]:
    async with KubeClient(admin_config(controlplane)) as kube:
        yield kube


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "e2e"}},
        "spec": {
            "nodeName": "vk-e2e-node",
            "containers": [
                {"name": "app", "image": "registry.example/app:1"},
                {"name": "sidecar", "image": "registry.example/sidecar:1"},
            ],
        },
    }


async def test_version_and_kubeconfig_loading(controlplane: ControlPlane, tmp_path: Path) -> None:
    # A kubeconfig of our own making (inline CA, client cert files) through load_config.
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "e2e",
                "clusters": [
                    {
                        "name": "cp",
                        "cluster": {
                            "server": controlplane.server,
                            "certificate-authority-data": base64.b64encode(
                                controlplane.ca_cert.read_bytes()
                            ).decode(),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "admin",
                        "user": {
                            "client-certificate": str(controlplane.admin_cert),
                            "client-key": str(controlplane.admin_key),
                        },
                    }
                ],
                "contexts": [{"name": "e2e", "context": {"cluster": "cp", "user": "admin"}}],
            }
        )
    )
    config = await load_config(str(path))
    async with KubeClient(config) as kube:
        version = await kube.get("/version")
    assert version["gitVersion"] == "v1.37.2"


async def test_create_get_and_already_exists(client: KubeClient, namespace: str) -> None:
    path = resource_path("v1", "configmaps", namespace=namespace)
    created = await client.create(path, configmap("one", a="1"))
    assert created["metadata"]["uid"]
    fetched = await client.get(resource_path("v1", "configmaps", namespace=namespace, name="one"))
    assert fetched["data"] == {"a": "1"}
    assert fetched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    with pytest.raises(AlreadyExists) as info:
        await client.create(path, configmap("one"))
    assert info.value.status_code == 409
    with pytest.raises(NotFound):
        await client.get(resource_path("v1", "configmaps", namespace=namespace, name="nope"))


async def test_list_pagination(client: KubeClient, namespace: str) -> None:
    path = resource_path("v1", "configmaps", namespace=namespace)
    for i in range(7):
        await client.create(path, configmap(f"cm-{i}", i=str(i)))
    first = await client.list(path, limit=3)
    assert len(first["items"]) == 3
    token = first["metadata"]["continue"]
    assert token
    second = await client.list(path, limit=3, continue_=token)
    assert len(second["items"]) == 3
    items, rv = await client.list_all(path, page_size=3)
    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i}" for i in range(7)]
    assert int(rv) >= int(first["metadata"]["resourceVersion"])
    selected, _ = await client.list_all(path, page_size=2, field_selector="metadata.name=cm-4")
    assert [i["metadata"]["name"] for i in selected] == ["cm-4"]


async def test_update_conflict_and_success(client: KubeClient, namespace: str) -> None:
    path = resource_path("v1", "configmaps", namespace=namespace)
    created = await client.create(path, configmap("u", v="1"))
    item = resource_path("v1", "configmaps", namespace=namespace, name="u")
    fresh = dict(created, data={"v": "2"})
    updated = await client.update(item, fresh)
    assert updated["data"] == {"v": "2"}
    stale = dict(created, data={"v": "3"})  # still carries the old resourceVersion
    with pytest.raises(Conflict) as info:
        await client.update(item, stale)
    assert info.value.reason == "Conflict"


async def test_four_patch_types(client: KubeClient, namespace: str) -> None:
    pods = resource_path("v1", "pods", namespace=namespace)
    await client.create(pods, pod("p"))
    item = resource_path("v1", "pods", namespace=namespace, name="p")
    merged = await client.patch(item, {"metadata": {"labels": {"merge": "yes"}}})
    assert merged["metadata"]["labels"] == {"app": "e2e", "merge": "yes"}
    # strategic merge: containers are merged by name, not replaced as a list
    strategic = await client.patch(
        item,
        {"spec": {"containers": [{"name": "sidecar", "image": "registry.example/sidecar:2"}]}},
        patch_type=PatchType.STRATEGIC,
    )
    assert [(c["name"], c["image"]) for c in strategic["spec"]["containers"]] == [
        ("app", "registry.example/app:1"),
        ("sidecar", "registry.example/sidecar:2"),
    ]
    jsonpatch = await client.patch(
        item,
        [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}],
        patch_type=PatchType.JSON,
    )
    assert jsonpatch["metadata"]["labels"]["json"] == "yes"
    # server-side apply: ours, then a conflict with another manager, then forced
    cms = resource_path("v1", "configmaps", namespace=namespace, name="applied")
    applied = await client.patch(
        cms, configmap("applied", k="v1"), patch_type=PatchType.APPLY, field_manager="mgr-a"
    )
    assert applied["data"] == {"k": "v1"}
    managers = {m["manager"] for m in applied["metadata"]["managedFields"]}
    assert "mgr-a" in managers
    with pytest.raises(Conflict):
        await client.patch(
            cms, configmap("applied", k="v2"), patch_type=PatchType.APPLY, field_manager="mgr-b"
        )
    forced = await client.patch(
        cms,
        configmap("applied", k="v2"),
        patch_type=PatchType.APPLY,
        field_manager="mgr-b",
        force=True,
    )
    assert forced["data"] == {"k": "v2"}
    # the status subresource
    status = await client.patch(
        resource_path("v1", "pods", namespace=namespace, name="p", subresource="status"),
        {"status": {"phase": "Running", "message": "from the e2e test"}},
    )
    assert status["status"]["phase"] == "Running"
    assert status["status"]["message"] == "from the e2e test"


async def test_delete_with_uid_precondition(client: KubeClient, namespace: str) -> None:
    pods = resource_path("v1", "pods", namespace=namespace)
    created = await client.create(pods, pod("d"))
    item = resource_path("v1", "pods", namespace=namespace, name="d")
    with pytest.raises(Conflict):
        await client.delete(item, uid="not-the-uid", grace_period_seconds=0)
    await client.delete(
        item,
        uid=created["metadata"]["uid"],
        grace_period_seconds=0,
        propagation_policy="Background",
    )
    with pytest.raises(NotFound):
        await client.get(item)
    # resourceVersion precondition
    cms = resource_path("v1", "configmaps", namespace=namespace)
    cm = await client.create(cms, configmap("rv"))
    cm_item = resource_path("v1", "configmaps", namespace=namespace, name="rv")
    await client.patch(cm_item, {"data": {"x": "y"}})
    with pytest.raises(Conflict):
        await client.delete(cm_item, resource_version=cm["metadata"]["resourceVersion"])


async def test_invalid_has_causes(client: KubeClient, namespace: str) -> None:
    with pytest.raises(Invalid) as info:
        await client.create(
            resource_path("v1", "configmaps", namespace=namespace), configmap("Not_A_Valid_Name")
        )
    assert info.value.status_code == 422
    assert any(cause.get("field") == "metadata.name" for cause in info.value.causes)


async def test_watch_events_in_order(client: KubeClient, namespace: str) -> None:
    path = resource_path("v1", "configmaps", namespace=namespace)
    start = await client.list(path)
    seen: list[tuple[str, str]] = []
    with trio.fail_after(WAIT):
        async with client.watch(
            path, resource_version=start["metadata"]["resourceVersion"], timeout_seconds=60
        ) as events:
            await client.create(path, configmap("w", v="1"))
            item = resource_path("v1", "configmaps", namespace=namespace, name="w")
            await client.patch(item, {"data": {"v": "2"}})
            await client.delete(item)
            async for event in events:
                seen.append((event.type, event.object["metadata"]["name"]))
                if event.type == "DELETED":
                    break
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    assert client.statistics().open_watches == 0


async def test_watch_initial_events_end_with_a_bookmark(client: KubeClient, namespace: str) -> None:
    path = resource_path("v1", "configmaps", namespace=namespace)
    for i in range(3):
        await client.create(path, configmap(f"i-{i}"))
    events: list[WatchEvent] = []
    with trio.fail_after(WAIT):
        async with client.watch(path, send_initial_events=True, timeout_seconds=30) as stream:
            async for event in stream:
                events.append(event)
                if event.type == "BOOKMARK":
                    break
    assert sorted(e.object["metadata"]["name"] for e in events[:-1]) == ["i-0", "i-1", "i-2"]
    assert all(e.type == "ADDED" for e in events[:-1])
    bookmark = events[-1].object["metadata"]
    assert bookmark["annotations"]["k8s.io/initial-events-end"] == "true"
    assert int(bookmark["resourceVersion"]) > 0


async def test_watch_ends_at_timeout_seconds(client: KubeClient, namespace: str) -> None:
    path = resource_path("v1", "configmaps", namespace=namespace)
    start = await client.list(path)
    with trio.fail_after(WAIT):
        async with client.watch(
            path, resource_version=start["metadata"]["resourceVersion"], timeout_seconds=1
        ) as events:
            assert [e async for e in events] == []


async def test_forbidden_for_a_node_identity(controlplane: ControlPlane, namespace: str) -> None:
    creds = controlplane.node_credentials("vk-e2e-restricted")
    context = controlplane.ssl_context(creds.cert, creds.key)
    config = KubeConfig(server=controlplane.server, ssl_context=context)
    async with KubeClient(config) as node:
        with pytest.raises(Forbidden) as info:
            await node.list(resource_path("v1", "secrets", namespace=namespace))
        assert info.value.status_code == 403
        assert "system:node:vk-e2e-restricted" in info.value.message


async def test_unauthorized_for_a_bad_token(controlplane: ControlPlane) -> None:
    context = ssl.create_default_context(cafile=str(controlplane.ca_cert))
    config = KubeConfig.for_server(controlplane.server, token="not-a-token", ssl_context=context)
    async with KubeClient(config) as anonymous:
        with pytest.raises(Unauthorized) as info:
            await anonymous.list("/api/v1/namespaces")
    assert info.value.status_code == 401
