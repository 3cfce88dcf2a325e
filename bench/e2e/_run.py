"""The whole end-to-end run: one control plane, every contender through every scenario.

Trials are interleaved: repetition ``r`` runs the contenders in an order rotated by ``r``, so slow
drift of the machine (other load, etcd growth) falls on every contender alike. A contender that
cannot be installed, or that fails before its node is Ready, is reported as failed once and left
out of the rest of the run; the others carry on.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, final

import attrs

from . import _contenders, _figures, _tools, _trial

ROOT: Final = Path(__file__).resolve().parents[2]
SCRIPT: Final = ROOT / "scripts" / "controlplane"
RESULTS_DIR: Final = ROOT / "bench" / "results"
CAP_S: Final = 600.0

DEFAULT_CONTENDERS: Final = ("vk-trio", "go-vk", "kwok", "ceiling")
FULL_CONTENDERS: Final = ("vk-trio", "vk-trio-tuned", "go-vk", "go-vk-tuned", "kwok", "ceiling")


@final
@attrs.frozen
class Step:
    """A scenario, how often to run it, and for whom."""

    scenario: _trial.Scenario
    reps: int
    contenders: tuple[str, ...]
    group: str  # burst | arrival | steady | scale


def quick_plan(contenders: Sequence[str] = DEFAULT_CONTENDERS) -> list[Step]:
    """``make bench-quick``: 200 pods, once, each contender."""
    burst = _trial.Scenario("burst", 200, cap_s=300.0)
    return [Step(burst, 1, tuple(contenders), "burst")]


def full_plan(contenders: Sequence[str] = FULL_CONTENDERS, reps: int = 3) -> list[Step]:
    """``make bench``: the issue's scenarios."""
    cs = tuple(contenders)
    vk = tuple(c for c in cs if c.startswith("vk-trio"))[:1]
    steady_for = tuple(c for c in cs if c in ("vk-trio", "go-vk"))
    steps = [
        Step(_trial.Scenario("burst", 1000, cap_s=CAP_S), reps, cs, "burst"),
        Step(_trial.Scenario("burst", 10000, cap_s=CAP_S), reps, cs, "burst"),
        Step(
            _trial.Scenario("arrival", 6000, rate=100.0, delete=False, cap_s=CAP_S),
            reps,
            cs,
            "arrival",
        ),
    ]
    for n in (5000, 20000):
        steps.append(Step(_trial.Scenario("burst", n, cap_s=CAP_S), 1, vk, "scale"))
    # Getting 10,000 pods Running takes the stock Go virtual-kubelet over half an hour, so the
    # steady-state set-up has its own, longer cap; the measurement is the 5-minute hold.
    steady = _trial.Scenario("steady", 10000, delete=False, hold_s=300.0, cap_s=3600.0)
    steps.append(Step(steady, 1, steady_for, "steady"))
    # The same at 2,000 pods, which the Go version reaches in minutes: a like-for-like pair.
    small = _trial.Scenario("steady", 2000, delete=False, hold_s=300.0, cap_s=1200.0)
    steps.append(Step(small, 1, steady_for, "steady"))
    return [s for s in steps if s.contenders]


def _machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    go = shutil.which("go")
    go_version = (
        subprocess.run([go, "version"], capture_output=True, text=True, check=False).stdout.strip()
        if go
        else None
    )
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "go": go_version,
    }


def _start_controlplane(state: Path) -> dict[str, Any]:
    subprocess.run([str(SCRIPT), "up", str(state), "--profile", "bench"], check=True)
    ready: dict[str, Any] = json.loads((state / "ready.json").read_text())
    return ready


