"""One container process: spawning it detached from vk-trio, signalling its group, waiting.

Why FIFOs instead of pipes: the process must outlive vk-trio (a restart of vk-trio re-adopts it),
so its stdout/stderr cannot be pipes that vk-trio's death closes (the next write would kill it
with SIGPIPE).  Each stream is a named pipe in the container's state directory that the child
holds open *read-write*: it always has a reader (itself), so it never sees SIGPIPE, and output
waits in the pipe (64 KiB, then the writer blocks) until a vk-trio reads it again.  vk-trio opens
its read end before the child starts, so nothing written before the first read is lost.

Each process starts in a session (and process group) of its own, so a signal reaches everything it
started, and a Ctrl-C or SIGTERM meant for vk-trio does not reach it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, final

import trio

__all__ = [
    "UNKNOWN_EXIT",
    "ContainerProcess",
    "group_members",
    "make_fifo",
    "open_fifo_reader",
    "proc_start_ticks",
    "signal_group",
]

#: Exit code reported for a process vk-trio did not see exit (it was re-adopted after a restart
#: of vk-trio; only a parent can learn an exit code).  The kubelet uses 137 for lost containers.
UNKNOWN_EXIT: Final = 137


def make_fifo(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkfifo(path, 0o600)
    if not stat.S_ISFIFO(path.stat().st_mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a FIFO")


def open_fifo_reader(path: Path) -> trio.lowlevel.FdStream:
    """Our non-blocking read end of a container's output FIFO."""
    return trio.lowlevel.FdStream(os.open(path, os.O_RDONLY | os.O_NONBLOCK))


def proc_start_ticks(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks since boot): tells a process
    from a later one that reuses its PID.  ``None`` if there is no such process (or a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def group_members(pgid: int) -> list[int]:
    """Every process whose process group is ``pgid`` (a scan of ``/proc``)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to the process group; False if it no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but not ours to signal (should not happen: we started it)
    return True


@final
class ContainerProcess:
    """A running container process: a child of ours, or one re-adopted by PID.

    Waiting on a child gives the real exit status; a re-adopted process is watched through a
    pidfd, and its exit code is unknown (:data:`UNKNOWN_EXIT`).
    """

    def __init__(self, pid: int, start_ticks: int | None, child: trio.Process | None) -> None:
        self.pid = pid
        self.start_ticks = start_ticks
        self._child = child
        self.returncode: int | None = None

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        stdout: Path,
        stderr: Path,
        stdin: Path | None,
        user: int | None = None,
        group: int | None = None,
    ) -> ContainerProcess:
        """Start ``argv`` (``argv[0]`` already resolved to a path) in a new session."""
        fds = [os.open(stdout, os.O_RDWR), os.open(stderr, os.O_RDWR)]
        fds.append(
            os.open(stdin, os.O_RDWR) if stdin is not None else os.open(os.devnull, os.O_RDONLY)
        )
        try:
            child = await trio.lowlevel.open_process(
                list(argv),
                stdin=fds[2],
                stdout=fds[0],
                stderr=fds[1],
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
            )
        finally:
            for fd in fds:
                os.close(fd)
        return cls(child.pid, proc_start_ticks(child.pid), child)

    @classmethod
    def adopt(cls, pid: int, start_ticks: int) -> ContainerProcess | None:
        """The process ``pid`` if it still runs and is the one we started (same start time)."""
        if proc_start_ticks(pid) != start_ticks:
            return None
        return cls(pid, start_ticks, None)

    @property
    def adopted(self) -> bool:
        return self._child is None

    async def wait(self) -> int:
        """The exit status as ``subprocess`` gives it (negative: killed by that signal)."""
        if self._child is not None:
            self.returncode = await self._child.wait()
            return self.returncode
        try:
            fd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            self.returncode = UNKNOWN_EXIT
            return self.returncode
        try:
            await trio.lowlevel.wait_readable(fd)
        finally:
            os.close(fd)
        self.returncode = UNKNOWN_EXIT
        return self.returncode

    def signal(self, signum: int, *, spare_leader: bool = False) -> None:
        """Signal the process group (the container's main process leads it).

        ``spare_leader``: everyone in the group but its leader, for a leader that only waits for
        the real main process (``nsenter -p``) and would die of the signal before it.
        """
        if not spare_leader:
            signal_group(self.pid, signum)
            return
        for pid in group_members(self.pid):
            if pid != self.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signum)

    def disown(self) -> None:
        """vk-trio stops while the process runs on (to be re-adopted): let go of the child
        without waiting for it, and without the warnings about a child never waited for."""
        child = self._child
        if child is None or child.returncode is not None:
            return
        popen = getattr(child, "_proc", None)
        if popen is not None:
            popen.returncode = UNKNOWN_EXIT  # it is init's to reap now, not ours
        pidfd = getattr(child, "_pidfd", None)
        if pidfd is not None:
            with contextlib.suppress(OSError):
                pidfd.close()

    def kill_group(self) -> None:
        signal_group(self.pid, signal.SIGKILL)
