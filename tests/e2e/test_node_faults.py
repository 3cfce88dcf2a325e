"""The node through API-server trouble: deletions missed while cut off (tombstones)."""

from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import trio

from tests._controlplane import ControlPlane
from tests.informers.proxy import TcpProxy

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
