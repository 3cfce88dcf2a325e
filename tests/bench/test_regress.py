"""The benchmark's regression guard (``bench/_regress.py``): which figures it compares, which way
is better for each, what counts as a slowdown, and what it reads as "last committed"."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import _regress


def _e2e(running_s: float, pods_per_s: float, trial_running_s: float) -> dict[str, Any]:
    return {
        "suite": "e2e",
        "quick": False,
        "when": "2026-12-01T00:00:00Z",
        "machine": {"cpus": 2, "memory_gib": 23.5},
        "steps": [
            {
                "scenario": "burst-1000",
                "n": 1000,
                "cap_s": 600.0,
                "results": {
                    "vk-trio": {
                        "median": {
                            "time_to_all_running_s": running_s,
                            "pods_per_s": pods_per_s,
                            "trials_ok": 3,
                        },
                        "trials": [{"figures": {"time_to_all_running_s": trial_running_s}}],
                    }
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("key", "sense"),
    [
        ("requests_per_second", 1),
        ("vk_trio_cycles_per_sec", 1),
        ("pods_per_s", 1),
        ("healthz_c1_rps", 1),
        ("client_go_upload_mb_s", 1),
        ("spdy_tcp_mb_per_cpu_s", 1),
        ("time_to_all_running_s", -1),
        ("latency_p99_s", -1),
        ("cpu_us_per_request", -1),
        ("spdy_exec_p50_ms", -1),
        ("peak_rss_mb", -1),
        ("bytes_per_pod", -1),
        ("api_requests", -1),
        ("best_seconds", -1),
        ("hold_cores", -1),
        ("duration_s", 0),
        ("cap_s", 0),
        ("concurrency", 0),
        ("ratio", 0),
        ("ratio_vs_go_json", 0),
        ("load_average_1min", 0),
        ("trials_ok", 0),
    ],
)
def test_direction_of_each_kind_of_figure(key: str, sense: int) -> None:
    assert _regress.direction(key) == sense


def test_figures_name_list_items_and_skip_machine_trials_and_rounds() -> None:
    data = {
        "machine": {"cpus": 2},
        "rows": [
            {"client": "httpx", "concurrency": 16, "requests_per_second": 700.0},
            {"client": "KubeClient", "concurrency": 16, "requests_per_second": 3900.0},
        ],
        "client_go": {"upload_mb_s": 400.0, "runs": [{"upload_mb_s": 240.0}]},
        "ok": True,
    }
    paths = {path: value for path, _, value in _regress.figures(data)}
    assert paths == {
        "rows[client=httpx,concurrency=16].requests_per_second": 700.0,
        "rows[client=KubeClient,concurrency=16].requests_per_second": 3900.0,
        "rows[client=httpx,concurrency=16].concurrency": 16.0,
        "rows[client=KubeClient,concurrency=16].concurrency": 16.0,
        "client_go.upload_mb_s": 400.0,
    }


def test_slower_time_and_lower_rate_are_flagged_over_the_threshold() -> None:
    old = _e2e(running_s=10.0, pods_per_s=100.0, trial_running_s=10.0)
    new = _e2e(running_s=12.5, pods_per_s=80.0, trial_running_s=50.0)
    changes = {c.path: c for c in _regress.compare(old, new)}
    running = changes["steps[scenario=burst-1000].results.vk-trio.median.time_to_all_running_s"]
    rate = changes["steps[scenario=burst-1000].results.vk-trio.median.pods_per_s"]
    assert running.slowdown == pytest.approx(0.25)
    assert rate.slowdown == pytest.approx(0.25)
    assert running.flagged
    assert rate.flagged
    # a trial's own figure is detail, not compared (its median is)
    assert not any("trials" in path for path in changes)
    assert len(changes) == 2


def test_faster_or_within_threshold_is_not_flagged() -> None:
    old = _e2e(running_s=10.0, pods_per_s=100.0, trial_running_s=10.0)
    new = _e2e(running_s=11.9, pods_per_s=200.0, trial_running_s=10.0)
    changes = {c.path.rsplit(".", 1)[1]: c for c in _regress.compare(old, new)}
    assert changes["time_to_all_running_s"].slowdown == pytest.approx(0.19)
    assert changes["pods_per_s"].slowdown == pytest.approx(-0.5)
    assert not any(c.flagged for c in changes.values())
    # worst first
    assert [c.path.rsplit(".", 1)[1] for c in _regress.compare(old, new)] == [
        "time_to_all_running_s",
        "pods_per_s",
    ]


def test_figures_in_only_one_run_are_not_compared() -> None:
    old = {"rows": [{"scenario": "a", "cycles_per_sec": 10.0}]}
    new = {"rows": [{"scenario": "b", "cycles_per_sec": 1.0}]}
    assert _regress.compare(old, new) == []


def test_report_lists_each_slowdown_and_says_when_quick_meets_full() -> None:
    old = _e2e(running_s=10.0, pods_per_s=100.0, trial_running_s=10.0)
    new = {**_e2e(running_s=30.0, pods_per_s=100.0, trial_running_s=10.0), "quick": True}
    lines, flagged = _regress.report("e2e.json", old, new)
    assert flagged == 1
    assert "1 slower by more than 20%" in lines[0]
    assert "--quick" in lines[0]
    assert lines[1] == (
        "regress:   SLOWER +200%  steps[scenario=burst-1000].results.vk-trio.median."
        "time_to_all_running_s: 10 -> 30"
    )


def test_report_without_committed_results() -> None:
    lines, flagged = _regress.report("e2e-quick.json", None, _e2e(1.0, 1.0, 1.0))
    assert flagged == 0
    assert lines == ["regress: e2e-quick.json: no committed results to compare with"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def test_committed_reads_head_not_the_working_copy(tmp_path: Path) -> None:
    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    path = results / "queue.json"
    path.write_text(json.dumps({"rows": [{"scenario": "a", "cycles_per_sec": 100.0}]}))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "results")
    before = _regress.snapshot(results)
    path.write_text(json.dumps({"rows": [{"scenario": "a", "cycles_per_sec": 50.0}]}))
    (results / "new.json").write_text("{}")
    # two writes within the filesystem's time resolution can share an mtime: move it on
    stamp = before[path] + 5
    os.utime(path, (stamp, stamp))
    assert _regress.written_since(results, before) == [results / "new.json", path]
    old = _regress.committed(path)
    assert old == {"rows": [{"scenario": "a", "cycles_per_sec": 100.0}]}
    assert _regress.committed(results / "new.json") is None
    lines, flagged = _regress.report(path.name, old, json.loads(path.read_text()))
    assert flagged == 1
    assert "SLOWER +100%" in lines[1]
