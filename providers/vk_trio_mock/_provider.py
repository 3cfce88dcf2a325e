"""The mock provider: pods "run" instantly in memory, with the Go mock's statuses.

What it reports (kept identical to the Go mock so that tests and users see the same pods):

* create: phase ``Running``, hostIP ``1.2.3.4``, podIP ``5.6.7.8``, ``startTime`` now, conditions
  ``Initialized``/``Ready``/``PodScheduled`` ``True``, one running and ready status per container;
* delete: phase ``Succeeded``, reason ``MockProviderPodDeleted``, every container not ready and
  terminated (exit 0, reason ``MockProviderPodContainerDeleted``, message ``Mock provider
  terminated container upon deletion``), notified before ``delete_pod`` returns;
* unknown pods: ``NotFoundError`` from every method (``pod not found`` on delete).

Deliberate differences: pods are keyed by ``(namespace, name)`` (the Go mock's ``"ns-name"`` key
makes ``a-b/c`` and ``a/b-c`` collide); ``podIPs``/``hostIPs`` are written alongside
``podIP``/``hostIP`` (the API server would add them anyway); a container that is not running at
deletion gets a terminated state without ``startedAt`` (the Go mock crashes); ``update_pod`` keeps
the status the mock reported (the pod handed in carries the API server's copy, possibly stale).

The hot path (create/delete with no knobs) builds plain dicts and does no copying beyond that.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, final

import attrs
import trio

from vk_trio.provider import (
    AttachIO,
    ContainerLogOptions,
    InvalidInputError,
    MetricFamily,
    MetricSample,
    NotFoundError,
    PodCallback,
)
from vk_trio.provider import types as k8s

from ._commands import MockProcess
from ._config import FailurePlan, MockConfig
from ._echo import serve_echo
from ._logs import MockLogStream, default_line, history_lines

__all__ = ["MockInjectedError", "MockProvider", "MockStatistics"]

HOST_IP: Final = "1.2.3.4"
POD_IP: Final = "5.6.7.8"
ARCHITECTURE: Final = "amd64"
DELETED_POD_REASON: Final = "MockProviderPodDeleted"
DELETED_CONTAINER_REASON: Final = "MockProviderPodContainerDeleted"
DELETED_CONTAINER_MESSAGE: Final = "Mock provider terminated container upon deletion"
EXCLUDE_BALANCER_LABELS: Final = {
    "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
    "node.kubernetes.io/exclude-from-external-load-balancers": "true",
}


class MockInjectedError(Exception):
    """A failure injected by the ``failures`` knob (an ordinary, retryable provider error)."""


@final
@attrs.frozen
class MockStatistics:
    """Counters for tests and benchmarks: pods held and calls made per kind."""

    pods: int
    creates: int
    updates: int
    deletes: int
    injected_failures: int
    notifications: int


def _utc_now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore(_pod: k8s.Pod) -> None:
    pass


def _node_conditions(now: str) -> list[dict[str, Any]]:
    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return [
        condition("Ready", "KubeletPending", "kubelet is pending."),
        condition(
            "OutOfDisk",
            "KubeletHasSufficientDisk",
            "kubelet has sufficient disk space available",
        ),
        condition(
            "MemoryPressure",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        condition("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("NetworkUnavailable", "RouteCreated", "RouteController created a route"),
    ]


@final
class _Injector:
    """Decides, per call, whether the ``failures`` knob fails it."""

    __slots__ = ("_calls", "_op", "_plan", "_random")

    def __init__(self, op: str, plan: FailurePlan) -> None:
        self._op = op
        self._plan = plan
        self._calls = 0
        self._random = random.Random(plan.seed)

    def check(self) -> None:
        self._calls += 1
        plan = self._plan
        if self._calls in plan.nth or (plan.fraction and self._random.random() < plan.fraction):
            message = plan.message or f"mock: injected failure of {self._op} call #{self._calls}"
            raise MockInjectedError(message)


@final
class MockProvider:
    """Pods in a dict, statuses pushed through the notifier.  See the module docstring."""

    def __init__(
        self,
        *,
        node_name: str,
        config: MockConfig | None = None,
        operating_system: str = "linux",
        internal_ip: str = "",
        daemon_port: int = 10250,
        now: Callable[[], str] = _utc_now_text,
        wall_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``now`` returns the current time as RFC 3339 text and ``wall_clock`` as a datetime
        (log timestamps); both injectable for tests."""
        self._node_name = node_name
        self._config = config if config is not None else MockConfig()
        self._os = operating_system
        self._internal_ip = internal_ip
        self._daemon_port = daemon_port
        self._now = now
        self._start_time = now()
        self._wall_clock = wall_clock
        self._pods: dict[tuple[str, str], k8s.Pod] = {}
        self._created: dict[tuple[str, str], datetime] = {}
        self._notify: PodCallback = _ignore
        knobs = self._config.knobs
        self._latency = {op: knobs.latency.get(op, 0.0) for op in knobs.latency}
        self._injectors = {op: _Injector(op, plan) for op, plan in knobs.failures.items()}
        self._creates = self._updates = self._deletes = 0
        self._injected = self._notifications = 0

    @property
    def config(self) -> MockConfig:
        """The configuration in force."""
        return self._config

    def statistics(self) -> MockStatistics:
        """Counters since construction (calls counted even when they failed)."""
        return MockStatistics(
            pods=len(self._pods),
            creates=self._creates,
            updates=self._updates,
            deletes=self._deletes,
            injected_failures=self._injected,
            notifications=self._notifications,
        )

    # -- knobs ------------------------------------------------------------------------------

    async def _knobs(self, op: str) -> None:
        delay = self._latency.get(op)
        if delay:
            await trio.sleep(delay)
        injector = self._injectors.get(op)
        if injector is not None:
            try:
                injector.check()
            except MockInjectedError:
                self._injected += 1
                raise

    def _emit(self, pod: k8s.Pod) -> None:
        self._notifications += 1
        self._notify(pod)

    # -- PodLifecycleHandler ----------------------------------------------------------------

    async def create_pod(self, pod: k8s.Pod) -> None:
        """Store the pod as running and notify its status."""
        self._creates += 1
        if self._latency or self._injectors:
            await self._knobs("create")
        meta = pod["metadata"]
        now = self._now()
        statuses: list[k8s.ContainerStatus] = [
            {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": "",
                "ready": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for container in pod.get("spec", {}).get("containers", ())
        ]
        pod["status"] = {
            "phase": "Running",
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "podIP": POD_IP,
            "podIPs": [{"ip": POD_IP}],
            "startTime": now,
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": statuses,
        }
        key = (meta.get("namespace", ""), meta["name"])
        self._pods[key] = pod
        if self._config.logs.lines or self._config.logs.containers:
            self._created[key] = self._wall_clock()
        self._emit(pod)

    async def update_pod(self, pod: k8s.Pod) -> None:
        """Store the new pod, keeping the status the mock reported, and notify it.

        An unknown pod is ``NotFoundError`` (the node creates pods, it never updates them into
        existence)."""
        self._updates += 1
        if self._latency or self._injectors:
            await self._knobs("update")
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        known = self._pods.get(key)
        if known is None:
            raise NotFoundError(f'pod "{key[0]}/{key[1]}" is not known to the provider')
        if "status" in known:
            pod["status"] = known["status"]
        self._pods[key] = pod
        self._emit(pod)

    async def delete_pod(self, pod: k8s.Pod) -> None:
        """Forget the pod and notify it as ``Succeeded`` with every container terminated."""
        self._deletes += 1
        if self._latency or self._injectors:
            await self._knobs("delete")
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        known = self._pods.pop(key, None)
        self._created.pop(key, None)
        if known is None:
            raise NotFoundError("pod not found")
        now = self._now()
        reported = known.get("status") or pod.get("status")
        status: k8s.PodStatus = reported.copy() if reported else {}
        status["phase"] = "Succeeded"
        status["reason"] = DELETED_POD_REASON
        terminated_statuses: list[k8s.ContainerStatus] = []
        for entry in status.get("containerStatuses", ()):
            terminated: k8s.ContainerStateTerminated = {
                "exitCode": 0,
                "reason": DELETED_CONTAINER_REASON,
                "message": DELETED_CONTAINER_MESSAGE,
                "finishedAt": now,
            }
            state: k8s.ContainerState = entry.get("state") or {}
            started = state.get("running", {}).get("startedAt")
            if started is not None:
                terminated["startedAt"] = started
            terminated_statuses.append(
                {**entry, "ready": False, "state": {"terminated": terminated}}
            )
        status["containerStatuses"] = terminated_statuses
        notified = pod.copy()
        notified["status"] = status
        self._emit(notified)

    async def get_pod(self, namespace: str, name: str) -> k8s.Pod:
        """The stored pod (read-only for the caller)."""
        if self._latency or self._injectors:
            await self._knobs("get")
        pod = self._pods.get((namespace, name))
        if pod is None:
            raise NotFoundError(f'pod "{namespace}/{name}" is not known to the provider')
        return pod

    async def get_pod_status(self, namespace: str, name: str) -> k8s.PodStatus:
        """The stored pod's status (read-only for the caller)."""
        pod = await self.get_pod(namespace, name)
        status: k8s.PodStatus = pod.get("status", {})
        return status

    async def get_pods(self) -> list[k8s.Pod]:
        """Every stored pod."""
        if self._latency or self._injectors:
            await self._knobs("list")
        return list(self._pods.values())

    # -- PodNotifier / NodeConfigurer -------------------------------------------------------

    def notify_pods(self, callback: PodCallback) -> None:
        """Status changes go to ``callback`` from now on (synchronously, inside the pod call)."""
        self._notify = callback

    def configure_node(self, node: dict[str, Any]) -> None:
        """Capacity from the configuration, the mock's conditions, InternalIP, kubelet port."""
        metadata = node.setdefault("metadata", {})
        metadata.setdefault("labels", {}).update(EXCLUDE_BALANCER_LABELS)
        if self._config.provider_id:
            node.setdefault("spec", {})["providerID"] = self._config.provider_id
        status = node.setdefault("status", {})
        status["capacity"] = self._config.capacity()
        status["allocatable"] = self._config.capacity()
        status["conditions"] = _node_conditions(self._now())
        status["addresses"] = [{"type": "InternalIP", "address": self._internal_ip}]
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self._daemon_port}}
        info = status.setdefault("nodeInfo", {})
        info["operatingSystem"] = self._os
        info["architecture"] = ARCHITECTURE

    # -- kubelet API capabilities -----------------------------------------------------------

    def _container(self, namespace: str, pod_name: str, container_name: str) -> k8s.Container:
        pod = self._pods.get((namespace, pod_name))
        if pod is None:
            raise NotFoundError(f'pod "{namespace}/{pod_name}" is not known to the provider')
        for container in pod.get("spec", {}).get("containers", ()):
            if container.get("name") == container_name:
                return container
        raise NotFoundError(f'container "{container_name}" is not in pod "{namespace}/{pod_name}"')

    async def get_container_logs(
        self, namespace: str, pod_name: str, container_name: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        """The container's log lines (see :mod:`vk_trio_mock._logs`)."""
        await trio.lowlevel.checkpoint()
        self._container(namespace, pod_name, container_name)
        if options.previous:
            raise InvalidInputError(
                f'previous terminated container "{container_name}" in pod "{pod_name}" not found'
            )
        logs = self._config.logs
        created = self._created.get((namespace, pod_name)) or self._wall_clock()
        history = history_lines(
            namespace,
            pod_name,
            container_name,
            created,
            count=logs.lines,
            texts=logs.containers.get(container_name),
        )
        return MockLogStream(
            history,
            options,
            wall_clock=self._wall_clock,
            interval=logs.interval,
            next_line=lambda n: default_line(namespace, pod_name, container_name, n),
        )

    def _env(self, pod_name: str, container: Mapping[str, Any]) -> dict[str, str]:
        env = {"HOSTNAME": pod_name}
        for entry in container.get("env") or ():
            if isinstance(entry, dict) and "name" in entry and "valueFrom" not in entry:
                env[str(entry["name"])] = str(entry.get("value", ""))
        return env

    async def run_in_container(
        self,
        namespace: str,
        pod_name: str,
        container_name: str,
        command: Sequence[str],
        io: AttachIO,
    ) -> None:
        """Run one of the built-in commands (see :mod:`vk_trio_mock._commands`)."""
        await trio.lowlevel.checkpoint()
        container = self._container(namespace, pod_name, container_name)
        await MockProcess(io, self._env(pod_name, container)).run(command)

    async def attach_to_container(
        self, namespace: str, pod_name: str, container_name: str, io: AttachIO
    ) -> None:
        """The container's "main process": an interactive line-echo shell on stdin."""
        await trio.lowlevel.checkpoint()
        container = self._container(namespace, pod_name, container_name)
        await MockProcess(io, self._env(pod_name, container)).attach()

    async def port_forward(
        self, namespace: str, pod_name: str, port: int, stream: trio.abc.Stream
    ) -> None:
        """An in-process echo server (HTTP-aware) on any port of a known pod."""
        await trio.lowlevel.checkpoint()
        if (namespace, pod_name) not in self._pods:
            raise NotFoundError(f'pod "{namespace}/{pod_name}" is not known to the provider')
        await serve_echo(stream, port=port, pod=f"{namespace}/{pod_name}")

    async def get_stats_summary(self) -> dict[str, Any]:
        """Random usage per container (as the Go mock), pod values the sums."""
        await trio.lowlevel.checkpoint()
        now = self._now()
        pods = []
        for pod in self._pods.values():
            meta = pod["metadata"]
            start = meta.get("creationTimestamp") or now
            containers = []
            cpu_sum = mem_sum = 0
            for container in pod.get("spec", {}).get("containers", ()):
                cpu = random.getrandbits(32)
                mem = random.getrandbits(32)
                cpu_sum += cpu
                mem_sum += mem
                containers.append(
                    {
                        "name": container["name"],
                        "startTime": start,
                        "cpu": {"time": now, "usageNanoCores": cpu},
                        "memory": {"time": now, "usageBytes": mem},
                    }
                )
            pods.append(
                {
                    "podRef": {
                        "name": meta["name"],
                        "namespace": meta.get("namespace", ""),
                        "uid": meta.get("uid", ""),
                    },
                    "startTime": start,
                    "containers": containers,
                    "cpu": {"time": now, "usageNanoCores": cpu_sum},
                    "memory": {"time": now, "usageBytes": mem_sum},
                }
            )
        return {"node": {"nodeName": self._node_name, "startTime": self._start_time}, "pods": pods}

    async def get_metrics_resource(self) -> list[MetricFamily]:
        """The resource-metrics families metrics-server reads, every value 100 (as the Go mock).

        Labels are the kubelet's (``container``, ``namespace``, ``pod``; none on node samples)
        and every sample carries a timestamp, so ``kubectl top`` through a real metrics-server
        sees the mock's pods; the Go mock's ``NodeName``/``PodName`` labels are not read by it.
        """
        await trio.lowlevel.checkpoint()
        stamp = int(self._wall_clock().timestamp() * 1000)
        pod_samples: list[MetricSample] = []
        container_samples: list[MetricSample] = []
        start_samples: list[MetricSample] = []
        for key, pod in self._pods.items():
            meta = pod["metadata"]
            pod_labels = (("namespace", meta.get("namespace", "")), ("pod", meta["name"]))
            pod_samples.append(MetricSample(labels=pod_labels, value=100.0, timestamp_ms=stamp))
            created = self._created.get(key)
            started = created.timestamp() if created is not None else stamp / 1000
            for container in pod.get("spec", {}).get("containers", ()):
                labels = (("container", container["name"]), *pod_labels)
                container_samples.append(
                    MetricSample(labels=labels, value=100.0, timestamp_ms=stamp)
                )
                start_samples.append(MetricSample(labels=labels, value=started))
        node_sample = (MetricSample(value=100.0, timestamp_ms=stamp),)
        families = [
            MetricFamily(name="node_cpu_usage_seconds_total", type="counter", samples=node_sample),
            MetricFamily(name="node_memory_working_set_bytes", type="gauge", samples=node_sample),
        ]
        if pod_samples:
            pods, containers = tuple(pod_samples), tuple(container_samples)
            families += [
                MetricFamily(name="pod_cpu_usage_seconds_total", type="counter", samples=pods),
                MetricFamily(name="pod_memory_working_set_bytes", type="gauge", samples=pods),
                MetricFamily(
                    name="container_cpu_usage_seconds_total", type="counter", samples=containers
                ),
                MetricFamily(
                    name="container_memory_working_set_bytes", type="gauge", samples=containers
                ),
                MetricFamily(
                    name="container_start_time_seconds",
                    type="gauge",
                    samples=tuple(start_samples),
                ),
            ]
        return families
