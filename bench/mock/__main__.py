"""``python -m bench.mock [--quick]``."""

import sys

from . import run

run("--quick" in sys.argv[1:])
