"""One pod on the host: its containers supervised as processes, its status as the kubelet has it.

The pod's task (:meth:`PodRuntime.run`) runs the init containers one after another, then
supervises every app container at once.  Each container run is: start the process, pump its
output into the log file, run its probes and ``postStart`` hook, wait for the exit, clean up
whatever the process left in its group (and cgroup), record the terminated state.  Then the
restart policy decides: not again, at once, or after the crash back-off (``CrashLoopBackOff``).

:meth:`PodRuntime.terminate` is the deletion path: stop restarting, run ``preStop``, SIGTERM the
process group, wait out the grace period, SIGKILL.  Every state change calls ``on_change`` so the
provider can notify the node; statuses are built fresh each time, never mutated after that.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, final

import attrs
import trio

from ._backoff import CrashBackoff
from ._cgroups import CgroupSet
from ._logs import LogFile, log_path
from ._probes import ProbeSpec, run_action
from ._process import UNKNOWN_EXIT, ContainerProcess, make_fifo, open_fifo_reader
from ._spec import DEFAULT_PATH, ContainerSpec, ExecutableNotFound

__all__ = ["ContainerRecord", "PodRuntime", "Sandbox", "now_text"]

logger = logging.getLogger(__name__)

PUMP_DRAIN: Final = 2.0
START_ERROR_EXIT: Final = 128


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@final
@attrs.frozen
class Sandbox:
    """Where a pod lives on disk: ``<stateDir>/pods/<uid>``."""

    root: Path

    def container_dir(self, name: str) -> Path:
        return self.root / "containers" / name

    def log_dir(self, name: str) -> Path:
        return self.root / "logs" / name

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def rootfs(self, name: str) -> Path:
        """With ``isolation: none``, the container's view: mount paths as symlinks under it."""
        return self.root / "rootfs" / name


