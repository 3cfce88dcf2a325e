"""A running pod controller over the in-memory API fake and a fake provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
from prometheus_client import CollectorRegistry

from vk_trio.informers import InformerFactory
from vk_trio.node._metrics import PodControllerMetrics
from vk_trio.node._pod_controller import PodController
from vk_trio.node._resources import ClusterLookups
from vk_trio.queue import PrometheusMetricsProvider

from .fakekube import FakeKube
from .fakeprovider import PolledProvider

NODE = "vk"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def wall_clock() -> dt.datetime:
    """Wall time that follows trio's mock clock (t=0 is 2024-01-01)."""
    return T0 + dt.timedelta(seconds=trio.current_time())


class ListEvents:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        self.events.append((f"{meta['namespace']}/{meta['name']}", type_, reason, message))

    def reasons(self, key: str | None = None) -> list[str]:
        return [reason for k, _, reason, _ in self.events if key is None or k == key]


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def make_pod(
    name: str,
    namespace: str = "ns",
    *,
    node: str = NODE,
    env: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if env is not None:
        container["env"] = env
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": name},
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {
            "nodeName": node,
            "enableServiceLinks": False,
            "containers": [container],
            **spec,
        },
        "status": {"phase": "Pending"},
    }


@attrs.define
class Harness:
    kube: FakeKube
    provider: PolledProvider
    controller: PodController
    events: ListEvents
    registry: CollectorRegistry
    nursery: trio.Nursery

    def create(self, pod: Mapping[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        return self.kube.put(pod_path(meta["namespace"], meta["name"]), pod)

    def api_pod(self, key: str) -> dict[str, Any] | None:
        namespace, name = key.split("/")
        return self.kube.objects.get(pod_path(namespace, name))

    def phase(self, key: str) -> str | None:
        pod = self.api_pod(key)
        return None if pod is None else pod.get("status", {}).get("phase")

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 60) -> float:
        """Wait (mock time) until ``condition()``; return the mock time it took."""
        start = trio.current_time()
        with trio.fail_after(timeout):
            while not condition():
                # wake on any API change, and at least every 10 ms of (mock) time
                with trio.move_on_after(0.01):
                    await self.kube.changed.wait()
        return trio.current_time() - start


@asynccontextmanager
async def running(
    provider: PolledProvider,
    *,
    kube: FakeKube | None = None,
    setup: Callable[[FakeKube], None] | None = None,
    registry: CollectorRegistry | None = None,
    node: str = NODE,
    resync_period: float = 0.0,
    **options: Any,
) -> AsyncIterator[Harness]:
    kube = kube or FakeKube()
    if setup is not None:
        setup(kube)
    factory = InformerFactory(kube, resync_period=resync_period)
    lookups = ClusterLookups(
        pods=factory.informer(
            "v1", "pods", all_namespaces=True, field_selector=f"spec.nodeName={node}"
        ),
        config_maps=factory.informer("v1", "configmaps", all_namespaces=True),
        secrets=factory.informer("v1", "secrets", all_namespaces=True),
        services=factory.informer("v1", "services", all_namespaces=True),
    )
    registry = CollectorRegistry() if registry is None else registry
    events = ListEvents()
    options.setdefault("now", wall_clock)
    controller = PodController(
        kube,
        provider,
        lookups,
        events,
        metrics=PodControllerMetrics(registry, node=node),
        queue_metrics=PrometheusMetricsProvider(registry, const_labels={"node": node}),
        **options,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(factory.run)
        await nursery.start(controller.run)
        yield Harness(kube, provider, controller, events, registry, nursery)
        nursery.cancel_scope.cancel()
