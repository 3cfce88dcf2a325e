"""SIGTERM and SIGINT stop a real ``vk-trio`` process in every phase (issue 13.10).

Start-up against an API server that does not answer (registration retries for ever): the first
signal ends the process with status 0. A running node whose provider call hangs: the first
signal starts the graceful drain, a second one cuts it short (status 2).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._controlplane import ApiError, ControlPlane
from tests._waits import WAIT

from .test_cli_run import VK_TRIO, _free_port, _node_ready, _wait

pytestmark = pytest.mark.controlplane


class Process:
    """A ``vk-trio`` process whose stderr is collected as it comes (to wait on log lines)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self.lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=30)


def _env(cp: ControlPlane) -> dict[str, str]:
    return {
        **os.environ,
        "KUBELET_PORT": str(_free_port()),
        "VKUBELET_POD_IP": "127.0.0.1",
        "APISERVER_CERT_LOCATION": str(cp.kubelet_cert),
        "APISERVER_KEY_LOCATION": str(cp.kubelet_key),
        "APISERVER_CA_CERT_LOCATION": str(cp.ca_cert),
    }


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=WAIT)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    port = _free_port()  # nothing listens there
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return kubeconfig


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_start_up_against_a_dead_api_server(
    controlplane: ControlPlane, tmp_path: Path, dead_kubeconfig: Path, signum: signal.Signals
) -> None:
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({"vk-nowhere": {}}))
    metrics = _free_port()
    vk = Process(
        [
            VK_TRIO,
            "--provider",
            "mock",
            "--provider-config",
            str(config),
            "--nodename",
            "vk-nowhere",
            "--kubeconfig",
            str(dead_kubeconfig),
            "--startup-timeout",
            "0",  # no start-up deadline: only the signal can end it
            "--metrics-addr",
            f"127.0.0.1:{metrics}",
        ],
        _env(controlplane),
    )
    try:
        # the metrics endpoint listens before the node registers: start-up is under way
        _wait("the metrics endpoint", lambda: _answers(f"http://127.0.0.1:{metrics}/healthz"), 120)
        # not ready (nothing registered), but alive: liveness does not depend on the API server
        base = f"http://127.0.0.1:{metrics}"
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 503
        assert httpx.get(f"{base}/livez", timeout=30).text == "ok"
        vk.proc.send_signal(signum)
        code = vk.wait(timeout=120)
    finally:
        vk.kill()
    assert code == 0, vk.stderr
    assert "graceful shutdown" in vk.stderr
    assert "stopping before the node was ready" in vk.stderr
    assert "Traceback" not in vk.stderr


def _provider_call_running(metrics: int) -> bool:
    """A sync worker is inside a provider call (the mock's create hangs)."""
    text = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=WAIT).text
    running = re.findall(
        r"^workqueue_longest_running_processor_seconds\{[^}]*\} (\S+)$", text, re.M
    )
    return any(float(value) > 0 for value in running)


@pytest.fixture
def hung_node(controlplane: ControlPlane, tmp_path: Path) -> Iterator[tuple[Process, str, int]]:
    node = f"vk-hung-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({node: {"knobs": {"latency": {"create": 3600}}}}))
    metrics = _free_port()
    vk = Process(
        [
            VK_TRIO,
            "--provider",
            "mock",
            "--provider-config",
            str(config),
            "--nodename",
            node,
            "--kubeconfig",
            str(controlplane.kubeconfig),
            "--metrics-addr",
            f"127.0.0.1:{metrics}",
        ],
        _env(controlplane),
    )
    try:
        yield vk, node, metrics
    finally:
        vk.kill()
        with controlplane.admin_client() as api, contextlib.suppress(ApiError):
            api.delete(f"/api/v1/nodes/{node}")


def test_a_second_signal_cuts_the_graceful_drain_short(
    controlplane: ControlPlane, namespace: str, hung_node: tuple[Process, str, int]
) -> None:
    vk, node, metrics = hung_node
    with controlplane.admin_client() as api:
        _wait("the node to be Ready", lambda: _node_ready(api, node), 120)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]},
        }
        api.create(f"/api/v1/namespaces/{namespace}/pods", pod)
    _wait("the provider's create to hang", lambda: _provider_call_running(metrics), 120)
    vk.proc.send_signal(signal.SIGTERM)
    # the drain waits for the hung create (up to its bound); a second signal does not
    _wait("the graceful shutdown to begin", lambda: "graceful shutdown" in vk.stderr, 120)
    vk.proc.send_signal(signal.SIGTERM)
    code = vk.wait(timeout=120)
    assert code == 2, vk.stderr
    assert "exiting without draining" in vk.stderr
    assert "Traceback" not in vk.stderr