@final
@attrs.define(eq=False)
class ContainerRecord:
    """What vk-trio knows of one container (init or app) across its runs."""

    spec: ContainerSpec
    state: dict[str, Any] = attrs.field(
        factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    last_state: dict[str, Any] = attrs.field(factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    process: ContainerProcess | None = None
    backoff: CrashBackoff = attrs.field(factory=CrashBackoff)
    exited: trio.Event = attrs.field(factory=trio.Event)
    output_done: bool = True
    finished: bool = False  # no further run will happen
    kill_message: str | None = None
    cgroups: CgroupSet | None = None
    adopted: tuple[int, int, str] | None = None  # (pid, start ticks, startedAt) to re-adopt

    @property
    def running(self) -> bool:
        return "running" in self.state

    def status(self) -> dict[str, Any]:
        pid = self.process.pid if self.process is not None else None
        if pid is None and self.adopted is not None:
            pid = self.adopted[0]
        result: dict[str, Any] = {
            "name": self.spec.name,
            "image": self.spec.image,
            "imageID": "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.started if self.running else False,
            "state": self.state,
            "lastState": self.last_state,
        }
        if pid is not None:
            result["containerID"] = f"process://{pid}"
        return result


ExecRunner = Callable[[ContainerRecord, Sequence[str], float], Any]


@final
class PodRuntime:
    """The supervisor of one pod (see the module docstring)."""

    def __init__(
        self,
        pod: dict[str, Any],
        inits: list[ContainerSpec],
        apps: list[ContainerSpec],
        sandbox: Sandbox,
        *,
        on_change: Callable[[PodRuntime], None],
        run_exec: Callable[[ContainerRecord, Sequence[str], float], Any],
        wrap: Callable[[ContainerSpec, list[str]], list[str]],
        cwd: Callable[[ContainerSpec], str],
        extra_env: Callable[[ContainerSpec], Mapping[str, str]],
        spare_leader: bool = False,
        ids_in_wrap: bool = False,
    ) -> None:
        self.pod = pod
        self.sandbox = sandbox
        self.inits = [ContainerRecord(spec) for spec in inits]
        self.apps = [ContainerRecord(spec) for spec in apps]
        for record in self.apps if inits else ():
            record.state = {"waiting": {"reason": "PodInitializing"}}
        self.initialized = not inits
        self.start_time = now_text()
        self.terminating = False
        self.deleted = False
        self.failure: tuple[str, str] | None = None  # pod-level (reason, message)
        self.done = trio.Event()
        self.change = trio.Event()  # set (and replaced) at every status change
        self._stop = trio.Event()
        self._on_change = on_change
        self._run_exec = run_exec
        self._wrap = wrap
        self._cwd = cwd
        self._extra_env = extra_env
        self.spare_leader = spare_leader
        self.ids_in_wrap = ids_in_wrap
        self._transitions: dict[str, tuple[str, str]] = {}
        self.extra: dict[str, Any] = {}  # saved with the state (the sandbox process, ...)

    # -- identity --------------------------------------------------------------------------

    @property
    def uid(self) -> str:
        return str(self.pod["metadata"].get("uid", ""))

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])

    @property
    def restart_policy(self) -> str:
        return str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")

    def records(self) -> list[ContainerRecord]:
        return [*self.inits, *self.apps]

    def record(self, name: str) -> ContainerRecord | None:
        return next((r for r in self.records() if r.spec.name == name), None)

    def _changed(self) -> None:
        self.change.set()
        self.change = trio.Event()
        self._save()
        self._on_change(self)

    # -- the pod's task ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                if self.failure is None and await self._run_inits():
                    self.initialized = True
                    for record in self.apps:
                        nursery.start_soon(self._supervise, record)
                    self._changed()
        finally:
            self.done.set()
            self._changed()

    async def _run_inits(self) -> bool:
        for record in self.inits:
            if record.finished and record.state.get("terminated", {}).get("exitCode") == 0:
                continue
            await self._supervise(record)
            if self._stop.is_set():
                return False
            terminated = record.state.get("terminated")
            if terminated is None or terminated.get("exitCode") != 0:
                return False
        return True

    def _restart(self, record: ContainerRecord, code: int) -> bool:
        if self._stop.is_set():
            return False
        if record.spec.init:
            return code != 0 and self.restart_policy != "Never"
        return self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0)

    async def _supervise(self, record: ContainerRecord) -> None:
        while True:
            if self._stop.is_set():
                record.finished = True
                return
            began = trio.current_time()
            code = await self._run_once(record)
            if not self._restart(record, code):
                record.finished = True
                self._changed()
                return
            delay = record.backoff.delay(trio.current_time() - began)
            if delay > 0:
                if "terminated" in record.state:
                    record.last_state = record.state
                record.state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {delay:g}s restarting failed container="
                        f"{record.spec.name} pod={self.name}_"
                        f"{self.pod['metadata'].get('namespace', '')}({self.uid})",
                    }
                }
                self._changed()
                with trio.move_on_after(delay):
                    await self._stop.wait()
                if self._stop.is_set():
                    record.finished = True
                    self._changed()
                    return
            record.restart_count += 1

    async def _run_once(self, record: ContainerRecord) -> int:
        """One run of the container; its exit code (``START_ERROR_EXIT`` if it never started)."""
        spec = record.spec
        record.exited = trio.Event()
        if "terminated" in record.state:
            record.last_state = record.state
        directory = self.sandbox.container_dir(spec.name)
        adopted = record.adopted
        record.adopted = None
        process: ContainerProcess | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fifos = [directory / "stdout", directory / "stderr"]
            stdin = directory / "stdin" if spec.stdin else None
            for fifo in [*fifos, *([stdin] if stdin else [])]:
                make_fifo(fifo)
            readers = [open_fifo_reader(f) for f in fifos]
            if adopted is not None:
                process = ContainerProcess.adopt(adopted[0], adopted[1])
            if adopted is not None and process is None:
                return self._lost(record, adopted[2])
            if process is None:
                record.cgroups = CgroupSet(self.uid, spec.name)
                problem = record.cgroups.create(
                    memory_bytes=spec.memory_limit, cpu_millis=spec.cpu_limit_millis
                )
                if problem and (spec.memory_limit or spec.cpu_limit_millis):
                    logger.warning(
                        "limits of %s/%s not enforced: %s", self.name, spec.name, problem
                    )
                argv = record.cgroups.enter_argv(self._wrap(spec, spec.resolve()))
                oom_before = record.cgroups.oom_kills()
                env = {"PATH": DEFAULT_PATH, "HOSTNAME": self.name, "HOME": "/root"}
                env.update(self._extra_env(spec))
                env.update(spec.env)
                process = await ContainerProcess.spawn(
                    argv,
                    env=env,
                    cwd=self._cwd(spec),
                    stdout=fifos[0],
                    stderr=fifos[1],
                    stdin=stdin,
                    user=None if self.ids_in_wrap else spec.user,
                    group=None if self.ids_in_wrap else spec.group,
                )
                started_at = now_text()
            else:
                record.cgroups = CgroupSet(self.uid, spec.name)
                record.cgroups.create(memory_bytes=None, cpu_millis=None)
                oom_before = record.cgroups.oom_kills()
                started_at = adopted[2] if adopted else now_text()
        except (ExecutableNotFound, OSError) as exc:
            message = (
                str(exc)
                if isinstance(exc, ExecutableNotFound)
                else (f"failed to start {spec.argv[0]!r}: {exc.strerror or exc}")
            )
            for reader in locals().get("readers", ()):
                with contextlib.suppress(OSError):
                    reader.close()
            record.process = None
            record.state = {"waiting": {"reason": "RunContainerError", "message": message}}
            record.exited.set()
            self._changed()
            return START_ERROR_EXIT
        record.process = process
        record.state = {"running": {"startedAt": started_at}}
        record.kill_message = None
        record.started = spec.startup is None
        record.ready = record.started and spec.readiness is None and not spec.init
        record.output_done = False
        self._changed()
        log = LogFile(log_path(self.sandbox.log_dir(spec.name), record.restart_count))
        try:
            async with trio.open_nursery() as outputs:
                for reader, stream in zip(readers, ("stdout", "stderr"), strict=True):
                    outputs.start_soon(_pump, reader, stream, log)
                async with trio.open_nursery() as probes:
                    probes.start_soon(self._lifecycle, record)
                    try:
                        code = await process.wait()
                    except trio.Cancelled:
                        process.disown()  # vk-trio is stopping; the container runs on
                        raise
                    probes.cancel_scope.cancel()
                process.kill_group()  # whatever the main process left behind
                record.cgroups.kill_all()
                outputs.cancel_scope.deadline = trio.current_time() + PUMP_DRAIN
        finally:
            log.close()
            record.output_done = True
        oom = record.cgroups.oom_kills() > oom_before and code == -signal.SIGKILL
        exit_code = 128 - code if code < 0 else code
        reason = "OOMKilled" if oom else ("Completed" if exit_code == 0 else "Error")
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": started_at,
            "finishedAt": now_text(),
            "containerID": f"process://{process.pid}",
        }
        if record.kill_message:
            terminated["message"] = record.kill_message
        record.state = {"terminated": terminated}
        record.ready = False
        record.started = False
        record.exited.set()
        self._changed()
        return exit_code

    def _lost(self, record: ContainerRecord, started_at: str) -> int:
        """A container that ran under a previous vk-trio and is gone: its exit is unknown."""
        record.state = {
            "terminated": {
                "exitCode": UNKNOWN_EXIT,
                "reason": "ContainerStatusUnknown",
                "message": "The container exited while vk-trio was not running",
                "startedAt": started_at,
                "finishedAt": now_text(),
            }
        }
        record.exited.set()
        self._changed()
        return UNKNOWN_EXIT

    # -- probes and hooks --------------------------------------------------------------------

    async def _lifecycle(self, record: ContainerRecord) -> None:
        spec = record.spec
        if spec.post_start is not None:
            ok, message = await self._action(record, spec.post_start, 30.0)
            if not ok:
                await self._kill(record, f"postStart hook failed: {message}")
                return
        if spec.startup is not None:
            if not await self._probe_until(record, spec.startup, "startup"):
                return
            record.started = True
            record.ready = spec.readiness is None and not spec.init
            self._changed()
        async with trio.open_nursery() as nursery:
            if spec.readiness is not None:
                nursery.start_soon(self._readiness, record, spec.readiness)
            if spec.liveness is not None:
                nursery.start_soon(self._probe_until, record, spec.liveness, "liveness")

    async def _action(
        self, record: ContainerRecord, action: Mapping[str, Any], timeout: float
    ) -> tuple[bool, str]:
        async def run_exec(command: Sequence[str], limit: float) -> tuple[int, bytes]:
            result: tuple[int, bytes] = await self._run_exec(record, command, limit)
            return result

        return await run_action(action, ports=record.spec.ports, timeout=timeout, run_exec=run_exec)

    async def _probe_until(self, record: ContainerRecord, probe: ProbeSpec, kind: str) -> bool:
        """Startup: True once it succeeds.  Liveness: runs for ever.  Either kills the container
        after ``failureThreshold`` failures in a row (and returns False)."""
        await trio.sleep(probe.initial_delay)
        failures = 0
        while True:
            ok, message = await self._action(record, probe.action, probe.timeout)
            if ok:
                failures = 0
                if kind == "startup":
                    return True
            else:
                failures += 1
                if failures >= probe.failure_threshold:
                    await self._kill(record, f"Container failed {kind} probe: {message}")
                    return False
            await trio.sleep(probe.period)

    async def _readiness(self, record: ContainerRecord, probe: ProbeSpec) -> None:
        await trio.sleep(probe.initial_delay)
        successes = failures = 0
        while True:
            ok, _ = await self._action(record, probe.action, probe.timeout)
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            ready = record.ready
            if successes >= probe.success_threshold:
                ready = True
            elif failures >= probe.failure_threshold:
                ready = False
            if ready != record.ready:
                record.ready = ready
                self._changed()
            await trio.sleep(probe.period)

    async def _kill(self, record: ContainerRecord, message: str) -> None:
        """Stop the container's current run (it is restarted as its policy says)."""
        record.kill_message = message
        logger.info("%s/%s: %s", self.name, record.spec.name, message)
        await self._stop_container(record, self._grace())

    def _grace(self) -> float:
        value = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return 30.0 if value is None else float(value)

    async def _stop_container(self, record: ContainerRecord, grace: float) -> None:
        process = record.process
        if process is None or record.exited.is_set():
            return
        deadline = trio.current_time() + grace
        pre_stop = record.spec.pre_stop
        if pre_stop is not None and not record.exited.is_set():
            with trio.move_on_at(deadline):
                await self._action(record, pre_stop, max(0.0, grace))
        process.signal(signal.SIGTERM, spare_leader=self.spare_leader)
        with trio.move_on_at(deadline):
            await record.exited.wait()
        if not record.exited.is_set():
            process.kill_group()
            if record.cgroups is not None:
                record.cgroups.kill_all()
            await record.exited.wait()

    # -- deletion ----------------------------------------------------------------------------

    async def terminate(self, grace: float) -> None:
        """Stop every container within ``grace`` seconds (preStop, SIGTERM, SIGKILL)."""
        self.terminating = True
        self._stop.set()
        self._changed()
        deadline = trio.current_time() + grace
        # Again until the pod's task is done: a container may be starting right now.
        while not self.done.is_set():
            remaining = max(0.0, deadline - trio.current_time())
            async with trio.open_nursery() as nursery:
                for record in self.records():
                    nursery.start_soon(self._stop_container, record, remaining)
            with trio.move_on_after(0.05):
                await self.done.wait()
        for record in self.records():
            if record.cgroups is not None:
                record.cgroups.remove()

    # -- status ------------------------------------------------------------------------------

    def phase(self) -> str:
        """The kubelet's rules (a deleted pod is judged as if it would never restart)."""
        if self.failure is not None:
            return "Failed"
        policy = "Never" if self.terminating and self.done.is_set() else self.restart_policy
        if not self.initialized:
            for record in self.inits:
                if record.finished and _failed(record):
                    return "Failed" if policy == "Never" or self.terminating else "Pending"
            return "Pending"
        running = stopped = succeeded = waiting = 0
        for record in self.apps:
            if record.running:
                running += 1
            elif "terminated" in record.state or (record.finished and _failed(record)):
                stopped += 1
                succeeded += not _failed(record)
            elif record.last_state.get("terminated"):
                stopped += 1
                succeeded += record.last_state["terminated"].get("exitCode") == 0
            else:
                waiting += 1
        if waiting:
            return "Pending" if not (self.done.is_set() and self.terminating) else "Failed"
        if running:
            return "Running"
        if policy == "Always" and not self.done.is_set():
            return "Running"
        if succeeded == stopped:
            return "Succeeded"
        if policy == "OnFailure" and not self.done.is_set():
            return "Running"
        return "Failed"

    def status(self, host_ip: str) -> dict[str, Any]:
        now = now_text()
        phase = self.phase()
        ready = all(r.ready for r in self.apps) and phase == "Running"

        def condition(kind: str, value: bool) -> dict[str, Any]:
            text = "True" if value else "False"
            previous = self._transitions.get(kind)
            if previous is None or previous[0] != text:
                previous = self._transitions[kind] = (text, now)
            return {"type": kind, "status": text, "lastTransitionTime": previous[1]}

        status: dict[str, Any] = {
            "phase": phase,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": host_ip,
            "podIPs": [{"ip": host_ip}],
            "startTime": self.start_time,
            "conditions": [
                condition("PodReadyToStartContainers", True),
                condition("Initialized", self.initialized),
                condition("Ready", ready),
                condition("ContainersReady", ready),
                condition("PodScheduled", True),
            ],
            "containerStatuses": [r.status() for r in self.apps],
        }
        if self.inits:
            status["initContainerStatuses"] = [r.status() for r in self.inits]
        if self.failure is not None:
            status["reason"], status["message"] = self.failure
        return status

    # -- persistence (re-adoption after a restart of vk-trio) --------------------------------

    def _save(self) -> None:
        containers = {}
        for record in self.records():
            process = record.process
            entry: dict[str, Any] = {
                "restartCount": record.restart_count,
                "state": record.state,
                "lastState": record.last_state,
                "finished": record.finished,
            }
            if process is not None and record.running and process.start_ticks is not None:
                entry["pid"] = process.pid
                entry["startTicks"] = process.start_ticks
            containers[record.spec.name] = entry
        document = {
            "pod": self.pod,
            "startTime": self.start_time,
            "initialized": self.initialized,
            "terminating": self.terminating,
            "containers": containers,
            "extra": self.extra,
        }
        path = self.sandbox.state_file
        temporary = path.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            temporary.write_bytes(json.dumps(document).encode())
            os.replace(temporary, path)

    def restore(self, document: Mapping[str, Any]) -> None:
        """Take over the containers of a previous vk-trio from its saved state."""
        self.start_time = str(document.get("startTime") or self.start_time)
        self.initialized = bool(document.get("initialized"))
        self.extra = dict(document.get("extra") or {})
        saved = document.get("containers") or {}
        for record in self.records():
            entry = saved.get(record.spec.name)
            if not entry:
                continue
            record.restart_count = int(entry.get("restartCount") or 0)
            record.last_state = dict(entry.get("lastState") or {})
            record.state = dict(entry.get("state") or record.state)
            record.finished = bool(entry.get("finished"))
            if "pid" in entry and "running" in record.state:
                started = str(record.state["running"].get("startedAt") or now_text())
                record.adopted = (int(entry["pid"]), int(entry["startTicks"]), started)


def _failed(record: ContainerRecord) -> bool:
    terminated = record.state.get("terminated")
    if terminated is None:
        return True  # never started (RunContainerError) and will not be
    return bool(terminated.get("exitCode") != 0)


async def _pump(reader: trio.lowlevel.FdStream, stream: str, log: LogFile) -> None:
    async with reader:
        while True:
            try:
                data = await reader.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            log.write(stream, data)
