"""From the driver's per-pod timestamps to the reported figures, and medians over repetitions.

All times are seconds since the first create was sent (``t0``). A pod's create->Running latency
runs from the moment its create request was sent to the moment the observer's watch first showed
it Running. "Time to all deleted" runs from the first delete request to the last pod gone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any, Final

#: Figures that get a median over repetitions (those that are numbers in every ok trial).
MEDIAN_KEYS: Final = (
    "time_to_all_created_s",
    "time_to_all_running_s",
    "pods_per_s",
    "latency_p50_s",
    "latency_p99_s",
    "latency_max_s",
    "time_to_all_deleted_s",
    "deleted_per_s",
    "cpu_s",
    "cpu_total_s",
    "peak_rss_mb",
    "rss_all_running_mb",
    "api_requests",
    "apiserver_cpu_s",
    "hold_cores",
    "hold_cpu_s",
)

CURVE_POINTS: Final = 120
CDF_POINTS: Final = 100


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted ``values``, nearest-rank."""
    if not values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[rank - 1]


def _present(xs: Sequence[float]) -> list[float]:
    return [x for x in xs if x >= 0]


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """The figures of one trial (record from ``run_trial`` with its ``drive`` output)."""
    drive = record["drive"]
    n = drive["n"]
    running = drive["running"]
    sent = drive["create_sent"]
    latencies = sorted(r - s for r, s in zip(running, sent, strict=True) if r >= 0 and s >= 0)
    n_running = len(latencies)
    out: dict[str, Any] = {"n": n, "running": n_running, "state": drive["state"]}
    created = _present(drive["create_done"])
    if len(created) == n:
        out["time_to_all_created_s"] = max(created)
    last_running = max(_present(running), default=None)
    if n_running == n and last_running is not None:
        out["time_to_all_running_s"] = last_running
        out["pods_per_s"] = n / last_running if last_running > 0 else None
    else:
        # Stopped at the cap: throughput so far.
        elapsed = drive["running_end_unix"] - drive["t0_unix"]
        out["time_to_all_running_s"] = None
        out["pods_per_s_so_far"] = n_running / elapsed if elapsed > 0 else None
        out["pods_per_s"] = None
    if latencies:
        out["latency_p50_s"] = percentile(latencies, 50)
        out["latency_p99_s"] = percentile(latencies, 99) if n_running == n else None
        out["latency_max_s"] = latencies[-1] if n_running == n else None
    gone = _present(drive["gone"])
    if drive.get("delete_start_unix"):
        del_start = drive["delete_start_unix"] - drive["t0_unix"]
        out["deleted"] = len(gone)
        if len(gone) == n:
            out["time_to_all_deleted_s"] = max(gone) - del_start
            span = out["time_to_all_deleted_s"]
            out["deleted_per_s"] = n / span if span > 0 else None
        else:
            out["time_to_all_deleted_s"] = None
            elapsed = drive["end_unix"] - drive["delete_start_unix"]
            out["deleted_per_s_so_far"] = len(gone) / elapsed if elapsed > 0 else None
    mb = 1024 * 1024
    out["cpu_s"] = record.get("cpu_s")
    out["cpu_total_s"] = record.get("cpu_total_s")
    out["peak_rss_mb"] = record["peak_rss_bytes"] / mb if record.get("peak_rss_bytes") else None
    rss_running = record.get("rss_all_running_bytes")
    out["rss_all_running_mb"] = rss_running / mb if rss_running else None
    out["api_requests"] = record["requests"]["total"]
    out["apiserver_cpu_s"] = record.get("apiserver_cpu_s")
    if hold := record.get("hold"):
        out["hold_cores"] = hold["cores"]
        out["hold_cpu_s"] = hold["cpu_s"]
        out["hold_s"] = hold["seconds"]
    out["create_errors"] = drive["create_errors"]
    out["delete_errors"] = drive["delete_errors"]
    out["watch_restarts"] = drive["watch_restarts"]
    return out


def running_curve(drive: dict[str, Any], points: int = CURVE_POINTS) -> list[list[float]]:
    """Pods Running over time: ``[[t, count], ...]`` at up to ``points`` steps."""
    times = sorted(_present(drive["running"]))
    if not times:
        return [[0.0, 0]]
    step = max(1, len(times) // points)
    curve = [[0.0, 0]]
    for i in range(step - 1, len(times), step):
        curve.append([round(times[i], 3), i + 1])
    if curve[-1][1] != len(times):
        curve.append([round(times[-1], 3), len(times)])
    return curve


def latency_cdf(drive: dict[str, Any], points: int = CDF_POINTS) -> list[list[float]]:
    """create->Running latency CDF: ``[[latency_s, fraction], ...]`` (fraction of all N)."""
    n = drive["n"]
    lat = sorted(
        r - s
        for r, s in zip(drive["running"], drive["create_sent"], strict=True)
        if r >= 0 and s >= 0
    )
    if not lat:
        return []
    cdf = []
    for k in range(1, points + 1):
        i = min(len(lat) - 1, math.ceil(k / points * len(lat)) - 1)
        cdf.append([round(lat[i], 4), round((i + 1) / n, 4)])
    return cdf


def medians(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the trials that have it.

    The running phase counts from every trial that got all pods Running (also those stopped at
    the cap while deleting); the deletion figures from trials that finished; resource figures
    from every trial that ran (ok or capped).
    """
    ran = [t["figures"] for t in trials if t.get("status") in ("ok", "capped") and "figures" in t]
    all_running = [f for f in ran if f["running"] == f["n"]]
    finished = [t["figures"] for t in trials if t.get("status") == "ok" and "figures" in t]
    out: dict[str, Any] = {
        "trials_ok": len(finished),
        "trials_all_running": len(all_running),
        "trials": len(trials),
    }
    deletion = ("time_to_all_deleted_s", "deleted_per_s")
    resources = (
        "cpu_s",
        "cpu_total_s",
        "peak_rss_mb",
        "rss_all_running_mb",
        "api_requests",
        "apiserver_cpu_s",
        "hold_cores",
        "hold_cpu_s",
    )
    for key in MEDIAN_KEYS:
        pool = finished if key in deletion else ran if key in resources else all_running
        values = [f[key] for f in pool if f.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
    capped = [f for f in ran if f["running"] < f["n"]]
    if capped:
        so_far = [f["pods_per_s_so_far"] for f in capped if f.get("pods_per_s_so_far")]
        if so_far:
            out["pods_per_s_so_far"] = statistics.median(so_far)
        out["running_at_cap"] = statistics.median([f["running"] for f in capped])
        out["trials_capped"] = len(capped)
        p50 = [f["latency_p50_s"] for f in capped if f.get("latency_p50_s") is not None]
        if p50 and not all_running:
            out["latency_p50_s_of_running"] = statistics.median(p50)
    delete_capped = [
        f for f in all_running if f.get("time_to_all_deleted_s") is None and "deleted" in f
    ]
    if delete_capped and not finished:
        out["deleted_at_cap"] = statistics.median([f["deleted"] for f in delete_capped])
        rates = [f["deleted_per_s_so_far"] for f in delete_capped if f.get("deleted_per_s_so_far")]
        if rates:
            out["deleted_per_s_so_far"] = statistics.median(rates)
    return out


def representative(trials: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The trial whose time to all Running is the median (for the plotted curves)."""
    usable = [t for t in trials if t.get("curve")]
    if not usable:
        return None

    def key(t: dict[str, Any]) -> float:
        v = t.get("figures", {}).get("time_to_all_running_s")
        return v if v is not None else math.inf

    usable.sort(key=key)
    return usable[(len(usable) - 1) // 2]
