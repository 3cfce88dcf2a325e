"""Restarting the node (section 8.5 item 11), dangling pods, tombstones, many pods at once."""

import functools

import trio

from tests._controlplane import ControlPlane
from vk_trio_mock import MockProvider

from ._node_support import JSON, RunningNode, api, eventually, node_name, running_node


async def phase(vk: RunningNode, namespace: str, name: str) -> str | None:
    pod = await vk.pod(namespace, name)
    return None if pod is None else pod.get("status", {}).get("phase")


async def test_restart_with_changes_made_while_down(
    controlplane: ControlPlane, namespace: str
) -> None:
    name = node_name("restart")
    async with running_node(controlplane, "restart", node_name=name) as vk:
        for pod in ("keep", "graceful", "modified"):
            await vk.create_pod(namespace, pod)
        for pod in ("keep", "graceful", "modified"):
            await eventually(functools.partial(_is, vk, namespace, pod, "Running"))
    # the node is down; the next process starts with an empty (in-memory) provider
    async with api(controlplane) as admin:
        # changes made while no node serves `name`
        await admin.client.delete(admin.pod_path(namespace, "graceful"), grace_period_seconds=5)
        await admin.client.patch(
            admin.pod_path(namespace, "modified"), {"metadata": {"labels": {"v": "2"}}}
        )
        await admin.client.create(
            admin.pod_path(namespace),
            {
                "metadata": {"name": "pending-deleted"},
                "spec": {
                    "nodeName": name,
                    "containers": [{"name": "app", "image": "nginx"}],
                },
            },
        )
        await admin.client.delete(
            admin.pod_path(namespace, "pending-deleted"), grace_period_seconds=30
        )
    async with running_node(controlplane, "restart", node_name=name) as vk:
        # pods still in the API are re-created in the fresh provider and stay Running
        await eventually(lambda: _in_provider(vk, namespace, "keep"))
        await eventually(lambda: _in_provider(vk, namespace, "modified"))
        modified = await vk.provider.get_pod(namespace, "modified")
        assert modified is not None and modified["metadata"]["labels"]["v"] == "2"
        # a never-started pod deleted while down is removed at once
        await eventually(lambda: _gone(vk, namespace, "pending-deleted"))
        # the running pod deleted while down goes when its 5 s grace period is over
        await eventually(lambda: _gone(vk, namespace, "graceful"))
        # the fresh provider does not have it (NotFoundError): that delete is done, not failed
        reasons = await vk.reasons_with(namespace, "graceful", "ProviderDeleteSuccess")
        assert "ProviderDeleteFailed" not in reasons
        assert await phase(vk, namespace, "keep") == "Running"


async def _is(vk: RunningNode, namespace: str, name: str, wanted: str) -> bool:
    return await phase(vk, namespace, name) == wanted


async def _in_provider(vk: RunningNode, namespace: str, name: str) -> bool:
    try:
        return await vk.provider.get_pod(namespace, name) is not None
    except Exception:
        return False


async def _gone(vk: RunningNode, namespace: str, name: str) -> bool:
    return await vk.pod(namespace, name) is None


async def test_terminal_pods_are_left_alone_at_restart(
    controlplane: ControlPlane, namespace: str
) -> None:
    name = node_name("terminal")
    async with api(controlplane) as admin:
        for pod, final in (("done", "Succeeded"), ("broken", "Failed")):
            await admin.client.create(
                admin.pod_path(namespace),
                {
                    "metadata": {"name": pod},
                    "spec": {
                        "nodeName": name,
                        "restartPolicy": "Never",
                        "containers": [{"name": "app", "image": "nginx"}],
                    },
                },
            )
            await admin.client.patch(
                admin.pod_path(namespace, pod) + "/status", {"status": {"phase": final}}
            )
        before: dict[str, JSON] = {}
        for pod in ("done", "broken"):
            current = await admin.pod(namespace, pod)
            assert current is not None
            before[pod] = current
    async with running_node(controlplane, "terminal", node_name=name) as vk:
        await trio.sleep(2)
        for pod in ("done", "broken"):
            current = await vk.pod(namespace, pod)
            assert current is not None
            assert (
                current["metadata"]["resourceVersion"] == before[pod]["metadata"]["resourceVersion"]
            )
            assert await vk.reasons(namespace, pod) == []
        assert await vk.provider.get_pods() == []


async def test_dangling_provider_pods_are_matched_by_uid(
    controlplane: ControlPlane, namespace: str
) -> None:
    name = node_name("dangling")
    provider = MockProvider(node_name=name)  # one provider that outlives both node runs
    async with running_node(controlplane, "dangling", node_name=name, provider=provider) as vk:
        old = await vk.create_pod(namespace, "web")
        await vk.create_pod(namespace, "gone")
        await eventually(lambda: _is(vk, namespace, "web", "Running"))
        await eventually(lambda: _is(vk, namespace, "gone", "Running"))
    async with api(controlplane) as admin:
        # while the node is down: one pod deleted, the other deleted and re-created
        for pod in ("web", "gone"):
            await admin.client.delete(admin.pod_path(namespace, pod), grace_period_seconds=0)
        await eventually(lambda: _gone(admin, namespace, "web"))
        await admin.client.create(
            admin.pod_path(namespace),
            {
                "metadata": {"name": "web"},
                "spec": {"nodeName": name, "containers": [{"name": "app", "image": "nginx"}]},
            },
        )
    async with running_node(controlplane, "dangling", node_name=name, provider=provider) as vk:
        pods = {p["metadata"]["name"]: p for p in await provider.get_pods()}
        assert "gone" not in pods
        await eventually(lambda: _is(vk, namespace, "web", "Running"))
        current = await provider.get_pod(namespace, "web")
        assert current is not None
        assert current["metadata"]["uid"] != old["metadata"]["uid"]


async def test_many_pods_at_once(controlplane: ControlPlane, namespace: str) -> None:
    count = 500
    async with running_node(controlplane, "many") as vk:
        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            for index in range(count):
                nursery.start_soon(vk.create_pod, namespace, f"p{index}")
        created = trio.current_time()

        async def all_running() -> bool:
            listed = await vk.client.list(
                vk.pod_path(namespace), field_selector="status.phase=Running"
            )
            return len(listed["items"]) == count

        await eventually(all_running, timeout=120, interval=0.5)
        running = trio.current_time()
        async with trio.open_nursery() as nursery:
            for index in range(count):
                nursery.start_soon(_delete, vk, namespace, f"p{index}")

        async def all_gone() -> bool:
            listed = await vk.client.list(vk.pod_path(namespace))
            return not listed["items"]

        await eventually(all_gone, timeout=120, interval=0.5)
        gone = trio.current_time()
        assert vk.provider.statistics().pods == 0
        print(
            f"\n{count} pods: created in {created - started:.1f}s, all Running after "
            f"{running - started:.1f}s, all deleted {gone - running:.1f}s later"
        )


async def _delete(vk: RunningNode, namespace: str, name: str) -> None:
    await vk.client.delete(vk.pod_path(namespace, name))
