"""The Go programs the benchmark runs: our own ``e2ebench``, ``go-vk-tuned`` and the Go contenders.

``e2ebench`` (``bench/e2e/go``) and ``go-vk-tuned`` (``bench/e2e/govk``, its own module on the
Go virtual-kubelet's public packages) are built from this tree with ``-mod=readonly`` against
their checked-in ``go.sum`` and cached by a hash of their sources. The
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
#: The go-vk-tuned contender: its own module, so that the Go virtual-kubelet's dependency versions
#: do not move e2ebench's.
GOVK_DIR: Final = Path(__file__).resolve().parent / "govk"


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


def _source_hash(src: Path = GO_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted([src / "go.mod", src / "go.sum", *src.glob("*.go")]):
        if path.name.endswith("_test.go"):
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_e2ebench() -> Path:
    """Build (or reuse) the ``e2ebench`` binary; returns its path."""
    return _build(GO_DIR, "e2ebench")


def build_govk() -> Path:
    """Build (or reuse) the ``go-vk-tuned`` binary; returns its path.

    The first build downloads the Go virtual-kubelet v1.14.1 and its dependencies through the Go
    module proxy (checked against ``govk/go.sum``) and compiles them: minutes on a small machine.
    """
    return _build(GOVK_DIR, "go-vk-tuned", gentle=True)


def _build(src: Path, name: str, *, gentle: bool = False) -> Path:
    """``go build`` the module in ``src`` into the cache, named by a hash of its sources."""
    binary = cache_dir() / f"{name}-{_source_hash(src)}"
    if binary.exists():
        return binary
    with _Lock(cache_dir() / f"{name}.lock"):
        if binary.exists():
            return binary
        if gentle:
            print(
                f"e2e: building {name} into {binary.parent} (a cold build takes minutes)",
                flush=True,
            )
        tmp = binary.with_name(binary.name + f".tmp{os.getpid()}")
        extra = ["-p=1"] if gentle else []
        done = subprocess.run(
            [_go(), "build", "-mod=readonly", *extra, "-trimpath", "-o", str(tmp), "."],
            cwd=src,
            env=_go_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            rel = src.relative_to(src.parents[2])
            raise ToolError(f"go build of {rel} failed: {done.stderr.strip()[-800:]}")
        tmp.replace(binary)
        for old in binary.parent.glob(f"{name}-*"):
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
