"""Tests of the control-plane harness itself (scripts/controlplane + tests/controlplane).

They run against the real etcd + kube-apiserver v1.37.2 (and kube-scheduler /
kube-controller-manager where stated), through the fixtures in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._controlplane import (
    KUBERNETES_VERSION,
    SCRIPT,
    AdminClient,
    ApiError,
    ControlPlane,
    wait_for,
)
from tests._waits import WAIT
from tests.conftest import StartControlPlane, unique_name

pytestmark = pytest.mark.controlplane

JSON = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- version, files, sockets -------------------------------------------------------------------


def test_version_reports_the_stamped_release(controlplane: ControlPlane) -> None:
    with controlplane.admin_client() as api:
        info = api.get("/version")
    assert info["gitVersion"] == KUBERNETES_VERSION
    assert (info["major"], info["minor"]) == ("1", "37")
    assert info["gitTreeState"] == "clean"

    out = controlplane.kubectl("version", "--output=json").stdout
    versions = json.loads(out)
    assert versions["clientVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert versions["serverVersion"]["gitVersion"] == KUBERNETES_VERSION


async def test_async_client_works_under_trio(controlplane: ControlPlane) -> None:
    async with controlplane.async_client() as client:
        response = await client.get("/version")
    assert response.json()["gitVersion"] == KUBERNETES_VERSION


def test_dir_holds_what_clients_need(controlplane: ControlPlane) -> None:
    d = controlplane.dir
    for name in ("kubeconfig", "ca.crt", "kubelet.crt", "kubelet.key", "ready.json"):
        assert (d / name).is_file(), name
    ready = json.loads((d / "ready.json").read_text())
    assert ready["state"] == "ready"
    assert ready["server"] == f"https://127.0.0.1:{ready['ports']['apiserver']}"
    assert set(ready["pids"]) == {"supervisor", "apiserver"}
    for log in ready["paths"]["logs"].values():
        assert Path(log).is_file(), log
    # The kubeconfig works on its own (the bundled kubectl reads nothing else).
    names = controlplane.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in names
    assert "namespace/kube-node-lease" in names


def _own_listening_ports() -> dict[int, str]:
    """Listening TCP sockets of this machine: port -> local address (IPv4 and IPv6)."""
    found: dict[int, str] = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            assert len(addr_hex) == width
            found[int(port_hex, 16)] = addr_hex
    return found


def test_every_component_listens_on_loopback_only(controlplane_full: ControlPlane) -> None:
    listening = _own_listening_ports()
    ports = controlplane_full.ready["ports"]
    assert set(ports) == {
        "apiserver",
        "etcd_client",
        "etcd_peer",
        "scheduler",
        "controller_manager",
    }
    for name, port in ports.items():
        assert listening.get(port) == "0100007F", f"{name} port {port} is not on 127.0.0.1 only"


def test_kubelet_serving_certificate_verifies_for_loopback(controlplane: ControlPlane) -> None:
    """A TLS server using kubelet.crt/key is trusted, via ca.crt, at 127.0.0.1 and localhost:
    exactly the check kube-apiserver makes (--kubelet-certificate-authority) when it dials a
    virtual kubelet."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(controlplane.kubelet_cert, controlplane.kubelet_key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve(count: int) -> None:
        for _ in range(count):
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, args=(3,), daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(controlplane.ca_cert))
    try:
        for host in ("127.0.0.1", "localhost"):
            with (
                socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
                client_ctx.wrap_socket(raw, server_hostname=host) as tls,
            ):
                assert tls.recv(2) == b"ok"
        with (
            pytest.raises(ssl.SSLCertVerificationError),
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
            client_ctx.wrap_socket(raw, server_hostname="example.com"),
        ):
            pass
    finally:
        thread.join(timeout=WAIT)
        listener.close()


def test_bench_profile_lifts_limits_and_keeps_the_watch_cache(
    controlplane: ControlPlane, controlplane_factory: StartControlPlane
) -> None:
    bench = controlplane_factory("bench", profile="bench")
    assert bench.ready["profile"] == "bench"
    assert bench.ready["watch_cache"] is True
    assert controlplane.ready["watch_cache"] is False
    # Priority-and-fairness labels every response it classified; the bench profile turns it off.
    with controlplane.admin_client() as api:
        assert "x-kubernetes-pf-flowschema-uid" in api.http.get("/api/v1/namespaces").headers
    with bench.admin_client() as api:
        assert "x-kubernetes-pf-flowschema-uid" not in api.http.get("/api/v1/namespaces").headers


