"""``python -m bench.fuzz [--inputs N] [--engine builtin|atheris] [--seed S] [TARGET...]``."""

from __future__ import annotations

import argparse
import sys

from . import DEFAULT_INPUTS, run
from .targets import TARGETS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--inputs", type=int, default=DEFAULT_INPUTS, help="total inputs")
    parser.add_argument("--engine", choices=("builtin", "atheris"), default="builtin")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], metavar="TARGET")
    args = parser.parse_args(argv)
    results = run(
        False, total=args.inputs, engine=args.engine, seed=args.seed, names=args.targets or None
    )
    return 1 if any(r.crashes or r.hangs for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
