"""Fault injection under load (issue 13): each fault hits a real ``vk-trio`` process while
``VK_FAULTS_PODS`` pods churn on its node, and in the end every pod must be in the state the API
says, none created twice in the provider, none lost. See ``_harness.py`` for the parts and
``docs/faults.md`` for the suite.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest
import trio

from tests._controlplane import REPO_ROOT, ControlPlane
from tests.informers.proxy import TcpProxy

from ._harness import (
    FLOWCONTROL,
    RESULTS,
    Churn,
    Row,
    VkTrio,
    check,
    converge_timeout,
    env_float,
    kubelet_client,
    lease_age,
    node_ready,
    pods_count,
    throttle_objects,
    user_kubeconfig,
    wait_until,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.timeout(3600)]

MiB: Final = 1024 * 1024
LEASE_SECONDS: Final = 40.0  # the node's Lease duration: older than this, the node is gone


@attrs.define
class Run:
    """What a fault gets to work with, and what it reports back."""

    cp: ControlPlane
    api: httpx.AsyncClient
    vk: VkTrio
    churn: Churn
    notes: list[str] = attrs.Factory(list)
    #: What the fault itself found wrong (a non-zero exit, a stale Lease), besides the pods.
    failures: list[str] = attrs.Factory(list)
    max_lease_age: float = 0.0
    peak_rss: int = 0
    rss_samples: list[tuple[float, int]] = attrs.Factory(list)


Fault = Callable[[Run], Awaitable[None]]


async def _monitor(run: Run) -> None:
    """Lease age and RSS, once a second, while the process runs."""
    while True:
        age = await lease_age(run.api, run.vk.node)
        if age is not None:
            run.max_lease_age = max(run.max_lease_age, age)
        if run.vk.running():
            try:
                rss = run.vk.rss_bytes()
            except OSError:
                rss = 0
            run.peak_rss = max(run.peak_rss, rss)
            run.rss_samples.append((time.monotonic(), rss))
        await trio.sleep(1.0)


async def run_fault(
    label: str,
    cp: ControlPlane,
    directory: Path,
    fault: Fault,
    *,
    knobs: dict[str, Any] | None = None,
    server: str | None = None,
) -> Run:
    """Churn pods on a fresh node, inject ``fault``, then wait for all three views to agree."""
    count = pods_count()
    node = f"vk-faults-{uuid.uuid4().hex[:6]}"
    namespace = f"faults-{uuid.uuid4().hex[:6]}"
    kubeconfig = user_kubeconfig(cp, directory, server)
    vk = VkTrio(cp, directory, node, knobs or {}, kubeconfig)
    async with cp.async_client(timeout=60) as api, kubelet_client(cp) as kubelet:
        (
            await api.post("/api/v1/namespaces", json={"metadata": {"name": namespace}})
        ).raise_for_status()
        churn = Churn(api, namespace, node, count)
        run = Run(cp, api, vk, churn)
        wrong: dict[str, str] = {}
        converged: float | None = None
        try:
            vk.start()
            await wait_until(f"node {node} Ready", lambda: node_ready(api, node))
            started = time.monotonic()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_monitor, run)
                async with trio.open_nursery() as work:
                    work.start_soon(churn.run)
                    work.start_soon(fault, run)
                assert vk.running(), f"vk-trio is not running after the fault:\n{vk.log_tail()}"
                quiet = time.monotonic()
                run.notes.insert(0, f"churn+fault {quiet - started:.0f} s")
                deadline = quiet + converge_timeout()
                while True:
                    try:
                        wrong = await check(api, kubelet, vk, churn)
                    except httpx.HTTPError as exc:
                        wrong = {"(check)": f"could not read state: {exc!r}"}
                    if not wrong:
                        converged = time.monotonic() - quiet
                        break
                    if time.monotonic() > deadline or not vk.running():
                        break
                    await trio.sleep(2.0)
                nursery.cancel_scope.cancel()
        finally:
            vk.stop()
            await churn.cleanup()
            for path in (
                f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}",
                f"/api/v1/nodes/{node}",
            ):
                with suppress(httpx.HTTPError):
                    await api.delete(path)
        run.notes.append(f"peak RSS {run.peak_rss / MiB:.0f} MiB")
        run.notes.append(f"max Lease age {run.max_lease_age:.1f} s")
        run.notes.append(f"driver retries {churn.retries}")
        notes = [*(f"FAILED: {failure}" for failure in run.failures), *run.notes]
        RESULTS.append(Row(label, count, len(wrong), converged, "; ".join(notes)))
        if wrong or run.failures:
            sample = "\n".join(f"  {name}: {why}" for name, why in sorted(wrong.items())[:25])
            raise AssertionError(
                f"{label}: {len(wrong)} of {count} pods wrong after {converge_timeout():.0f}s:\n"
                f"{sample}\nfault checks failed: {run.failures}\n"
                f"vk-trio log tail:\n{vk.log_tail()}"
            )
        return run


async def test_api_server_restarted_twice_and_down_30s(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    down = env_float("VK_FAULTS_DOWN_SECONDS", 30.0)

    async def fault(run: Run) -> None:
        for fraction in (0.2, 0.6):
            await run.churn.reached(fraction)
            await trio.to_thread.run_sync(lambda: run.cp.restart(down))
        run.notes.append(f"2 restarts, down {down:.0f} s each")

    await run_fault("API server restarted twice, down 30 s", faults_controlplane, tmp_path, fault)


@asynccontextmanager
async def _proxy(cp: ControlPlane) -> AsyncIterator[TcpProxy]:
    host, port = cp.server.removeprefix("https://").rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.run)
        yield proxy
        nursery.cancel_scope.cancel()


async def test_etcd_compaction_forces_410_on_every_watch(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    """The node talks to the API server through a proxy; each time, the proxy cuts every
    connection, pods change meanwhile, etcd is compacted, and the connections come back: every
    watch resumes from a compacted revision and gets 410 Gone (relist)."""
    async with _proxy(faults_controlplane) as proxy:

        async def fault(run: Run) -> None:
            revisions = []
            for fraction in (0.2, 0.5, 0.8):
                await run.churn.reached(fraction)
                proxy.partition()
                await trio.sleep(3.0)  # the churn goes on, straight to the API server
                revisions.append(await trio.to_thread.run_sync(run.cp.compact))
                proxy.heal()
            run.notes.append(f"cut+compacted at revisions {', '.join(map(str, revisions))}")

        await run_fault(
            "etcd compaction: 410 on every watch",
            faults_controlplane,
            tmp_path,
            fault,
            server=f"https://127.0.0.1:{proxy.port}",
        )


async def _rejected(api: httpx.AsyncClient) -> float:
    text = (await api.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("apiserver_flowcontrol_rejected_requests_total{") and (
            'priority_level="vk-faults-squeeze"' in line
        ):
            total += float(line.rpartition(" ")[2])
    return total


async def test_429_storms_with_retry_after(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    storm = env_float("VK_FAULTS_STORM_SECONDS", 30.0)

    async def fault(run: Run) -> None:
        created: list[str] = []
        before = await _rejected(run.api)
        for fraction in (0.2, 0.6):
            await run.churn.reached(fraction)
            for plural, body in throttle_objects():
                response = await run.api.post(f"{FLOWCONTROL}/{plural}", json=body)
                response.raise_for_status()
                created.append(f"{FLOWCONTROL}/{plural}/{body['metadata']['name']}")
            await trio.sleep(storm)
            for path in reversed(created):
                (await run.api.delete(path)).raise_for_status()
            created.clear()
        rejected = await _rejected(run.api) - before
        run.notes.append(f"2 storms of {storm:.0f} s, {rejected:.0f} requests rejected (429)")
        if not rejected:
            run.failures.append("the flow-control objects did not throttle the node")

    await run_fault("429 storms (flow control)", faults_controlplane, tmp_path, fault)


async def test_provider_errors_latency_spikes_and_a_hung_call(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    knobs = {
        "failures": {op: {"fraction": 0.1, "seed": 7} for op in ("create", "update", "delete")},
        "spikes": {op: {"fraction": 0.05, "seconds": 3.0, "seed": 3} for op in ("create", "get")},
        "hangs": {"create": [50], "update": [20]},
    }

    async def fault(run: Run) -> None:
        run.notes.append("10% failures, 5% spikes of 3 s, create #50 and update #20 hang")

    await run_fault(
        "provider errors, spikes, hung calls", faults_controlplane, tmp_path, fault, knobs=knobs
    )


async def test_vk_trio_sigkilled_mid_churn_and_restarted(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    async def fault(run: Run) -> None:
        await run.churn.reached(0.4)
        run.vk.kill()
        await trio.sleep(2.0)
        run.vk.start()
        run.notes.append("SIGKILL at 40%, restarted")

    await run_fault("vk-trio SIGKILLed and restarted", faults_controlplane, tmp_path, fault)


async def test_sigterm_mid_churn_drains_and_exits_0(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    async def fault(run: Run) -> None:
        await run.churn.reached(0.4)
        code, took = await trio.to_thread.run_sync(run.vk.terminate)
        run.notes.append(f"SIGTERM at 40%: exit {code} after {took:.1f} s, restarted")
        if code != 0:
            run.failures.append(f"exit status {code} on SIGTERM: {run.vk.log_tail(5)}")
        run.vk.start()

    await run_fault("SIGTERM mid-churn (drain, exit 0)", faults_controlplane, tmp_path, fault)


def _flood(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults._flood", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _communicate(proc: subprocess.Popen[str]) -> tuple[str, str]:
    return proc.communicate(timeout=60)


async def test_token_review_and_spdy_ping_floods(
    faults_controlplane: ControlPlane, tmp_path: Path
) -> None:
    """Both floods from the start of the churn to its end: the Lease keeps being renewed (the
    node stays Ready) and the process's memory stays bounded."""
    rss_limit = env_float("VK_FAULTS_FLOOD_RSS_GROWTH_MIB", 200.0) * MiB
    outputs: list[str] = []

    async def fault(run: Run) -> None:
        vk, cp = run.vk, run.cp
        await run.churn.reached(0.02)

        async def first_pod_running() -> bool:
            response = await run.api.get(f"{run.churn.path}/{run.churn.name(0)}")
            return response.status_code == 200 and (
                response.json().get("status", {}).get("phase") == "Running"
            )

        await wait_until("the first pod Running", first_pod_running)
        baseline = vk.rss_bytes()
        floods = [
            _flood("tokens", vk.kubelet_url, "--concurrency", "200"),
            _flood(
                "ping",
                vk.kubelet_url,
                run.churn.namespace,
                run.churn.name(0),
                "--cert",
                str(cp.apiserver_kubelet_client_cert),
                "--key",
                str(cp.apiserver_kubelet_client_key),
                "--ca",
                str(cp.ca_cert),
            ),
        ]
        flood_started = time.monotonic()
        try:
            await run.churn.finished.wait()
            # at least a minute of flood, whatever the churn's pace
            await trio.sleep(max(0.0, 60.0 - (time.monotonic() - flood_started)))
            ready = await node_ready(run.api, vk.node)
        finally:
            for flood in floods:
                flood.terminate()
            for flood in floods:
                out, err = await trio.to_thread.run_sync(_communicate, flood)
                outputs.append(out.strip() or err.strip()[-300:])
        peak = max(rss for when, rss in run.rss_samples if when >= flood_started)
        run.notes.append(
            f"flood {time.monotonic() - flood_started:.0f} s, RSS {baseline / MiB:.0f}->"
            f"{peak / MiB:.0f} MiB; tokens {outputs[0]}; ping {outputs[1]}"
        )
        if not ready:
            run.failures.append("the node is not Ready after the floods")
        if run.max_lease_age >= LEASE_SECONDS:
            run.failures.append(
                f"the Lease went {run.max_lease_age:.1f} s without renewal during the floods"
            )
        if peak - baseline >= rss_limit:
            run.failures.append(
                f"RSS grew {(peak - baseline) / MiB:.0f} MiB during the floods "
                f"(limit {rss_limit / MiB:.0f})"
            )

    await run_fault("TokenReview + SPDY PING floods", faults_controlplane, tmp_path, fault)
