"""The process provider end to end: ``vk-trio --provider process`` as a real subprocess against
the real control plane, pods as real processes on this machine, driven through ``kubectl``.

One vk-trio serves the module's tests (each in its own namespace); the restart test runs its
own.  Every wait is condition-based with generous bounds (a loaded 2-core machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._controlplane import ApiError, ControlPlane
from vk_trio_process import ProcessProvider, parse_process_config

pytestmark = pytest.mark.controlplane

VK_TRIO = str(Path(sys.executable).with_name("vk-trio"))
JSON = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class ProcessNode:
    """A running ``vk-trio --provider process`` and the cluster it serves."""

    def __init__(self, cp: ControlPlane, directory: Path, *, name: str | None = None) -> None:
        self.cp = cp
        self.name = name or f"vk-proc-{uuid.uuid4().hex[:6]}"
        self.state = directory / "state"
        self.config = directory / "process.yaml"
        self.config.write_text(f"stateDir: {self.state}\n")
        self.port = _free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.log = directory / "vk-trio.log"  # kept for a failing test's report

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBELET_PORT": str(self.port),
            "VKUBELET_POD_IP": "127.0.0.1",
            "APISERVER_CERT_LOCATION": str(self.cp.kubelet_cert),
            "APISERVER_KEY_LOCATION": str(self.cp.kubelet_key),
            "APISERVER_CA_CERT_LOCATION": str(self.cp.ca_cert),
        }
        with self.log.open("a") as log:
            self.proc = self._spawn(env, log)
        _wait(f"node {self.name} to be Ready", self._ready)

    def _spawn(self, env: dict[str, str], log: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                *(VK_TRIO, "--provider", "process", "--provider-config", str(self.config)),
                *("--nodename", self.name, "--kubeconfig", str(self.cp.kubeconfig)),
                *("--metrics-addr", f"127.0.0.1:{_free_port()}"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )

    def _ready(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, f"vk-trio exited: {self.log.read_text()[-2000:]}"
        with self.cp.admin_client() as api:
            try:
                node = api.get(f"/api/v1/nodes/{self.name}")
            except ApiError:
                return False
        conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
        return conditions.get("Ready") == "True"

    def kill(self) -> None:
        """SIGKILL: vk-trio dies without any clean-up of its own."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        # whatever a failed test left behind: no process may outlive the test run
        config = parse_process_config({"stateDir": str(self.state), "isolation": "none"})
        ProcessProvider(node_name=self.name, config=config, resources=_NoLookup()).kill_all_pods()
        with self.cp.admin_client() as api, contextlib.suppress(ApiError):
            api.delete(f"/api/v1/nodes/{self.name}")

    # -- kubectl ---------------------------------------------------------------------------

    def kubectl(
        self, *args: str, check: bool = True, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl(*args, check=check, **options)

    def kubectl_command(self, *args: str) -> list[str]:
        return [str(self.cp.binary), "kubectl", "--kubeconfig", str(self.cp.kubeconfig), *args]

    def apply(self, namespace: str, manifest: JSON) -> None:
        self.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))

    def pod(self, namespace: str, name: str) -> JSON | None:
        result = self.kubectl("get", "pod", "-n", namespace, name, "-o", "json", check=False)
        if result.returncode != 0:
            return None
        found: JSON = json.loads(result.stdout)
        return found

    def wait_pod(self, namespace: str, name: str, check: Callable[[JSON], bool], what: str) -> JSON:
        def probe() -> JSON | None:
            pod = self.pod(namespace, name)
            return pod if pod is not None and check(pod) else None

        found: JSON = _wait(f"pod {name}: {what}", probe)
        return found

    def pod_manifest(self, name: str, *containers: JSON, **spec: Any) -> JSON:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeName": self.name,
                "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                "terminationGracePeriodSeconds": 10,
                "containers": list(containers),
                **spec,
            },
        }

    def delete(self, namespace: str, name: str) -> None:
        self.kubectl("delete", "pod", "-n", namespace, name, "--wait=true", timeout=180)


class _NoLookup:
    def get_config_map(self, namespace: str, name: str) -> JSON | None:
        return None

    def get_secret(self, namespace: str, name: str) -> JSON | None:
        return None

    def list_services(self, namespace: str | None = None) -> list[JSON]:
        return []

    def list_pods(self) -> list[JSON]:
        return []


