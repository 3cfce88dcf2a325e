"""``make demo``'s script, run the way the README promises, with DEMO_EXIT_AFTER_READY=1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.controlplane

ROOT = Path(__file__).resolve().parents[2]


def test_demo_schedules_the_examples_onto_the_virtual_node_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "demo"
    env = {
        **os.environ,
        "DEMO_EXIT_AFTER_READY": "1",
        "DEMO_DIR": str(directory),
        "DEMO_NODE": "vk-demo-test",
        "VENV": str(Path(sys.executable).parent.parent),
    }
    result = subprocess.run(
        [str(ROOT / "scripts" / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "node/vk-demo-test" in out
    for pod in ("hello-web", "hello-batch"):
        line = next(line for line in out.splitlines() if line.startswith(f"pod/{pod} "))
        assert "Running" in line
        assert "vk-demo-test" in line
    assert "all 2 pods are Running on vk-demo-test" in result.stderr
    assert "hello from inside hello-web\n" in out
    # Everything it started is gone: the control plane is down and vk-trio exited cleanly.
    log = (directory / "logs" / "vk-trio.log").read_text()
    assert "graceful shutdown" in log
    status = subprocess.run(
        [str(ROOT / "scripts" / "controlplane"), "status", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode != 0
