"""Fuzzing every parser that reads network bytes (``python -m bench fuzz``; ``make fuzz``).

Not part of CI: the Hypothesis tests in ``tests/fuzz`` run the same targets briefly on every
change; this runs them long.  Each target (see :mod:`.targets`) gets its share of the input
budget (1.2 million by default, split by each target's cost so that every target runs for a
similar time), drawn by the mutation engine (:mod:`._mutate`) from the seed corpus kept in
``tests/fuzz/corpus/<target>/``.  Inputs run in batches; a batch that takes longer than
``HANG_SECONDS`` is a hang (then each of its inputs is replayed alone to find the culprit).
A crashing or hanging input is written to ``bench/results/fuzz-findings/`` - add it to the
corpus once the bug is fixed, so that the tests replay it for ever.

With ``--engine atheris`` (if ``atheris`` is installed) each target runs under libFuzzer's
coverage-guided mutator instead, in a child process per target.

Prints one line per target (inputs, crashes, hangs, seconds, inputs per second) and writes
``bench/results/fuzz.json``.  The run fails (exit 1 from ``python -m bench.fuzz``) on any
crash or hang.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

import attrs

from ._mutate import mutations
from .seeds import load_corpus
from .targets import TARGETS, Finding, Target

RESULTS = Path(__file__).resolve().parent.parent / "results"
FINDINGS = RESULTS / "fuzz-findings"
DEFAULT_INPUTS = 1_200_000
QUICK_INPUTS = 20_000
BATCH = 500
HANG_SECONDS = 120.0


@attrs.define
class TargetResult:
    target: str
    inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    findings: list[str] = attrs.field(factory=list)


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Hang


def _budget(total: int, targets: list[Target]) -> dict[str, int]:
    """Split ``total`` so that each target gets about the same time (fewer inputs for the
    costly ones), at least 200 each."""
    weights = {t.name: 1 / t.cost for t in targets}
    scale = total / sum(weights.values())
    shares = {name: max(200, int(w * scale)) for name, w in weights.items()}
    # Put the rounding remainder on the cheapest target so the total is exact.
    cheapest = max(weights, key=lambda n: weights[n])
    shares[cheapest] += total - sum(shares.values())
    return shares


def _record(result: TargetResult, finding: Finding | None, data: bytes, kind: str) -> None:
    FINDINGS.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = FINDINGS / f"{result.target}-{kind}-{digest}.bin"
    path.write_bytes(data)
    if kind == "hang":
        result.hangs += 1
    else:
        result.crashes += 1
    result.findings.append(f"{path.name}: {finding if finding is not None else kind}")


def _run_batch(target: Target, batch: list[bytes], result: TargetResult) -> None:
    pending = batch
    while pending:
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        try:
            target.run(pending)
            pending = []
        except _Hang:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _isolate_hang(target, pending, result)
            pending = []
        except Finding as finding:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if finding.kind == "hang":
                _record(result, finding, finding.data, "hang")
            else:
                _record(result, finding, finding.data, "crash")
            index = next(i for i, d in enumerate(pending) if d is finding.data)
            pending = pending[index + 1 :]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _isolate_hang(target: Target, batch: list[bytes], result: TargetResult) -> None:
    for data in batch:
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        try:
            target.run([data])
        except _Hang:
            _record(result, None, data, "hang")
        except Finding as finding:
            _record(result, finding, data, finding.kind)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def fuzz_target(target: Target, count: int, seed: int) -> TargetResult:
    result = TargetResult(target.name)
    corpus = load_corpus(target.name)
    previous = signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    try:
        batch: list[bytes] = []
        for data in mutations(corpus, count, seed):
            batch.append(data)
            if len(batch) == BATCH:
                _run_batch(target, batch, result)
                result.inputs += len(batch)
                batch = []
        if batch:
            _run_batch(target, batch, result)
            result.inputs += len(batch)
    finally:
        signal.signal(signal.SIGALRM, previous)
    result.seconds = time.perf_counter() - start
    return result


def fuzz_target_atheris(target: Target, count: int) -> TargetResult:
    """One child process running ``bench.fuzz._atheris`` (libFuzzer) for ``count`` inputs."""
    result = TargetResult(target.name)
    FINDINGS.mkdir(parents=True, exist_ok=True)
    corpus_dir = Path(__file__).resolve().parents[2] / "tests" / "fuzz" / "corpus" / target.name
    # libFuzzer adds the inputs it finds interesting to the first corpus directory: give it a
    # scratch one, so that the committed corpus only grows by hand.
    scratch = tempfile.mkdtemp(prefix=f"vk-fuzz-{target.name}-")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.fuzz._atheris",
            target.name,
            f"-runs={count}",
            f"-timeout={int(HANG_SECONDS)}",
            f"-artifact_prefix={FINDINGS}/{target.name}-",
            "-max_len=4096",
            scratch,
            str(corpus_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    result.seconds = time.perf_counter() - start
    shutil.rmtree(scratch, ignore_errors=True)
    result.inputs = count
    for line in proc.stderr.splitlines():
        if line.startswith("Done ") and "runs" in line:
            result.inputs = int(line.split()[1])
    if proc.returncode != 0:
        kind = "hang" if "timeout" in proc.stderr.lower() else "crash"
        if kind == "hang":
            result.hangs += 1
        else:
            result.crashes += 1
        result.findings.append(proc.stderr[-2000:])
    return result


def run(quick: bool, *, total: int | None = None, engine: str = "builtin", seed: int = 13,
        names: list[str] | None = None) -> list[TargetResult]:  # fmt: skip
    selected = [TARGETS[n] for n in (names or list(TARGETS))]
    budget = _budget(total or (QUICK_INPUTS if quick else DEFAULT_INPUTS), selected)
    print(f"fuzz: {sum(budget.values()):,} inputs over {len(selected)} targets ({engine})")
    print(
        f"{'target':20s} {'inputs':>10s} {'crashes':>8s} {'hangs':>6s} {'seconds':>8s} {'/s':>8s}"
    )
    results = []
    load_before = os.getloadavg()[0]
    for n, target in enumerate(selected):
        count = budget[target.name]
        if engine == "atheris":
            result = fuzz_target_atheris(target, count)
        else:
            result = fuzz_target(target, count, seed + n)
        results.append(result)
        rate = result.inputs / result.seconds if result.seconds else 0.0
        print(
            f"{result.target:20s} {result.inputs:>10,} {result.crashes:>8} {result.hangs:>6} "
            f"{result.seconds:>8.1f} {rate:>8,.0f}",
            flush=True,
        )
        for finding in result.findings:
            print(f"  finding: {finding}")
    inputs = sum(r.inputs for r in results)
    seconds = sum(r.seconds for r in results)
    crashes = sum(r.crashes for r in results)
    hangs = sum(r.hangs for r in results)
    print(f"{'total':20s} {inputs:>10,} {crashes:>8} {hangs:>6} {seconds:>8.1f}")
    document: dict[str, Any] = {
        "suite": "fuzz",
        "quick": quick,
        "engine": engine,
        "seed": seed,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count() or 0,
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        },
        "totals": {"inputs": inputs, "crashes": crashes, "hangs": hangs, "seconds": seconds},
        "targets": [attrs.asdict(r) for r in results],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "fuzz.json" if engine == "builtin" else f"fuzz-{engine}.json"
    (RESULTS / name).write_text(json.dumps(document, indent=2) + "\n")
    return results
