"""Merge patches of ``pods/status`` per second against the real API server: vk_trio vs client-go.

One control plane (``scripts/controlplane up DIR --profile bench``) serves both
clients in the same run.  A namespace with ``PODS`` pods bound to a node name
is created once; then each client, in turn, sends JSON merge patches that
change ``status.message`` of those pods round robin (every patch is a real
write to etcd) from ``concurrency`` concurrent workers for a fixed time.  The
client-side rate limiters are off on both sides, so the API server is the
limit.  Rounds alternate Python, Go, Python, Go to even out drift.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from vk_trio.kube import AlreadyExists, KubeClient, load_config, resource_path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "controlplane"
GO_DIR = Path(__file__).resolve().parent / "go"
NAMESPACE = "bench-client"
PREFIX = "bench-"
PODS = 100


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {
            "nodeName": "bench-node",
            "containers": [{"name": "app", "image": "registry.example/app:1"}],
        },
    }


async def _prepare(kubeconfig: str) -> None:
    config = await load_config(kubeconfig)
    async with KubeClient(config, qps=None) as client:
        with contextlib.suppress(AlreadyExists):
            await client.create(
                resource_path("v1", "namespaces"),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            )
        pods = resource_path("v1", "pods", namespace=NAMESPACE)
        async with trio.open_nursery() as nursery:
            for i in range(PODS):
                nursery.start_soon(_create, client, pods, _pod(f"{PREFIX}{i}"))


async def _create(client: KubeClient, path: str, body: dict[str, Any]) -> None:
    with contextlib.suppress(AlreadyExists):
        await client.create(path, body)


async def _python_round(
    kubeconfig: str, concurrency: int, duration: float, warmup: float
) -> dict[str, Any]:
    config = await load_config(kubeconfig)
    done = errors = 0
    counter = 0
    measuring = False
    first_error = ""
    async with KubeClient(config, qps=None, max_connections=concurrency) as client:

        async def worker() -> None:
            nonlocal done, errors, counter, first_error
            while True:
                counter += 1
                n = counter
                path = resource_path(
                    "v1",
                    "pods",
                    namespace=NAMESPACE,
                    name=f"{PREFIX}{n % PODS}",
                    subresource="status",
                )
                try:
                    await client.patch(path, {"status": {"message": f"py-{n}"}})
                except Exception as exc:
                    if measuring:
                        errors += 1
                        first_error = first_error or repr(exc)
                    continue
                if measuring:
                    done += 1

        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker)
            await trio.sleep(warmup)
            measuring = True
            cpu0, start = time.process_time(), time.perf_counter()
            await trio.sleep(duration)
            measuring = False
            cpu1, elapsed = time.process_time(), time.perf_counter() - start
            nursery.cancel_scope.cancel()
    return {
        "requests": done,
        "errors": errors,
        "seconds": elapsed,
        "per_second": done / elapsed,
        "client_cpu_us_per_request": (cpu1 - cpu0) / done * 1e6 if done else None,
        "first_error": first_error or None,
    }


def _build_go(out_dir: str) -> str:
    binary = os.path.join(out_dir, "patchbench")
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    subprocess.run(
        ["go", "build", "-mod=readonly", "-trimpath", "-o", binary, "."],
        cwd=GO_DIR,
        env=env,
        check=True,
    )
    return binary


def _go_round(
    binary: str, kubeconfig: str, concurrency: int, duration: float, warmup: float
) -> dict[str, Any]:
    out = subprocess.run(
        [
            binary,
            f"-kubeconfig={kubeconfig}",
            f"-namespace={NAMESPACE}",
            f"-prefix={PREFIX}",
            f"-pods={PODS}",
            f"-concurrency={concurrency}",
            f"-duration={duration}s",
            f"-warmup={warmup}s",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _write_kubeconfig(state: str, path: str) -> str:
    """An admin kubeconfig for both clients, from the control plane's ``ready.json``."""
    with open(os.path.join(state, "ready.json")) as f:
        ready = json.load(f)
    paths = ready["paths"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "bench",
        "clusters": [
            {
                "name": "bench",
                "cluster": {"server": ready["server"], "certificate-authority": paths["ca_cert"]},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate": paths["admin_cert"],
                    "client-key": paths["admin_key"],
                },
            }
        ],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "admin"}}],
    }
    with open(path, "w") as f:
        json.dump(config, f)  # JSON is YAML: both loaders read it
    return path


def run(quick: bool) -> dict[str, Any]:
    """Measure both clients; returns the results section (``skipped`` if no control plane)."""
    if not SCRIPT.exists():
        print("  skipped: scripts/controlplane is not there", flush=True)
        return {"skipped": "scripts/controlplane is not there"}
    duration, warmup = (3.0, 1.0) if quick else (10.0, 2.0)
    concurrencies = (16,) if quick else (16, 64)
    rounds = 1 if quick else 2
    results: dict[str, Any] = {"pods": PODS, "duration_s": duration, "warmup_s": warmup, "runs": []}
    with tempfile.TemporaryDirectory(prefix="vk-bench-client-") as tmp:
        binary = _build_go(tmp)
        state = os.path.join(tmp, "cp")
        subprocess.run([str(SCRIPT), "up", state, "--profile", "bench"], check=True)
        try:
            kubeconfig = _write_kubeconfig(state, os.path.join(tmp, "admin.kubeconfig"))
            trio.run(_prepare, kubeconfig)
            for concurrency in concurrencies:
                python_runs, go_runs = [], []
                for _ in range(rounds):
                    python_runs.append(
                        trio.run(_python_round, kubeconfig, concurrency, duration, warmup)
                    )
                    go_runs.append(_go_round(binary, kubeconfig, concurrency, duration, warmup))
                py = sum(r["per_second"] for r in python_runs) / rounds
                go = sum(r["per_second"] for r in go_runs) / rounds
                row = {
                    "concurrency": concurrency,
                    "python_per_second": py,
                    "go_per_second": go,
                    "ratio": py / go if go else None,
                    "meets_80_percent": bool(go) and py >= 0.8 * go,
                    "python_runs": python_runs,
                    "go_runs": go_runs,
                }
                results["runs"].append(row)
                print(
                    f"  c={concurrency:<3} vk_trio {py:7.0f}/s   client-go {go:7.0f}/s   "
                    f"ratio {row['ratio']:.2f} (>= 0.80: {row['meets_80_percent']})",
                    flush=True,
                )
        finally:
            subprocess.run([str(SCRIPT), "down", state], check=False)
    return results
