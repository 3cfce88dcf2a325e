r"""Memory and CPU limits through cgroup v1 (where the host has the controllers and lets us).

Each container gets ``<our cgroup>/vk-trio-process/<pod uid>/<container>`` under the memory
and cpu hierarchies, made below vk-trio's own cgroup so that it works inside a container or a
delegated slice as well.  The process is started through a ``/bin/sh`` that moves itself into
the cgroups and then runs the container's command in its place (``exec``), so every byte the
process allocates counts.  When the host
does not allow it (no controller, read-only hierarchy) limits are not enforced: the caller logs
that once per container and the pod runs anyway.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
from pathlib import Path
from typing import Final, final

__all__ = ["CgroupSet", "own_cgroup"]

ROOT: Final = Path("/sys/fs/cgroup")
CFS_PERIOD_US: Final = 100_000


def own_cgroup(controller: str) -> Path | None:
    """This process's cgroup directory in ``controller``'s v1 hierarchy, if mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            base = ROOT / controller
            if base.is_dir():
                return base / path.lstrip("/")
    return None


@final
class CgroupSet:
    """One container's cgroups (memory, cpu); every operation is best effort."""

    def __init__(self, pod_uid: str, container: str) -> None:
        self.dirs: dict[str, Path] = {}
        self._pod_uid = pod_uid
        self._container = container

    def create(self, *, memory_bytes: int | None, cpu_millis: int | None) -> str | None:
        """Make the cgroups and set the limits; the reason limits are not enforced, or None."""
        problem = None
        for controller in ("memory", "cpu"):
            base = own_cgroup(controller)
            if base is None:
                problem = f"no {controller} cgroup controller"
                continue
            directory = base / "vk-trio-process" / self._pod_uid / self._container
            try:
                directory.mkdir(parents=True, exist_ok=True)
                if controller == "memory":
                    with contextlib.suppress(OSError):
                        (directory / "memory.move_charge_at_immigrate").write_text("1")
                    if memory_bytes is not None:
                        (directory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                elif cpu_millis is not None:
                    (directory / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                    quota = max(1000, cpu_millis * CFS_PERIOD_US // 1000)
                    (directory / "cpu.cfs_quota_us").write_text(str(quota))
            except OSError as exc:
                problem = f"{controller} cgroup {directory}: {exc.strerror or exc}"
                continue
            self.dirs[controller] = directory
        return problem

    def attach_existing(self) -> None:
        """Use the container's cgroups if they exist (no limits changed)."""
        for controller in ("memory", "cpu"):
            base = own_cgroup(controller)
            if base is not None:
                directory = base / "vk-trio-process" / self._pod_uid / self._container
                if directory.is_dir():
                    self.dirs[controller] = directory

    def enter_argv(self, argv: list[str]) -> list[str]:
        """``argv`` started through ``/bin/sh`` that moves itself into the cgroups first, so
        nothing the process does (not even a fork right away) happens outside them."""
        if not self.dirs:
            return argv
        moves = " ".join(
            f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))};" for d in self.dirs.values()
        )
        return ["/bin/sh", "-c", f'{moves} exec "$@"', "sh", *argv]

    def pids(self) -> list[int]:
        directory = self.dirs.get("memory") or self.dirs.get("cpu")
        if directory is None:
            return []
        try:
            return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        """SIGKILL whatever is left in the container's cgroups (escaped its process group)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for this cgroup's memory limit."""
        directory = self.dirs.get("memory")
        if directory is None:
            return 0
        try:
            text = (directory / "memory.oom_control").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        try:
            return 1 if int((directory / "memory.failcnt").read_text()) > 0 else 0
        except (OSError, ValueError):
            return 0

    def memory_usage(self) -> tuple[int, int] | None:
        """``(usage, working set)`` in bytes: working set = usage minus inactive file pages."""
        directory = self.dirs.get("memory")
        if directory is None:
            return None
        try:
            usage = int((directory / "memory.usage_in_bytes").read_text())
            stats = dict(
                line.split(" ", 1) for line in (directory / "memory.stat").read_text().splitlines()
            )
        except (OSError, ValueError):
            return None
        inactive = int(stats.get("total_inactive_file", stats.get("inactive_file", "0")))
        return usage, max(0, usage - inactive)

    def remove(self) -> bool:
        """Remove the container's cgroups (and the pod's, once empty); True when gone."""
        gone = True
        for directory in self.dirs.values():
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False  # still busy: its last processes are being killed
            with contextlib.suppress(OSError):
                directory.parent.rmdir()
        return gone
