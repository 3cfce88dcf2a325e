"""Resource usage from ``/proc`` (and the memory cgroup where there is one).

A container's usage is the sum over the processes of its process group.  CPU is the cumulative
``utime + stime``; the instantaneous rate (``usageNanoCores``, what ``kubectl top`` shows) is the
difference to the previous reading of the same container, kept here.  Memory: RSS summed over
the processes, and the working set from the container's memory cgroup (usage minus inactive file
pages, the kubelet's definition) when it has one, else the RSS.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Final, final

import attrs

__all__ = ["ProcSample", "ProcTable", "node_cpu_ns", "node_memory"]

TICKS: Final = os.sysconf("SC_CLK_TCK")
PAGE: Final = os.sysconf("SC_PAGE_SIZE")


@final
@attrs.frozen
class ProcSample:
    cpu_ns: int
    rss_bytes: int
    page_faults: int
    major_page_faults: int


@final
class ProcTable:
    """One scan of ``/proc``: usage summed per process group."""

    def __init__(self) -> None:
        groups: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            # fields[0] is field 3 of proc(5): pgrp 5, minflt 10, majflt 12, utime 14, stime
            # 15, rss 24 (in pages)
            totals = groups[int(fields[2])]
            totals[0] += int(fields[11]) + int(fields[12])
            totals[1] += int(fields[21]) * PAGE
            totals[2] += int(fields[7])
            totals[3] += int(fields[9])
        self._groups = groups

    def group(self, pgid: int) -> ProcSample | None:
        totals = self._groups.get(pgid)
        if totals is None:
            return None
        return ProcSample(
            cpu_ns=totals[0] * 1_000_000_000 // TICKS,
            rss_bytes=totals[1],
            page_faults=totals[2],
            major_page_faults=totals[3],
        )


def node_cpu_ns() -> int:
    """CPU time the whole machine spent busy (everything but idle and iowait), in ns."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in first]
    busy = sum(values[:8]) - values[3] - values[4]
    return busy * 1_000_000_000 // TICKS


def node_memory() -> tuple[int, int]:
    """``(total, working set)`` bytes: working set = total - available."""
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024
    total = info.get("MemTotal", 0)
    return total, total - info.get("MemAvailable", 0)
