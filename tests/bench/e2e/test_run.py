"""The ``make bench-quick`` end-to-end path, for real: a bench-profile control plane, 200 pods.

Runs the quick plan for the contenders that need no long install (vk-trio and the ceiling) and
checks the results JSON it writes, then renders the report from it (tables, plots, the docs
section) into a temporary directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.e2e import _report, merge_results, quick_plan, run_suite
from tests.conftest import StartControlPlane

N = 200


@pytest.mark.timeout(900)
def test_quick_run_against_real_control_plane(
    controlplane_factory: StartControlPlane, tmp_path: Path
) -> None:
    cp = controlplane_factory("e2e-bench", profile="bench")
    results_path = tmp_path / "e2e-quick.json"
    # --merge: a step measured earlier survives the run (each step's write merges, too).
    earlier = {"scenario": "arrival-old", "group": "arrival", "command": "earlier", "results": {}}
    results_path.write_text(json.dumps({"steps": [earlier], "contenders": {}}))
    returned = run_suite(
        quick_plan(("vk-trio", "ceiling")),
        quick=True,
        results_path=results_path,
        controlplane_dir=cp.dir,
        command="test",
        background_s=3.0,
        merge=True,
    )
    results: dict[str, Any] = json.loads(results_path.read_text())
    assert results == json.loads(json.dumps(returned))
    assert results["steps"][0] == earlier
    assert results["command"] == "earlier; test"
    results["steps"] = results["steps"][1:]
    assert results["control_plane"]["profile"] == "bench"
    assert results["failed_contenders"] == {}
    (step,) = results["steps"]
    assert step["scenario"] == f"burst-{N}"
    assert set(step["results"]) == {"vk-trio", "ceiling"}
    for name, res in step["results"].items():
        (trial,) = res["trials"]
        assert trial["status"] == "ok", (name, trial.get("reason"))
        f = trial["figures"]
        assert f["n"] == f["running"] == f["deleted"] == N
        assert f["state"] == "done"
        assert 0 < f["latency_p50_s"] <= f["latency_p99_s"] <= f["latency_max_s"]
        assert f["latency_max_s"] <= f["time_to_all_running_s"]
        assert f["pods_per_s"] == pytest.approx(N / f["time_to_all_running_s"])
        assert f["time_to_all_deleted_s"] > 0
        assert f["cpu_s"] > 0
        assert f["peak_rss_mb"] > 1
        assert f["create_errors"] == f["delete_errors"] == 0
        # Each pod needs at least one status write and one final DELETE from the contender.
        by_kind = trial["requests"]["by_kind"]
        assert by_kind.get("DELETE pods", 0) >= N, by_kind
        assert sum(v for k, v in by_kind.items() if k.endswith("pods/status")) >= N, by_kind
        assert trial["requests"]["total"] >= 2 * N
        assert res["curve"][-1][1] == N
        assert res["cdf"][-1][1] == pytest.approx(1.0)
        assert res["median"]["trials_ok"] == 1
        assert res["median"]["time_to_all_running_s"] == f["time_to_all_running_s"]
    ceiling = step["results"]["ceiling"]["trials"][0]["requests"]
    # The ceiling counts its own requests; the server-side attribution must agree closely
    # (it also saw the registration and initial watch, which happened before the window).
    assert abs(ceiling["total"] - ceiling["self_counted_total"]) <= 10, ceiling

    pngs = _report.plots(results, tmp_path / "plots")
    assert [p.name for p in pngs] == [f"e2e-running-burst-{N}.png", f"e2e-cdf-burst-{N}.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Client\n\nkept as is\n")
    _report.update_doc(results, pngs, doc)
    _report.update_doc(results, pngs, doc)  # idempotent: one section, replaced in place
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n## Client\n\nkept as is\n")
    assert text.count(_report.BEGIN) == 1
    assert "vk-trio (mock, defaults)" in text
    assert f"e2e-running-burst-{N}.png" in text


def test_merge_results_replaces_steps_of_the_same_scenario() -> None:
    old = {
        "steps": [
            {"scenario": "burst-1000", "command": "a", "v": 1},
            {"scenario": "burst-10000", "command": "a", "v": 1},
        ],
        "contenders": {"go-vk": {"label": "Go"}, "kwok": {"label": "kwok"}},
        "failed_contenders": {"kwok": "not installed", "go-vk": "boom"},
    }
    new = {
        "steps": [
            {"scenario": "burst-10000", "command": "b", "v": 2},
            {"scenario": "arrival-100ps-60s", "command": "b", "v": 2},
        ],
        "contenders": {"go-vk": {"label": "Go v2"}},
        "failed_contenders": {},
    }
    merged = merge_results(old, new)
    assert [(s["scenario"], s["v"]) for s in merged["steps"]] == [
        ("burst-1000", 1),
        ("burst-10000", 2),
        ("arrival-100ps-60s", 2),
    ]
    assert merged["contenders"] == {"go-vk": {"label": "Go v2"}, "kwok": {"label": "kwok"}}
    assert merged["failed_contenders"] == {"kwok": "not installed"}
    assert merged["command"] == "a; b"


def test_merge_keeps_the_other_contenders_of_a_scenario_run_again() -> None:
    """A slow contender measured by a run of its own joins the others of the same scenario."""
    old: dict[str, Any] = {
        "steps": [
            {
                "scenario": "burst-10000",
                "command": "run --contenders vk-trio,kwok",
                "results": {"vk-trio": {"v": 1}, "kwok": {"v": 1}, "go-vk": {"v": 1}},
            }
        ],
        "contenders": {},
    }
    new: dict[str, Any] = {
        "steps": [
            {
                "scenario": "burst-10000",
                "command": "run --contenders go-vk --reps 1",
                "results": {"go-vk": {"v": 2}},
            }
        ],
        "contenders": {},
    }
    (step,) = merge_results(old, new)["steps"]
    assert step["results"] == {"vk-trio": {"v": 1}, "kwok": {"v": 1}, "go-vk": {"v": 2}}
    assert step["command"] == "run --contenders vk-trio,kwok; run --contenders go-vk --reps 1"
    assert old["steps"][0]["results"]["go-vk"] == {"v": 1}  # the inputs are not changed


def test_merge_names_only_the_commands_behind_the_results_it_keeps() -> None:
    """A contender measured again drops the command of its replaced figures from the step."""
    old: dict[str, Any] = {
        "steps": [
            {
                "scenario": "burst-10000",
                "command": "run --contenders vk-trio; run --contenders go-vk --reps 1",
                "results": {
                    "vk-trio": {"v": 1, "command": "run --contenders vk-trio"},
                    "go-vk": {"v": 1, "command": "run --contenders go-vk --reps 1"},
                },
            }
        ],
        "contenders": {},
    }
    new: dict[str, Any] = {
        "steps": [
            {
                "scenario": "burst-10000",
                "command": "run --contenders go-vk --reps 3",
                "results": {"go-vk": {"v": 2, "command": "run --contenders go-vk --reps 3"}},
            }
        ],
        "contenders": {},
    }
    merged = merge_results(old, new)
    (step,) = merged["steps"]
    assert step["command"] == "run --contenders vk-trio; run --contenders go-vk --reps 3"
    assert merged["command"] == step["command"]