# -- create / read / watch ---------------------------------------------------------------------


def _namespaced_objects(ns: str, node: str) -> dict[str, tuple[str, JSON, JSON]]:
    """kind -> (collection path, object, merge patch)."""
    return {
        "configmaps": (
            f"/api/v1/namespaces/{ns}/configmaps",
            {"metadata": {"name": "cm"}, "data": {"a": "1"}},
            {"data": {"a": "2"}},
        ),
        "secrets": (
            f"/api/v1/namespaces/{ns}/secrets",
            {"metadata": {"name": "s"}, "stringData": {"token": "t0p"}},
            {"metadata": {"labels": {"touched": "yes"}}},
        ),
        "events": (
            f"/api/v1/namespaces/{ns}/events",
            {
                "metadata": {"name": "ev"},
                "involvedObject": {"kind": "Pod", "namespace": ns, "name": "p"},
                "reason": "Testing",
                "message": "hello",
                "type": "Normal",
                "firstTimestamp": now_rfc3339(),
                "lastTimestamp": now_rfc3339(),
                "count": 1,
            },
            {"count": 2},
        ),
        "leases": (
            f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
            {
                "metadata": {"name": "lease"},
                "spec": {"holderIdentity": "me", "leaseDurationSeconds": 40},
            },
            {"spec": {"renewTime": now_micro()}},
        ),
        "pods": (
            f"/api/v1/namespaces/{ns}/pods",
            {
                "metadata": {"name": "p"},
                "spec": {
                    "nodeName": node,
                    "containers": [{"name": "c", "image": "example.invalid/none:1"}],
                },
            },
            {"metadata": {"labels": {"touched": "yes"}}},
        ),
    }


@pytest.mark.parametrize("kind", ["configmaps", "secrets", "events", "leases", "pods"])
def test_create_read_watch_namespaced(
    controlplane: ControlPlane, namespace: str, kind: str
) -> None:
    node = unique_name("n", kind)
    path, obj, patch = _namespaced_objects(namespace, node)[kind]
    name = obj["metadata"]["name"]
    with controlplane.admin_client() as api:
        start = api.get(path)["metadata"]["resourceVersion"]
        created = api.create(path, obj)
        got = api.get(f"{path}/{name}")
        assert got["metadata"]["uid"] == created["metadata"]["uid"]
        if kind == "pods":
            assert got["spec"]["nodeName"] == node
        if kind == "secrets":
            assert got["data"] == {"token": "dDBw"}  # base64 of "t0p"
        patched = api.patch(f"{path}/{name}", patch)
        with api.watch(path, start, timeout_seconds=20) as events:
            seen = [
                (e["type"], e["object"]["metadata"]["resourceVersion"])
                for _, e in zip(range(2), events, strict=False)
            ]
    assert seen == [
        ("ADDED", created["metadata"]["resourceVersion"]),
        ("MODIFIED", patched["metadata"]["resourceVersion"]),
    ]


def test_create_read_watch_cluster_scoped(controlplane: ControlPlane) -> None:
    node = unique_name("n", "crud")
    ns = unique_name("ns", "crud")
    with controlplane.admin_client() as api:
        nodes_rv = api.get("/api/v1/nodes")["metadata"]["resourceVersion"]
        ns_rv = api.get("/api/v1/namespaces")["metadata"]["resourceVersion"]
        api.create("/api/v1/nodes", {"metadata": {"name": node, "labels": {"t": "crud"}}})
        api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
        assert api.get(f"/api/v1/nodes/{node}")["metadata"]["labels"] == {"t": "crud"}
        assert api.get(f"/api/v1/namespaces/{ns}")["status"]["phase"] == "Active"
        status = {"status": {"conditions": [_ready_condition()]}}
        api.patch(f"/api/v1/nodes/{node}/status", status)
        with api.watch("/api/v1/nodes", nodes_rv, fieldSelector=f"metadata.name={node}") as ev:
            node_events = [e["type"] for _, e in zip(range(2), ev, strict=False)]
        with api.watch("/api/v1/namespaces", ns_rv, fieldSelector=f"metadata.name={ns}") as ev:
            ns_events = [e["type"] for _, e in zip(range(1), ev, strict=False)]
        api.delete(f"/api/v1/nodes/{node}")
    assert node_events == ["ADDED", "MODIFIED"]
    assert ns_events == ["ADDED"]


