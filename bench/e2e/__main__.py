"""``python -m bench.e2e``: the end-to-end benchmark, or a subset of it.

Examples::

    python -m bench.e2e                       # the full plan (as `make bench` runs it)
    python -m bench.e2e --quick               # 200 pods, once per contender
    python -m bench.e2e --contenders go-vk,kwok,ceiling --scenarios burst-1000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import CONTENDERS, FULL_CONTENDERS, RESULTS_DIR, full_plan, quick_plan, report, run_suite


def main(argv: list[str]) -> int:
    """Parse the command line, run, report; exit status 0 unless every trial failed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="200 pods, once per contender")
    parser.add_argument(
        "--contenders", default=None, help=f"comma-separated subset of {','.join(CONTENDERS)}"
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated scenario keys or groups (burst-1000, burst-10000, "
        "arrival, scale, steady); default: all of the plan",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions (full plan)")
    parser.add_argument("--results", type=Path, default=None, help="results JSON path")
    parser.add_argument(
        "--no-docs", action="store_true", help="do not write docs/benchmarks.md and the plots"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="merge into the existing results file (replace the scenarios run, keep the rest)",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="profile vk-trio with py-spy during the workload (top frames go into the "
        "results; the figures of such a run are not comparable)",
    )
    parser.add_argument(
        "--controlplane",
        type=Path,
        default=None,
        help="use this running control plane DIR instead of starting one",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only regenerate the tables, plots and docs section from the results file",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        path = args.results or RESULTS_DIR / "e2e.json"
        report(json.loads(path.read_text()), docs=not args.no_docs)
        return 0
    contenders = tuple(args.contenders.split(",")) if args.contenders else FULL_CONTENDERS
    unknown = [c for c in contenders if c not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contenders: {', '.join(unknown)}")
    steps = quick_plan(contenders) if args.quick else full_plan(contenders, args.reps)
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        steps = [s for s in steps if s.scenario.key in wanted or s.group in wanted]
        if not steps:
            parser.error(f"no scenario matches {args.scenarios}")
    default_name = "e2e-quick.json" if args.quick else "e2e.json"
    results_path = args.results or RESULTS_DIR / default_name
    command = " ".join([".venv/bin/python -m bench.e2e", *argv])
    results = run_suite(
        steps,
        quick=args.quick,
        results_path=results_path,
        controlplane_dir=args.controlplane,
        command=command,
        merge=args.merge,
        py_spy=args.py_spy,
    )
    report(results, docs=not (args.quick or args.no_docs))
    print(f"e2e: wrote {results_path}", flush=True)
    ok = any(
        t["status"] != "failed"
        for s in results["steps"]
        for r in s["results"].values()
        for t in r["trials"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
