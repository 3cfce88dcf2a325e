"""Optional py-spy profile of a Python contender during the workload (``--py-spy``).

py-spy attaches to the running process (``record --pid``, non-blocking, so the process is not
paused for samples), writes collapsed stacks, and is stopped with SIGINT when the workload ends.
The trial record then carries the top frames by own time and by total time, which is what the
issue asks for where a target is missed. Profiling costs the contender some CPU, so figures of a
profiled run are not comparable with unprofiled ones.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Final

TOP: Final = 15


def _py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class PySpy:
    """A py-spy recording of one process; :meth:`finish` returns the summary."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.error: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        exe = _py_spy()
        if exe is None:
            self.error = "py-spy is not installed (it is in the dev extra)"
            return
        argv = [exe, "record", "--pid", str(pid), "--format", "raw", "--nonblocking"]
        argv += ["--rate", "100", "--output", str(out)]
        self._log = out.with_suffix(".log").open("wb")
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def finish(self) -> dict[str, Any]:
        """Stop recording and summarise the stacks."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._log.close()
        if self.error is not None:
            return {"error": self.error}
        if not self.out.exists():
            log = self.out.with_suffix(".log")
            return {"error": f"py-spy wrote nothing: {log.read_text(errors='replace')[-300:]}"}
        return summarise(self.out.read_text(errors="replace"))


def summarise(collapsed: str, top: int = TOP) -> dict[str, Any]:
    """Top frames of collapsed stacks (``frame;frame;... count`` per line)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count

    def share(c: Counter[str]) -> list[list[Any]]:
        return [[f, round(n / samples, 4)] for f, n in c.most_common(top)] if samples else []

    return {"samples": samples, "top_own": share(own), "top_total": share(total)}
