"""The Go programs the benchmark runs: our own ``e2ebench`` and the two Go contenders.

``e2ebench`` (``bench/e2e/go``) is built from this tree and cached by a hash of its sources. The
Go virtual-kubelet and kwok are installed with ``go install module@version`` into the vk-trio
cache (``${XDG_CACHE_HOME:-~/.cache}/vk-trio/bin``, never into the work tree) and reinstalled when
the binary there is not the pinned version (read back with ``go version -m``). Compiling them takes
minutes on a small machine, so it happens once per machine, gently (``-p=1``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final, final

import attrs

GO_DIR: Final = Path(__file__).resolve().parent / "go"


def cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/vk-trio``, where binaries built or installed here live."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "vk-trio"


class ToolError(RuntimeError):
    """A Go program could not be built or installed; the message says why."""


@final
@attrs.frozen
class GoInstall:
    """A command installed with ``go install MODULE/PATH@VERSION``."""

    binary: str
    package: str
    module: str
    version: str


GO_VIRTUAL_KUBELET: Final = GoInstall(
    binary="virtual-kubelet",
    package="github.com/virtual-kubelet/virtual-kubelet/cmd/virtual-kubelet",
    module="github.com/virtual-kubelet/virtual-kubelet",
    version="v1.14.1",
)
KWOK: Final = GoInstall(
    binary="kwok",
    package="sigs.k8s.io/kwok/cmd/kwok",
    module="sigs.k8s.io/kwok",
    version="v0.8.0",
)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolError("the go command is not installed (Go >= 1.26 is needed)")
    return go


def _go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    env.update(extra)
    return env


class _Lock:
    """An exclusive file lock, so concurrent runs (a test and ``make bench``) build once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w")

    def __enter__(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted([GO_DIR / "go.mod", GO_DIR / "go.sum", *GO_DIR.glob("*.go")]):
        if path.name.endswith("_test.go"):
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_e2ebench() -> Path:
    """Build (or reuse) the ``e2ebench`` binary; returns its path."""
    binary = cache_dir() / f"e2ebench-{_source_hash()}"
    if binary.exists():
        return binary
    with _Lock(cache_dir() / "e2ebench.lock"):
        if binary.exists():
            return binary
        tmp = binary.with_name(binary.name + f".tmp{os.getpid()}")
        done = subprocess.run(
            [_go(), "build", "-mod=readonly", "-trimpath", "-o", str(tmp), "."],
            cwd=GO_DIR,
            env=_go_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ToolError(f"go build of bench/e2e/go failed: {done.stderr.strip()[-800:]}")
        tmp.replace(binary)
        for old in binary.parent.glob("e2ebench-*"):
            if old != binary and not old.name.endswith(".lock"):
                old.unlink(missing_ok=True)
    return binary


def installed_version(binary: Path, module: str) -> str | None:
    """The version of ``module`` that ``binary`` was built from, per ``go version -m``."""
    if not binary.exists():
        return None
    done = subprocess.run(
        [_go(), "version", "-m", str(binary)],
        capture_output=True,
        text=True,
        check=False,
        env=_go_env(),
    )
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "mod" and fields[1] == module:
            return fields[2]
    return None


def go_install(tool: GoInstall, *, timeout: float = 3600.0) -> Path:
    """Install ``tool`` at its pinned version into the cache unless it is there; its path."""
    bindir = cache_dir() / "bin"
    binary = bindir / tool.binary
    if installed_version(binary, tool.module) == tool.version:
        return binary
    with _Lock(cache_dir() / f"install-{tool.binary}.lock"):
        if installed_version(binary, tool.module) == tool.version:
            return binary
        print(
            f"e2e: installing {tool.package}@{tool.version} into {bindir} "
            "(a cold compile takes several minutes)",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="vk-trio-goinstall-") as cwd:
            try:
                done = subprocess.run(
                    [_go(), "install", f"{tool.package}@{tool.version}"],
                    cwd=cwd,  # outside any module, so only the pinned version counts
                    env=_go_env(GOBIN=str(bindir), GOFLAGS="-p=1"),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ToolError(f"go install {tool.package} took over {timeout:.0f}s") from exc
        if done.returncode != 0:
            raise ToolError(
                f"go install {tool.package}@{tool.version} failed: {done.stderr.strip()[-800:]}"
            )
        found = installed_version(binary, tool.module)
        if found != tool.version:
            raise ToolError(f"{binary} reports {tool.module} {found}, not {tool.version}")
    return binary
