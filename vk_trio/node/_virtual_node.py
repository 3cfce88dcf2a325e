"""``VirtualNode``: everything a virtual node runs, wired in the Go version's start-up order.

1. the event recorder (events are written to the involved object's namespace, source component
   ``<node>/pod-controller``);
2. the informers: pods bound to this node (field selector ``spec.nodeName``), and ConfigMaps,
   Secrets and Services of all namespaces; the provider's ``LateResourceLookup`` is bound to them;
3. the provider's own background work, if it has any (:class:`vk_trio.provider.Runnable`);
4. the pod controller, until it is ready (caches synced, dangling pods cleaned up);
5. the node controller: the Node is registered only now, with ping, status and Lease loops;
6. for providers that do not report node health (:class:`vk_trio.provider.NodeProvider`), the
   node is Ready from its registration on (the Go version registers it NotReady, then marks it
   Ready, so an existing node flaps to NotReady on every restart).

The kubelet HTTPS API and the metrics endpoint are the caller's (the command's) to start.
:meth:`VirtualNode.stop` shuts down gracefully: no new pod work, in-flight provider calls and
pending status writes finish within ``shutdown_timeout``, queued events are flushed.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol, final

import attrs
import trio
from prometheus_client import CollectorRegistry

from vk_trio.informers import InformerFactory, ListWatchClient
from vk_trio.provider import (
    LateResourceLookup,
    NodeConfigurer,
    NodeProvider,
    PodLifecycleHandler,
    Runnable,
    log_context,
)
from vk_trio.queue import PrometheusMetricsProvider

from ..util import Now, utc_now
from ._events import EventRecorder, EventRecorderStatistics
from ._kube import KubeApi
from ._metrics import PodControllerMetrics
from ._node_controller import DEFAULT_PING_TIMEOUT, NodeController, NodeControllerStatistics
from ._node_object import EXCLUDE_FROM_LOAD_BALANCERS_LABEL, Taint, build_node
from ._pod_controller import (
    DEFAULT_PROVIDER_TIMEOUT,
    DEFAULT_STATUS_POLL_TIMEOUT,
    PodController,
    PodControllerStatistics,
)
from ._resources import ClusterLookups

__all__ = ["NodeClient", "NodeOptions", "VirtualNode", "VirtualNodeStatistics"]

logger = logging.getLogger("vk_trio.node")

_LEGACY_EXCLUDE_BALANCER_LABEL = "alpha.service-controller.kubernetes.io/exclude-balancer"
"""The label's alpha predecessor (the Go mock still sets it); removed along with it."""


class NodeClient(KubeApi, ListWatchClient, Protocol):
    """What the node needs from the API client: the verbs plus list and watch
    (``vk_trio.kube.KubeClient`` is one)."""


