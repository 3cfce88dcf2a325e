"""Running vk_trio.node in-process against the real control plane (for tests/e2e/test_node_*).

Everything here is async and goes through our own ``KubeClient``: the node runs in the test's
trio loop, so a blocking client call in the test would stall it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
import trio
from prometheus_client import CollectorRegistry

from tests._controlplane import ControlPlane
from tests._waits import WAIT
from vk_trio.kube import ApiError, KubeClient, KubeConfig, NotFound
from vk_trio.node import NodeOptions, Taint, VirtualNode
from vk_trio.provider import LateResourceLookup, PodLifecycleHandler
from vk_trio_mock import MockConfig, MockProvider

JSON = dict[str, Any]


def node_name(hint: str) -> str:
    return f"vk-{hint}-{uuid.uuid4().hex[:6]}"


def pod_manifest(name: str, node: str, **spec: Any) -> JSON:
    containers = spec.pop("containers", None) or [{"name": "app", "image": "nginx:1.27"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeName": node,
            "enableServiceLinks": False,
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
            "containers": containers,
            **spec,
        },
    }


@attrs.define
class RunningNode:
    name: str
    client: KubeClient
    node: VirtualNode | None
    provider: Any

    def pod_path(self, namespace: str, name: str | None = None) -> str:
        base = f"/api/v1/namespaces/{namespace}/pods"
        return base if name is None else f"{base}/{name}"

    async def create_pod(self, namespace: str, name: str, **spec: Any) -> JSON:
        return await self.client.create(
            self.pod_path(namespace), pod_manifest(name, self.name, **spec)
        )

    async def get(self, path: str) -> JSON | None:
        try:
            return await self.client.get(path)
        except NotFound:
            return None

    async def pod(self, namespace: str, name: str) -> JSON | None:
        return await self.get(self.pod_path(namespace, name))

    async def events_for(self, namespace: str, name: str) -> list[JSON]:
        listed = await self.client.list(
            f"/api/v1/namespaces/{namespace}/events",
            field_selector=f"involvedObject.name={name}",
        )
        items: list[JSON] = listed.get("items") or []
        return items

    async def reasons(self, namespace: str, name: str) -> list[str]:
        return [event["reason"] for event in await self.events_for(namespace, name)]

    async def reasons_with(
        self, namespace: str, name: str, *wanted: str, timeout: float = WAIT
    ) -> list[str]:
        """The object's event reasons once all of ``wanted`` are among them.

        Events are posted by their own client, after the change they describe (and folded
        into earlier ones by a later patch), so a test that has seen a pod Running polls
        for the event rather than expecting it already there.
        """

        async def check() -> list[str] | None:
            reasons = await self.reasons(namespace, name)
            return reasons if all(reason in reasons for reason in wanted) else None

        found: list[str] = await eventually(check, timeout=timeout)
        return found


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = WAIT, interval: float = 0.1
) -> Any:
    """Call ``check`` until it returns something truthy; return that (fail after ``timeout``)."""
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            last = await check()
            if last:
                return last
            await trio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@asynccontextmanager
async def api(cp: ControlPlane) -> AsyncIterator[RunningNode]:
    """A client on the control plane (as a ``RunningNode`` without a node, for its helpers):
    for changes made while no node runs."""
    config = KubeConfig.for_server(cp.server, ssl_context=cp.ssl_context())
    async with KubeClient(config) as client:
        yield RunningNode("", client, None, None)


@asynccontextmanager
async def running_node(
    cp: ControlPlane,
    hint: str,
    *,
    provider: PodLifecycleHandler | None = None,
    mock_config: MockConfig | None = None,
    server: str | None = None,
    **options: Any,
) -> AsyncIterator[RunningNode]:
    """A registered, ready virtual node with the mock provider; stopped (gracefully) and its
    Node and Lease deleted at the end. ``server`` overrides the API server URL (a proxy)."""
    name = options.pop("node_name", None) or node_name(hint)
    config = KubeConfig.for_server(server or cp.server, ssl_context=cp.ssl_context())
    async with KubeClient(config) as client:
        if provider is None:
            provider = MockProvider(
                node_name=name,
                config=mock_config or MockConfig(),
                internal_ip=options.get("internal_ip", ""),
                daemon_port=options.get("daemon_port", 10250),
            )
        options.setdefault("taint", Taint("virtual-kubelet.io/provider", "mock"))
        node = VirtualNode(
            NodeOptions(node_name=name, provider_name="mock", **options),
            client,
            provider,
            resources=LateResourceLookup(),
            registry=CollectorRegistry(),
        )
        try:
            async with trio.open_nursery() as nursery:
                with trio.fail_after(WAIT):
                    await nursery.start(node.run)
                yield RunningNode(name, client, node, provider)
                node.stop()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(10):
                for path in (
                    f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}",
                    f"/api/v1/nodes/{name}",
                ):
                    with suppress(ApiError):
                        await client.delete(path)
