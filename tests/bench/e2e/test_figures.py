"""Figures from the driver's per-pod timestamps, and medians over repetitions."""

from __future__ import annotations

from typing import Any

import pytest

from bench.e2e import _figures


def _drive(**over: Any) -> dict[str, Any]:
    drive: dict[str, Any] = {
        "n": 4,
        "state": "done",
        "t0_unix": 1000.0,
        "running_end_unix": 1004.0,
        "delete_start_unix": 1005.0,
        "create_sent": [0.0, 0.1, 0.2, 0.3],
        "create_done": [0.05, 0.15, 0.25, 0.5],
        "running": [1.0, 1.1, 2.2, 4.0],
        "gone": [6.0, 6.5, 7.0, 9.0],
        "create_errors": 0,
        "delete_errors": 0,
        "watch_restarts": 0,
    }
    drive.update(over)
    return drive


def _record(drive: dict[str, Any], **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "drive": drive,
        "cpu_s": 1.5,
        "cpu_total_s": 2.0,
        "peak_rss_bytes": 50 * 1024 * 1024,
        "rss_all_running_bytes": 40 * 1024 * 1024,
        "requests": {"total": 12},
    }
    record.update(over)
    return record


def test_percentile_is_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert _figures.percentile(values, 50) == 50.0
    assert _figures.percentile(values, 99) == 99.0
    assert _figures.percentile(values, 100) == 100.0
    assert _figures.percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError, match="no values"):
        _figures.percentile([], 50)


def test_figures_of_a_complete_trial() -> None:
    f = _figures.figures(_record(_drive()))
    assert f["running"] == 4
    assert f["time_to_all_created_s"] == 0.5
    assert f["time_to_all_running_s"] == 4.0
    assert f["pods_per_s"] == 1.0
    assert f["latency_p50_s"] == pytest.approx(1.0)  # latencies 1.0, 1.0, 2.0, 3.7
    assert f["latency_max_s"] == pytest.approx(3.7)
    assert f["time_to_all_deleted_s"] == pytest.approx(4.0)  # deletion began at t=5, last gone 9
    assert f["deleted_per_s"] == pytest.approx(1.0)
    assert f["peak_rss_mb"] == 50
    assert f["rss_all_running_mb"] == 40
    assert f["api_requests"] == 12


def test_capped_trial_reports_throughput_so_far() -> None:
    drive = _drive(
        state="running-capped",
        running=[1.0, 2.0, -1, -1],
        gone=[-1, -1, -1, -1],
        running_end_unix=1010.0,
        delete_start_unix=0,
    )
    f = _figures.figures(_record(drive))
    assert f["running"] == 2
    assert f["time_to_all_running_s"] is None
    assert f["pods_per_s"] is None
    assert f["pods_per_s_so_far"] == pytest.approx(0.2)
    assert f["latency_p50_s"] == pytest.approx(1.0)
    assert f["latency_p99_s"] is None
    assert "time_to_all_deleted_s" not in f


def test_curve_and_cdf() -> None:
    drive = _drive()
    assert _figures.running_curve(drive, points=2) == [[0.0, 0], [1.1, 2], [4.0, 4]]
    cdf = _figures.latency_cdf(drive, points=4)
    assert [p[1] for p in cdf] == [0.25, 0.5, 0.75, 1.0]
    assert cdf[-1][0] == pytest.approx(3.7)


def test_medians_use_ok_trials_and_summarise_capped_ones() -> None:
    ok = [
        {
            "status": "ok",
            "figures": {"n": 10, "running": 10, "pods_per_s": v, "time_to_all_deleted_s": v},
        }
        for v in (10.0, 30.0, 20.0)
    ]
    failed = {"status": "failed", "reason": "boom"}
    m = _figures.medians([*ok, failed])
    assert m == {
        "trials_ok": 3,
        "trials_all_running": 3,
        "trials": 4,
        "pods_per_s": 20.0,
        "time_to_all_deleted_s": 20.0,
    }
    capped = {
        "status": "capped",
        "figures": {
            "n": 5000,
            "running": 3000,
            "pods_per_s_so_far": 5.0,
            "latency_p50_s": 90.0,
            "cpu_s": 7.0,
        },
    }
    m = _figures.medians([capped])
    assert m["pods_per_s_so_far"] == 5.0
    assert m["running_at_cap"] == 3000
    assert m["latency_p50_s_of_running"] == 90.0
    assert m["cpu_s"] == 7.0
    assert "pods_per_s" not in m


def test_medians_of_trials_capped_while_deleting() -> None:
    trial = {
        "status": "capped",
        "figures": {
            "n": 1000,
            "running": 1000,
            "time_to_all_running_s": 220.0,
            "pods_per_s": 4.5,
            "deleted": 600,
            "time_to_all_deleted_s": None,
            "deleted_per_s_so_far": 1.6,
        },
    }
    m = _figures.medians([trial, trial])
    assert m["trials_ok"] == 0
    assert m["trials_all_running"] == 2
    assert m["time_to_all_running_s"] == 220.0
    assert m["pods_per_s"] == 4.5
    assert m["deleted_at_cap"] == 600
    assert m["deleted_per_s_so_far"] == 1.6
    assert "time_to_all_deleted_s" not in m


def test_representative_is_the_median_trial() -> None:
    trials = [
        {"curve": [[0, 0]], "figures": {"time_to_all_running_s": t}, "id": t} for t in (3, 1, 2)
    ]
    chosen = _figures.representative(trials)
    assert chosen is not None
    assert chosen["id"] == 2
    assert _figures.representative([{"status": "failed"}]) is None