@final
@attrs.frozen(kw_only=True)
class NodeOptions:
    """Plain settings of a virtual node (the command maps its flags onto these).

    ============================  ==========  =====================================================
    option                        default     meaning
    ============================  ==========  =====================================================
    ``node_name``                 (required)  the Node's name (``--nodename``)
    ``provider_name``             ``""``      shown in logs; the default taint value
    ``operating_system``          ``linux``   ``status.nodeInfo.operatingSystem`` (``--os``)
    ``architecture``              ``amd64``   ``status.nodeInfo.architecture``
    ``kubelet_version``           ``None``    ``status.nodeInfo.kubeletVersion`` (default
                                              ``v1.31.4-vk-<vk-trio version>``)
    ``internal_ip``               ``""``      the Node's ``InternalIP`` (``VKUBELET_POD_IP``)
    ``daemon_port``               ``10250``   ``daemonEndpoints.kubeletEndpoint.port``
                                              (``KUBELET_PORT``)
    ``taint``                     ``None``    the node taint (see ``taint_from_env``)
    ``pod_sync_workers``          ``10``      sync and delete workers (``--pod-sync-workers``)
    ``status_workers``            ``10``      status-write workers (``--status-workers``)
    ``full_resync_period``        ``60``      informer resync period, seconds
    ``resolve_env``               ``True``    resolve env before calling the provider
    ``ping_interval``             ``10``      seconds between provider pings
    ``ping_timeout``              ``10``      a ping slower than this counts as failed
                                              (``None``: never)
    ``status_interval``           ``60``      seconds between node status heartbeats
    ``lease_duration_seconds``    ``40``      the Lease's duration (renewed every quarter)
    ``status_poll_interval``      ``5``       status polling of providers without notify_pods
    ``shutdown_timeout``          ``10``      bound for in-flight work and status flush on stop
    ``provider_timeout``          ``120``     deadline of each provider pod call; past it the
                                              call is cancelled and retried (``None``: none)
    ``status_poll_timeout``       ``10``      deadline of each polled ``get_pod_status``
    ``load_balancer_exclusion``   ``True``    label the Node so that service controllers keep it
                                              out of cloud load-balancer pools
                                              (``--load-balancer-exclusion``; see below)
    ============================  ==========  =====================================================

    The defaults here are the library's and the command's alike: the command line maps its
    flags onto these fields and takes its defaults from them (tests/cli checks they agree).

    With ``load_balancer_exclusion`` the Node is built with
    ``node.kubernetes.io/exclude-from-external-load-balancers: "true"``; a provider that does carry
    load-balancer traffic removes the label in ``configure_node``. Turned off, the label is not
    set, and removed if the provider's ``configure_node`` set it (the operator's word wins).
    """

    node_name: str
    provider_name: str = ""
    operating_system: str = "linux"
    architecture: str = "amd64"
    kubelet_version: str | None = None
    internal_ip: str = ""
    daemon_port: int = 10250
    taint: Taint | None = None
    pod_sync_workers: int = 10
    status_workers: int = 10
    full_resync_period: float = 60.0
    resolve_env: bool = True
    ping_interval: float = 10.0
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT
    status_interval: float = 60.0
    lease_duration_seconds: int = 40
    status_poll_interval: float = 5.0
    shutdown_timeout: float = 10.0
    provider_timeout: float | None = DEFAULT_PROVIDER_TIMEOUT
    status_poll_timeout: float | None = DEFAULT_STATUS_POLL_TIMEOUT
    load_balancer_exclusion: bool = True


@final
@attrs.frozen
class VirtualNodeStatistics:
    pods: PodControllerStatistics
    node: NodeControllerStatistics
    events: EventRecorderStatistics


