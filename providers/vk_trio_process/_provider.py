"""The process provider: every container of a pod a supervised process on this machine.

What it owns: the pods' sandboxes under ``<stateDir>/pods/<uid>`` (state, logs, volumes), one
:class:`~vk_trio_process._pod.PodRuntime` task per pod (all in :meth:`ProcessProvider.run`'s
nursery), and the namespaces holder per pod with ``isolation: namespaces``.  What it reports:
statuses through the notifier whenever a container changes, built the way the kubelet builds
them.

Deletion does not hold the node's sync worker for the grace period: :meth:`delete_pod` forgets
the pod and hands its termination to a task; the statuses written on the way (containers
terminated, phase final) are what lets the node remove the pod from the API early.

A restart of vk-trio leaves the processes running.  :meth:`run` reads every saved sandbox and
re-adopts the processes by PID (checked against their start time), so a pod keeps its process;
the node then deletes the pods the API no longer has (``get_pods`` lists them).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import platform
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast, final

import attrs
import trio

from vk_trio.provider import (
    AttachIO,
    ContainerExitError,
    ContainerLogOptions,
    InvalidInputError,
    MetricFamily,
    MetricSample,
    NodeCallback,
    NotFoundError,
    PodCallback,
    ResourceLookup,
)
from vk_trio.provider import types as k8s

from ._cgroups import CgroupSet
from ._config import ProcessConfig
from ._exec import ExecTarget, capture, interactive
from ._isolation import PodSandboxProcess, remove_mount_points
from ._logs import LogReader, log_path
from ._pod import ContainerRecord, PodRuntime, Sandbox, now_text
from ._process import make_fifo, proc_start_ticks, signal_group
from ._spec import DEFAULT_PATH, ContainerSpec, ExecutableNotFound, grace_period, parse_containers
from ._stats import ProcTable, node_cpu_ns, node_memory
from ._volumes import check_volumes, render_volumes, volume_source

__all__ = ["ProcessProvider"]

logger = logging.getLogger(__name__)

Key = tuple[str, str]
VOLUME_REFRESH: Final = 10.0
HEALTH_INTERVAL: Final = 10.0
START_WAIT: Final = 30.0
"""How long exec/attach wait for a container that is being created, and port-forward retries
a refused connection to a pod that is not ready yet."""
ARCHITECTURES: Final = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def _key(pod: Mapping[str, Any] | k8s.Pod) -> Key:
    meta = pod.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _ignore(_: k8s.Pod) -> None:
    pass


def _ignore_node(_: dict[str, Any]) -> None:
    pass


def _plain(pod: k8s.Pod) -> dict[str, Any]:
    """The pod as the plain dict it is (the typed view only guides the type checker)."""
    return cast("dict[str, Any]", pod)


def _starting(record: ContainerRecord) -> bool:
    reason = record.state.get("waiting", {}).get("reason")
    return reason in ("ContainerCreating", "PodInitializing")


@final
class ProcessProvider:
    """See the module docstring.  Built by :func:`vk_trio_process.create_provider`."""

    def __init__(
        self,
        *,
        node_name: str,
        config: ProcessConfig,
        resources: ResourceLookup,
        internal_ip: str = "",
        daemon_port: int = 10250,
        operating_system: str = "linux",
    ) -> None:
        self._node_name = node_name
        self._config = config
        self._resources = resources
        self._host_ip = internal_ip or "127.0.0.1"
        self._internal_ip = internal_ip
        self._daemon_port = daemon_port
        self._os = operating_system
        self._pods: dict[Key, PodRuntime] = {}
        self._sandboxes: dict[str, PodSandboxProcess] = {}
        self._notify: PodCallback = _ignore
        self._node_notify: NodeCallback = _ignore_node
        self._last_health: str | None = None
        self._node_shape: dict[str, Any] = {}
        self._nursery: trio.Nursery | None = None
        self._started = datetime.now(UTC)
        self._cpu_seen: dict[Any, tuple[float, int]] = {}

    @property
    def config(self) -> ProcessConfig:
        return self._config

    @property
    def pods_dir(self) -> Path:
        return self._config.state_dir / "pods"

    # -- Runnable ------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own every pod task; re-adopt the pods a previous vk-trio left running first."""
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await self._readopt(nursery)
            nursery.start_soon(self._refresh_volumes)
            nursery.start_soon(self._watch_health)
            task_status.started()
            await trio.sleep_forever()

    def _require_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the process provider is not running yet")
        return self._nursery

    async def _readopt(self, nursery: trio.Nursery) -> None:
        for state in sorted(self.pods_dir.glob("*/state.json")):
            try:
                document = json.loads(state.read_bytes())
                pod = document["pod"]
                inits, apps = parse_containers(pod)
            except (OSError, ValueError, KeyError, InvalidInputError) as exc:
                logger.warning("ignoring unreadable pod state %s: %s", state, exc)
                continue
            sandbox = Sandbox(state.parent)
            holder = None
            saved = (document.get("extra") or {}).get("sandbox")
            if saved:
                holder = PodSandboxProcess.adopt(*saved)
                if holder is None:
                    logger.warning("pod %s: its namespaces are gone; containers restart", state)
                    holder = await PodSandboxProcess.start(str(pod["metadata"]["name"]))
            runtime = self._runtime(pod, inits, apps, sandbox, holder)
            runtime.restore(document)
            if holder is not None:
                holder.created_dirs = list(runtime.extra.get("createdDirs") or ())
                runtime.extra["sandbox"] = [holder.leader, holder.leader_ticks, holder.init]
            if document.get("terminating"):
                nursery.start_soon(runtime.run)
                nursery.start_soon(self._terminate, runtime, 0.0)
                continue
            self._pods[_key(pod)] = runtime
            nursery.start_soon(runtime.run)
            logger.info("re-adopted pod %s/%s", *_key(pod))

    async def _refresh_volumes(self) -> None:
        """Config maps, secrets and the downward API change: re-render (atomic swap)."""
        while True:
            await trio.sleep(VOLUME_REFRESH)
            for runtime in list(self._pods.values()):
                if runtime.terminating:
                    continue
                try:
                    render_volumes(
                        runtime.sandbox.volumes, runtime.pod, self._resources, only_rendered=True
                    )
                except (LookupError, OSError, RuntimeError) as exc:
                    logger.debug("volumes of %s not refreshed: %s", runtime.name, exc)

    # -- building a pod ------------------------------------------------------------------------

    def _runtime(
        self,
        pod: dict[str, Any],
        inits: list[ContainerSpec],
        apps: list[ContainerSpec],
        sandbox: Sandbox,
        holder: PodSandboxProcess | None,
    ) -> PodRuntime:
        uid = str(pod["metadata"].get("uid", ""))
        if holder is not None:
            self._sandboxes[uid] = holder

        def wrap(spec: ContainerSpec, argv: list[str]) -> list[str]:
            if holder is None:
                return argv
            return holder.enter(argv, cwd=spec.working_dir or "/", user=spec.user, group=spec.group)

        def cwd(spec: ContainerSpec) -> str:
            if holder is not None:
                return "/"
            return spec.working_dir or str(sandbox.rootfs(spec.name))

        def extra_env(spec: ContainerSpec) -> dict[str, str]:
            return {} if holder is not None else {"VK_TRIO_ROOT": str(sandbox.rootfs(spec.name))}

        async def run_exec(
            record: ContainerRecord, command: Sequence[str], timeout: float
        ) -> tuple[int, bytes]:
            try:
                argv, target = self._exec_plan(runtime, record, command)
            except ExecutableNotFound as exc:
                return 127, str(exc).encode()
            return await capture(argv, target, timeout)

        runtime = PodRuntime(
            pod,
            inits,
            apps,
            sandbox,
            on_change=self._changed,
            run_exec=run_exec,
            wrap=wrap,
            cwd=cwd,
            extra_env=extra_env,
            spare_leader=holder is not None,
            ids_in_wrap=holder is not None,
        )
        return runtime

    def _exec_plan(
        self, runtime: PodRuntime, record: ContainerRecord, command: Sequence[str]
    ) -> tuple[list[str], ExecTarget]:
        spec = record.spec
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": runtime.name, "HOME": "/root"}
        holder = self._sandboxes.get(runtime.uid)
        if holder is None:
            env["VK_TRIO_ROOT"] = str(runtime.sandbox.rootfs(spec.name))
        env.update(spec.env)
        probe = attrs.evolve(spec, argv=tuple(command))
        argv = probe.resolve()
        if holder is not None:
            argv = holder.enter(argv, cwd=spec.working_dir or "/", user=spec.user, group=spec.group)
            return argv, ExecTarget(env=env, cwd="/", user=None, group=None)
        cwd = spec.working_dir or str(runtime.sandbox.rootfs(spec.name))
        return argv, ExecTarget(env=env, cwd=cwd, user=spec.user, group=spec.group)

    def _check_ports(self, pod: Mapping[str, Any], specs: list[ContainerSpec]) -> None:
        wanted = {p for s in specs for p in s.host_ports}
        for other in self._pods.values():
            if other.terminating:
                continue
            for record in other.records():
                clash = wanted.intersection(record.spec.host_ports)
                if clash:
                    raise RuntimeError(
                        f"port {min(clash)} is already used by pod "
                        f"{other.pod['metadata'].get('namespace')}/{other.name} (pods share the "
                        "host network on the process provider)"
                    )

    def _prepare_rootfs(
        self, sandbox: Sandbox, pod: Mapping[str, Any], specs: list[ContainerSpec]
    ) -> None:
        """``isolation: none``: each mount as a symlink at its mountPath under the container's
        root directory (``$VK_TRIO_ROOT``, also the default working directory)."""
        volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or ()}
        for spec in specs:
            root = sandbox.rootfs(spec.name)
            root.mkdir(parents=True, exist_ok=True)
            if spec.user is not None or spec.group is not None:
                # the default working directory: the container's user may write there
                uid = -1 if spec.user is None else spec.user
                os.chown(root, uid, -1 if spec.group is None else spec.group)
            for name, mount_path, _ in spec.mounts:
                if name not in volumes:
                    raise InvalidInputError(f"container {spec.name!r}: no volume named {name!r}")
                link = root / mount_path.lstrip("/")
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.is_symlink():
                    link.symlink_to(volume_source(sandbox.volumes, volumes[name]))

    async def _bind_mounts(
        self,
        holder: PodSandboxProcess,
        sandbox: Sandbox,
        pod: Mapping[str, Any],
        specs: list[ContainerSpec],
    ) -> None:
        volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or ()}
        done: set[str] = set()
        for spec in specs:
            for name, mount_path, read_only in spec.mounts:
                if name not in volumes:
                    raise InvalidInputError(f"container {spec.name!r}: no volume named {name!r}")
                if mount_path in done:
                    continue  # one mount namespace per pod: the first container's mount wins
                done.add(mount_path)
                await holder.bind(
                    volume_source(sandbox.volumes, volumes[name]), mount_path, read_only=read_only
                )

    def kill_all_pods(self) -> int:
        """SIGKILL every process of every pod in the state directory and forget them all.

        Not part of the node's protocol: for tests and tooling (a state directory to wipe),
        with the provider's ``run`` no longer running.  Returns the number of pods removed.
        """
        removed = 0
        leftovers: list[CgroupSet] = []
        for state in sorted(self.pods_dir.glob("*/state.json")):
            with contextlib.suppress(OSError, ValueError):
                document = json.loads(state.read_bytes())
                for name, entry in (document.get("containers") or {}).items():
                    if "pid" in entry and proc_start_ticks(entry["pid"]) == entry["startTicks"]:
                        signal_group(int(entry["pid"]), signal.SIGKILL)
                    cgroups = CgroupSet(state.parent.name, name)
                    cgroups.attach_existing()
                    cgroups.kill_all()
                    leftovers.append(cgroups)
                extra = document.get("extra") or {}
                saved = extra.get("sandbox")
                holder = PodSandboxProcess.adopt(*saved) if saved else None
                if holder is not None:
                    holder.stop()
                remove_mount_points(extra.get("createdDirs") or ())
            shutil.rmtree(state.parent, ignore_errors=True)
            removed += 1
        # a cgroup can be removed once the kernel has finished killing its processes
        deadline = time.monotonic() + 5.0
        while leftovers and time.monotonic() < deadline:
            leftovers = [c for c in leftovers if not c.remove()]
            if leftovers:
                time.sleep(0.02)
        self._pods.clear()
        return removed

    # -- PodLifecycleHandler ---------------------------------------------------------------------

    async def create_pod(self, pod: k8s.Pod) -> None:
        return await self._create(_plain(pod))

    async def _create(self, pod: dict[str, Any]) -> None:
        nursery = self._require_nursery()
        key = _key(pod)
        uid = str(pod["metadata"].get("uid", ""))
        if key in self._pods:
            if self._pods[key].uid == uid:
                return
            raise RuntimeError(f"pod {key[0]}/{key[1]} with another UID is still running here")
        inits, apps = parse_containers(pod)
        check_volumes(pod, allow_host_path=self._config.allow_host_path)
        self._check_ports(pod, apps)
        sandbox = Sandbox(self.pods_dir / (uid or f"{key[0]}_{key[1]}"))
        sandbox.root.mkdir(parents=True, exist_ok=True)
        try:
            render_volumes(sandbox.volumes, pod, self._resources)
        except LookupError as exc:
            raise RuntimeError(f"volumes not ready: {exc}") from exc
        holder = None
        if self._config.isolation == "namespaces":
            holder = await PodSandboxProcess.start(key[1])
            try:
                await self._bind_mounts(holder, sandbox, pod, [*inits, *apps])
            except BaseException:
                holder.stop()
                raise
        else:
            self._prepare_rootfs(sandbox, pod, [*inits, *apps])
        runtime = self._runtime(pod, inits, apps, sandbox, holder)
        if holder is not None:
            runtime.extra["sandbox"] = [holder.leader, holder.leader_ticks, holder.init]
            runtime.extra["createdDirs"] = list(holder.created_dirs)
        self._pods[key] = runtime
        self._changed(runtime)
        nursery.start_soon(runtime.run)

    async def update_pod(self, pod: k8s.Pod) -> None:
        await trio.lowlevel.checkpoint()
        runtime = self._lookup(*_key(pod))
        # Containers of a running pod do not change; labels, annotations, deadlines do.
        runtime.pod = _plain(pod)
        self._changed(runtime)

    async def delete_pod(self, pod: k8s.Pod) -> None:
        await trio.lowlevel.checkpoint()
        key = _key(pod)
        runtime = self._lookup(*key)
        uid = (pod.get("metadata") or {}).get("uid")
        if uid and runtime.uid and uid != runtime.uid:
            raise NotFoundError(f"pod {key[0]}/{key[1]} with UID {uid} is not running here")
        del self._pods[key]
        runtime.pod = {
            **runtime.pod,
            "metadata": {
                **runtime.pod["metadata"],
                **{
                    k: v
                    for k, v in (pod.get("metadata") or {}).items()
                    if k in ("deletionTimestamp", "deletionGracePeriodSeconds")
                },
            },
        }
        self._require_nursery().start_soon(self._terminate, runtime, grace_period(pod))

    async def _terminate(self, runtime: PodRuntime, grace: float) -> None:
        await runtime.terminate(grace)
        holder = self._sandboxes.pop(runtime.uid, None)
        if holder is not None:
            holder.stop()
            await holder.wait_stopped()
        self._changed(runtime)
        shutil.rmtree(runtime.sandbox.root, ignore_errors=True)

    def _lookup(self, namespace: str, name: str) -> PodRuntime:
        runtime = self._pods.get((namespace, name))
        if runtime is None:
            raise NotFoundError(f'pod "{namespace}/{name}" is not known to the provider')
        return runtime

    def _pod_dict(self, runtime: PodRuntime) -> k8s.Pod:
        return cast("k8s.Pod", {**runtime.pod, "status": runtime.status(self._host_ip)})

    async def get_pod(self, namespace: str, name: str) -> k8s.Pod:
        await trio.lowlevel.checkpoint()
        return self._pod_dict(self._lookup(namespace, name))

    async def get_pod_status(self, namespace: str, name: str) -> k8s.PodStatus:
        await trio.lowlevel.checkpoint()
        return cast("k8s.PodStatus", self._lookup(namespace, name).status(self._host_ip))

    async def get_pods(self) -> list[k8s.Pod]:
        await trio.lowlevel.checkpoint()
        return [self._pod_dict(r) for r in self._pods.values()]

    def _changed(self, runtime: PodRuntime) -> None:
        self._notify(self._pod_dict(runtime))

    # -- PodNotifier, NodeProvider, NodeConfigurer ----------------------------------------------

    def notify_pods(self, callback: PodCallback) -> None:
        self._notify = callback

    def notify_node_status(self, callback: NodeCallback) -> None:
        """Remember ``callback`` and report the current health at once (the node is Ready
        only when this provider says so)."""
        self._node_notify = callback
        self._report_health(force=True)

    def _health(self) -> str | None:
        """What is wrong with this machine as a node, or ``None``."""
        if not os.access(self.pods_dir, os.W_OK | os.X_OK):
            return f"state directory {self.pods_dir} is not writable"
        return None

    def _report_health(self, *, force: bool = False) -> None:
        problem = self._health()
        if problem == self._last_health and not force:
            return
        self._last_health = problem
        # the whole shape configure_node gave the node, with the conditions of now
        node = copy.deepcopy(self._node_shape)
        node.setdefault("metadata", {})["name"] = self._node_name
        node.setdefault("status", {})["conditions"] = self._conditions(problem)
        self._node_notify(node)

    async def _watch_health(self) -> None:
        while True:
            await trio.sleep(HEALTH_INTERVAL)
            self._report_health()

    async def ping(self) -> None:
        """Healthy while the state directory is usable."""
        await trio.lowlevel.checkpoint()
        problem = self._health()
        if problem is not None:
            raise OSError(problem)

    def _conditions(self, problem: str | None) -> list[dict[str, Any]]:
        now = now_text()

        def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }

        ready = (
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            if problem is None
            else condition("Ready", "False", "ProviderUnhealthy", problem)
        )
        return [
            ready,
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
        ]

    def configure_node(self, node: dict[str, Any]) -> None:
        """Capacity from the host (or the configuration), the host's addresses and system;
        Ready once the provider reports its health (:meth:`notify_node_status`)."""
        status = node.setdefault("status", {})
        status["capacity"] = dict(self._config.capacity)
        status["allocatable"] = dict(self._config.capacity)
        conditions = self._conditions(None)
        conditions[0] = {
            **conditions[0],
            "status": "False",
            "reason": "KubeletPending",
            "message": "kubelet is pending.",
        }
        status["conditions"] = conditions
        addresses = [{"type": "Hostname", "address": platform.node() or self._node_name}]
        if self._internal_ip:
            addresses.insert(0, {"type": "InternalIP", "address": self._internal_ip})
        status["addresses"] = addresses
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self._daemon_port}}
        info = status.setdefault("nodeInfo", {})
        info["operatingSystem"] = self._os
        info["architecture"] = ARCHITECTURES.get(platform.machine(), platform.machine())
        info["kernelVersion"] = platform.release()
        info["containerRuntimeVersion"] = "process://vk-trio"
        self._node_shape = copy.deepcopy(node)

    # -- kubelet API -----------------------------------------------------------------------------

    async def _running_record(
        self, namespace: str, pod_name: str, container: str
    ) -> tuple[PodRuntime, ContainerRecord]:
        """The container, once running: one that is still being created (or waits for the
        init containers) is waited for, up to :data:`START_WAIT` seconds."""
        runtime, record = self._record(namespace, pod_name, container)
        with trio.move_on_after(START_WAIT):
            while _starting(record) and not runtime.terminating:
                await runtime.change.wait()
        if not record.running:
            raise InvalidInputError(f"container {container} is not running")
        return runtime, record

    def _record(
        self, namespace: str, pod_name: str, container: str
    ) -> tuple[PodRuntime, ContainerRecord]:
        runtime = self._lookup(namespace, pod_name)
        record = runtime.record(container)
        if record is None:
            raise NotFoundError(f"container {container} is not valid for pod {pod_name}")
        return runtime, record

    async def get_container_logs(
        self, namespace: str, pod_name: str, container_name: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        await trio.lowlevel.checkpoint()
        runtime, record = self._record(namespace, pod_name, container_name)
        directory = runtime.sandbox.log_dir(container_name)
        run = record.restart_count
        if options.previous:
            run -= 1
            if run < 0 or not log_path(directory, run).exists():
                raise InvalidInputError(
                    f'previous terminated container "{container_name}" in pod "{pod_name}" '
                    "not found"
                )
            return LogReader(log_path(directory, run), options, finished=lambda: True)

        def finished() -> bool:
            return (
                runtime.terminating
                or record.restart_count != run
                or (record.output_done and "running" not in record.state)
            )

        return LogReader(log_path(directory, run), options, finished=finished)

    async def run_in_container(
        self,
        namespace: str,
        pod_name: str,
        container_name: str,
        command: Sequence[str],
        io: AttachIO,
    ) -> None:
        if not command:
            raise InvalidInputError("no command to run")
        runtime, record = await self._running_record(namespace, pod_name, container_name)
        try:
            argv, target = self._exec_plan(runtime, record, command)
        except ExecutableNotFound as exc:
            if io.stderr is not None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await io.stderr.send_all(f"{exc}\n".encode())
            raise ContainerExitError(127, str(exc)) from exc
        code = await interactive(argv, target, io)
        if code != 0:
            raise ContainerExitError(code if code > 0 else 128 - code)

    async def attach_to_container(
        self, namespace: str, pod_name: str, container_name: str, io: AttachIO
    ) -> None:
        """New output of the container's main process to ``stdout``; ``stdin`` into its stdin
        (a FIFO, when the container has ``stdin: true``)."""
        runtime, record = await self._running_record(namespace, pod_name, container_name)
        run = record.restart_count
        reader = LogReader(
            log_path(runtime.sandbox.log_dir(container_name), run),
            ContainerLogOptions(follow=True, tail_lines=0),
            finished=lambda: record.restart_count != run or not record.running,
        )
        async with trio.open_nursery() as nursery:
            fifo = runtime.sandbox.container_dir(container_name) / "stdin"
            if io.stdin is not None and record.spec.stdin:
                make_fifo(fifo)
                sink = trio.lowlevel.FdStream(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                nursery.start_soon(_copy, io.stdin, sink)
            async with reader:
                while chunk := await reader.receive_some(65536):
                    if io.stdout is not None:
                        await io.stdout.send_all(chunk)
            nursery.cancel_scope.cancel()

    async def port_forward(
        self, namespace: str, pod_name: str, port: int, stream: trio.abc.Stream
    ) -> None:
        """Pods share the host's network: the pod's port is ``127.0.0.1:port``."""
        runtime = self._lookup(namespace, pod_name)
        target = await self._connect(runtime, port)
        async with target, trio.open_nursery() as nursery:
            nursery.start_soon(_copy, stream, target)
            await _copy(target, stream)
            nursery.cancel_scope.cancel()

    async def _connect(self, runtime: PodRuntime, port: int) -> trio.SocketStream:
        """``127.0.0.1:port``; while the pod is still starting (a container not ready yet) a
        refused connection is tried again for up to :data:`START_WAIT` seconds, since its
        server is most likely about to listen."""
        with trio.move_on_after(START_WAIT):
            while True:
                try:
                    return await trio.open_tcp_stream("127.0.0.1", port)
                except OSError:
                    if runtime.terminating or all(r.ready for r in runtime.apps):
                        raise
                await trio.sleep(0.1)
        return await trio.open_tcp_stream("127.0.0.1", port)

    def _usage(
        self, table: ProcTable, key: Any, record: ContainerRecord, now: float
    ) -> tuple[int, int | None, int, int] | None:
        """``(cpu ns, nano cores, rss, working set)`` of a running container."""
        process = record.process
        if process is None or not record.running:
            return None
        sample = table.group(process.pid)
        if sample is None:
            return None
        previous = self._cpu_seen.get(key)
        self._cpu_seen[key] = (now, sample.cpu_ns)
        rate = None
        if previous is not None and now > previous[0]:
            rate = int(max(0, sample.cpu_ns - previous[1]) / (now - previous[0]))
        working = sample.rss_bytes
        if record.cgroups is not None:
            memory = record.cgroups.memory_usage()
            if memory is not None:
                working = memory[1]
        return sample.cpu_ns, rate, sample.rss_bytes, working

    async def get_stats_summary(self) -> dict[str, Any]:
        """Node, pod and container usage from ``/proc`` and cgroups (see :mod:`._stats`)."""
        table = await trio.to_thread.run_sync(ProcTable)
        now_clock = trio.current_time()
        stamp = now_text()
        total, node_working = node_memory()
        node_cpu = node_cpu_ns()
        previous = self._cpu_seen.get("node")
        self._cpu_seen["node"] = (now_clock, node_cpu)
        node: dict[str, Any] = {
            "nodeName": self._node_name,
            "startTime": self._started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpu": {"time": stamp, "usageCoreNanoSeconds": node_cpu},
            "memory": {
                "time": stamp,
                "availableBytes": total - node_working,
                "usageBytes": node_working,
                "workingSetBytes": node_working,
            },
        }
        if previous is not None and now_clock > previous[0]:
            node["cpu"]["usageNanoCores"] = int(
                (node_cpu - previous[1]) / (now_clock - previous[0])
            )
        pods = []
        for runtime in list(self._pods.values()):
            containers = []
            sums = [0, 0, 0, 0]
            for record in runtime.apps:
                usage = self._usage(
                    table,
                    (runtime.uid, record.spec.name, record.process and record.process.pid),
                    record,
                    now_clock,
                )
                if usage is None:
                    continue
                cpu_ns, rate, rss, working = usage
                sums[0] += cpu_ns
                sums[1] += rate or 0
                sums[2] += rss
                sums[3] += working
                cpu: dict[str, Any] = {"time": stamp, "usageCoreNanoSeconds": cpu_ns}
                if rate is not None:
                    cpu["usageNanoCores"] = rate
                containers.append(
                    {
                        "name": record.spec.name,
                        "startTime": record.state["running"].get("startedAt"),
                        "cpu": cpu,
                        "memory": {
                            "time": stamp,
                            "usageBytes": working,
                            "workingSetBytes": working,
                            "rssBytes": rss,
                        },
                    }
                )
            meta = runtime.pod["metadata"]
            pods.append(
                {
                    "podRef": {
                        "name": meta["name"],
                        "namespace": meta.get("namespace", ""),
                        "uid": meta.get("uid", ""),
                    },
                    "startTime": runtime.start_time,
                    "containers": containers,
                    "cpu": {
                        "time": stamp,
                        "usageCoreNanoSeconds": sums[0],
                        "usageNanoCores": sums[1],
                    },
                    "memory": {
                        "time": stamp,
                        "usageBytes": sums[3],
                        "workingSetBytes": sums[3],
                        "rssBytes": sums[2],
                    },
                }
            )
        return {"node": node, "pods": pods}

    async def get_metrics_resource(self) -> list[MetricFamily]:
        """The kubelet's resource metrics (what metrics-server scrapes), from the summary."""
        summary = await self.get_stats_summary()
        stamp = int(datetime.now(UTC).timestamp() * 1000)
        node = summary["node"]
        families = {
            "node_cpu_usage_seconds_total": (
                "counter",
                [MetricSample(value=node["cpu"]["usageCoreNanoSeconds"] / 1e9, timestamp_ms=stamp)],
            ),
            "node_memory_working_set_bytes": (
                "gauge",
                [MetricSample(value=float(node["memory"]["workingSetBytes"]), timestamp_ms=stamp)],
            ),
            "pod_cpu_usage_seconds_total": ("counter", []),
            "pod_memory_working_set_bytes": ("gauge", []),
            "container_cpu_usage_seconds_total": ("counter", []),
            "container_memory_working_set_bytes": ("gauge", []),
            "container_start_time_seconds": ("gauge", []),
        }
        for pod in summary["pods"]:
            ref = pod["podRef"]
            labels = (("namespace", ref["namespace"]), ("pod", ref["name"]))
            families["pod_cpu_usage_seconds_total"][1].append(
                MetricSample(
                    labels=labels,
                    value=pod["cpu"]["usageCoreNanoSeconds"] / 1e9,
                    timestamp_ms=stamp,
                )
            )
            families["pod_memory_working_set_bytes"][1].append(
                MetricSample(
                    labels=labels, value=float(pod["memory"]["workingSetBytes"]), timestamp_ms=stamp
                )
            )
            for container in pod["containers"]:
                clabels = (("container", container["name"]), *labels)
                families["container_cpu_usage_seconds_total"][1].append(
                    MetricSample(
                        labels=clabels,
                        value=container["cpu"]["usageCoreNanoSeconds"] / 1e9,
                        timestamp_ms=stamp,
                    )
                )
                families["container_memory_working_set_bytes"][1].append(
                    MetricSample(
                        labels=clabels,
                        value=float(container["memory"]["workingSetBytes"]),
                        timestamp_ms=stamp,
                    )
                )
                started = datetime.strptime(container["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=UTC
                )
                families["container_start_time_seconds"][1].append(
                    MetricSample(labels=clabels, value=started.timestamp(), timestamp_ms=stamp)
                )
        return [
            MetricFamily(name=name, type=kind, samples=tuple(samples))  # type: ignore[arg-type]
            for name, (kind, samples) in families.items()
            if samples or name.startswith("node_")
        ]


async def _copy(source: trio.abc.ReceiveStream, sink: trio.abc.SendStream) -> None:
    try:
        while chunk := await source.receive_some(65536):
            await sink.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            if isinstance(sink, trio.abc.HalfCloseableStream):
                await sink.send_eof()
            elif isinstance(sink, trio.lowlevel.FdStream):
                await sink.aclose()
