"""Process provider: cost per pod against a plain supervisor (``python -m bench.process``).

Scenario (issue 15): 200 pods of ``sleep infinity`` created at once until every one is Running,
10 s of steady state, then all deleted until gone.  The same 200 processes are also started,
watched and stopped by a plain Python supervisor (trio, one ``open_process`` and one ``wait``
per process, nothing else) in the same run: the ratio of the two is what the provider's
bookkeeping (sandbox directories, state files, FIFOs and log pumps, status building, cgroups,
namespaces) costs.

The provider is driven in-process (no API server: its own cost is what is measured, not the
control plane's).  CPU is this process's own (``time.process_time``, children excluded: the
200 ``sleep`` processes are the same on both sides), RSS is this process's resident set
(``VmRSS``) before and with the 200 pods.  Prints a table and writes
``bench/results/process.json``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import shutil
import signal
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import attrs
import trio

from vk_trio.provider import Pod
from vk_trio_process import ProcessProvider, parse_process_config

RESULTS = Path(__file__).resolve().parent.parent / "results" / "process.json"
STEADY_SECONDS = 10.0


@attrs.frozen
class Result:
    contender: str
    pods: int
    running_after_s: float
    create_cpu_ms_per_pod: float
    steady_cpu_percent: float
    rss_kib_per_pod: float
    gone_after_s: float
    delete_cpu_ms_per_pod: float


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _Lookup:
    def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def list_services(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return []

    def list_pods(self) -> list[dict[str, Any]]:
        return []


def _pod(i: int) -> Pod:
    return {
        "metadata": {"name": f"sleep-{i}", "namespace": "bench", "uid": str(uuid.uuid4())},
        "spec": {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "containers": [{"name": "app", "image": "host", "command": ["sleep", "infinity"]}],
        },
    }


async def _provider(pods: int, isolation: str) -> Result:
    state = Path(tempfile.mkdtemp(prefix="vk-bench-process-"))
    config = parse_process_config({"stateDir": str(state), "isolation": isolation})
    provider = ProcessProvider(node_name="vk-bench", config=config, resources=_Lookup())
    phases: dict[str, str] = {}
    changed = trio.Event()

    def notified(pod: Pod) -> None:
        nonlocal changed
        phases[pod["metadata"]["name"]] = pod.get("status", {}).get("phase", "")
        changed.set()
        changed = trio.Event()

    provider.notify_pods(notified)
    manifests = [_pod(i) for i in range(pods)]
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(provider.run)
            gc.collect()
            rss_before = _rss_kib()
            cpu, wall = time.process_time(), time.monotonic()
            async with trio.open_nursery() as creating:  # "at once": as the node's workers do
                for manifest in manifests:
                    creating.start_soon(provider.create_pod, manifest)
            while sum(p == "Running" for p in phases.values()) < pods:
                await changed.wait()
            running_after = time.monotonic() - wall
            create_cpu = time.process_time() - cpu
            cpu = time.process_time()
            await trio.sleep(STEADY_SECONDS)
            steady = (time.process_time() - cpu) / STEADY_SECONDS * 100
            rss = _rss_kib() - rss_before
            cpu, wall = time.process_time(), time.monotonic()
            for manifest in manifests:
                await provider.delete_pod(manifest)
            # gone: every pod reported terminal (its processes reaped, its sandbox removed next)
            while sum(p in ("Succeeded", "Failed") for p in phases.values()) < pods:
                await changed.wait()
            gone_after = time.monotonic() - wall
            delete_cpu = time.process_time() - cpu
            nursery.cancel_scope.cancel()
    finally:
        provider.kill_all_pods()
        shutil.rmtree(state, ignore_errors=True)
    return Result(
        contender=f"vk-trio process provider (isolation: {isolation})",
        pods=pods,
        running_after_s=round(running_after, 3),
        create_cpu_ms_per_pod=round(create_cpu * 1000 / pods, 3),
        steady_cpu_percent=round(steady, 2),
        rss_kib_per_pod=round(rss / pods, 1),
        gone_after_s=round(gone_after, 3),
        delete_cpu_ms_per_pod=round(delete_cpu * 1000 / pods, 3),
    )


async def _plain(pods: int) -> Result:
    """The floor: start, watch and stop the processes, and nothing else."""
    gc.collect()
    rss_before = _rss_kib()
    cpu, wall = time.process_time(), time.monotonic()
    processes: list[trio.Process] = []
    async with trio.open_nursery() as nursery:
        for _ in range(pods):
            process = await trio.lowlevel.open_process(
                ["sleep", "infinity"], start_new_session=True
            )
            processes.append(process)
            nursery.start_soon(process.wait)
        running_after = time.monotonic() - wall
        create_cpu = time.process_time() - cpu
        cpu = time.process_time()
        await trio.sleep(STEADY_SECONDS)
        steady = (time.process_time() - cpu) / STEADY_SECONDS * 100
        rss = _rss_kib() - rss_before
        cpu, wall = time.process_time(), time.monotonic()
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
    gone_after = time.monotonic() - wall
    delete_cpu = time.process_time() - cpu
    return Result(
        contender="plain Python supervisor (trio)",
        pods=pods,
        running_after_s=round(running_after, 3),
        create_cpu_ms_per_pod=round(create_cpu * 1000 / pods, 3),
        steady_cpu_percent=round(steady, 2),
        rss_kib_per_pod=round(rss / pods, 1),
        gone_after_s=round(gone_after, 3),
        delete_cpu_ms_per_pod=round(delete_cpu * 1000 / pods, 3),
    )


def _table(results: list[Result]) -> str:
    header = (
        f"{'contender':<50} {'pods':>5} {'Running s':>9} {'create ms/pod':>13} "
        f"{'steady CPU %':>12} {'RSS KiB/pod':>11} {'gone s':>7} {'delete ms/pod':>13}"
    )
    rows = [
        f"{r.contender:<50} {r.pods:>5} {r.running_after_s:>9.2f} {r.create_cpu_ms_per_pod:>13.2f} "
        f"{r.steady_cpu_percent:>12.2f} {r.rss_kib_per_pod:>11.1f} {r.gone_after_s:>7.2f} "
        f"{r.delete_cpu_ms_per_pod:>13.2f}"
        for r in results
    ]
    return "\n".join([header, *rows])


def run(quick: bool) -> None:
    """Measure (20 pods with ``quick``, else 200) and write ``bench/results/process.json``."""
    pods = 20 if quick else 200
    isolations = ["none"] + (["namespaces"] if os.geteuid() == 0 else [])
    results = [trio.run(_plain, pods)]
    for isolation in isolations:
        results.append(trio.run(_provider, pods, isolation))
    print(_table(results))
    plain = results[0]
    ratios = {
        r.contender: {
            "create_cpu": round(
                r.create_cpu_ms_per_pod / max(plain.create_cpu_ms_per_pod, 1e-9), 1
            ),
            "rss": round(r.rss_kib_per_pod / max(plain.rss_kib_per_pod, 1e-9), 1),
        }
        for r in results[1:]
    }
    print("ratios to the plain supervisor:", json.dumps(ratios))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "suite": "process",
                "command": f"python -m bench.process{' --quick' if quick else ''}",
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "steady_seconds": STEADY_SECONDS,
                "results": [attrs.asdict(r) for r in results],
                "ratios": ratios,
            },
            indent=2,
        )
        + "\n"
    )
