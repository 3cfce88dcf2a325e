"""Kubelet API benchmark (``python -m bench api``).

What a kubelet API costs per request, through the whole server (TLS, front door, hypercorn
hand-off or SPDY, app, mock provider), on 127.0.0.1 with a minimal raw client in the same
process (so the figures include the client's share of the CPU):

* ``GET /healthz`` on kept-alive HTTP/1.1 connections, one connection and sixteen at once;
* ``GET /containerLogs/...?tailLines=1`` (auth-free route plus a provider call);
* complete SPDY exec sessions (new TLS connection, upgrade, three streams, ``echo``, Status),
  one after the other: what one ``kubectl exec`` costs the kubelet.

Targets (2-core machine, shared): 500 requests/s on one connection (metrics-server scrapes a
node every 15 s; the API server proxies a handful of requests per user command) and 50 exec
sessions/s.  Most of the per-request CPU is trio scheduling and hypercorn's protocol layer, not
the app (in a profile of ``/healthz`` the code of ``vk_trio.api`` takes about 5 % of the time).
Writes ``bench/results/api.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import trio

from ._run import measure

RESULTS = Path(__file__).resolve().parent.parent / "results" / "api.json"
TARGETS = {"healthz_c1_rps": 500.0, "spdy_exec_sessions_per_s": 50.0}


def run(quick: bool) -> None:
    requests, sessions = (500, 50) if quick else (5000, 300)
    load_before = os.getloadavg()[0]
    print(f"api: {requests} requests per HTTP figure, {sessions} exec sessions", flush=True)
    figures = trio.run(measure, requests, sessions)
    rows = [
        ("GET /healthz, 1 keep-alive connection", "healthz_c1_rps", "req/s"),
        ("GET /healthz, 16 keep-alive connections", "healthz_c16_rps", "req/s"),
        ("GET /containerLogs tailLines=1, 1 connection", "logs_c1_rps", "req/s"),
        ("SPDY exec sessions (echo), sequential", "spdy_exec_sessions_per_s", "1/s"),
        ("SPDY exec session latency, median", "spdy_exec_p50_ms", "ms"),
        ("CPU seconds per 1,000 /healthz requests", "healthz_cpu_s_per_1000", "s"),
    ]
    print(f"{'measurement':48s} {'value':>10s}  unit    target")
    for label, key, unit in rows:
        value = figures[key]
        target = TARGETS.get(key)
        met = "" if target is None else f"{'>=' if value >= target else 'MISSED <'} {target:,.0f}"
        print(f"{label:48s} {value:>10,.2f}  {unit:6s}  {met}")
    result = {
        "suite": "api",
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "figures": figures,
        "targets": TARGETS,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS}")
