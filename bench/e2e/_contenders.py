"""The contenders: how each one is installed, started against the control plane, and stopped.

Every contender runs as its own OS process on this machine, talks to the API server on loopback
with the admin credentials, and gets a fresh node name per trial. Where a contender serves a
kubelet API it is given a free loopback port (vk-trio binds to 127.0.0.1 only; the Go
virtual-kubelet has no flag for the address and listens on all interfaces of that port).

=========  ===============================================================================
vk-trio    ``vk-trio --provider mock`` at its defaults (this project)
go-vk      the Go ``virtual-kubelet`` v1.14.1 with its mock provider, stock flags
go-vk-tuned  ``bench/e2e/govk``: the Go virtual-kubelet library v1.14.1 (``node``, ``nodeutil``)
           with an instant provider and vk-trio-tuned's client, worker and event settings
kwok       kwok v0.8.0 managing one node, with this benchmark's stage files (``stages/``)
ceiling    ``e2ebench ceiling``: the least API work per pod, as fast as the API allows
=========  ===============================================================================

``vk-trio-traced`` is vk-trio at its defaults with ``--trace-exporter otlp --trace-sample-rate
always``, exporting every span to a local OTLP/HTTP sink in the benchmark process: against
``vk-trio`` (tracing off, the default) it measures what tracing costs with sampling on.

``vk-trio-baseline`` is vk-trio at its defaults run from *another* installation: the ``vk-trio``
executable named by ``$VK_TRIO_BASELINE`` (for example the venv of a second worktree checked out at
the commit before a change). It lets one run, on one control plane and interleaved by repetition,
compare a change against what came before it, instead of two runs at different machine loads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final, final

import attrs

from . import _tools
from ._otlp_sink import TRACED_ENV, sink_url

STAGES_DIR: Final = Path(__file__).resolve().parent / "stages"

#: The environment variable naming the ``vk-trio`` executable of the ``vk-trio-baseline`` contender.
BASELINE_ENV: Final = "VK_TRIO_BASELINE"

#: Flags for the ``vk-trio-tuned`` variant: the settings vk-trio documents for throughput. The
#: defaults already disable nothing that matters here, so this variant only lifts the client-side
#: rate limit and adds workers; keep it in step with docs/deploy.md.
VK_TRIO_TUNED_FLAGS: Final = (
    "--kube-api-qps",
    "5000",
    "--kube-api-burst",
    "10000",
    "--pod-sync-workers",
    "32",
    "--status-workers",
    "32",
)


#: Flags for the ``vk-trio-traced`` variant: the defaults plus tracing with every trace sampled,
#: exported over OTLP/HTTP to a local sink (``_otlp_sink``): the overhead of tracing on.
VK_TRIO_TRACED_FLAGS: Final = ("--trace-exporter", "otlp", "--trace-sample-rate", "always")


def _flag_value(flags: tuple[str, ...], name: str) -> str:
    return flags[flags.index(name) + 1]


#: The go-vk-tuned contender's settings, derived from vk-trio-tuned's so the two cannot drift:
#: the same client QPS/burst, the larger of its worker counts on each of the Go library's three
#: pod queues, and events on their own client at vk-trio's event defaults (which the tuned row
#: keeps). The Go library's token bucket on every pod enqueue is dropped in the program itself.
GO_VK_TUNED_FLAGS: Final = (
    "-qps",
    _flag_value(VK_TRIO_TUNED_FLAGS, "--kube-api-qps"),
    "-burst",
    _flag_value(VK_TRIO_TUNED_FLAGS, "--kube-api-burst"),
    "-workers",
    str(
        max(
            int(_flag_value(VK_TRIO_TUNED_FLAGS, "--pod-sync-workers")),
            int(_flag_value(VK_TRIO_TUNED_FLAGS, "--status-workers")),
        )
    ),
    "-event-qps",
    "50",
    "-event-burst",
    "100",
)

#: kwok's client settings, shown next to its row: kwok v0.8.0 builds its API client with an
#: always-allow rate limiter (``pkg/utils/client/clientset.go``), so it has no client-side limit
#: at all, whatever its flags; the harness changes nothing there.
KWOK_CLIENT: Final = "no client-side rate limit (kwok v0.8.0 always-allow limiter)"


@final
@attrs.frozen
class Contender:
    """One system under test; ``kind`` selects how it is launched."""

    name: str
    label: str
    kind: str  # vk-trio | vk-trio-baseline | go-vk | go-vk-tuned | kwok | ceiling
    extra_args: tuple[str, ...] = ()


CONTENDERS: Final = {
    c.name: c
    for c in (
        Contender("vk-trio", "vk-trio (mock, defaults)", "vk-trio"),
        Contender("vk-trio-tuned", "vk-trio (mock, tuned)", "vk-trio", VK_TRIO_TUNED_FLAGS),
        Contender("vk-trio-baseline", "vk-trio baseline (mock, defaults)", "vk-trio-baseline"),
        Contender(
            "vk-trio-traced",
            "vk-trio (mock, defaults, every trace exported over OTLP)",
            "vk-trio",
            VK_TRIO_TRACED_FLAGS,
        ),
        Contender("go-vk", "Go virtual-kubelet v1.14.1 (mock)", "go-vk"),
        Contender(
            "go-vk-tuned",
            "Go virtual-kubelet v1.14.1 library (instant provider, tuned)",
            "go-vk-tuned",
            GO_VK_TUNED_FLAGS,
        ),
        Contender("kwok", "kwok v0.8.0 (our stages; no client rate limit)", "kwok"),
        Contender("ceiling", "ceiling (client-go, minimal)", "ceiling"),
    )
}


class ContenderError(RuntimeError):
    """The contender could not be installed or started; the message says why."""


@final
@attrs.frozen
class Cluster:
    """What a contender needs to know about the control plane."""

    kubeconfig: Path
    kubelet_cert: Path
    kubelet_key: Path
    e2ebench: Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prepare(contender: Contender) -> dict[str, str]:
    """Install what ``contender`` needs (cached); returns a description (binary, version)."""
    try:
        if contender.kind == "go-vk":
            path = _tools.go_install(_tools.GO_VIRTUAL_KUBELET)
            return {"binary": str(path), "version": _tools.GO_VIRTUAL_KUBELET.version}
        if contender.kind == "kwok":
            path = _tools.go_install(_tools.KWOK)
            return {"binary": str(path), "version": _tools.KWOK.version}
        if contender.kind == "vk-trio":
            return {"binary": " ".join(_vk_trio_command()), "version": _vk_trio_version()}
        if contender.kind == "vk-trio-baseline":
            binary = _baseline_command()
            return {"binary": binary, "version": _baseline_version(binary)}
        if contender.kind == "ceiling":
            return {"binary": str(_tools.build_e2ebench()), "version": "bench/e2e/go"}
        if contender.kind == "go-vk-tuned":
            return {
                "binary": str(_tools.build_govk()),
                "version": f"bench/e2e/govk on virtual-kubelet {_tools.GO_VIRTUAL_KUBELET.version}",
            }
    except _tools.ToolError as exc:
        raise ContenderError(str(exc)) from exc
    raise ContenderError(f"unknown contender kind {contender.kind!r}")


def _vk_trio_command() -> list[str]:
    script = Path(sys.executable).with_name("vk-trio")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from vk_trio.cli import main; sys.exit(main())"]


def _baseline_command() -> str:
    """The baseline's ``vk-trio`` executable, checked before any trial starts."""
    binary = os.environ.get(BASELINE_ENV, "")
    if not binary:
        raise ContenderError(
            f"vk-trio-baseline needs ${BASELINE_ENV}: the vk-trio executable of another checkout"
        )
    if not os.access(binary, os.X_OK):
        raise ContenderError(f"${BASELINE_ENV}={binary} is not an executable file")
    return binary


