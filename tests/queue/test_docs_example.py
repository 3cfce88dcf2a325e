"""The embedding example of docs/queue.md runs, on MockClock and for real."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import trio
import trio.testing

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "queue_controller.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("queue_controller_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_controller_converges(autojump_clock: trio.testing.MockClock) -> None:
    controller = await _load().main()
    assert controller.actual == {"default/web": 5, "default/api": 5, "kube-system/dns": 5}
    # web failed twice before it succeeded; bursts of events collapsed into fewer reconciles.
    assert controller.flaky_failures_left == {"default/web": 0}
    assert controller.reconciles["default/web"] >= 3
    assert controller.failures == {"default/web": 2}  # counted by the on_failure hook
    # At most: one per event round, the two retries, and the resync from the thread.
    assert all(count <= 5 + 2 + 1 for count in controller.reconciles.values())
    assert controller.queue.shutting_down
    stats = controller.queue.statistics()
    assert (stats.waiting, stats.processing, stats.delayed) == (0, 0, 0)  # join() saw it idle


def test_the_example_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "default/api",
        "default/web",
        "kube-system/dns",
    ]
    assert all(": 5 replicas after " in line for line in lines)
    assert "reconciling default/web failed (attempt 1), will retry" in done.stderr


def test_the_docs_show_the_example_as_it_is() -> None:
    # docs/queue.md, "A complete controller", holds the example's code verbatim (minus its
    # module docstring), so the page never drifts from what the tests run.
    docs = (EXAMPLE.parents[1] / "queue.md").read_text()
    source = EXAMPLE.read_text()
    body = source[source.index("from __future__") :]
    assert f"```python\n{body}```" in docs
