"""Run every benchmark suite under ``bench/`` (``make bench``; ``make bench-quick``: ``--quick``).

Each suite is a subpackage ``bench.<name>`` exposing ``run(quick: bool) -> None`` that prints its
table and writes its JSON under ``bench/results/``.  Suites run one after the other so that they do
not disturb each other's figures on a small machine.  After each suite, the results files it
wrote are compared with the last committed ones and slowdowns over 20 % are flagged
(``bench/_regress.py``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from . import _regress

RESULTS_DIR = Path(__file__).resolve().parent / "results"

SUITES = ("queue", "client", "informers", "mock", "spdy", "api", "e2e", "fuzz")


def main(argv: list[str]) -> int:
    """Run the selected suites (all by default) and return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    parser.add_argument(
        "suites", nargs="*", metavar="SUITE", help=f"suites to run: {', '.join(SUITES)}"
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit with status 3 when a figure is over 20%% slower than the committed one",
    )
    args = parser.parse_args(argv)
    selected = args.suites or list(SUITES)
    ran = 0
    flagged = 0
    for name in selected:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            print(f"bench: suite {name!r} is not there yet, skipped", file=sys.stderr)
            continue
        before = _regress.snapshot(RESULTS_DIR)
        module.run(args.quick)
        ran += 1
        flagged += _check(RESULTS_DIR, before)
    if not ran:
        return 1
    return 3 if flagged and args.fail_on_regression else 0


def _check(results_dir: Path, before: dict[Path, float]) -> int:
    """Print the comparison of each results file just written; the number of slowdowns."""
    flagged = 0
    for path in _regress.written_since(results_dir, before):
        try:
            new = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            print(f"regress: {path.name}: cannot read: {exc}", flush=True)
            continue
        lines, n = _regress.report(path.name, _regress.committed(path), new)
        print("\n".join(lines), flush=True)
        flagged += n
    return flagged


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
