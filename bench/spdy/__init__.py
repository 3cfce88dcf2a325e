"""SPDY benchmark (``python -m bench spdy``; part of ``make bench``).

Port-forward throughput is what SPDY performance means for a kubelet.  Measured:

* the sans-IO codec (256 KiB DATA frames) and session-to-session transfer, per CPU second;
* the trio adapter over loopback TCP with 64 KiB and 16 KiB writes, per CPU second and per wall
  second, next to plain trio TCP (the ceiling for anything built on trio streams);
* 100-byte echo round trips on one stream (interactive exec traffic);
* ``kubectl port-forward``'s own code (client-go, built from ``tests/api/interop``) uploading
  to and downloading from our server through a real SPDY session.

Targets (2-core machine): the adapter moves at least 200 MB per CPU second, and client-go's
port-forward gets at least 100 MB/s each way.  Writes ``bench/results/spdy.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from . import _go, _python

RESULTS = Path(__file__).resolve().parent.parent / "results" / "spdy.json"
TARGETS = {
    "spdy_tcp_mb_per_cpu_s": 200.0,
    "client_go_upload_mb_s": 100.0,
    "client_go_download_mb_s": 100.0,
}


def run(quick: bool) -> None:
    megabytes, round_trips, reps, go_mb = (50, 500, 1, 50) if quick else (400, 5000, 3, 500)
    load_before = os.getloadavg()[0]
    print(f"spdy: {megabytes} MB per transfer, best of {reps}", flush=True)
    python = _python.run(megabytes, round_trips, reps)
    go, go_error = _go.run(go_mb, reps)
    figures: dict[str, float | None] = dict(python)
    figures["client_go_upload_mb_s"] = go["upload_mb_s"] if go else None
    figures["client_go_download_mb_s"] = go["download_mb_s"] if go else None
    rows = [
        ("codec: encode+decode 256 KiB DATA frames", "codec_mb_per_cpu_s", "MB/CPU-s"),
        ("session -> session, 64 KiB sends", "session_mb_per_cpu_s", "MB/CPU-s"),
        ("plain trio TCP (ceiling)", "raw_tcp_mb_per_cpu_s", "MB/CPU-s"),
        ("SPDY over TCP, 64 KiB writes", "spdy_tcp_mb_per_cpu_s", "MB/CPU-s"),
        ("SPDY over TCP, 16 KiB writes", "spdy_tcp_16k_writes_mb_per_cpu_s", "MB/CPU-s"),
        ("plain trio TCP, wall clock", "raw_tcp_mb_s", "MB/s"),
        ("SPDY over TCP, 64 KiB writes, wall clock", "spdy_tcp_mb_s", "MB/s"),
        ("echo round trips, 100 bytes", "echo_round_trips_per_s", "1/s"),
        ("client-go port-forward upload", "client_go_upload_mb_s", "MB/s"),
        ("client-go port-forward download", "client_go_download_mb_s", "MB/s"),
    ]
    print(f"{'measurement':44s} {'value':>10s}  unit      target")
    for label, key, unit in rows:
        value = figures.get(key)
        target = TARGETS.get(key)
        shown = "n/a" if value is None else f"{value:,.0f}"
        verdict = "" if target is None or value is None else ("ok" if value >= target else "MISSED")
        goal = "" if target is None else f">= {target:,.0f} {verdict}"
        print(f"{label:44s} {shown:>10s}  {unit:8s}  {goal}")
    if go_error:
        print(f"spdy: client-go half not run: {go_error}")
    ratio = figures["spdy_tcp_mb_per_cpu_s"] / figures["raw_tcp_mb_per_cpu_s"]  # type: ignore[operator]
    print(f"spdy: SPDY costs {1 / ratio:.1f}x the CPU of plain TCP per byte")
    print(f"spdy: 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    results: dict[str, Any] = {
        "suite": "spdy",
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count() or 0,
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        },
        "megabytes": megabytes,
        "reps": reps,
        "figures": figures,
        "targets": TARGETS,
        "client_go": go,
        "client_go_error": go_error,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
