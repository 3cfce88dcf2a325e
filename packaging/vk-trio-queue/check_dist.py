"""Check the vk-trio-queue distribution on its own (``make queue-dist``, part of ``make test``).

1. Build the wheel from this directory (no build isolation: the dev venv has setuptools) and
   check that it holds exactly ``vk_trio/queue/*`` — no ``vk_trio/__init__.py``, which would
   collide with vk-trio's.
2. Create a fresh virtualenv (no pip in it) and install only that wheel into it, without an
   index: the dependency wheels come from ``~/.cache/vk-trio/wheels``, filled with
   ``pip download`` the first time (or when trio/attrs move on).  Then offline, and quick.
3. Run the docs example (docs/examples/queue_controller.py) in it and check its output.
4. Check that nothing else was installed (the installed set is exactly vk-trio-queue plus the
   closure of its requirements, which are trio and attrs) and nothing else was imported (no
   httpx, kubernetes, hypercorn, prometheus_client, no other vk_trio package), and that
   ``PrometheusMetricsProvider`` without the extra fails with a message naming the extra.

Run with the dev venv's Python: ``.venv/bin/python packaging/vk-trio-queue/check_dist.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "docs" / "examples" / "queue_controller.py"
WHEELS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vk-trio" / "wheels"

#: Top-level modules the queue must never pull in (vk-trio's other dependencies).
FORBIDDEN = (
    "httpx",
    "httpcore",
    "kubernetes",
    "hypercorn",
    "prometheus_client",
    "cattrs",
    "orjson",
    "trio_websocket",
    "h11",
    "yaml",
)

# Runs inside the fresh virtualenv: the example as a script, then what got imported.
RUNNER = """
import json, runpy, sys
runpy.run_path(sys.argv[1], run_name="__main__")
import vk_trio.queue
with open(sys.argv[2], "w") as out:
    json.dump({"modules": sorted(sys.modules), "queue_file": vk_trio.queue.__file__}, out)
"""

NO_EXTRA = """
import vk_trio.queue
try:
    vk_trio.queue.PrometheusMetricsProvider
except ModuleNotFoundError as exc:
    assert "vk-trio-queue[prometheus]" in str(exc), exc
else:
    raise SystemExit("PrometheusMetricsProvider imported without prometheus_client")
"""


def fail(message: str) -> NoReturn:
    """Stop with a one-line reason."""
    raise SystemExit(f"queue-dist: FAILED: {message}")


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing its output only when it fails."""
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        fail(f"{' '.join(str(a) for a in args[:6])} ... exited with {done.returncode}")
    return done  # type: ignore[no-any-return]


def build_wheel(out: Path) -> Path:
    # setuptools copies into build/ and packs whatever is there: start clean so that a file
    # deleted from vk_trio/queue cannot linger in the wheel.
    shutil.rmtree(HERE / "build", ignore_errors=True)
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", out, HERE)
    shutil.rmtree(HERE / "build", ignore_errors=True)
    (wheel,) = out.glob("vk_trio_queue-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if ".dist-info/" not in n}
    sources = REPO / "vk_trio" / "queue"
    expected = {f"vk_trio/queue/{p.name}" for p in sources.glob("*.py")} | {
        "vk_trio/queue/py.typed"
    }
    if shipped != expected:
        fail(f"the wheel holds {sorted(shipped ^ expected)} unexpectedly (or misses them)")
    return wheel


def install(venv_python: Path, wheel: Path) -> None:
    pip = (sys.executable, "-m", "pip", "--python", venv_python)
    offline = (*pip, "install", "--quiet", "--no-index", "--find-links", WHEELS, wheel)
    first = subprocess.run([str(a) for a in offline], capture_output=True, text=True, check=False)
    if first.returncode == 0:
        return
    # Not cached yet (or trio/attrs have moved on): fetch the dependency wheels once.
    print(f"queue-dist: caching the dependency wheels in {WHEELS}", flush=True)
    WHEELS.mkdir(parents=True, exist_ok=True)
    deps = [str(Requirement(r)) for r in _requires(wheel)]
    run(*pip[:3], "download", "--quiet", "--only-binary=:all:", "--dest", WHEELS, *deps)
    run(*offline)


def _requires(wheel: Path) -> list[str]:
    """The wheel's unconditional requirements (its Requires-Dist without an extra)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(name).decode()
    meta = [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    return [
        r
        for r in meta
        if Requirement(r).marker is None or "extra" not in str(Requirement(r).marker)
    ]


def check_installed(site: Path) -> None:
    """Installed = vk-trio-queue + the closure of its (marker-evaluated) requirements."""
    dists: dict[str, metadata.Distribution] = {
        canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])
    }
    root = dists.get("vk-trio-queue")
    if root is None:
        fail("vk-trio-queue is not installed in the fresh virtualenv")
    direct = {canonicalize_name(Requirement(r).name) for r in _unconditional(root)}
    if direct != {"trio", "attrs"}:
        fail(f"vk-trio-queue requires {sorted(direct)}, expected trio and attrs only")
    needed: set[str] = set()
    todo = ["vk-trio-queue"]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        dist = dists.get(name)
        if dist is None:
            fail(f"{name} is required but not installed")
        todo.extend(canonicalize_name(Requirement(r).name) for r in _unconditional(dist))
    extra = set(dists) - needed
    if extra:
        fail(f"installed without being needed: {sorted(extra)}")
    print(f"queue-dist: installed exactly {sorted(needed)}", flush=True)


def _unconditional(dist: metadata.Distribution) -> list[str]:
    """Requirements that apply here and now without any extra."""
    out = []
    for raw in dist.requires or []:
        req = Requirement(raw)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(raw)
    return out


def check_example(venv_python: Path, work: Path) -> None:
    report = work / "imports.json"
    runner = work / "runner.py"
    runner.write_text(RUNNER)
    # -I: no PYTHONPATH, no user site, not the script's directory: only the fresh venv counts.
    done = run(venv_python, "-I", runner, EXAMPLE, report, cwd=work)
    lines = done.stdout.splitlines()
    if [line.split(":")[0] for line in lines] != ["default/api", "default/web", "kube-system/dns"]:
        fail(f"the docs example printed {done.stdout!r}")
    if not all(": 5 replicas after " in line for line in lines):
        fail(f"the docs example did not converge: {done.stdout!r}")
    imports = json.loads(report.read_text())
    if not Path(imports["queue_file"]).is_relative_to(venv_python.parent.parent):
        fail(f"vk_trio.queue came from {imports['queue_file']}, not the fresh virtualenv")
    modules: list[str] = imports["modules"]
    bad = [m for m in modules if m.split(".")[0] in FORBIDDEN]
    bad += [m for m in modules if m.startswith("vk_trio.") and not m.startswith("vk_trio.queue")]
    if bad:
        fail(f"the example imported {bad}")
    run(venv_python, "-I", "-c", NO_EXTRA, cwd=work)
    print(f"queue-dist: the docs example ran; {len(modules)} modules imported, none forbidden")


def main() -> None:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vk-trio-queue-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        print(f"queue-dist: built {wheel.name}", flush=True)
        venv = work / "venv"
        run(sys.executable, "-m", "venv", "--without-pip", venv)
        venv_python = venv / "bin" / "python"
        install(venv_python, wheel)
        site = run(
            venv_python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        )
        check_installed(Path(site.stdout.strip()))
        check_example(venv_python, work)
    print(f"queue-dist: OK in {time.monotonic() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
