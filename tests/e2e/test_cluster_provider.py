"""The cluster provider end to end: two real control planes, vk-trio processes, kubectl.

* the *remote* cluster: etcd + kube-apiserver + kube-scheduler, and a vk-trio **mock** node
  (``remote-worker``) as its only worker, so remote pods really "run", log and answer exec and
  port-forward;
* the *home* cluster: with scheduler and controller manager (Deployments, service accounts,
  ``kube-root-ca.crt``), and ``vk-trio --provider cluster`` as its virtual node.

Both control planes and both vk-trio processes start once for the module (CPU is scarce); the
tests build on each other in file order only where a docstring says so.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
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

from tests._controlplane import AdminClient, ApiError, ControlPlane, wait_for

pytestmark = pytest.mark.controlplane

VK_TRIO = str(Path(sys.executable).with_name("vk-trio"))
StartControlPlane = Callable[..., ControlPlane]
JSON = dict[str, Any]
MOCK_POD_IP = "5.6.7.8"  # what the mock provider reports for every pod


SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _kubectl(cp: ControlPlane) -> list[str]:
    return [str(cp.binary), "kubectl", "--kubeconfig", str(cp.kubeconfig)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class VkProcess:
    """A ``vk-trio`` subprocess; its output goes to a log file (read it on failure)."""

    def __init__(self, args: list[str], cp: ControlPlane, log: Path, port: int | None = None):
        self.args = args
        self.cp = cp
        self.log = log
        self.port = port or _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBELET_PORT": str(self.port),
            "VKUBELET_POD_IP": "127.0.0.1",
            "APISERVER_CERT_LOCATION": str(self.cp.kubelet_cert),
            "APISERVER_KEY_LOCATION": str(self.cp.kubelet_key),
            "APISERVER_CA_CERT_LOCATION": str(self.cp.ca_cert),
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    *(VK_TRIO, *self.args, "--kubeconfig", str(self.cp.kubeconfig)),
                    *("--metrics-addr", f"127.0.0.1:{_free_port()}"),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _ready(api: AdminClient, node: str) -> str | None:
    try:
        obj = api.get(f"/api/v1/nodes/{node}")
    except ApiError:
        return None
    for condition in obj["status"].get("conditions", []):
        if condition["type"] == "Ready":
            return str(condition["status"])
    return None


class Clusters:
    """The module's two clusters and their nodes."""

    def __init__(self, home: ControlPlane, remote: ControlPlane, directory: Path) -> None:
        self.home = home
        self.remote = remote
        self.dir = directory
        self.processes: list[VkProcess] = []
        self.worker = "remote-worker"

    def start_worker(self) -> VkProcess:
        config = self.dir / "mock.json"
        config.write_text(
            json.dumps(
                {
                    self.worker: {
                        "cpu": "64",
                        "memory": "256Gi",
                        "pods": "2000",
                        "logs": {"lines": 3, "interval": 0.5},
                    }
                }
            )
        )
        worker = VkProcess(
            ["--provider", "mock", "--provider-config", str(config), "--nodename", self.worker],
            self.remote,
            self.dir / "worker.log",
        )
        worker.start()
        self.processes.append(worker)
        with self.remote.admin_client() as api:
            wait_for(lambda: _ready(api, self.worker) == "True", timeout=120, message="worker")
        return worker

    def config_file(self, node: str, **extra: Any) -> Path:
        document = {
            "kubeconfig": str(self.remote.kubeconfig),
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
            # the remote worker is itself a virtual kubelet, which the computed capacity leaves
            # out (a loop guard): give the capacity explicitly
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "2000"},
            **extra,
        }
        path = self.dir / f"{node}.yaml"
        path.write_text(json.dumps(document))
        return path

    def start_virtual_node(self, node: str, **extra: Any) -> VkProcess:
        config = self.config_file(node, **extra)
        vk = VkProcess(
            ["--provider", "cluster", "--provider-config", str(config), "--nodename", node],
            self.home,
            self.dir / f"{node}.log",
        )
        vk.start()
        self.processes.append(vk)
        self.wait_ready(vk, node)
        return vk

    def wait_ready(self, vk: VkProcess, node: str, status: str = "True") -> None:
        with self.home.admin_client() as api:
            try:
                wait_for(lambda: _ready(api, node) == status, timeout=120, message=node)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{vk.tail()}") from None