def test_token_request_mints_service_account_tokens(
    controlplane: ControlPlane, namespace: str
) -> None:
    sa_path = f"/api/v1/namespaces/{namespace}/serviceaccounts"
    with controlplane.admin_client() as api:
        api.create(sa_path, {"metadata": {"name": "robot"}})
        review = api.create(
            f"{sa_path}/robot/token",
            {"spec": {"expirationSeconds": 600}},
        )
    token = review["status"]["token"]
    with httpx.Client(
        base_url=controlplane.server,
        verify=ssl.create_default_context(cafile=str(controlplane.ca_cert)),
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        whoami = http.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        assert whoami.status_code == 201, whoami.text
        user = whoami.json()["status"]["userInfo"]
        assert user["username"] == f"system:serviceaccount:{namespace}:robot"
        # Authenticated but not authorized (RBAC grants a fresh account nothing).
        assert http.get(f"/api/v1/namespaces/{namespace}/secrets").status_code == 403


def test_kubectl_helper_and_script_agree(controlplane: ControlPlane, namespace: str) -> None:
    controlplane.kubectl(
        "-n", namespace, "create", "configmap", "via-kubectl", "--from-literal=k=v"
    )
    proc = subprocess.run(
        [str(SCRIPT), "kubectl", str(controlplane.dir), "-n", namespace, "get", "cm", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    items = {i["metadata"]["name"]: i for i in json.loads(proc.stdout)["items"]}
    assert items["via-kubectl"]["data"] == {"k": "v"}


# -- node identities ---------------------------------------------------------------------------


def _ready_condition(status: str = "True") -> JSON:
    now = now_rfc3339()
    return {
        "type": "Ready",
        "status": status,
        "reason": "KubeletReady",
        "message": "test",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def test_node_credentials_may_update_only_their_own_node(controlplane: ControlPlane) -> None:
    mine, other = unique_name("n", "mine"), unique_name("n", "other")
    creds = controlplane.node_credentials(mine)
    assert creds.kubeconfig == controlplane.dir / "nodes" / mine / "kubeconfig"
    with controlplane.admin_client() as admin:
        for name in (mine, other):
            admin.create("/api/v1/nodes", {"metadata": {"name": name}})
    status = {"status": {"conditions": [_ready_condition()]}}
    lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"

    def lease(node: str) -> JSON:
        return {
            "metadata": {"name": node},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now_micro()},
        }

    with controlplane.client_for(creds) as kubelet:
        updated = kubelet.patch(f"/api/v1/nodes/{mine}/status", status, kind="strategic-merge")
        assert updated["status"]["conditions"][0]["status"] == "True"
        kubelet.create(lease_path, lease(mine))
        with pytest.raises(ApiError) as refused:
            kubelet.patch(f"/api/v1/nodes/{other}/status", status, kind="strategic-merge")
        assert refused.value.status == 403
        with pytest.raises(ApiError) as refused_lease:
            kubelet.create(lease_path, lease(other))
        assert refused_lease.value.status == 403
    # The kubeconfig written for the identity works with kubectl too.
    who = controlplane.kubectl(
        "--kubeconfig", str(creds.kubeconfig), "auth", "whoami", "-o", "json"
    )
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:node:{mine}"
    assert "system:nodes" in info["groups"]


# -- scheduler and controller manager --------------------------------------------------------


def _ready_node(name: str, labels: JSON, taints: list[JSON]) -> JSON:
    capacity = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"taints": taints},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [_ready_condition()],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def _renew_lease(api: AdminClient, node: str) -> None:
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}"
    spec = {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now_micro()}
    try:
        api.patch(path, {"spec": spec})
    except ApiError as exc:
        if exc.status != 404:
            raise
        api.create(
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            {"metadata": {"name": node}, "spec": spec},
        )


def _make_ready_node(api: AdminClient, name: str, labels: JSON, taints: list[JSON]) -> None:
    node = _ready_node(name, labels, taints)
    api.create("/api/v1/nodes", node)
    # Creation ignores status; a kubelet posts it separately.
    api.patch(f"/api/v1/nodes/{name}/status", {"status": node["status"]}, kind="strategic-merge")
    _renew_lease(api, name)


def _condition(node: JSON, kind: str) -> str | None:
    for cond in node.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def test_scheduler_binds_pod_to_matching_ready_node(
    controlplane_full: ControlPlane, make_namespace: Callable[[ControlPlane], str]
) -> None:
    ns = make_namespace(controlplane_full)
    target, decoy = unique_name("n", "target"), unique_name("n", "decoy")
    taint = {"key": "vk-trio.test/virtual", "value": "true", "effect": "NoSchedule"}
    with controlplane_full.admin_client() as api:
        _make_ready_node(api, target, {"vk-trio.test/pool": ns}, [taint])
        _make_ready_node(api, decoy, {}, [])
        pod = {
            "metadata": {"name": "sched"},
            "spec": {
                "nodeSelector": {"vk-trio.test/pool": ns},
                "tolerations": [
                    {"key": "vk-trio.test/virtual", "operator": "Equal", "value": "true"}
                ],
                "containers": [{"name": "c", "image": "example.invalid/none:1"}],
            },
        }
        api.create(f"/api/v1/namespaces/{ns}/pods", pod)

        def bound() -> str | None:
            for name in (target, decoy):
                _renew_lease(api, name)
            got = api.get(f"/api/v1/namespaces/{ns}/pods/sched")
            return str(got["spec"]["nodeName"]) if got["spec"].get("nodeName") else None

        node_name = wait_for(bound, timeout=60, interval=0.5, message="pod bound")
        assert node_name == target

        # The scheduler records its event asynchronously, after the binding.
        def scheduled() -> bool:
            events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
            return any(e["reason"] == "Scheduled" for e in events)

        wait_for(scheduled, timeout=WAIT, interval=0.5, message="Scheduled event")


def test_node_turns_not_ready_when_its_lease_is_not_renewed(
    controlplane_full: ControlPlane,
) -> None:
    grace = controlplane_full.node_monitor_grace_period
    assert grace is not None
    name = unique_name("n", "lease")
    with controlplane_full.admin_client() as api:
        _make_ready_node(api, name, {}, [])
        # Renewing the Lease (as a kubelet does) keeps the node Ready well past the grace
        # period, even though its status is never updated again.
        deadline = time.monotonic() + grace * 1.25
        while time.monotonic() < deadline:
            _renew_lease(api, name)
            assert _condition(api.get(f"/api/v1/nodes/{name}"), "Ready") == "True"
            time.sleep(1.0)
        stopped = time.monotonic()

        def not_ready() -> JSON | None:
            got = api.get(f"/api/v1/nodes/{name}")
            return got if _condition(got, "Ready") != "True" else None

        node = wait_for(
            not_ready,
            timeout=grace * 3,
            interval=0.5,
            message="node NotReady",
        )
    assert _condition(node, "Ready") == "Unknown"
    assert time.monotonic() - stopped >= grace * 0.5
    taints = {t["key"] for t in node["spec"].get("taints", [])}
    assert "node.kubernetes.io/unreachable" in taints


# -- fault injection: restart, compact, lifecycle --------------------------------------------


@pytest.fixture(scope="module")
def private_cp(controlplane_factory: StartControlPlane) -> ControlPlane:
    """Restart and compaction would disturb other tests: they get a control plane of their own."""
    return controlplane_factory("faults")


def _watch_in_thread(cp: ControlPlane, path: str, rv: str, sink: list[JSON]) -> threading.Thread:
    """Watch ``path`` from ``rv`` on a connection of its own, appending events to ``sink`` and a
    final ``CLOSED`` marker when the stream ends."""

    def run() -> None:
        with cp.admin_client() as api:
            try:
                with api.watch(path, rv, timeout_seconds=120) as events:
                    sink.extend(events)
            except httpx.HTTPError as exc:
                sink.append({"type": "CLOSED", "error": repr(exc)})
            else:
                sink.append({"type": "CLOSED"})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_restart_keeps_objects_and_watch_resumes(private_cp: ControlPlane) -> None:
    ns = unique_name("ns", "restart")
    with private_cp.admin_client() as api:
        api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
        path = f"/api/v1/namespaces/{ns}/configmaps"
        start = api.get(path)["metadata"]["resourceVersion"]
        events: list[JSON] = []
        watcher = _watch_in_thread(private_cp, path, start, events)
        before = api.create(path, {"metadata": {"name": "before"}, "data": {"x": "1"}})
        rv = before["metadata"]["resourceVersion"]
        # The open watch delivered the object: it is established across the restart.
        wait_for(lambda: len(events) >= 1, timeout=WAIT, message="watch event")
        assert events[0]["type"] == "ADDED"
    old_pid = private_cp.pids["apiserver"]

    restarted = private_cp.restart(down_for=1.0)

    assert restarted.server == private_cp.server
    assert restarted.ready["restarts"] == private_cp.ready["restarts"] + 1
    assert restarted.pids["apiserver"] != old_pid
    watcher.join(timeout=WAIT)
    assert not watcher.is_alive(), "the watch should end when the API server goes away"
    assert events[-1]["type"] == "CLOSED"
    with restarted.admin_client() as api:
        assert api.get(f"{path}/before")["data"] == {"x": "1"}
        after = api.create(path, {"metadata": {"name": "after"}})
        # Resume from the last resource version seen before the restart.
        with api.watch(path, rv, timeout_seconds=20) as resumed:
            first = next(resumed)
    assert first["type"] == "ADDED"
    assert first["object"]["metadata"]["name"] == "after"
    assert first["object"]["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


def _watch_outcome(api: AdminClient, path: str, rv: str) -> int | str:
    """HTTP status of a refused watch, the code of an ERROR event, or the first event type."""
    try:
        with api.watch(path, rv, timeout_seconds=10) as events:
            first = next(events)
    except ApiError as exc:
        return exc.status
    if first["type"] == "ERROR":
        return int(first["object"]["code"])
    return str(first["type"])


def test_compact_makes_old_resource_versions_gone(private_cp: ControlPlane) -> None:
    ns = unique_name("ns", "compact")
    with private_cp.admin_client() as api:
        api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
        path = f"/api/v1/namespaces/{ns}/configmaps"
        old = api.create(path, {"metadata": {"name": "cm"}, "data": {"v": "0"}})
        for i in range(1, 4):
            latest = api.patch(f"{path}/cm", {"data": {"v": str(i)}})
        old_rv = old["metadata"]["resourceVersion"]
        assert _watch_outcome(api, path, old_rv) == "MODIFIED"  # history still there

        revision = private_cp.compact()

        assert revision > int(latest["metadata"]["resourceVersion"])
        assert _watch_outcome(api, path, old_rv) == 410
        with pytest.raises(ApiError) as gone:
            api.get(path, resourceVersion=old_rv, resourceVersionMatch="Exact")
        assert gone.value.status == 410
        # Current state and fresh watches are unaffected.
        assert api.get(f"{path}/cm")["data"] == {"v": "3"}
        current = api.get(path)["metadata"]["resourceVersion"]
        api.patch(f"{path}/cm", {"data": {"v": "4"}})
        assert _watch_outcome(api, path, current) == "MODIFIED"


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=300, check=False
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/cmdline").read_bytes() != b""


def test_up_refuses_a_running_dir_and_down_stops_everything(
    controlplane_factory: StartControlPlane, tmp_path: Path
) -> None:
    cp = controlplane_factory("lifecycle", with_scheduler=True)
    again = _script("up", str(cp.dir))
    assert again.returncode != 0
    assert again.stderr.count("\n") == 1
    assert "already running" in again.stderr

    pids = cp.pids
    assert set(pids) == {"supervisor", "apiserver", "scheduler"}
    # A running DIR is managed with its own binary: `down` works from a checkout whose sources
    # do not even build (and with an empty binary cache).
    broken = _copy_of_script(tmp_path / "tree", "package main\n\nfunc main() { undefined() }\n")
    env = _isolated_cache_env(tmp_path)
    down = subprocess.run(
        [str(broken), "down", str(cp.dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / "cache" / "vk-trio").exists()  # nothing was built
    for name, pid in pids.items():
        assert not _alive(pid), f"{name} (pid {pid}) still running"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", cp.ready["ports"]["apiserver"]))  # the port is free again
    assert json.loads((cp.dir / "ready.json").read_text())["state"] == "stopped"

    for command in (["compact", str(cp.dir)], ["restart", str(cp.dir)]):
        refused = _script(*command)
        assert refused.returncode != 0
        assert "is not running" in refused.stderr
    assert _script("down", str(cp.dir)).returncode == 0  # idempotent


def test_not_ready_in_time_is_reported_with_the_log_tail(tmp_path: Path) -> None:
    directory = tmp_path / "slow"
    proc = _script("up", str(directory), "--timeout", "1")
    assert proc.returncode != 0
    first, *tail_lines = proc.stderr.strip().splitlines()
    assert first.startswith("vk-controlplane: error: kube-apiserver: not ready within 1s")
    assert first.endswith(f"see {directory / 'logs' / 'apiserver.log'}")
    assert tail_lines
    # The tail is the log's last lines or, when the API server printed nothing yet in the
    # second it had (a loaded CI machine), a note that its log is empty.
    log_path = directory / "logs" / "apiserver.log"
    assert all(line.startswith("  | ") for line in tail_lines) or tail_lines == [
        f"  ({log_path} is empty)"
    ], tail_lines
    # Nothing is left running.
    assert not (directory / "run" / "supervisor.pid").exists()
    assert _script("status", str(directory)).returncode != 0


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    usage = _script("up")
    assert usage.returncode != 0
    assert usage.stderr.startswith("controlplane: error: usage:")
    unknown = _script("frobnicate")
    assert unknown.returncode != 0
    assert unknown.stderr.count("\n") == 1
    missing = _script("kubectl", str(tmp_path / "nowhere"), "get", "ns")
    assert missing.returncode != 0
    assert "has no kubeconfig" in missing.stderr
    bad_profile = _script("up", str(tmp_path / "x"), "--profile", "turbo")
    assert bad_profile.returncode != 0
    assert "--profile must be default or bench" in bad_profile.stderr


def _copy_of_script(tree: Path, main_go: str) -> Path:
    """A throw-away checkout: scripts/controlplane plus a tiny Go module in its place."""
    (tree / "scripts").mkdir(parents=True)
    script = tree / "scripts" / "controlplane"
    script.write_bytes(SCRIPT.read_bytes())
    script.chmod(0o755)
    module = tree / "tests" / "controlplane"
    module.mkdir(parents=True)
    (module / "go.mod").write_text("module example.invalid/broken\n\ngo 1.26.0\n")
    (module / "go.sum").write_text("")
    (module / "main.go").write_text(main_go)
    return script


def _isolated_cache_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Our own binary cache, but Go's build cache where it was: Go derives its default from
    XDG_CACHE_HOME too, and a cold standard library would make these tests slow."""
    gocache = subprocess.run(
        ["go", "env", "GOCACHE"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    return {**os.environ, "GOCACHE": gocache, "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def test_build_failure_names_its_log(tmp_path: Path) -> None:
    script = _copy_of_script(tmp_path / "tree", "package main\n\nfunc main() { undefined() }\n")
    env = _isolated_cache_env(tmp_path)
    proc = subprocess.run(
        [str(script), "build"], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert proc.returncode != 0
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("controlplane: error: building vk-controlplane failed; see ")
    log = Path(error.split("see ", 1)[1].split(" ", 1)[0])
    assert log.is_file()
    assert "undefined" in log.read_text()
    assert "undefined: undefined" in error


def test_missing_go_is_reported(tmp_path: Path) -> None:
    script = _copy_of_script(tmp_path / "tree", "package main\n\nfunc main() {}\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [str(script), "build"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode != 0
    assert proc.stderr.strip() == (
        "controlplane: error: Go toolchain not found on PATH (need Go >= 1.26 and access to "
        "the Go module proxy to build the control plane)"
    )


def test_cached_build_is_reused(tmp_path: Path) -> None:
    script = _copy_of_script(tmp_path / "tree", "package main\n\nfunc main() {}\n")
    env = _isolated_cache_env(tmp_path)

    def path() -> str:
        proc = subprocess.run(
            [str(script), "path"], capture_output=True, text=True, env=env, timeout=300, check=True
        )
        return proc.stdout.strip()

    first = path()
    assert Path(first).parent == tmp_path / "cache" / "vk-trio"
    built_at = Path(first).stat().st_mtime_ns
    assert path() == first  # same sources: cache hit, nothing rebuilt
    assert Path(first).stat().st_mtime_ns == built_at
    main_go = tmp_path / "tree" / "tests" / "controlplane" / "main.go"
    main_go.write_text("package main\n\nfunc main() { println() }\n")
    assert path() != first  # changed sources: a new key
