"""Queue benchmark (``python -m bench queue``; part of ``make bench``).

Add → get → done cycles per second of ``vk_trio.queue`` and of client-go's ``workqueue`` (a
small Go program in ``bench/queue/go``, built and run in the same run) for:

(a) one task on the ``get_nowait`` path (Go: one goroutine calling ``Get``),
(b) 8 worker tasks awaiting ``get()`` while a producer adds,
(c) half of the adds duplicates (each item added twice before it is handed out),
(d) 10,000 items pending in ``add_after`` during the (a) loop.

(b) is also measured without the queue, as the bare trio floor: the same 8 tasks waiting in
``receive()`` on a memory channel, the same producer, in the same run (interleaved rep by rep
with the queue's (b), so both see the same machine load).  The floor is what trio itself costs to
wake a parked task with a value; the queue's (b) is compared with it.

Targets (2-core machine): (a) >= 1,000,000 cycles/s with metrics off, (b) >= 100,000, and (b)
within 1.5x of the trio floor (floor cycles/s / queue cycles/s <= 1.5).  Prints one table with
the ratios vk-trio / client-go and writes ``bench/results/queue.json``.  Without Go the Python
half still runs and the table says so.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from . import _go, _python

RESULTS = Path(__file__).resolve().parent.parent / "results" / "queue.json"

SCENARIOS = [
    ("a_single_task", "(a) one task, get_nowait"),
    ("b_eight_workers", "(b) 8 workers awaiting get()"),
    ("b_trio_floor", "(b) trio floor: memory channel"),
    ("c_half_duplicates", "(c) half the adds duplicates"),
    ("d_pending_add_after", "(d) 10,000 pending add_after"),
    ("a_single_task_metrics_on", "(a) with Prometheus metrics"),
]
TARGETS = {"a_single_task": 1_000_000, "b_eight_workers": 100_000}
#: The queue's (b) may take at most this many times the trio floor's time.
FLOOR_TARGET = 1.5


def run(quick: bool) -> None:
    """Run both implementations, print the table and write the results file."""
    n, n_workers, reps = (20_000, 10_000, 1) if quick else (300_000, 100_000, 5)
    load_before = os.getloadavg()[0]
    print(f"queue: {n:,} cycles per scenario ({n_workers:,} for (b)), best of {reps}", flush=True)
    python = _python.run(n, n_workers, reps)
    go, go_error = _go.run(n, n_workers, reps)
    go_scenarios: dict[str, Any] = go["scenarios"] if go is not None else {}

    rows: list[dict[str, Any]] = []
    for key, label in SCENARIOS:
        ours = python[key]["cycles_per_sec"]
        theirs = go_scenarios.get(key, {}).get("cycles_per_sec")
        target = TARGETS.get(key)
        rows.append(
            {
                "scenario": key,
                "label": label,
                "vk_trio_cycles_per_sec": ours,
                "client_go_cycles_per_sec": theirs,
                "ratio": ours / theirs if theirs else None,
                "target": target,
                "meets_target": None if target is None else ours >= target,
            }
        )
    _print_table(rows, go_error)
    queue_b = python["b_eight_workers"]["cycles_per_sec"]
    floor_b = python["b_trio_floor"]["cycles_per_sec"]
    floor = {
        "queue_cycles_per_sec": queue_b,
        "trio_floor_cycles_per_sec": floor_b,
        "slowdown_vs_floor": floor_b / queue_b,
        "target": FLOOR_TARGET,
        "meets_target": floor_b / queue_b <= FLOOR_TARGET,
    }
    print(
        f"queue: (b) takes {floor['slowdown_vs_floor']:.2f}x the trio floor's time"
        f" (queue {queue_b:,.0f}/s, floor {floor_b:,.0f}/s)   target <= {FLOOR_TARGET}:"
        f" {'met' if floor['meets_target'] else 'MISSED'}",
        flush=True,
    )
    print(f"queue: 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")

    results: dict[str, Any] = {
        "suite": "queue",
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count() or 0,
            "go": None if go is None else go.get("go_version"),
            # Other processes on a small machine move these figures a lot; keep the context.
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        },
        "cycles": {"single_task": n, "eight_workers": n_workers, "reps": reps},
        "rows": rows,
        "trio_floor": floor,
        "python": python,
        "client_go": go,
        "client_go_error": go_error,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"queue: wrote {RESULTS}", flush=True)


def _print_table(rows: list[dict[str, Any]], go_error: str | None) -> None:
    header = f"{'scenario':32} | {'vk-trio cycles/s':>16} | {'client-go cycles/s':>18} | ratio"
    print(header)
    print("-" * len(header))
    for row in rows:
        theirs = row["client_go_cycles_per_sec"]
        ratio = row["ratio"]
        target = ""
        if row["target"] is not None:
            ok = "met" if row["meets_target"] else "MISSED"
            target = f"   target {row['target']:,}: {ok}"
        print(
            f"{row['label']:32} | {row['vk_trio_cycles_per_sec']:>16,.0f} | "
            f"{'n/a' if theirs is None else format(theirs, ',.0f'):>18} | "
            f"{'n/a' if ratio is None else format(ratio, '.2f'):>5}{target}",
            flush=True,
        )
    if go_error is not None:
        print(f"client-go: not measured ({go_error})", flush=True)
