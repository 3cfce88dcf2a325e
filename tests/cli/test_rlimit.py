"""The soft open-files limit is raised to the hard one at start-up (issue 13, finding 5)."""

from __future__ import annotations

import inspect
import subprocess
import sys

from vk_trio.cli import _run

SCRIPT = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
from vk_trio.cli._rlimit import raise_open_file_limit
returned = raise_open_file_limit()
print(returned, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)
"""


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    # In a child process: the limit is per process and must not change under pytest.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    returned, soft, hard = (int(v) for v in out.split())
    assert returned == soft == hard


def test_run_node_raises_it_before_anything_opens_a_descriptor() -> None:
    source = inspect.getsource(_run.run_node)
    assert source.index("raise_open_file_limit()") < source.index("trio.run(")
