"""The e2e report: the targets table (both vk-trio variants, met / missed / not measured, from
medians) and the provenance line under each table."""

from __future__ import annotations

from typing import Any

from bench.e2e import _report


def _step(scenario: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"scenario": scenario, "results": {k: {"median": m} for k, m in results.items()}}


def test_targets_table_judges_both_variants() -> None:
    results = {
        "contenders": {
            "vk-trio": {"label": "vk-trio (defaults)"},
            "vk-trio-tuned": {"label": "vk-trio (tuned)"},
            "go-vk": {"label": "Go"},
            "kwok": {"label": "kwok"},
        },
        "steps": [
            _step(
                "burst-10000",
                {
                    "vk-trio": {
                        "time_to_all_running_s": 70.0,
                        "pods_per_s": 150.0,
                        "peak_rss_mb": 320.0,
                    },
                    "vk-trio-tuned": {
                        "time_to_all_running_s": 40.0,
                        "pods_per_s": 250.0,
                        "peak_rss_mb": 510.0,
                    },
                    "go-vk": {"pods_per_s_so_far": 4.5},
                    "kwok": {"pods_per_s": 200.0},
                },
            ),
            _step("arrival-100ps-60s", {"vk-trio": {"latency_p99_s": 1.5}}),
        ],
    }
    rows = _report.targets_table(results)
    assert rows[0] == "| target | vk-trio (defaults) | met | vk-trio (tuned) | met |"
    by_target = {r.split(" | ")[0].lstrip("| "): r for r in rows[2:]}
    assert by_target["10,000 pods all Running within 60 s"].endswith(
        "| 70.0 s | **no** | 40.0 s | yes |"
    )
    assert by_target["pods/s >= 10x the stock Go virtual-kubelet's (10k)"].endswith(
        "| 150 vs 4.5 pods/s | yes | 250 vs 4.5 pods/s | yes |"
    )
    assert by_target["pods/s >= kwok's (10k)"].endswith(
        "| 150 vs 200 pods/s | **no** | 250 vs 200 pods/s | yes |"
    )
    assert by_target["p99 create->Running <= 5 s at 100 pods/s"].endswith(
        "| 1.50 s | yes | - | not measured |"
    )
    assert by_target["peak RSS <= 500 MB at 10,000 pods"].endswith(
        "| 320 MB | yes | 510 MB | **no** |"
    )


def test_targets_table_without_any_figures() -> None:
    rows = _report.targets_table({"contenders": {}, "steps": []})
    assert len(rows) == 2 + len(_report.TARGETS)
    assert all(r.endswith("| - | not measured |") for r in rows[2:])


def test_steady_table_gives_cpu_per_thousand_pods_per_minute() -> None:
    step = {
        "scenario": "steady-2000",
        "n": 2000,
        "hold_s": 300.0,
        "results": {
            "vk-trio": {
                "median": {
                    "trials_ok": 1,
                    "hold_cpu_s": 3.0,
                    "hold_cores": 0.01,
                    "rss_all_running_mb": 100.0,
                    "time_to_all_running_s": 12.0,
                }
            },
            "go-vk": {"median": {"trials_ok": 0}, "failure": None},
        },
    }
    rows = _report.steady_table(step, {"vk-trio": "vk-trio", "go-vk": "Go"})
    # 3 CPU-s over 5 minutes at 2,000 pods: 0.3 s per 1,000 pods per minute
    assert rows[2] == "| vk-trio | 3.0 | 0.010 | 0.300 | 100 | 12.0 |"
    assert rows[3].startswith("| Go | did not get all pods Running within the set-up cap |")
    assert rows[3].count("|") == rows[2].count("|")


def test_provenance_of_a_step_measured_by_one_command() -> None:
    step = {"when": "T2", "command": "run all", "results": {"vk-trio": {}, "kwok": {}}}
    assert _report.provenance(step) == ["", "_Measured T2 by `run all`._"]
    assert _report.provenance({"results": {}}) == []


def test_provenance_of_a_merged_step_names_each_command_with_its_contenders() -> None:
    step = {
        "when": "T3",
        "command": "run a; run b",
        "results": {
            "vk-trio": {"command": "run a", "when": "T1"},
            "kwok": {"command": "run a", "when": "T1"},
            "go-vk": {"command": "run b", "when": "T3"},
        },
    }
    assert _report.provenance(step) == [
        "",
        "_Measured by `run a` (vk-trio, kwok; done by T1); and by `run b` (go-vk; done by T3)._",
        "",
        "**Not one run:** these rows come from separate commands, not interleaved with each "
        "other, so compare across them with care.",
    ]


def test_a_merged_step_says_when_each_contenders_trials_started() -> None:
    step = {
        "results": {
            "vk-trio": {
                "command": "run a",
                "trials": [
                    {"started": "2026-11-26T19:50:14Z"},
                    {"started": "2026-11-26T20:11:01Z"},
                ],
            },
            "go-vk": {"command": "run b", "trials": [{"started": "2026-11-26T22:08:07Z"}]},
        },
    }
    assert _report.trial_spans(step) == "vk-trio 2026-11-26 19:50-20:11; go-vk 2026-11-26 22:08"
    assert _report.provenance(step)[-1].endswith(
        "trials started (UTC): vk-trio 2026-11-26 19:50-20:11; go-vk 2026-11-26 22:08."
    )


def test_a_capped_contenders_p50_is_marked_as_of_the_running_pods_only() -> None:
    capped = {
        "trials_ok": 0,
        "trials_all_running": 0,
        "trials": 3,
        "trials_capped": 3,
        "running_at_cap": 2716,
        "pods_per_s_so_far": 4.5,
        "latency_p50_s_of_running": 285.67,
        "cpu_s": 25.0,
    }
    done = {"trials_ok": 3, "trials": 3, "latency_p50_s": 0.01, "latency_p99_s": 0.08}
    results: dict[str, Any] = {"go-vk": {"median": capped}, "vk-trio": {"median": done}}
    step: dict[str, Any] = {"cap_s": 600.0, "results": results}
    for table in (_report.arrival_table, _report.burst_table):
        rows = table(step, {})
        go_vk = next(r for r in rows if r.startswith("| go-vk "))
        cells = [c.strip() for c in go_vk.split("|")]
        assert f"285.67{_report.RUNNING_ONLY_MARK}" in cells
        assert "> 600 (capped at 2716 Running)" in cells
        assert rows[-1] == _report.RUNNING_ONLY_NOTE
        vk = next(r for r in rows if r.startswith("| vk-trio "))
        assert _report.RUNNING_ONLY_MARK not in vk
    del results["go-vk"]
    assert _report.RUNNING_ONLY_NOTE not in _report.arrival_table(step, {})
