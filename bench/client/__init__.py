"""Client benchmarks (``python -m bench client``; part of ``make bench``).

1. Loopback: requests/s of small merge-patch PATCHes from one process against a
   minimal keep-alive server (plain and TLS; concurrency 1/16/64), for stock
   httpx, httpx on our :class:`~vk_trio.kube.HTTP11Transport`, and
   :class:`~vk_trio.kube.KubeClient`, in the same run.  Bars: KubeClient >=
   3,000 requests/s at concurrency 16 and >= 4x stock httpx.
2. Real API server (``scripts/controlplane up DIR --profile bench``): merge
   patches of ``pods/status`` per second from KubeClient and from a small
   client-go program (``bench/client/go``), same run.  Bar: >= 80 % of Go.

Prints tables and writes ``bench/results/client.json``.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from . import _apiserver, _loopback

RESULTS = Path(__file__).resolve().parent.parent / "results" / "client.json"


def run(quick: bool) -> None:
    """Run both parts and write the results file."""
    print("client: loopback requests/s (same run, one process per server)", flush=True)
    loopback = _loopback.run(quick)
    for bar in loopback["bars"]:
        print(
            f"  bar {bar['scheme']:5} c=16: {bar['ours_requests_per_second']:.0f} req/s"
            f" (>= 3000: {bar['meets_3000']}), {bar['ratio']:.1f}x stock httpx"
            f" (>= 4x: {bar['meets_4x']})",
            flush=True,
        )
    print("client: pods/status merge patches against the real API server", flush=True)
    apiserver = _apiserver.run(quick)
    results: dict[str, Any] = {
        "suite": "client",
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "loopback": loopback,
        "apiserver": apiserver,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"client: wrote {RESULTS}", flush=True)


def _cpus() -> int:
    import os  # noqa: PLC0415 - only here

    return os.cpu_count() or 0
