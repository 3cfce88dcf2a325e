"""One trial: one contender through one scenario, on a fresh node, cleaned up afterwards.

Order of a trial (the numbers in the JSON refer to these steps):

1. start the contender (kwok is handed a bare Node first; the others register their own) and
   wait until the node is Ready; a contender that exits or is not Ready within two minutes is a
   *failed* trial with the tail of its log as the reason;
2. wait ``SETTLE_S`` so its pod watch is up, snapshot ``apiserver_request_total``;
3. ``e2ebench drive``: create, observe Running, delete, observe gone (or hold / stop at the cap);
4. read the contender's CPU and memory, stop it, snapshot the metrics again (watches are only
   counted by the API server when they end, so after the stop);
5. force-delete whatever is left of the node's pods, the Node and its Lease.

API requests made by the contender = change of the API server's total over steps 2-4, minus
the driver's own requests (counted by the driver), minus the API server's background rate
(measured on the idle cluster) times the window.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Final, final

import attrs

from . import _contenders, _proc, _profile

SETTLE_S: Final = 2.0
READY_TIMEOUT_S: Final = 120.0
NAMESPACE: Final = "vk-bench-e2e"


@final
@attrs.frozen
class Scenario:
    """A workload: ``n`` pods, created as fast as accepted (``rate`` 0) or ``rate`` per second."""

    name: str  # burst | arrival | steady
    n: int
    rate: float = 0.0
    delete: bool = True
    hold_s: float = 0.0
    cap_s: float = 600.0

    @property
    def key(self) -> str:
        """Stable identifier, e.g. ``burst-1000`` or ``arrival-100ps-60s``."""
        if self.name == "arrival":
            return f"arrival-{self.rate:g}ps-{self.n / self.rate:g}s"
        return f"{self.name}-{self.n}"


@final
@attrs.frozen
class Harness:
    """The control plane and tools shared by every trial of a run."""

    cluster: _contenders.Cluster
    apiserver_pid: int | None
    workdir: Path
    background_per_s: float  # API server's own requests per second on the idle cluster
    py_spy: bool = False  # profile Python contenders during the workload


def e2ebench(h: Harness | _contenders.Cluster, *args: str, timeout: float = 300.0) -> Any:
    """Run one ``e2ebench`` admin command with the admin kubeconfig; its JSON output."""
    cluster = h.cluster if isinstance(h, Harness) else h
    cmd = args[0]
    argv = [str(cluster.e2ebench), cmd, "-kubeconfig", str(cluster.kubeconfig), *args[1:]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"e2ebench {cmd} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def request_totals(h: Harness | _contenders.Cluster) -> dict[str, int]:
    """``apiserver_request_total`` summed by "VERB resource[/subresource]" (+ "total")."""
    counts: dict[str, int] = e2ebench(h, "metrics")["requests"]
    return counts


def measure_background(cluster: _contenders.Cluster, seconds: float) -> float:
    """Requests per second the API server counts while nobody but itself talks to it."""
    before = request_totals(cluster)
    t0 = time.monotonic()
    time.sleep(seconds)
    after = request_totals(cluster)
    return max(0, after["total"] - before["total"]) / (time.monotonic() - t0)


def _node_name(contender: _contenders.Contender) -> str:
    return f"e2e-{contender.name}-{uuid.uuid4().hex[:6]}"


def _wait_ready(h: Harness, running: _contenders.Running) -> str | None:
    """``None`` once the node is Ready, else why not."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        code = running.process.poll()
        if code is not None:
            return f"exited with status {code} before its node was Ready"
        try:
            e2ebench(h, "wait-node", "-name", running.node, "-timeout", "2s", timeout=30)
            return None
        except RuntimeError:
            continue
    return f"node not Ready within {READY_TIMEOUT_S:.0f}s"


def run_trial(h: Harness, contender: _contenders.Contender, scenario: Scenario) -> dict[str, Any]:
    """Run one trial; returns its record (``status`` ok | capped | failed)."""
    node = _node_name(contender)
    workdir = h.workdir / node
    record: dict[str, Any] = {
        "contender": contender.name,
        "scenario": scenario.key,
        "node": node,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_avg_before": list(_loadavg()),
    }
    if contender.kind == "kwok":
        e2ebench(h, "create-node", "-name", node)
    try:
        running = _contenders.start(contender, h.cluster, node, workdir)
    except _contenders.ContenderError as exc:
        _cleanup(h, node, record)
        return {**record, "status": "failed", "reason": str(exc)}
    record["argv"] = running.argv
    sampler = _proc.Sampler(running.pid)
    api_sampler = _proc.Sampler(h.apiserver_pid) if h.apiserver_pid else None
    try:
        with sampler:
            why = _wait_ready(h, running)
            if why is not None:
                running.stop()
                return {
                    **record,
                    "status": "failed",
                    "reason": f"{contender.name} {why}; log tail:\n{running.log_tail()}",
                }
            time.sleep(SETTLE_S)
            if api_sampler is not None:
                api_sampler.start()
            spy = None
            if h.py_spy and contender.kind == "vk-trio":
                spy = _profile.PySpy(running.pid, workdir / "py-spy.txt")
            before = request_totals(h)
            window_start = time.time()
            drive = _drive(h, node, scenario, workdir)
            last = sampler.sample()
            if spy is not None:
                record["profile"] = spy.finish()
            alive = running.process.poll() is None
            running.stop()
            time.sleep(1.0)
            after = request_totals(h)
            window_s = time.time() - window_start
        record.update(
            _resources(sampler, api_sampler, drive, last),
            requests=_attribute_requests(h, before, after, drive, window_s, running),
            drive_state=drive["state"],
            load_avg_after=list(_loadavg()),
            log_tail=running.log_tail(5),
        )
        record["drive"] = drive
        if not alive:
            record["status"] = "failed"
            record["reason"] = f"{contender.name} exited during the run:\n{running.log_tail()}"
        elif drive["state"] in ("running-capped", "delete-capped"):
            record["status"] = "capped"
        else:
            record["status"] = "ok"
        return record
    finally:
        if api_sampler is not None:
            api_sampler.stop()
        running.stop()
        _cleanup(h, node, record)