@pytest.fixture(scope="module")
def clusters(
    controlplane_factory: StartControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clusters]:
    home = controlplane_factory("cluster-home", with_scheduler=True, with_controller_manager=True)
    remote = controlplane_factory("cluster-remote", with_scheduler=True)
    found = Clusters(home, remote, tmp_path_factory.mktemp("cluster-provider"))
    found.start_worker()
    try:
        yield found
    finally:
        for process in reversed(found.processes):
            process.stop()


@pytest.fixture(scope="module")
def node_a(clusters: Clusters) -> Iterator[VkProcess]:
    yield clusters.start_virtual_node("vk-cluster-a")


def _namespace(cp: ControlPlane, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with cp.admin_client() as api:
        api.create("/api/v1/namespaces", {"metadata": {"name": name}})
        if "kube-controller-manager" in cp.components:
            wait_for(
                lambda: _exists(api, f"/api/v1/namespaces/{name}/serviceaccounts/default"),
                timeout=120,
                message="default service account",
            )
    return name


def _exists(api: AdminClient, path: str) -> bool:
    try:
        api.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _pod(name: str, node: str, app: str) -> JSON:
    """A pod as a Deployment would make it (the harness runs no workload controllers)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "env": [
                        {
                            "name": "GREETING",
                            "valueFrom": {
                                "configMapKeyRef": {"name": "settings", "key": "greeting"}
                            },
                        }
                    ],
                    "volumeMounts": [{"name": "certs", "mountPath": "/certs"}],
                }
            ],
            "volumes": [{"name": "certs", "secret": {"secretName": "certs"}}],
        },
    }


def _pods(api: AdminClient, namespace: str, selector: str) -> list[JSON]:
    items: list[JSON] = api.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)[
        "items"
    ]
    return items


def _running(pods: list[JSON], count: int) -> list[JSON] | None:
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    if len(live) == count and all(p["status"].get("phase") == "Running" for p in live):
        return live
    return None


@pytest.fixture(scope="module")
def app(clusters: Clusters, node_a: VkProcess) -> Iterator[tuple[str, str]]:
    """2 pods (as a Deployment makes them) on vk-cluster-a using a ConfigMap env var, a Secret
    volume and the automatic service-account token, Running; ``(namespace, name)``."""
    namespace = _namespace(clusters.home)
    name = "web"
    with clusters.home.admin_client() as api:
        api.create(
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "settings"}, "data": {"greeting": "hello"}},
        )
        api.create(
            f"/api/v1/namespaces/{namespace}/secrets",
            {"metadata": {"name": "certs"}, "stringData": {"tls.crt": "CERT"}},
        )
        for index in range(2):
            api.create(
                f"/api/v1/namespaces/{namespace}/pods",
                _pod(f"{name}-{index}", "vk-cluster-a", name),
            )
        try:
            wait_for(
                lambda: _running(_pods(api, namespace, f"app={name}"), 2),
                timeout=180,
                message="2 Running pods",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{node_a.tail()}") from None
    yield namespace, name


def _remote_pods(clusters: Clusters, node: str, namespace: str | None = None) -> list[JSON]:
    with clusters.remote.admin_client() as api:
        path = "/api/v1/pods" if namespace is None else f"/api/v1/namespaces/{namespace}/pods"
        items: list[JSON] = api.get(path, labelSelector=f"vk-trio.io/node={node}")["items"]
        return items


def test_pods_run_remotely_with_the_remote_pod_ip(clusters: Clusters, app: tuple[str, str]) -> None:
    namespace, name = app
    with clusters.home.admin_client() as home:
        pods = _pods(home, namespace, f"app={name}")
    remote = {p["metadata"]["name"]: p for p in _remote_pods(clusters, "vk-cluster-a", namespace)}
    for pod in pods:
        mirror = remote[pod["metadata"]["name"]]
        assert mirror["spec"]["nodeName"] == clusters.worker
        assert pod["status"]["podIP"] == mirror["status"]["podIP"] == MOCK_POD_IP
        assert pod["status"]["hostIP"] == "127.0.0.1"  # the virtual node's address
        annotations = mirror["metadata"]["annotations"]
        assert annotations["vk-trio.io/origin-uid"] == pod["metadata"]["uid"]
        assert annotations["vk-trio.io/origin-namespace"] == namespace
        assert annotations["vk-trio.io/origin-name"] == pod["metadata"]["name"]
        env = {e["name"]: e for e in mirror["spec"]["containers"][0]["env"]}
        assert env["GREETING"].get("value") == "hello"
        volumes = {v["name"]: v for v in mirror["spec"]["volumes"]}
        assert volumes["certs"]["secret"]["secretName"] == "certs.vk-cluster-a"
        token_volume = next(v for k, v in volumes.items() if k.startswith("kube-api-access-"))
        token_secret = token_volume["projected"]["sources"][0]["secret"]["name"]
        assert token_secret == f"vk-trio-token.{pod['metadata']['uid']}"
        assert mirror["spec"].get("automountServiceAccountToken") is False
    with clusters.remote.admin_client() as api:
        base = f"/api/v1/namespaces/{namespace}"
        config_map = api.get(f"{base}/configmaps/settings.vk-cluster-a")
        assert config_map["data"] == {"greeting": "hello"}
        assert config_map["metadata"]["labels"]["vk-trio.io/node"] == "vk-cluster-a"
        secret = api.get(f"{base}/secrets/certs.vk-cluster-a")
        assert base64.b64decode(secret["data"]["tls.crt"]) == b"CERT"
        token = api.get(f"{base}/secrets/{token_secret}")
        assert set(token["data"]) >= {"token-0", "ca.crt", "namespace"}
        assert base64.b64decode(token["data"]["namespace"]).decode() == namespace
        assert base64.b64decode(token["data"]["ca.crt"]) == clusters.home.ca_cert.read_bytes()
    # the token is a real home-cluster token of the pod's service account
    jwt = base64.b64decode(token["data"]["token-0"]).decode()
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": jwt},
    }
    with clusters.home.admin_client() as home:
        result = home.create("/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert result["status"]["authenticated"] is True
    assert result["status"]["user"]["username"] == f"system:serviceaccount:{namespace}:default"


def test_logs_follow_and_exec_reach_the_remote_pod(
    clusters: Clusters, app: tuple[str, str]
) -> None:
    namespace, name = app
    with clusters.home.admin_client() as home:
        pod = _pods(home, namespace, f"app={name}")[0]["metadata"]["name"]
    logs = clusters.home.kubectl("logs", "-n", namespace, pod, "--tail", "2")
    assert len(logs.stdout.splitlines()) == 2, logs.stdout
    # logs -f: lines keep arriving while we read (the worker writes one every 0.5 s)
    follow = subprocess.Popen(
        [*_kubectl(clusters.home), "logs", "-f", "-n", namespace, pod, "--tail", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline() for _ in range(4)]
        assert all(line.strip() for line in lines), lines
    finally:
        follow.kill()
        follow.communicate()
    hello = clusters.home.kubectl("exec", "-n", namespace, pod, "--", "echo", "hello")
    assert hello.stdout == "hello\n"
    piped = clusters.home.kubectl("exec", "-i", "-n", namespace, pod, "--", "cat", input="abc\n")
    assert piped.stdout == "abc\n"
    failed = clusters.home.kubectl("exec", "-n", namespace, pod, "--", "exit", "3", check=False)
    assert failed.returncode == 3, failed.stderr


def test_port_forward_carries_http_across_both_hops(
    clusters: Clusters, app: tuple[str, str]
) -> None:
    namespace, name = app
    with clusters.home.admin_client() as home:
        pod = _pods(home, namespace, f"app={name}")[0]["metadata"]["name"]
    local = _free_port()
    forward = subprocess.Popen(
        [*_kubectl(clusters.home), "port-forward", "-n", namespace, f"pod/{pod}", f"{local}:8080"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert forward.stdout is not None
        assert "Forwarding from" in forward.stdout.readline()
        response = httpx.get(f"http://127.0.0.1:{local}/hello", timeout=60)
        assert response.status_code == 200
        assert f"pod {namespace}/{pod}, port 8080" in response.text
        assert "GET /hello HTTP/1.1" in response.text
    finally:
        forward.kill()
        forward.communicate()


def test_config_map_change_follows_to_the_remote_copy(
    clusters: Clusters, app: tuple[str, str]
) -> None:
    namespace, _ = app
    with clusters.home.admin_client() as home:
        home.patch(
            f"/api/v1/namespaces/{namespace}/configmaps/settings", {"data": {"greeting": "hi"}}
        )
    with clusters.remote.admin_client() as remote:
        path = f"/api/v1/namespaces/{namespace}/configmaps/settings.vk-cluster-a"
        wait_for(
            lambda: remote.get(path)["data"] == {"greeting": "hi"},
            timeout=60,
            message="the remote copy to follow",
        )


def test_restart_adopts_pods_and_deletes_an_orphan(
    clusters: Clusters, app: tuple[str, str], node_a: VkProcess
) -> None:
    """SIGKILL vk-trio, force-delete one home pod meanwhile, restart: the other remote pod is
    adopted (same remote UID) and the orphan's remote pod is deleted."""
    namespace, name = app
    with clusters.home.admin_client() as home:
        pods = _pods(home, namespace, f"app={name}")
    kept, orphaned = pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]
    before = {p["metadata"]["name"]: p for p in _remote_pods(clusters, "vk-cluster-a", namespace)}
    node_a.kill()
    clusters.home.kubectl(
        "delete", "pod", "-n", namespace, orphaned, "--grace-period=0", "--force", "--wait=false"
    )
    node_a.start()
    clusters.wait_ready(node_a, "vk-cluster-a")

    def settled() -> dict[str, JSON] | None:
        now = {p["metadata"]["name"]: p for p in _remote_pods(clusters, "vk-cluster-a", namespace)}
        return now if orphaned not in now and kept in now else None

    try:
        after = wait_for(settled, timeout=120, message="orphan deleted")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{node_a.tail()}") from None
    assert after[kept]["metadata"]["uid"] == before[kept]["metadata"]["uid"]  # not recreated
    with clusters.home.admin_client() as home:
        wait_for(
            lambda: _running(_pods(home, namespace, f"app={name}"), 1),
            timeout=180,
            message="the adopted pod Running",
        )
        # put the second pod back for the tests that follow
        home.create(f"/api/v1/namespaces/{namespace}/pods", _pod(orphaned, "vk-cluster-a", name))
        wait_for(
            lambda: _running(_pods(home, namespace, f"app={name}"), 2),
            timeout=180,
            message="2 Running pods again",
        )