def _container(name: str, *command: str, **extra: Any) -> JSON:
    return {"name": name, "image": "host", "command": list(command), **extra}


def _status(pod: JSON, name: str = "app") -> JSON:
    statuses = [
        *pod["status"].get("containerStatuses", ()),
        *pod["status"].get("initContainerStatuses", ()),
    ]
    found: JSON = next(s for s in statuses if s["name"] == name)
    return found


def _phase(phase: str) -> Callable[[JSON], bool]:
    return lambda pod: pod.get("status", {}).get("phase") == phase


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def node(
    controlplane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessNode]:
    running = ProcessNode(controlplane, tmp_path_factory.mktemp("process-node"))
    try:
        running.start()
        yield running
    finally:
        running.close()


def test_http_server_becomes_ready_and_port_forward_fetches_a_page(
    node: ProcessNode, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("served by a process\n")
    os.chmod(tmp_path, 0o755)
    port = _free_port()
    probe = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1}
    node.apply(
        namespace,
        node.pod_manifest(
            "web",
            _container(
                "app",
                *("python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"),
                *("--directory", str(tmp_path)),
                readinessProbe=probe,
            ),
        ),
    )
    pod = node.wait_pod(
        namespace,
        "web",
        lambda p: (
            {c["type"]: c["status"] for c in p["status"].get("conditions", [])}.get("Ready")
            == "True"
        ),
        "Ready",
    )
    assert pod["status"]["phase"] == "Running"
    local = _free_port()
    forward = subprocess.Popen(
        node.kubectl_command("port-forward", "-n", namespace, "pod/web", f"{local}:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    page = None
    try:

        def fetch() -> str | None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{local}/index.html", timeout=10)
            except httpx.HTTPError:
                return None
            return answer.text if answer.status_code == 200 else None

        page = _wait("a page through port-forward", fetch, timeout=60)
    except AssertionError:
        pass
    finally:
        forward.terminate()
        out, err = forward.communicate()
    assert page == "served by a process\n", (out, err)
    node.delete(namespace, "web")


def test_logs_follow_a_process_that_prints_every_second(node: ProcessNode, namespace: str) -> None:
    script = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"
    node.apply(namespace, node.pod_manifest("ticker", _container("app", "sh", "-c", script)))
    node.wait_pod(namespace, "ticker", _phase("Running"), "Running")
    follow = subprocess.Popen(
        node.kubectl_command("logs", "-f", "-n", namespace, "ticker"),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert follow.stdout is not None
    try:
        lines = [follow.stdout.readline() for _ in range(4)]
    finally:
        follow.terminate()
        follow.communicate()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    node.delete(namespace, "ticker")


def test_exec_reads_a_config_map_volume_and_returns_the_exit_code(
    node: ProcessNode, namespace: str
) -> None:
    node.kubectl(
        "create", "configmap", "settings", "-n", namespace, "--from-literal=greeting=hi there"
    )
    mount = f"/run/vk-e2e-{uuid.uuid4().hex[:6]}"
    node.apply(
        namespace,
        node.pod_manifest(
            "reader",
            _container("app", "sleep", "3600", volumeMounts=[{"name": "conf", "mountPath": mount}]),
            volumes=[{"name": "conf", "configMap": {"name": "settings"}}],
        ),
    )
    node.wait_pod(namespace, "reader", _phase("Running"), "Running")
    read = node.kubectl("exec", "-n", namespace, "reader", "--", "cat", f"{mount}/greeting")
    assert read.stdout == "hi there"
    assert node.kubectl("exec", "-n", namespace, "reader", "--", "hostname").stdout == "reader\n"
    failed = node.kubectl(
        "exec", "-n", namespace, "reader", "--", "sh", "-c", "exit 3", check=False
    )
    assert failed.returncode == 3
    node.delete(namespace, "reader")


def test_exec_with_a_tty(node: ProcessNode, namespace: str) -> None:
    node.apply(namespace, node.pod_manifest("term", _container("app", "sleep", "3600")))
    node.wait_pod(namespace, "term", _phase("Running"), "Running")
    master, slave = pty.openpty()
    command = [str(node.cp.binary), "kubectl", "--kubeconfig", str(node.cp.kubeconfig)]
    command += [
        "exec",
        "-it",
        "-n",
        namespace,
        "term",
        "--",
        "sh",
        "-c",
        "test -t 0 && echo on-a-tty",
    ]
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 120
    try:
        while b"on-a-tty" not in output and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    output += os.read(master, 4096)
                except OSError:
                    break
        assert b"on-a-tty" in output
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    node.delete(namespace, "term")


def test_failing_liveness_probe_restarts_the_container(node: ProcessNode, namespace: str) -> None:
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    node.apply(
        namespace,
        node.pod_manifest(
            "unwell",
            _container("app", "sleep", "3600", livenessProbe=probe),
            terminationGracePeriodSeconds=2,
        ),
    )
    pod = node.wait_pod(
        namespace,
        "unwell",
        lambda p: (
            _status(p)["restartCount"] >= 1 if p["status"].get("containerStatuses") else False
        ),
        "restarted",
    )
    assert "liveness probe" in _status(pod)["lastState"]["terminated"]["message"]
    node.delete(namespace, "unwell")


def test_on_failure_backs_off_and_never_succeeds(node: ProcessNode, namespace: str) -> None:
    node.apply(
        namespace,
        node.pod_manifest(
            "crash", _container("app", "sh", "-c", "exit 1"), restartPolicy="OnFailure"
        ),
    )
    node.apply(
        namespace, node.pod_manifest("done", _container("app", "true"), restartPolicy="Never")
    )

    def backing_off(pod: JSON) -> bool:
        statuses = pod["status"].get("containerStatuses")
        if not statuses:
            return False
        waiting = statuses[0]["state"].get("waiting", {})
        return bool(
            statuses[0]["restartCount"] >= 1 and waiting.get("reason") == "CrashLoopBackOff"
        )

    crash = node.wait_pod(namespace, "crash", backing_off, "CrashLoopBackOff")
    assert crash["status"]["phase"] == "Running"
    assert _status(crash)["lastState"]["terminated"]["exitCode"] == 1
    done = node.wait_pod(namespace, "done", _phase("Succeeded"), "Succeeded")
    assert _status(done)["state"]["terminated"]["reason"] == "Completed"
    node.delete(namespace, "crash")


def test_init_containers_run_in_order(node: ProcessNode, namespace: str) -> None:
    shared = f"/run/vk-e2e-{uuid.uuid4().hex[:6]}"
    volume = [{"name": "shared", "mountPath": shared}]
    step = "echo {0} >> " + shared + "/order"
    node.apply(
        namespace,
        node.pod_manifest(
            "ordered",
            _container(
                "app",
                "sh",
                "-c",
                step.format("app") + f"; cat {shared}/order",
                volumeMounts=volume,
            ),
            initContainers=[
                _container(
                    "one", "sh", "-c", "sleep 1; " + step.format("one"), volumeMounts=volume
                ),
                _container("two", "sh", "-c", step.format("two"), volumeMounts=volume),
            ],
            volumes=[{"name": "shared", "emptyDir": {}}],
            restartPolicy="Never",
        ),
    )
    node.wait_pod(namespace, "ordered", _phase("Succeeded"), "Succeeded")
    logs = node.kubectl("logs", "-n", namespace, "ordered")
    assert logs.stdout == "one\ntwo\napp\n"
    node.delete(namespace, "ordered")
    # the provider hears of the deletion of a finished pod after the API (as the kubelet does)
    _wait("the pod's mount point to be removed", lambda: not os.path.exists(shared))


def test_delete_runs_pre_stop_and_the_sigterm_handler_and_leaves_nothing(
    node: ProcessNode, namespace: str, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    os.chmod(tmp_path, 0o777)
    handler = f"trap 'echo handler >> {trace}; exit 0' TERM; while true; do sleep 0.2; done"
    pre_stop = {"exec": {"command": ["sh", "-c", f"echo prestop >> {trace}"]}}
    node.apply(
        namespace,
        node.pod_manifest(
            "graceful",
            _container("app", "sh", "-c", handler, lifecycle={"preStop": pre_stop}),
            terminationGracePeriodSeconds=60,
        ),
    )
    pod = node.wait_pod(namespace, "graceful", _phase("Running"), "Running")
    pid = int(_status(pod)["containerID"].removeprefix("process://"))
    assert _alive(pid)
    started = time.monotonic()
    node.delete(namespace, "graceful")
    assert time.monotonic() - started < 60  # the handler ended it, not the grace period
    assert trace.read_text() == "prestop\nhandler\n"
    assert not _alive(pid)


def test_memory_hog_with_a_limit_is_oom_killed(node: ProcessNode, namespace: str) -> None:
    hog = "b = []\nwhile True: b.append(bytearray(16 * 1024 * 1024))"
    node.apply(
        namespace,
        node.pod_manifest(
            "hog",
            _container("app", "python3", "-c", hog, resources={"limits": {"memory": "64Mi"}}),
            restartPolicy="Never",
        ),
    )
    pod = node.wait_pod(namespace, "hog", _phase("Failed"), "Failed")
    assert _status(pod)["state"]["terminated"]["reason"] == "OOMKilled"


def _summary(node: ProcessNode) -> JSON:
    cp = node.cp
    context = cp.ssl_context(cp.apiserver_kubelet_client_cert, cp.apiserver_kubelet_client_key)
    with httpx.Client(verify=context, timeout=30) as client:
        answer = client.get(f"https://127.0.0.1:{node.port}/stats/summary")
    answer.raise_for_status()
    found: JSON = answer.json()
    return found


def test_busy_loop_shows_cpu_in_the_stats_summary(node: ProcessNode, namespace: str) -> None:
    node.apply(
        namespace, node.pod_manifest("busy", _container("app", "sh", "-c", "while :; do :; done"))
    )
    node.wait_pod(namespace, "busy", _phase("Running"), "Running")

    def busy() -> JSON | None:
        for pod in _summary(node)["pods"]:
            if pod["podRef"] == {
                "name": "busy",
                "namespace": namespace,
                "uid": pod["podRef"]["uid"],
            }:
                containers = pod["containers"]
                if containers and containers[0]["cpu"].get("usageNanoCores", 0) > 0:
                    found: JSON = pod
                    return found
        time.sleep(1)
        return None

    pod = _wait("CPU use of the busy loop", busy)
    assert pod["containers"][0]["memory"]["workingSetBytes"] > 0
    node.delete(namespace, "busy")


def test_bad_specs_get_a_clear_event(node: ProcessNode, namespace: str) -> None:
    node.apply(namespace, node.pod_manifest("image-only", {"name": "app", "image": "nginx:1.27"}))

    def event() -> str | None:
        listed = node.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
        for item in json.loads(listed)["items"]:
            if (
                item["involvedObject"]["name"] == "image-only"
                and item["reason"] == "ProviderCreateFailed"
            ):
                return str(item["message"])
        return None

    assert "no command: the process provider runs command/args" in _wait("the event", event)
    node.kubectl("delete", "pod", "-n", namespace, "image-only", "--wait=true", timeout=180)


def test_bad_config_is_one_clear_line(controlplane: ControlPlane, tmp_path: Path) -> None:
    config = tmp_path / "process.yaml"
    config.write_text("stateDir: /tmp/x\nisolaton: none\n")
    result = subprocess.run(
        [
            VK_TRIO,
            "--provider",
            "process",
            "--provider-config",
            str(config),
            "--nodename",
            "bad",
            "--kubeconfig",
            str(controlplane.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            "KUBELET_PORT": str(_free_port()),
            "APISERVER_CERT_LOCATION": str(controlplane.kubelet_cert),
            "APISERVER_KEY_LOCATION": str(controlplane.kubelet_key),
            "APISERVER_CA_CERT_LOCATION": str(controlplane.ca_cert),
        },
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown key 'isolaton'" in lines[0]


def test_killed_and_restarted_vk_trio_keeps_the_pods_process(
    controlplane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    node = ProcessNode(controlplane, tmp_path)
    try:
        node.start()
        node.apply(namespace, node.pod_manifest("durable", _container("app", "sleep", "3600")))
        pod = node.wait_pod(namespace, "durable", _phase("Running"), "Running")
        container_id = _status(pod)["containerID"]
        pid = int(container_id.removeprefix("process://"))
        node.kill()
        assert _alive(pid)
        node.start()
        # the node re-adopts it: same process, not restarted
        time.sleep(5)
        pod = node.wait_pod(namespace, "durable", _phase("Running"), "Running")
        assert _status(pod)["containerID"] == container_id
        assert _status(pod)["restartCount"] == 0
        assert _alive(pid)
        node.delete(namespace, "durable")
        assert not _alive(pid)
    finally:
        node.close()