@final
class VirtualNode:
    """One virtual node: ``await nursery.start(node.run)``; ``node.stop()`` to shut down."""

    def __init__(
        self,
        options: NodeOptions,
        client: NodeClient,
        provider: PodLifecycleHandler,
        *,
        resources: LateResourceLookup | None = None,
        registry: CollectorRegistry | None = None,
        event_client: KubeApi | None = None,
        heartbeat_client: NodeClient | None = None,
        now: Now = utc_now,
    ) -> None:
        if options.pod_sync_workers < 1:
            raise ValueError("pod sync workers must be greater than 0")
        if options.status_workers < 1:
            raise ValueError("status workers must be greater than 0")
        self.options = options
        self._client = client
        self._provider = provider
        self._resources = resources
        self._now = now
        name = options.node_name
        # ``event_client`` (the kubelet's separate event client): events then spend a rate
        # budget of their own instead of the one pod status writes need.
        self.events = EventRecorder(
            event_client or client, component=f"{name}/pod-controller", now=now
        )
        self.informers = InformerFactory(client, resync_period=options.full_resync_period)
        self.lookups = ClusterLookups(
            pods=self.informers.informer(
                "v1", "pods", all_namespaces=True, field_selector=f"spec.nodeName={name}"
            ),
            config_maps=self.informers.informer("v1", "configmaps", all_namespaces=True),
            secrets=self.informers.informer("v1", "secrets", all_namespaces=True),
            services=self.informers.informer("v1", "services", all_namespaces=True),
        )
        self.node_object = self._build_node()
        allocatable = (self.node_object.get("status") or {}).get("allocatable") or {}
        # every series carries ``node``: many nodes can share one process and one registry
        self._metrics = PodControllerMetrics(registry, node=name)
        self.pods = PodController(
            client,
            provider,
            self.lookups,
            self.events,
            sync_workers=options.pod_sync_workers,
            status_workers=options.status_workers,
            resolve_env=options.resolve_env,
            node_allocatable=allocatable,
            status_poll_interval=options.status_poll_interval,
            metrics=self._metrics,
            queue_metrics=PrometheusMetricsProvider(registry, const_labels={"node": name}),
            shutdown_timeout=options.shutdown_timeout,
            provider_timeout=options.provider_timeout,
            status_poll_timeout=options.status_poll_timeout,
            now=now,
        )
        node_provider = provider if isinstance(provider, NodeProvider) else None
        # ``heartbeat_client`` (the kubelet's heartbeat client, see ``_heartbeat``): Lease
        # renewals and node status then never wait behind other traffic.
        self.node = NodeController(
            heartbeat_client or client,
            self.node_object,
            ping=node_provider.ping if node_provider is not None else None,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            status_interval=options.status_interval,
            lease_duration_seconds=options.lease_duration_seconds,
            now=now,
        )
        self._ready = trio.Event()
        self._stop = trio.Event()

    def _build_node(self) -> dict[str, Any]:
        options = self.options
        node = build_node(
            options.node_name,
            now=self._now(),
            taint=options.taint,
            operating_system=options.operating_system,
            architecture=options.architecture,
            kubelet_version=options.kubelet_version,
            internal_ip=options.internal_ip,
            daemon_port=options.daemon_port,
            load_balancer_exclusion=options.load_balancer_exclusion,
        )
        if isinstance(self._provider, NodeConfigurer):
            self._provider.configure_node(node)
        labels = node.get("metadata", {}).get("labels") or {}
        if not options.load_balancer_exclusion:
            for label in (EXCLUDE_FROM_LOAD_BALANCERS_LABEL, _LEGACY_EXCLUDE_BALANCER_LABEL):
                if labels.pop(label, None) is not None:
                    logger.info(
                        "load-balancer exclusion is off: label %s set by the provider removed",
                        label,
                    )
        elif labels.get(EXCLUDE_FROM_LOAD_BALANCERS_LABEL, "true") != "true":
            logger.warning(
                "node label %s=%r still excludes the node from load balancers: service "
                "controllers look only for the label's presence (remove it to carry traffic)",
                EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
                labels[EXCLUDE_FROM_LOAD_BALANCERS_LABEL],
            )
        return node

    @property
    def ready(self) -> trio.Event:
        """Set once the Node is registered and every controller runs."""
        return self._ready

    def stop(self) -> None:
        """Begin a graceful shutdown; :meth:`run` returns when it is done."""
        self._stop.set()

    def statistics(self) -> VirtualNodeStatistics:
        return VirtualNodeStatistics(
            pods=self.pods.statistics(),
            node=self.node.statistics(),
            events=self.events.statistics(),
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start everything in order, report started once the node is registered, and run
        until :meth:`stop` (graceful) or cancellation. Every log record carries ``node``."""
        with log_context(node=self.options.node_name):
            try:
                await self._run(task_status)
            finally:
                self._metrics.close()  # the queues' series go when they shut down

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        name = self.options.node_name
        async with trio.open_nursery() as nursery:
            events_done = trio.Event()
            nursery.start_soon(self._run_events, events_done)
            await nursery.start(self.informers.run)
            if self._resources is not None and not self._resources.is_bound:
                self._resources.bind(self.lookups)
            if isinstance(self._provider, Runnable):
                await nursery.start(self._provider.run)
            pods_done = trio.Event()
            nursery.start_soon(self._run_pods, pods_done)
            await self._wait_ready_or_done(self.pods.ready, pods_done)
            if isinstance(self._provider, NodeProvider):
                await nursery.start(self.node.run)
                self._provider.notify_node_status(self.node.notify_node_status)
            else:
                # The pods are served already: register the node Ready at once. (The Go version
                # registers it NotReady first, which flaps an existing node on every restart.)
                self.node.mark_ready()
                await nursery.start(self.node.run)
            self._ready.set()
            logger.info("node %s is ready (pid %d)", name, os.getpid())
            task_status.started()
            await self._stop.wait()
            logger.info("node %s is shutting down", name)
            self.pods.stop()
            await pods_done.wait()
            self.events.close()
            with trio.move_on_after(self.options.shutdown_timeout):
                await events_done.wait()
            nursery.cancel_scope.cancel()

    async def _run_events(self, done: trio.Event) -> None:
        try:
            await self.events.run()
        finally:
            done.set()

    async def _run_pods(self, done: trio.Event) -> None:
        try:
            await self.pods.run()
        finally:
            done.set()

    @staticmethod
    async def _wait_ready_or_done(ready: trio.Event, done: trio.Event) -> None:
        async with trio.open_nursery() as waiters:

            async def wait(event: trio.Event) -> None:
                await event.wait()
                waiters.cancel_scope.cancel()

            waiters.start_soon(wait, ready)
            waiters.start_soon(wait, done)
        if not ready.is_set():
            raise RuntimeError("the pod controller exited before it was ready")
