"""``python -m bench.process [--quick]``."""

import sys

from . import run

run("--quick" in sys.argv[1:])
