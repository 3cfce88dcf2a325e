"""``vk-trio`` as a real subprocess against the real control plane: start, serve, stop."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._controlplane import ApiError, ControlPlane
from tests._waits import WAIT

pytestmark = pytest.mark.controlplane

VK_TRIO = str(Path(sys.executable).with_name("vk-trio"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(what: str, check: object, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class VkProcess:
    def __init__(self, proc: subprocess.Popen[str], node: str, metrics: int) -> None:
        self.proc = proc
        self.node = node
        self.metrics = metrics

    def stop(self, timeout: float = WAIT) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


@pytest.fixture
def vk(controlplane: ControlPlane, tmp_path: Path) -> Iterator[VkProcess]:
    node = f"vk-cli-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({node: {"cpu": "8", "memory": "16Gi", "pods": "50"}}))
    metrics = _free_port()
    env = {
        **os.environ,
        "KUBELET_PORT": str(_free_port()),
        "VKUBELET_POD_IP": "127.0.0.1",
        "APISERVER_CERT_LOCATION": str(controlplane.kubelet_cert),
        "APISERVER_KEY_LOCATION": str(controlplane.kubelet_key),
        "APISERVER_CA_CERT_LOCATION": str(controlplane.ca_cert),
    }
    proc = subprocess.Popen(
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
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = VkProcess(proc, node, metrics)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        with controlplane.admin_client() as api, contextlib.suppress(ApiError):
            api.delete(f"/api/v1/nodes/{node}")


def _node_ready(api: object, node: str) -> bool:
    try:
        obj = api.get(f"/api/v1/nodes/{node}")  # type: ignore[attr-defined]
    except ApiError:
        return False
    conditions = {c["type"]: c["status"] for c in obj["status"].get("conditions", [])}
    return conditions.get("Ready") == "True"


def test_runs_a_pod_serves_metrics_and_stops_gracefully_on_sigterm(
    controlplane: ControlPlane, namespace: str, vk: VkProcess
) -> None:
    with controlplane.admin_client() as api:
        _wait("the node to be Ready", lambda: _node_ready(api, vk.node))
        health = httpx.get(f"http://127.0.0.1:{vk.metrics}/healthz", timeout=WAIT)
        assert (health.status_code, health.text) == (200, "ok")
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "nodeName": vk.node,
                "containers": [{"name": "app", "image": "nginx"}],
            },
        }
        api.create(f"/api/v1/namespaces/{namespace}/pods", pod)
        path = f"/api/v1/namespaces/{namespace}/pods/web"
        _wait("the pod to run", lambda: api.get(path)["status"].get("phase") == "Running")
        metrics = httpx.get(f"http://127.0.0.1:{vk.metrics}/metrics", timeout=WAIT).text
        assert 'workqueue_adds_total{name="' in metrics
        assert 'vk_trio_api_request_duration_seconds_count{code="200",verb="GET"}' in metrics
        # The kubelet API the process serves, reached the way users reach it: kubectl through
        # the API server, which authenticates to us with its kubelet client certificate.
        logs = controlplane.kubectl("logs", "-n", namespace, "web", "--tail", "2")
        assert len(logs.stdout.splitlines()) == 2, logs.stdout
        hello = controlplane.kubectl("exec", "-n", namespace, "web", "--", "echo", "hello")
        assert hello.stdout == "hello\n"
        code, err = vk.stop()
    assert code == 0, err
    assert "graceful shutdown" in err


def test_unreachable_api_server_fails_start_within_startup_timeout(
    controlplane: ControlPlane, tmp_path: Path
) -> None:
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
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({"vk-nowhere": {}}))
    env = {
        **os.environ,
        "KUBELET_PORT": str(_free_port()),
        "APISERVER_CERT_LOCATION": str(controlplane.kubelet_cert),
        "APISERVER_KEY_LOCATION": str(controlplane.kubelet_key),
    }
    result = subprocess.run(
        [
            VK_TRIO,
            "--provider",
            "mock",
            "--provider-config",
            str(config),
            "--nodename",
            "vk-nowhere",
            "--kubeconfig",
            str(kubeconfig),
            "--startup-timeout",
            "3s",
            "--metrics-addr",
            f"127.0.0.1:{_free_port()}",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "was not ready within --startup-timeout 3.0s" in result.stderr
    assert "Traceback" not in result.stderr


def test_metrics_on_any_free_port_and_load_balancer_exclusion_off(
    controlplane: ControlPlane, tmp_path: Path
) -> None:
    node = f"vk-cli-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({node: {}}))
    env = {
        **os.environ,
        "KUBELET_PORT": str(_free_port()),
        "APISERVER_CERT_LOCATION": str(controlplane.kubelet_cert),
        "APISERVER_KEY_LOCATION": str(controlplane.kubelet_key),
        "APISERVER_CA_CERT_LOCATION": str(controlplane.ca_cert),
    }
    argv = [VK_TRIO, "--provider", "mock", "--provider-config", str(config), "--nodename", node]
    argv += ["--kubeconfig", str(controlplane.kubeconfig), "--metrics-addr", "127.0.0.1:0"]
    argv += ["--load-balancer-exclusion=false"]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        pattern = re.compile(r"metrics, /healthz and /livez on http://127\.0\.0\.1:(\d+)")

        def chosen_port() -> int | None:
            for line in list(lines):
                if match := pattern.search(line):
                    return int(match.group(1))
            return None

        _wait("the metrics port in the log", lambda: chosen_port() is not None, timeout=120)
        port = chosen_port()
        assert port is not None and port != 0
        with controlplane.admin_client() as api:
            _wait("the node to be Ready", lambda: _node_ready(api, node), timeout=120)
            labels = api.get(f"/api/v1/nodes/{node}")["metadata"]["labels"]
            assert "node.kubernetes.io/exclude-from-external-load-balancers" not in labels
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert (health.status_code, health.text) == (200, "ok")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
        with controlplane.admin_client() as api, contextlib.suppress(ApiError):
            api.delete(f"/api/v1/nodes/{node}")