def _drive(h: Harness, node: str, scenario: Scenario, workdir: Path) -> dict[str, Any]:
    out = workdir / "drive.json"
    argv = [
        str(h.cluster.e2ebench),
        "drive",
        "-kubeconfig",
        str(h.cluster.kubeconfig),
        "-namespace",
        NAMESPACE,
        "-node",
        node,
        "-run",
        node,
        "-n",
        str(scenario.n),
        "-rate",
        str(scenario.rate),
        "-cap",
        f"{scenario.cap_s}s",
        "-hold",
        f"{scenario.hold_s}s",
        f"-delete={'true' if scenario.delete else 'false'}",
        "-out",
        str(out),
    ]
    budget = 2 * scenario.cap_s + scenario.hold_s + 120
    done = subprocess.run(argv, capture_output=True, text=True, timeout=budget, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"e2ebench drive failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _resources(
    sampler: _proc.Sampler,
    api_sampler: _proc.Sampler | None,
    drive: dict[str, Any],
    last: _proc.Sample | None,
) -> dict[str, Any]:
    """CPU seconds (workload window and whole life), peak and at-all-Running RSS, hold CPU."""
    t0, end = drive["t0_unix"], drive["end_unix"]
    out: dict[str, Any] = {}
    start_cpu, end_cpu = sampler.at(t0), sampler.at(end)
    out["cpu_s"] = None if start_cpu is None or end_cpu is None else end_cpu - start_cpu
    out["cpu_total_s"] = last.cpu_s if last else None
    out["peak_rss_bytes"] = sampler.peak_rss()
    out["rss_all_running_bytes"] = sampler.rss_at(drive["running_end_unix"])
    if drive.get("hold_start_unix"):
        h0, h1 = drive["hold_start_unix"], drive["hold_end_unix"]
        c0, c1 = sampler.at(h0), sampler.at(h1)
        if c0 is not None and c1 is not None:
            out["hold"] = {
                "seconds": h1 - h0,
                "cpu_s": c1 - c0,
                "cores": (c1 - c0) / (h1 - h0),
                "rss_bytes": sampler.rss_at(h1),
            }
    if api_sampler is not None:
        a0, a1 = api_sampler.at(t0), api_sampler.at(end)
        out["apiserver_cpu_s"] = None if a0 is None or a1 is None else a1 - a0
    out["samples"] = [
        [round(s.unix - t0, 2), round(s.cpu_s, 2), s.rss]
        for s in sampler.samples
        if s.unix >= t0 - 1
    ]
    return out


def _attribute_requests(  # noqa: PLR0917 - one private call site
    h: Harness,
    before: dict[str, int],
    after: dict[str, int],
    drive: dict[str, Any],
    window_s: float,
    running: _contenders.Running,
) -> dict[str, Any]:
    """The contender's API requests: server-side delta minus ours minus background."""
    ours: dict[str, int] = drive["requests"]
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    by_kind = {
        k: v - ours.get(k, 0)
        for k, v in sorted(delta.items())
        if k != "total" and v - ours.get(k, 0) > 0
    }
    background = h.background_per_s * window_s
    total = delta.get("total", 0) - ours.get("total", 0) - background
    out: dict[str, Any] = {
        "total": max(0, round(total)),
        "by_kind": by_kind,
        "background_estimate": round(background, 1),
        "driver_total": ours.get("total", 0),
        "window_s": round(window_s, 2),
    }
    counted = running.request_counts()
    if counted is not None:
        out["self_counted_total"] = counted.get("total")
    return out


def _cleanup(h: Harness, node: str, record: dict[str, Any]) -> None:
    try:
        record["cleanup"] = e2ebench(h, "cleanup", "-namespace", NAMESPACE, "-node", node)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        record["cleanup_error"] = str(exc)


def _loadavg() -> tuple[float, float, float]:
    with open("/proc/loadavg") as f:
        a, b, c = f.read().split()[:3]
    return float(a), float(b), float(c)
