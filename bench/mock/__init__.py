"""Mock provider hot path: per-pod cost of create, status lookup, delete (``python -m bench.mock``).

The pod controller pushes every pod of a benchmark through the mock, so the mock's own cost must be
small next to the API server's.  Times are CPU time of this process (``time.process_time``), so
other load on a shared machine does not inflate them.  Prints a table and writes
``bench/results/mock.json``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import platform
import sys
import time
from pathlib import Path

import attrs
import trio

from vk_trio.provider import NotFoundError, Pod
from vk_trio_mock import FailurePlan, MockConfig, MockInjectedError, MockKnobs, MockProvider

RESULTS = Path(__file__).resolve().parent.parent / "results" / "mock.json"


@attrs.frozen
class Result:
    variant: str
    pods: int
    create_us: float
    get_status_us: float
    delete_us: float
    pods_per_second: float


def _pod(i: int) -> Pod:
    return {
        "metadata": {
            "name": f"pod-{i}",
            "namespace": f"ns-{i % 50}",
            "uid": f"00000000-0000-0000-0000-{i:012d}",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"app": "bench", "index": str(i)},
        },
        "spec": {
            "nodeName": "vk-bench",
            "containers": [
                {"name": f"c{j}", "image": "registry.example/app:1.0", "env": []} for j in range(3)
            ],
        },
        "status": {"phase": "Pending"},
    }


async def _measure(variant: str, pods: int, knobs: MockKnobs) -> Result:
    mock = MockProvider(node_name="vk-bench", config=MockConfig(knobs=knobs))
    latest: dict[tuple[str, str], Pod] = {}

    def notified(pod: Pod) -> None:  # what the controller does: keep the latest
        meta = pod["metadata"]
        latest[meta["namespace"], meta["name"]] = pod

    mock.notify_pods(notified)
    # The controller hands the provider its own copy of each pod: make them outside the timing.
    created = [_pod(i) for i in range(pods)]
    deleted = copy.deepcopy(created)

    injected = 0
    start = time.process_time()
    for pod in created:
        try:
            await mock.create_pod(pod)
        except MockInjectedError:
            injected += 1
    after_create = time.process_time()
    for pod in created:
        with contextlib.suppress(NotFoundError):  # the pods whose create failed
            await mock.get_pod_status(pod["metadata"]["namespace"], pod["metadata"]["name"])
    after_get = time.process_time()
    for pod in deleted:
        with contextlib.suppress(NotFoundError):
            await mock.delete_pod(pod)
    end = time.process_time()
    assert len(latest) == pods - injected
    return Result(
        variant=variant,
        pods=pods,
        create_us=(after_create - start) / pods * 1e6,
        get_status_us=(after_get - after_create) / pods * 1e6,
        delete_us=(end - after_get) / pods * 1e6,
        pods_per_second=pods / ((after_create - start) + (end - after_get)),
    )


def run(quick: bool) -> None:
    """Create, look up and delete 10,000 pods (1,000 with ``quick``), with and without knobs."""
    pods = 1_000 if quick else 10_000
    failing = MockKnobs(failures={"create": FailurePlan(fraction=0.01, seed=1)})

    async def main() -> list[Result]:
        return [
            await _measure("no knobs", pods, MockKnobs()),
            await _measure("1% injected create failures", pods, failing),
        ]

    results = trio.run(main)
    print(f"mock provider, {pods} pods of 3 containers, one trio task, CPU time per pod")
    print(f"{'variant':<30} {'create us':>10} {'status us':>10} {'delete us':>10} {'pods/s':>9}")
    for r in results:
        print(
            f"{r.variant:<30} {r.create_us:>10.2f} {r.get_status_us:>10.2f}"
            f" {r.delete_us:>10.2f} {r.pods_per_second:>9.0f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "suite": "mock",
                "quick": quick,
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "results": [attrs.asdict(r) for r in results],
            },
            indent=2,
        )
        + "\n"
    )