def _baseline_version(binary: str) -> str:
    """The baseline's version line and, where it is a git checkout, its commit."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ContenderError(f"cannot run {binary} --version: {exc}") from exc
    checkout = Path(binary).resolve().parent.parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return out
    return f"{out} (commit {commit})"


def _vk_trio_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415 - only when vk-trio runs

    return version("vk-trio")


@final
@attrs.define
class Running:
    """A started contender process."""

    contender: Contender
    node: str
    process: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]
    counts_path: Path | None = None
    _log: IO[bytes] | None = attrs.field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the contender wrote (for failure reports)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode

    def request_counts(self) -> dict[str, int] | None:
        """Requests the contender counted itself (the ceiling does), else ``None``."""
        if self.counts_path is None or not self.counts_path.exists():
            return None
        data = json.loads(self.counts_path.read_text())
        counts: dict[str, int] = data["requests"]
        return counts


def _mock_config(workdir: Path, node: str) -> Path:
    """The mock provider's configuration (same format for vk-trio and Go)."""
    path = workdir / "mock.json"
    capacity = {"cpu": "1000", "memory": "4Ti", "pods": "100000"}
    path.write_text(json.dumps({node: capacity}))
    return path


def start(contender: Contender, cluster: Cluster, node: str, workdir: Path) -> Running:
    """Start ``contender`` for ``node``; it registers (or is handed) the node by itself."""
    workdir.mkdir(parents=True, exist_ok=True)
    env: Mapping[str, str] = dict(os.environ)
    counts_path: Path | None = None
    kubeconfig = str(cluster.kubeconfig)
    if contender.kind in ("vk-trio", "vk-trio-baseline", "go-vk"):
        env = {
            **env,
            "KUBELET_PORT": str(free_port()),
            "APISERVER_CERT_LOCATION": str(cluster.kubelet_cert),
            "APISERVER_KEY_LOCATION": str(cluster.kubelet_key),
            "VKUBELET_POD_IP": "127.0.0.1",
        }
        common = [
            "--provider",
            "mock",
            "--provider-config",
            str(_mock_config(workdir, node)),
            "--nodename",
            node,
            "--kubeconfig",
            kubeconfig,
            "--metrics-addr",
            f"127.0.0.1:{free_port()}",
        ]
        if contender.kind == "vk-trio":
            argv = [*_vk_trio_command(), *common, "--listen-address", "127.0.0.1"]
        elif contender.kind == "vk-trio-baseline":
            argv = [_baseline_command(), *common, "--listen-address", "127.0.0.1"]
        else:
            argv = [str(_tools.cache_dir() / "bin" / "virtual-kubelet"), *common]
    elif contender.kind == "kwok":
        argv = [
            str(_tools.cache_dir() / "bin" / "kwok"),
            "--kubeconfig",
            kubeconfig,
            "--manage-all-nodes=false",
            f"--manage-single-node={node}",
            "--node-ip=127.0.0.1",
            "--cidr=10.64.0.0/12",
            "--node-lease-duration-seconds=40",
            f"--config={STAGES_DIR / 'node.yaml'}",
            f"--config={STAGES_DIR / 'pod.yaml'}",
        ]
    elif contender.kind == "go-vk-tuned":
        argv = [
            str(_tools.build_govk()),
            "-kubeconfig",
            kubeconfig,
            "-nodename",
            node,
            "-provider-config",
            str(_mock_config(workdir, node)),
            "-pod-ip",
            "127.0.0.1",
        ]
    elif contender.kind == "ceiling":
        counts_path = workdir / "ceiling-counts.json"
        argv = [
            str(cluster.e2ebench),
            "ceiling",
            "-kubeconfig",
            kubeconfig,
            "-node",
            node,
            "-out",
            str(counts_path),
        ]
    else:
        raise ContenderError(f"unknown contender kind {contender.kind!r}")
    argv += list(contender.extra_args)
    if "--trace-exporter" in contender.extra_args:
        env = {**env, **TRACED_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url()}
    log_path = workdir / "contender.log"
    log = log_path.open("wb")
    try:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    except OSError as exc:
        log.close()
        raise ContenderError(f"cannot start {argv[0]}: {exc}") from exc
    return Running(contender, node, process, log_path, argv, counts_path, log)
