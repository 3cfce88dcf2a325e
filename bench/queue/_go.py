"""Build and run the client-go side of the queue benchmark (``bench/queue/go``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

GO_DIR = Path(__file__).resolve().parent / "go"


def run(n: int, n_workers: int, reps: int) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(results, None)``, or ``(None, why)`` when Go is unavailable or fails."""
    go = shutil.which("go")
    if go is None:
        return None, "the go command is not installed"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    with tempfile.TemporaryDirectory(prefix="vk-trio-queuebench-") as tmp:
        binary = Path(tmp) / "queuebench"
        build = subprocess.run(
            [go, "build", "-o", str(binary), "."],
            cwd=GO_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if build.returncode != 0:
            return None, f"go build failed: {build.stderr.strip()[-500:]}"
        done = subprocess.run(
            [str(binary), f"-n={n}", f"-n-workers={n_workers}", f"-reps={reps}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return None, f"queuebench failed: {done.stderr.strip()[-500:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result, None
