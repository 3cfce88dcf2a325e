"""client-go's port forwarder (the code of ``kubectl port-forward``) against our SPDY server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import trio

from ._server import port_forward_server

GO_DIR = Path(__file__).resolve().parents[2] / "tests" / "api" / "interop"


async def _measure(binary: Path, megabytes: int, reps: int) -> list[dict[str, float]]:
    results = []
    async with port_forward_server() as base:
        for _ in range(reps):
            done = await trio.run_process(
                [str(binary), "throughput", f"{base}/portForward/ns/pod", str(megabytes)],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr.decode()[-500:])
            results.append(json.loads(done.stdout))
    return results


def run(megabytes: int, reps: int) -> tuple[dict[str, Any] | None, str | None]:
    """Best upload/download MB/s over ``reps`` runs, or ``(None, why)``."""
    go = shutil.which("go")
    if go is None:
        return None, "the go command is not installed"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    with tempfile.TemporaryDirectory(prefix="vk-trio-spdybench-") as tmp:
        binary = Path(tmp) / "interop"
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
        try:
            runs = trio.run(_measure, binary, megabytes, reps)
        except RuntimeError as exc:
            return None, f"client-go port-forward failed: {exc}"
    return {
        "upload_mb_s": max(r["upload_mb_s"] for r in runs),
        "download_mb_s": max(r["download_mb_s"] for r in runs),
        "runs": runs,
    }, None
