"""Merge patches of ``pods/status`` per second against the real API server: vk_trio vs client-go.

One control plane (``scripts/controlplane up DIR --profile bench``) serves both
clients in the same run.  A namespace with ``PODS`` pods bound to a node name
is created once; then each client, in turn, sends JSON merge patches that
change ``status.message`` of those pods round robin (every patch is a real
write to etcd) from ``concurrency`` concurrent workers for a fixed time.  The
client-side rate limiters are off on both sides, so the API server is the
limit.  client-go's typed clients ask for protobuf responses, which are
cheaper for the API server to encode than JSON, so Go runs twice: with its
defaults (the bar) and asking for JSON like the Python client (like for like).
Rounds alternate in ABBA order so that a drift in the machine's load does not
favour any side; the medians are compared.  The API server's own CPU time per
request is recorded for each round (from ``/proc``), and the load average,
because on a small shared machine the API server's share of the CPU decides
the figure.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
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
    async with KubeClient(config, qps=None) as client:  # default pool bound

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
    binary: str,
    kubeconfig: str,
    concurrency: int,
    duration: float,
    warmup: float,
    *,
    json_only: bool = False,
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
            f"-json={'true' if json_only else 'false'}",
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


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _timed(pid: int, measure: Any) -> dict[str, Any]:
    cpu0, wall0 = _process_cpu(pid), time.perf_counter()
    result: dict[str, Any] = measure()
    cpu1, wall1 = _process_cpu(pid), time.perf_counter()
    done = result["per_second"] * (wall1 - wall0)
    result["apiserver_cpu_ms_per_request"] = (cpu1 - cpu0) / done * 1000 if done else None
    result["load_average"] = os.getloadavg()[0]
    return result


def _compare(
    binary: str,
    kubeconfig: str,
    apiserver_pid: int,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    pairs: int,
) -> dict[str, Any]:
    """Alternate the three clients ``pairs`` times (ABBA order) and compare the medians."""
    runs: dict[str, list[dict[str, Any]]] = {"python": [], "go": [], "go_json": []}

    def python() -> dict[str, Any]:
        return trio.run(_python_round, kubeconfig, concurrency, duration, warmup)

    def go() -> dict[str, Any]:
        return _go_round(binary, kubeconfig, concurrency, duration, warmup)

    def go_json() -> dict[str, Any]:
        return _go_round(binary, kubeconfig, concurrency, duration, warmup, json_only=True)

    order = [("python", python), ("go", go), ("go_json", go_json)]
    for i in range(pairs):
        for name, measure in order if i % 2 == 0 else order[::-1]:
            runs[name].append(_timed(apiserver_pid, measure))
    median = {k: statistics.median(r["per_second"] for r in v) for k, v in runs.items()}
    return {
        "concurrency": concurrency,
        "python_per_second": median["python"],
        "go_per_second": median["go"],
        "go_json_per_second": median["go_json"],
        "ratio": median["python"] / median["go"] if median["go"] else None,
        "ratio_vs_go_json": median["python"] / median["go_json"] if median["go_json"] else None,
        "meets_80_percent": bool(median["go"]) and median["python"] >= 0.8 * median["go"],
        "python_runs": runs["python"],
        "go_runs": runs["go"],
        "go_json_runs": runs["go_json"],
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure both clients; returns the results section (``skipped`` if no control plane)."""
    if not SCRIPT.exists():
        print("  skipped: scripts/controlplane is not there", flush=True)
        return {"skipped": "scripts/controlplane is not there"}
    duration, warmup = (3.0, 1.0) if quick else (8.0, 2.0)
    concurrencies = (16,) if quick else (16, 64)
    pairs = 1 if quick else 3
    results: dict[str, Any] = {
        "pods": PODS,
        "duration_s": duration,
        "warmup_s": warmup,
        "order": "ABBA (python, go, go_json, go_json, go, python, ...)",
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="vk-bench-client-") as tmp:
        binary = _build_go(tmp)
        state = os.path.join(tmp, "cp")
        subprocess.run(
            [str(SCRIPT), "up", state, "--profile", "bench"], check=True, stdout=subprocess.DEVNULL
        )
        try:
            kubeconfig = _write_kubeconfig(state, os.path.join(tmp, "admin.kubeconfig"))
            with open(os.path.join(state, "ready.json")) as f:
                apiserver_pid = int(json.load(f)["pids"]["apiserver"])
            trio.run(_prepare, kubeconfig)
            for concurrency in concurrencies:
                row = _compare(
                    binary,
                    kubeconfig,
                    apiserver_pid,
                    concurrency=concurrency,
                    duration=duration,
                    warmup=warmup,
                    pairs=pairs,
                )
                results["runs"].append(row)
                print(
                    f"  c={concurrency:<3} vk_trio {row['python_per_second']:6.0f}/s   "
                    f"client-go {row['go_per_second']:6.0f}/s (protobuf answers), "
                    f"{row['go_json_per_second']:6.0f}/s (JSON)   ratio {row['ratio']:.2f}"
                    f" (>= 0.80: {row['meets_80_percent']}), vs JSON {row['ratio_vs_go_json']:.2f}",
                    flush=True,
                )
        finally:
            subprocess.run([str(SCRIPT), "down", state], check=False, stdout=subprocess.DEVNULL)
    return results
