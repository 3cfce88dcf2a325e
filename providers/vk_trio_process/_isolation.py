"""``isolation: namespaces``: each pod in its own mount, PID, UTS and IPC namespaces.

A small *sandbox* process per pod holds the namespaces (``unshare`` from util-linux, which forks
``sleep infinity`` as PID 1 of the new PID namespace after setting the hostname to the pod's
name).  Volumes are bind-mounted at their ``mountPath`` inside the pod's private mount namespace,
so the host's mount table does not change; containers and ``kubectl exec`` join the namespaces with
``nsenter``.  When the pod ends, killing PID 1 of its PID namespace takes every process of the pod
with it: nothing outlives the pod.

Two costs of doing this without a container runtime: the pod sees the host's root filesystem (only
mounts are private), so a ``mountPath`` that does not exist on the host is created there as an
empty directory (and removed when the pod ends); and with ``nsenter -p`` the container's main
process is a child of ``nsenter``, so termination signals go to the group without its leader
(see :meth:`ContainerProcess.signal`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Final, final

import trio

from ._process import proc_start_ticks, signal_group

__all__ = ["PodSandboxProcess", "remove_mount_points"]

SANDBOX_SCRIPT: Final = 'hostname "$1" && exec sleep infinity'
NSENTER: Final = "nsenter"


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _mount_point(target: str) -> list[str]:
    """Create ``target`` if missing; the directories created, deepest first."""
    path = Path(target)
    missing = []
    while not path.exists():
        missing.append(str(path))
        path = path.parent
    if missing:
        Path(target).mkdir(parents=True, exist_ok=True)
    return missing


def remove_mount_points(created: Iterable[str]) -> None:
    """Remove the (empty) directories :func:`_mount_point` created, deepest first."""
    for directory in sorted(created, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


@final
class PodSandboxProcess:
    """The holder of one pod's namespaces (see the module docstring)."""

    def __init__(
        self, leader: int, leader_ticks: int | None, init: int, process: trio.Process | None = None
    ) -> None:
        self._process = process
        self.leader = leader  # the unshare process (our child), leads the sandbox's group
        self.leader_ticks = leader_ticks
        self.init = init  # PID 1 of the pod's PID namespace, as the host sees it
        self.created_dirs: list[str] = []

    @classmethod
    async def start(cls, hostname: str) -> PodSandboxProcess:
        process = await trio.lowlevel.open_process(
            [
                "unshare",
                *("--mount", "--uts", "--ipc", "--pid", "--fork", "--mount-proc"),
                *("--propagation", "private", "--"),
                *("/bin/sh", "-c", SANDBOX_SCRIPT, "sh", hostname),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Wait (generously: a loaded machine) until PID 1 of the namespace runs `sleep`: by
        # then the hostname is set.
        with trio.move_on_after(60):
            while process.returncode is None:
                for child in _children(process.pid):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{child}/exe").endswith("/sleep"):
                            return cls(process.pid, proc_start_ticks(process.pid), child, process)
                process.poll()
                await trio.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise OSError(
            f"could not create the pod's namespaces (unshare exited {process.returncode})"
        )

    @classmethod
    def adopt(cls, leader: int, leader_ticks: int, init: int) -> PodSandboxProcess | None:
        if proc_start_ticks(leader) != leader_ticks or init not in _children(leader):
            return None
        return cls(leader, leader_ticks, init)

    def enter(
        self,
        argv: list[str],
        *,
        pid: bool = True,
        cwd: str | None = None,
        user: int | None = None,
        group: int | None = None,
    ) -> list[str]:
        """``argv`` run inside the pod's namespaces (in ``cwd``, as ``user``/``group``: nsenter
        switches after joining, which needs the privileges it is started with)."""
        flags = ["-m", "-u", "-i", *(["-p"] if pid else [])]
        if cwd is not None:
            flags.append(f"--wd={cwd}")
        if group is not None:
            flags += ["-G", str(group)]
        if user is not None:
            flags += ["-S", str(user)]
        return [NSENTER, "-t", str(self.init), *flags, "--", *argv]

    async def bind(self, source: Path, target: str, *, read_only: bool) -> None:
        """Mount ``source`` at ``target`` in the pod's mount namespace."""
        self.created_dirs.extend(_mount_point(target))
        script = 'mount --bind "$1" "$2"'
        if read_only:
            script += ' && mount -o remount,bind,ro "$2"'
        result = await trio.run_process(
            self.enter(["/bin/sh", "-c", script, "sh", str(source), target], pid=False),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        if result.returncode != 0:
            raise OSError(f"mounting {target}: {result.stderr.decode(errors='replace').strip()}")

    def stop(self) -> None:
        """Kill the namespace's PID 1 (the kernel kills the rest of the pod) and the holder."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.init, signal.SIGKILL)
        signal_group(self.leader, signal.SIGKILL)
        remove_mount_points(self.created_dirs)

    async def wait_stopped(self) -> None:
        with trio.move_on_after(30):
            if self._process is not None:
                await self._process.wait()
                return
            while proc_start_ticks(self.leader) == self.leader_ticks:  # noqa: ASYNC110
                await trio.sleep(0.05)  # not our child: nothing to wait on but /proc
