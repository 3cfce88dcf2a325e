"""Informer benchmarks: cache memory per pod, watch events/s (``python -m bench informers``).

Prints a table and writes ``bench/results/informers.json``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import attrs

from ._memory import measure
from ._throughput import measure as measure_throughput

RESULTS = Path(__file__).resolve().parent.parent / "results" / "informers.json"


def run(quick: bool) -> None:
    """Bytes per cached pod with and without managedFields stripping; events/s."""
    pods = 500 if quick else 5000
    results = [measure(pods, strip=True), measure(pods, strip=False)]
    print(f"informer cache memory, {pods} realistic pods (3 containers, managedFields of 3)")
    print(f"{'variant':<34} {'JSON B/pod':>11} {'cached B/pod':>13} {'parse+add us':>13}")
    for r in results:
        print(
            f"{r.variant:<34} {r.json_bytes_per_pod:>11.0f} {r.bytes_per_pod:>13.0f}"
            f" {r.add_us_per_pod:>13.1f}"
        )
    saved = 1 - results[0].bytes_per_pod / results[1].bytes_per_pod
    print(f"stripping managedFields saves {saved:.0%} of the cache's memory")
    flow = measure_throughput(pods=200 if quick else 1000, events=2000 if quick else 20000)
    print(
        f"watch events through an informer: {flow.events_per_second:,.0f}/s"
        f" ({flow.us_per_event:.0f} us/event, of which parsing {flow.parse_us_per_event:.0f})"
    )
    load = os.getloadavg()[0]
    print(f"(timings depend on machine load; 1-minute load average now {load:.1f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "suite": "informers",
                "quick": quick,
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "memory": [attrs.asdict(r) for r in results],
                "saved_fraction": saved,
                "throughput": attrs.asdict(flow),
                "load_average_1min": load,
            },
            indent=2,
        )
        + "\n"
    )
