"""Run every benchmark suite under ``bench/`` and write JSON to ``bench/results/``."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Dispatch to the benchmark suites; each adds itself here as it lands."""
    print("no benchmark suites yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
