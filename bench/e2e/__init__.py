"""End-to-end benchmark (``python -m bench e2e``, part of ``make bench``): pods/s on one node.

vk-trio with its mock provider (at its defaults and tuned), the Go virtual-kubelet v1.14.1 (stock
command, mock provider), go-vk-tuned (the Go virtual-kubelet library with vk-trio-tuned's limits,
``bench/e2e/govk``), kwok v0.8.0 (with our stage files) and a client-go "ceiling" program are each
driven through the same workload against one real control plane: N pods bound to the contender's
node are created as fast as the API server accepts them, an observer watch records when each is
Running, then all are deleted with the default grace period and the watch records when each is
gone. Also a steady-arrival run (100 pods/s for 60 s), a scale series for vk-trio and a
steady-state CPU measurement.

``run(quick)`` is the entry point ``bench/__main__.py`` calls: ``quick`` runs 200 pods once per
contender (``make bench-quick``) and writes ``bench/results/e2e-quick.json``; the full run
writes ``bench/results/e2e.json``, the PNGs under ``docs/benchmarks/`` and the "End-to-end"
section of ``docs/benchmarks.md``. The method is described in that section and in
:mod:`bench.e2e._trial`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _figures, _report
from ._contenders import CONTENDERS as CONTENDERS
from ._contenders import Contender as Contender
from ._run import DEFAULT_CONTENDERS as DEFAULT_CONTENDERS
from ._run import FULL_CONTENDERS as FULL_CONTENDERS
from ._run import RESULTS_DIR as RESULTS_DIR
from ._run import Step as Step
from ._run import full_plan as full_plan
from ._run import merge_results as merge_results
from ._run import quick_plan as quick_plan
from ._run import run_suite as run_suite
from ._trial import Scenario as Scenario


def run(quick: bool) -> None:
    """Run the suite (quick: 200 pods, once; else the full plan) and report it."""
    steps = quick_plan() if quick else full_plan()
    results_path = RESULTS_DIR / ("e2e-quick.json" if quick else "e2e.json")
    command = "make bench-quick" if quick else "make bench"
    results = run_suite(
        steps,
        quick=quick,
        results_path=results_path,
        command=command,
        background_s=5.0 if quick else 15.0,
    )
    report(results, docs=not quick)
    print(f"e2e: wrote {results_path}", flush=True)


def report(results: dict[str, Any], *, docs: bool) -> list[Path]:
    """Print the tables; with ``docs``, write the PNGs and the docs/benchmarks.md section.

    Medians and the plotted trial are recomputed from the stored trials, so a results file
    written by an older harness is reported with the current rules.
    """
    for step in results["steps"]:
        for res in step["results"].values():
            res["median"] = _figures.medians(res["trials"])
            chosen = _figures.representative(res["trials"])
            res["curve"] = chosen["curve"] if chosen else None
            res["cdf"] = chosen["cdf"] if chosen else None
    print(_report.text_report(results), flush=True)
    if not docs:
        return []
    pngs = _report.plots(results)
    _report.update_doc(results, pngs)
    print(f"e2e: updated {_report.DOC} and {len(pngs)} plots", flush=True)
    return pngs
