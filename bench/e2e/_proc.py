"""CPU and memory of a running process, read from ``/proc`` in a background thread.

CPU seconds are user + system time of the process (all its threads) plus that of children it has
waited for; memory is the resident set size, with the kernel's own high-water mark (``VmHWM``)
as the peak, so a spike between two samples is not missed.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Final, final

import attrs

_TICKS: Final = os.sysconf("SC_CLK_TCK")


@final
@attrs.frozen
class Sample:
    """One reading: wall time (Unix seconds), CPU seconds so far, RSS and peak RSS in bytes."""

    unix: float
    cpu_s: float
    rss: int
    peak_rss: int


def read(pid: int) -> Sample | None:
    """Read ``pid`` now; ``None`` once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields after the parenthesised command name; utime, stime, cutime, cstime are 14-17.
    fields = stat[stat.rindex(b")") + 2 :].split()
    cpu = sum(int(x) for x in fields[11:15]) / _TICKS
    rss = peak = 0
    for line in status.splitlines():
        if line.startswith(b"VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith(b"VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return Sample(unix=time.time(), cpu_s=cpu, rss=rss, peak_rss=peak)


class Sampler:
    """Samples one process every ``interval`` seconds until :meth:`stop`.

    Used as a context manager around a contender's life; :meth:`at` interpolates the CPU seconds
    at any moment in between, which is how a phase's CPU cost is cut out of the timeline.
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.samples: list[Sample] = []
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sampler-{pid}", daemon=True)

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def start(self) -> None:
        """Start sampling in the background."""
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self._interval):
                return

    def sample(self) -> Sample | None:
        """Take one reading now (also called right before the process is stopped)."""
        s = read(self.pid)
        if s is not None:
            self.samples.append(s)
        return s

    def stop(self) -> None:
        """Stop sampling (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def at(self, unix: float) -> float | None:
        """CPU seconds at ``unix``, interpolated between the two nearest samples."""
        samples = self.samples
        if not samples or unix < samples[0].unix:
            return None
        for before, after in itertools.pairwise(samples):
            if before.unix <= unix <= after.unix:
                span = after.unix - before.unix
                frac = (unix - before.unix) / span if span > 0 else 1.0
                return before.cpu_s + frac * (after.cpu_s - before.cpu_s)
        return samples[-1].cpu_s

    def peak_rss(self) -> int:
        """The highest RSS seen (kernel high-water mark), in bytes."""
        return max((s.peak_rss or s.rss for s in self.samples), default=0)

    def rss_at(self, unix: float) -> int:
        """RSS of the last sample taken at or before ``unix``."""
        best = 0
        for s in self.samples:
            if s.unix > unix:
                break
            best = s.rss
        return best
