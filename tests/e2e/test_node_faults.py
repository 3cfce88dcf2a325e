"""The node through API-server trouble: deletions missed while cut off (tombstones)."""

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import trio

from tests._controlplane import ControlPlane
from tests.informers.proxy import TcpProxy
from vk_trio.kube import AlreadyExists, ApiError, NotFound

from ._node_support import RunningNode, api, eventually, running_node


@pytest.fixture(scope="module")
def faulty_controlplane(
    controlplane_factory: Callable[..., ControlPlane],
) -> Iterator[ControlPlane]:
    """Our own control plane: compaction must not disturb other tests."""
    yield controlplane_factory("node-faults")


@pytest.fixture
async def proxy(faulty_controlplane: ControlPlane) -> AsyncIterator[TcpProxy]:
    target = urlsplit(faulty_controlplane.server)
    assert target.hostname is not None and target.port is not None
    tcp = TcpProxy(target.hostname, target.port)
    async with trio.open_nursery() as nursery:
        await nursery.start(tcp.run)
        yield tcp
        nursery.cancel_scope.cancel()


async def test_deletion_missed_while_cut_off_reaches_the_provider(
    faulty_controlplane: ControlPlane,
    make_namespace: Callable[[ControlPlane], str],
    proxy: TcpProxy,
) -> None:
    namespace = make_namespace(faulty_controlplane)
    server = f"https://127.0.0.1:{proxy.port}"
    async with running_node(faulty_controlplane, "tomb", server=server) as vk:
        async with api(faulty_controlplane) as admin:
            await admin.client.create(
                admin.pod_path(namespace),
                {
                    "metadata": {"name": "web"},
                    "spec": {"nodeName": vk.name, "containers": [{"name": "a", "image": "x"}]},
                },
            )

            async def running() -> bool:
                pod = await admin.pod(namespace, "web")
                return pod is not None and pod.get("status", {}).get("phase") == "Running"

            await eventually(running)
            proxy.partition()  # the node loses its connections, watches included
            await admin.client.delete(admin.pod_path(namespace, "web"), grace_period_seconds=0)
            await eventually(lambda: _gone(admin, namespace))
            # make the missed DELETED event unrecoverable: the resumed watch gets 410 Gone
            await trio.to_thread.run_sync(faulty_controlplane.compact)
            assert await vk.provider.get_pods() != []  # the provider still runs it
            proxy.heal()

            async def provider_empty() -> bool:
                return not await vk.provider.get_pods()

            await eventually(provider_empty, timeout=60)
        informer = vk.node.lookups.pods if vk.node is not None else None
        assert informer is not None
        assert informer.statistics().tombstones == 1


async def _gone(admin: RunningNode, namespace: str) -> bool:
    return await admin.pod(namespace, "web") is None


async def _retry(action: Callable[[], Awaitable[object]]) -> None:
    """Keep trying an API call through a control-plane restart."""
    with trio.fail_after(120):
        while True:
            try:
                await action()
                return
            except (ApiError, OSError):
                await trio.sleep(0.2)


async def test_control_plane_restart_while_pods_churn(
    faulty_controlplane: ControlPlane, make_namespace: Callable[[ControlPlane], str]
) -> None:
    namespace = make_namespace(faulty_controlplane)
    total, keep_last = 60, 20
    async with running_node(faulty_controlplane, "churn") as vk:

        async def create(index: int) -> None:
            # AlreadyExists: an attempt made it before the connection broke
            with contextlib.suppress(AlreadyExists):
                await vk.create_pod(namespace, f"p{index}")

        async def delete(index: int) -> None:
            with contextlib.suppress(NotFound):
                await vk.client.delete(vk.pod_path(namespace, f"p{index}"), grace_period_seconds=1)

        async def churn() -> None:
            for index in range(total):
                await _retry(functools.partial(create, index))
                if index >= keep_last:
                    await _retry(functools.partial(delete, index - keep_last))
                await trio.sleep(0.1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(churn)
            await trio.sleep(2)
            await trio.to_thread.run_sync(functools.partial(faulty_controlplane.restart, 3.0))

        expected = {f"p{index}" for index in range(total - keep_last, total)}

        async def settled() -> bool:
            try:
                listed = await vk.client.list(vk.pod_path(namespace))
            except ApiError:
                return False
            api_pods = {p["metadata"]["name"]: p for p in listed["items"]}
            provider = {
                p["metadata"]["name"]: p["metadata"]["uid"]
                for p in await vk.provider.get_pods()
                if p["metadata"]["namespace"] == namespace
            }
            return (
                set(api_pods) == expected
                and all(p.get("status", {}).get("phase") == "Running" for p in api_pods.values())
                and provider == {n: p["metadata"]["uid"] for n, p in api_pods.items()}
            )

        churned = trio.current_time()
        await eventually(settled, timeout=120, interval=0.5)
        print(f"\nsettled {trio.current_time() - churned:.1f}s after the churn ended")