def test_remote_outage_turns_the_node_not_ready_and_back(
    clusters: Clusters, app: tuple[str, str], node_a: VkProcess
) -> None:
    namespace, name = app
    with clusters.home.admin_client() as home:
        before = sorted(p["metadata"]["uid"] for p in _pods(home, namespace, f"app={name}"))
    remote_before = sorted(p["metadata"]["uid"] for p in _remote_pods(clusters, "vk-cluster-a"))
    with (
        clusters.home.admin_client() as home,
        contextlib.ExitStack(),
    ):
        # restart blocks for the outage; watch the node meanwhile from a second process
        restarting = subprocess.Popen(
            [
                str(SCRIPTS / "controlplane"),
                "restart",
                str(clusters.remote.dir),
                "--down-for",
                "30",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(
                lambda: _ready(home, "vk-cluster-a") == "False",
                timeout=60,
                message="NotReady during the outage",
            )
            node = home.get("/api/v1/nodes/vk-cluster-a")
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            assert "remote cluster unreachable" in ready.get("message", ""), ready
            assert ready["reason"] in ("RemoteClusterUnreachable", "ProviderPingFailed"), ready
        finally:
            _, err = restarting.communicate(timeout=400)
        assert restarting.returncode == 0, err
        clusters.wait_ready(node_a, "vk-cluster-a")
        time.sleep(1)
        wait_for(
            lambda: _running(_pods(home, namespace, f"app={name}"), 2),
            timeout=120,
            message="pods Running again",
        )
        after = sorted(p["metadata"]["uid"] for p in _pods(home, namespace, f"app={name}"))
    assert after == before  # nothing evicted or replaced
    assert sorted(p["metadata"]["uid"] for p in _remote_pods(clusters, "vk-cluster-a")) == (
        remote_before
    )


def test_two_virtual_nodes_share_the_remote_cluster_apart(
    clusters: Clusters, app: tuple[str, str]
) -> None:
    namespace, _ = app
    clusters.start_virtual_node("vk-cluster-b")
    with clusters.home.admin_client() as home:
        home.create(
            f"/api/v1/namespaces/{namespace}/pods", _pod("other-0", "vk-cluster-b", "other")
        )
        wait_for(
            lambda: _running(_pods(home, namespace, "app=other"), 1),
            timeout=180,
            message="the pod on vk-cluster-b",
        )
    b_pods = _remote_pods(clusters, "vk-cluster-b", namespace)
    a_pods = _remote_pods(clusters, "vk-cluster-a", namespace)
    assert [p["metadata"]["labels"]["app"] for p in b_pods] == ["other"]
    assert {p["metadata"]["labels"]["app"] for p in a_pods} == {"web"}
    with clusters.remote.admin_client() as remote:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        assert _exists(remote, f"{base}/settings.vk-cluster-a")
        assert _exists(remote, f"{base}/settings.vk-cluster-b")
    # b's pods going away removes b's copies only
    with clusters.home.admin_client() as home:
        home.delete(f"/api/v1/namespaces/{namespace}/pods/other-0")
    with clusters.remote.admin_client() as remote:
        wait_for(
            lambda: not _exists(remote, f"{base}/settings.vk-cluster-b"),
            timeout=120,
            message="b's copy collected",
        )
        assert _exists(remote, f"{base}/settings.vk-cluster-a")


def test_scale_down_deletes_remote_pods_and_collects_copies(
    clusters: Clusters, app: tuple[str, str]
) -> None:
    """Runs last among the tests of ``app``: it deletes its pods (a scale-down to zero)."""
    namespace, name = app
    with clusters.home.admin_client() as home:
        for pod in _pods(home, namespace, f"app={name}"):
            home.delete(f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}")
        wait_for(
            lambda: not _pods(home, namespace, f"app={name}"),
            timeout=180,
            message="home pods gone",
        )
    wait_for(
        lambda: not _remote_pods(clusters, "vk-cluster-a", namespace),
        timeout=120,
        message="remote pods gone",
    )
    with clusters.remote.admin_client() as remote:
        base = f"/api/v1/namespaces/{namespace}"

        def collected() -> bool:
            secrets = remote.get(f"{base}/secrets", labelSelector="vk-trio.io/node=vk-cluster-a")
            return (
                not _exists(remote, f"{base}/configmaps/settings.vk-cluster-a")
                and not (secrets["items"])
            )

        wait_for(collected, timeout=120, message="reflected objects collected")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("kubeconfig: KUBECONFIG\nbogus: 1\n", "bogus: unknown key"),
        ("context: x\n", "kubeconfig: required"),
        ("kubeconfig: KUBECONFIG\ncapacity: {cpu: lots}\n", "capacity.cpu:"),
    ],
)
def test_bad_config_is_a_one_line_start_up_error(
    clusters: Clusters, tmp_path: Path, content: str, expected: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content.replace("KUBECONFIG", str(clusters.remote.kubeconfig)))
    result = subprocess.run(
        [
            VK_TRIO,
            "--provider",
            "cluster",
            "--provider-config",
            str(config),
            "--nodename",
            "vk-bad",
            "--kubeconfig",
            str(clusters.home.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            "KUBELET_PORT": str(_free_port()),
            "APISERVER_CERT_LOCATION": str(clusters.home.kubelet_cert),
            "APISERVER_KEY_LOCATION": str(clusters.home.kubelet_key),
        },
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert str(config) in lines[0]
