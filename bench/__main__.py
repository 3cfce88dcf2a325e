"""Run every benchmark suite under ``bench/`` (``make bench``; ``make bench-quick``: ``--quick``).

Each suite is a subpackage ``bench.<name>`` exposing ``run(quick: bool) -> None`` that prints its
table and writes its JSON under ``bench/results/``.  Suites run one after the other so that they do
not disturb each other's figures on a small machine.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUITES = ("queue", "client", "informers", "mock", "spdy", "api", "e2e", "fuzz")


def main(argv: list[str]) -> int:
    """Run the selected suites (all by default) and return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    parser.add_argument(
        "suites", nargs="*", metavar="SUITE", help=f"suites to run: {', '.join(SUITES)}"
    )
    args = parser.parse_args(argv)
    selected = args.suites or list(SUITES)
    ran = 0
    for name in selected:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            print(f"bench: suite {name!r} is not there yet, skipped", file=sys.stderr)
            continue
        module.run(args.quick)
        ran += 1
    return 0 if ran else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