def run_suite(
    steps: Sequence[Step],
    *,
    quick: bool,
    results_path: Path,
    controlplane_dir: Path | None = None,
    command: str | None = None,
    background_s: float = 15.0,
    merge: bool = False,
    py_spy: bool = False,
) -> dict[str, Any]:
    """Run ``steps`` and write the results JSON to ``results_path``; returns the results."""
    names = sorted({c for s in steps for c in s.contenders})
    contenders = {n: _contenders.CONTENDERS[n] for n in names}
    results: dict[str, Any] = {
        "suite": "e2e",
        "quick": quick,
        "command": command
        or " ".join([Path(sys.executable).name, "-m", "bench.e2e", *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(),
        "contenders": {},
        "steps": [],
    }
    # Read what is to be merged into before the first step overwrites the file (each step is
    # written as soon as it is done, so a long run interrupted half-way keeps what it measured).
    old = json.loads(results_path.read_text()) if merge and results_path.exists() else None

    def save() -> dict[str, Any]:
        out = results if old is None else merge_results(old, results)
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(out, indent=1) + "\n")
        return out

    failed: dict[str, str] = {}
    for name, c in contenders.items():
        try:
            results["contenders"][name] = {"label": c.label, **_contenders.prepare(c)}
        except _contenders.ContenderError as exc:
            failed[name] = f"not installed: {exc}"
            results["contenders"][name] = {"label": c.label, "error": failed[name]}
            print(f"e2e: {name}: {failed[name]}", flush=True)
    e2ebench = _tools.build_e2ebench()
    with tempfile.TemporaryDirectory(prefix="vk-bench-e2e-") as tmp:
        own = controlplane_dir is None
        state = Path(tmp) / "cp" if controlplane_dir is None else controlplane_dir
        ready = (
            _start_controlplane(state) if own else json.loads((state / "ready.json").read_text())
        )
        try:
            paths = ready["paths"]
            cluster = _contenders.Cluster(
                kubeconfig=Path(paths["kubeconfig"]),
                kubelet_cert=Path(paths["kubelet_cert"]),
                kubelet_key=Path(paths["kubelet_key"]),
                e2ebench=e2ebench,
            )
            results["control_plane"] = {
                "version": ready.get("version"),
                "profile": ready.get("profile"),
                "watch_cache": ready.get("watch_cache"),
            }
            _trial.e2ebench(cluster, "namespace", "-name", _trial.NAMESPACE)
            background = _trial.measure_background(cluster, background_s)
            results["control_plane"]["background_requests_per_s"] = round(background, 3)
            harness = _trial.Harness(
                cluster=cluster,
                apiserver_pid=ready.get("pids", {}).get("apiserver"),
                workdir=Path(tmp) / "trials",
                background_per_s=background,
                py_spy=py_spy,
            )
            for step in steps:
                done = _run_step(harness, step, contenders, failed)
                done["command"] = results["command"]
                done["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                # Each contender's figures carry their own provenance, so that a later
                # --merge that replaces some of them names only the commands still behind
                # the step.
                for result in done["results"].values():
                    result["command"], result["when"] = done["command"], done["when"]
                results["steps"].append(done)
                results["failed_contenders"] = failed
                save()
        finally:
            if own:
                subprocess.run([str(SCRIPT), "down", str(state)], check=False)
    results["failed_contenders"] = failed
    return save()


def merge_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` on top of ``old``: what was run again replaces what was there, the rest is kept.

    Lets a long benchmark be run in parts (``--merge``). Within a scenario run in both, the
    contenders run anew replace their old results and the others keep theirs (so a slow
    contender can be measured by a run of its own); the step then names the commands behind
    the results it still holds (each result's own ``command``; a result without one, from an
    older file, is credited to its step's). The contenders' descriptions are united.
    """
    steps = [dict(s) for s in old.get("steps", [])]
    keys = [s["scenario"] for s in steps]
    for step in new["steps"]:
        if step["scenario"] not in keys:
            steps.append(step)
            keys.append(step["scenario"])
            continue
        i = keys.index(step["scenario"])
        before = steps[i]
        fresh = step.get("results", {})
        kept = {k: v for k, v in before.get("results", {}).items() if k not in fresh}
        merged_step = dict(step)
        if kept:
            merged_step["results"] = {**kept, **fresh}
            commands = [r.get("command") or before.get("command", "") for r in kept.values()]
            commands += [r.get("command") or step.get("command", "") for r in fresh.values()]
            merged_step["command"] = "; ".join(
                dict.fromkeys(part for c in commands for part in c.split("; ") if part)
            )
        steps[i] = merged_step
    merged = dict(new)
    merged["steps"] = steps
    merged["contenders"] = {**old.get("contenders", {}), **new["contenders"]}
    failed = {**old.get("failed_contenders", {}), **new.get("failed_contenders", {})}
    for name in new["contenders"]:
        if name not in new.get("failed_contenders", {}):
            failed.pop(name, None)
    merged["failed_contenders"] = failed
    merged["command"] = "; ".join(
        dict.fromkeys(c for s in steps for c in s.get("command", "").split("; ") if c)
    )
    return merged


def _run_step(
    h: _trial.Harness,
    step: Step,
    contenders: dict[str, _contenders.Contender],
    failed: dict[str, str],
) -> dict[str, Any]:
    sc = step.scenario
    trials: dict[str, list[dict[str, Any]]] = {c: [] for c in step.contenders}
    for rep in range(step.reps):
        k = rep % len(step.contenders)
        order = step.contenders[k:] + step.contenders[:k]
        for name in order:
            if name in failed:
                continue
            print(f"e2e: {sc.key} rep {rep + 1}/{step.reps}: {name} ...", flush=True)
            record = _one(h, contenders[name], sc)
            record["rep"] = rep + 1
            trials[name].append(record)
            _say(name, record)
            if record["status"] == "failed" and "figures" not in record:
                failed[name] = record.get("reason", "failed")
    out: dict[str, Any] = {
        "group": step.group,
        "scenario": sc.key,
        "n": sc.n,
        "rate": sc.rate,
        "cap_s": sc.cap_s,
        "hold_s": sc.hold_s,
        "results": {},
    }
    for name, ts in trials.items():
        chosen = _figures.representative(ts)
        out["results"][name] = {
            "median": _figures.medians(ts),
            "trials": ts,
            "curve": chosen["curve"] if chosen else None,
            "cdf": chosen["cdf"] if chosen else None,
            "failure": failed.get(name)
            if not ts or all(t["status"] == "failed" for t in ts)
            else None,
        }
    return out


def _one(
    h: _trial.Harness, contender: _contenders.Contender, sc: _trial.Scenario
) -> dict[str, Any]:
    try:
        record = _trial.run_trial(h, contender, sc)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        return {
            "contender": contender.name,
            "scenario": sc.key,
            "status": "failed",
            "reason": str(exc),
        }
    drive = record.pop("drive", None)
    if drive is not None:
        record["figures"] = _figures.figures({**record, "drive": drive})
        record["curve"] = _figures.running_curve(drive)
        record["cdf"] = _figures.latency_cdf(drive)
    return record


def _say(name: str, record: dict[str, Any]) -> None:
    f = record.get("figures")
    if f is None:
        reason = str(record.get("reason", "")).splitlines()
        print(
            f"e2e:   {name}: {record['status']}: {' | '.join(reason[:1] + reason[-3:])}", flush=True
        )
        return

    def num(key: str, fmt: str = "{:.1f}") -> str:
        v = f.get(key)
        return "-" if v is None else fmt.format(v)

    print(
        f"e2e:   {name}: {record['status']}: running {f['running']}/{f['n']} "
        f"all-Running {num('time_to_all_running_s')}s ({num('pods_per_s')} pods/s) "
        f"p50 {num('latency_p50_s', '{:.2f}')}s p99 {num('latency_p99_s', '{:.2f}')}s "
        f"deleted {num('time_to_all_deleted_s')}s cpu {num('cpu_s')}s "
        f"rss {num('peak_rss_mb', '{:.0f}')}MB requests {f.get('api_requests')}",
        flush=True,
    )
