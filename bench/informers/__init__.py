"""Informer benchmarks: memory of the informer cache per pod (``python -m bench informers``).

Prints a table and writes ``bench/results/informers.json``.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import attrs

from ._memory import measure

RESULTS = Path(__file__).resolve().parent.parent / "results" / "informers.json"


def run(quick: bool) -> None:
    """Measure bytes per cached pod with and without managedFields stripping."""
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
            },
            indent=2,
        )
        + "\n"
    )
