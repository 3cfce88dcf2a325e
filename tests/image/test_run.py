"""The image, run by podman against a real control plane, as deploy/ runs it in a cluster.

The deploy/ manifests are applied (server-side) to a control plane of the test's own, and the
container gets what the kubelet would give the Deployment's pod: the volumes projected from the
applied Secret and ConfigMaps, the environment and arguments of the applied pod template, and
the ServiceAccount's token in the in-cluster location.  It runs as the image's non-root user
on a read-only root filesystem without any writable directory (not even /tmp), with no
capabilities.  Host networking stands in for the pod network: the API server, the kubelet API
and the metrics port meet on 127.0.0.1, so the two ports the manifests fix move to free ones.

Checked: the node registers and turns Ready, the kubelet API refuses a request without
credentials (401) and serves the API server's `kubectl logs`, /metrics answers, a pod runs its
life, not one API request is refused (the RBAC is enough) and the token can do nothing beyond
the manifests' rules (the RBAC is no more than enough), and `podman stop` (SIGTERM) ends it
with status 0 within the Deployment's grace period.  A second run takes a kubeconfig with every
certificate inline, the remote-cluster case, on the same read-only root.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests._controlplane import REPO_ROOT, AdminClient, ApiError, ControlPlane, wait_for
from tests.conftest import StartControlPlane
from tests.e2e._kubelet_api_support import issue_certificate

from ._podman import container, podman, readable_tree

JSON = dict[str, Any]
DEPLOY = REPO_ROOT / "deploy"
NAMESPACE = "vk-trio"
ACCOUNT = "vk-trio"
FIELD_MANAGER = "vk-trio-image-test"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def cluster(controlplane_factory: StartControlPlane) -> ControlPlane:
    """A control plane of this module's own, with deploy/ applied under its real names."""
    cp = controlplane_factory("image")
    cp.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-k", str(DEPLOY))
    # What the controller manager's root-CA publisher does in every namespace.
    with cp.admin_client() as api:
        api.create(
            f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": cp.ca_cert.read_text()}},
        )
    # The serving certificate, filled in as docs/deploy.md says (create --dry-run | apply).
    secret = cp.kubectl(
        *("-n", NAMESPACE, "create", "secret", "tls", "vk-trio-serving"),
        *(f"--cert={cp.kubelet_cert}", f"--key={cp.kubelet_key}"),
        *("--dry-run=client", "-o", "yaml"),
    ).stdout
    cp.kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", input=secret
    )
    return cp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def deployment(api: AdminClient) -> JSON:
    obj: JSON = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/vk-trio")
    return obj


def project_volumes(api: AdminClient, pod_spec: JSON, root: Path) -> dict[Path, str]:
    """The pod's Secret and ConfigMap volumes as the kubelet projects them: one file per key,
    read back from the API server (what was applied, not the files on disk)."""
    (spec,) = pod_spec["containers"]
    mounts: dict[Path, str] = {}
    by_name = {v["name"]: v for v in pod_spec["volumes"]}
    for mount in spec["volumeMounts"]:
        volume = by_name[mount["name"]]
        directory = root / mount["name"]
        directory.mkdir()
        if "secret" in volume:
            path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{volume['secret']['secretName']}"
            for key, value in api.get(path)["data"].items():
                (directory / key).write_bytes(base64.b64decode(value))
        else:
            path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{volume['configMap']['name']}"
            for key, value in api.get(path)["data"].items():
                (directory / key).write_text(value)
        assert mount.get("readOnly") is True
        mounts[directory] = mount["mountPath"]
    return mounts


def container_env(spec: JSON, kubelet_port: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in spec["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            assert item["valueFrom"] == {
                "fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}
            }
            env[item["name"]] = "127.0.0.1"  # the pod's IP: here, the host's
    assert env["KUBELET_PORT"] == "10250"
    env["KUBELET_PORT"] = str(kubelet_port)  # the host network has one 10250 for everyone
    return env


def container_args(spec: JSON, metrics_port: int) -> list[str]:
    args = list(spec["args"])
    assert "--metrics-addr=:10255" in args
    args[args.index("--metrics-addr=:10255")] = f"--metrics-addr=127.0.0.1:{metrics_port}"
    return args


def service_account_token(api: AdminClient) -> str:
    answer = api.create(
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{ACCOUNT}/token",
        {"spec": {"expirationSeconds": 3600}},
    )
    token: str = answer["status"]["token"]
    return token


def node_ready(api: AdminClient, node: str) -> bool:
    try:
        obj = api.get(f"/api/v1/nodes/{node}")
    except ApiError:
        return False
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def pod_phase(api: AdminClient, path: str) -> str:
    try:
        return str(api.get(path).get("status", {}).get("phase", ""))
    except ApiError:
        return ""


def process_uids(name: str) -> set[str]:
    """Real, effective, saved and file-system uids of every process in the container."""
    pids = podman("top", name, "hpid", check=True).stdout.split()[1:]
    uids: set[str] = set()
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        (line,) = [x for x in status.splitlines() if x.startswith("Uid:")]
        uids.update(line.split()[1:])
    return uids


def stop(name: str, grace: int) -> tuple[int, float]:
    """``podman stop`` (SIGTERM, SIGKILL after ``grace`` s): the exit status and the time."""
    started = time.monotonic()
    podman("stop", "--time", str(grace), name, timeout=grace + 120)
    elapsed = time.monotonic() - started
    code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
    return int(code), elapsed


def rules_review(cp: ControlPlane, token: str, namespace: str) -> set[tuple[str, str, str]]:
    """(group, resource, verb) the token may use in ``namespace``, cluster-wide rules included."""
    with httpx.Client(
        base_url=cp.server,
        verify=ssl.create_default_context(cafile=str(cp.ca_cert)),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as http:
        response = http.post(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            json={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": namespace},
            },
        )
    response.raise_for_status()
    status = response.json()["status"]
    assert not status.get("incomplete"), status
    granted: set[tuple[str, str, str]] = set()
    for rule in status["resourceRules"]:
        for group in rule.get("apiGroups", [""]):
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    granted.add((group, resource, verb))
    return granted


def manifest_rules(kind: str) -> set[tuple[str, str, str]]:
    rules: set[tuple[str, str, str]] = set()
    for name in ("clusterrole.yaml", "lease-role.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / name).read_text()):
            if doc and doc["kind"] == kind:
                for rule in doc["rules"]:
                    for group in rule["apiGroups"]:
                        for resource in rule["resources"]:
                            for verb in rule["verbs"]:
                                rules.add((group, resource, verb))
    return rules


def baseline_token(api: AdminClient) -> str:
    """A token of a ServiceAccount bound to nothing: what any authenticated user may do."""
    api.create(
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {"metadata": {"name": "baseline"}}
    )
    answer = api.create(
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/baseline/token",
        {"spec": {"expirationSeconds": 600}},
    )
    token: str = answer["status"]["token"]
    return token


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # nothing the container could have left: it had no writable directory


def test_in_cluster_with_the_deploy_manifests(
    image: str, cluster: ControlPlane, workspace: Path
) -> None:
    with cluster.admin_client() as api:
        template = deployment(api)["spec"]["template"]
        pod_spec = template["spec"]
        (spec,) = pod_spec["containers"]
        # The manifests ask for what the run below gives it.
        assert pod_spec["serviceAccountName"] == ACCOUNT
        assert pod_spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        grace = int(pod_spec["terminationGracePeriodSeconds"])

        mounts = project_volumes(api, pod_spec, workspace)
        account = workspace / "serviceaccount"
        account.mkdir()
        token = service_account_token(api)
        (account / "token").write_text(token)
        (account / "ca.crt").write_bytes(cluster.ca_cert.read_bytes())
        (account / "namespace").write_text(NAMESPACE)
        mounts[account] = SERVICE_ACCOUNT_DIR
        readable_tree(workspace)

        kubelet_port, metrics_port = free_port(), free_port()
        env = container_env(spec, kubelet_port)
        server_port = cluster.server.rsplit(":", 1)[1]
        env |= {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": server_port}
        args = container_args(spec, metrics_port)
        node = next(a.split("=", 1)[1] for a in args if a.startswith("--nodename="))

        namespace = f"image-{uuid.uuid4().hex[:6]}"
        api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
        pods = f"/api/v1/namespaces/{namespace}/pods"
        with container(image, args, env=env, mounts=mounts, name_hint="incluster") as name:
            wait_for(lambda: node_ready(api, node), timeout=120, message=f"node {node} Ready")
            assert process_uids(name) == {"10001"}

            kubelet = f"https://127.0.0.1:{kubelet_port}"
            verify = ssl.create_default_context(cafile=str(cluster.ca_cert))
            answer = httpx.get(f"{kubelet}/pods", verify=verify, timeout=30)
            assert answer.status_code == 401

            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30)
            assert metrics.status_code == 200
            assert "# TYPE " in metrics.text
            assert httpx.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=30).is_success

            api.create(
                pods,
                {
                    "metadata": {"name": "web"},
                    "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]},
                },
            )
            wait_for(
                lambda: pod_phase(api, f"{pods}/web") == "Running",
                timeout=120,
                message="pod Running",
            )
            logs = cluster.kubectl("logs", "-n", namespace, "web", check=False)
            assert logs.returncode == 0, logs.stderr
            assert f"mock log line 3 of {namespace}/web/app" in logs.stdout

            api.request("DELETE", f"{pods}/web", {"gracePeriodSeconds": 1})
            wait_for(lambda: pod_phase(api, f"{pods}/web") == "", timeout=120, message="gone")
            leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
            lease = api.get(f"{leases}/{node}")
            assert lease["spec"]["holderIdentity"] == node

            code, elapsed = stop(name, grace)
            log = podman("logs", name).stdout + podman("logs", name).stderr
            assert code == 0, log[-3000:]
            assert elapsed < grace, f"stopped after {elapsed:.0f}s (grace {grace}s)"
            for refused in ("403", "Forbidden", "forbidden"):
                assert refused not in log, log[-3000:]
        api.delete(f"/api/v1/nodes/{node}")

    # Least privilege, the other half: beyond what every authenticated user may do (asking
    # about itself, discovery), the token can do exactly the manifests' rules.
    with cluster.admin_client() as api:
        baseline = baseline_token(api)
    cluster_rules = manifest_rules("ClusterRole")
    lease_rules = manifest_rules("Role")
    for namespace, expected in (
        (NAMESPACE, cluster_rules),
        ("default", cluster_rules),
        ("kube-node-lease", cluster_rules | lease_rules),
    ):
        everyone = rules_review(cluster, baseline, namespace)
        assert rules_review(cluster, token, namespace) - everyone == expected - everyone


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_remote_kubeconfig_with_inline_certificates(
    image: str, cluster: ControlPlane, workspace: Path
) -> None:
    """Outside the cluster: a kubeconfig with the CA, client certificate and key inline, on a
    root filesystem with no writable directory at all (nothing can go to a temporary file).
    The client certificate names the ServiceAccount, so the same RBAC applies."""
    certs = workspace / "certs"
    certs.mkdir()
    cert, key = issue_certificate(
        cluster, certs, common_name=f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
    )
    config = workspace / "kubeconfig"
    config.mkdir()
    (config / "config").write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "remote",
                        "cluster": {
                            "server": cluster.server,
                            "certificate-authority-data": b64(cluster.ca_cert.read_bytes()),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "vk-trio",
                        "user": {
                            "client-certificate-data": b64(cert.read_bytes()),
                            "client-key-data": b64(key.read_bytes()),
                        },
                    }
                ],
                "contexts": [
                    {"name": "remote", "context": {"cluster": "remote", "user": "vk-trio"}}
                ],
                "current-context": "remote",
            }
        )
    )
    with cluster.admin_client() as api:
        pod_spec = deployment(api)["spec"]["template"]["spec"]
        (spec,) = pod_spec["containers"]
        mounts = project_volumes(api, pod_spec, workspace)
        mounts[config] = "/etc/vk-trio/kubeconfig"
        readable_tree(workspace)
        env = container_env(spec, free_port())
        args = [*container_args(spec, free_port()), "--kubeconfig=/etc/vk-trio/kubeconfig/config"]
        node = next(a.split("=", 1)[1] for a in args if a.startswith("--nodename="))
        with container(image, args, env=env, mounts=mounts, name_hint="kubeconfig") as name:
            wait_for(lambda: node_ready(api, node), timeout=120, message=f"node {node} Ready")
            code, _ = stop(name, int(pod_spec["terminationGracePeriodSeconds"]))
            log = podman("logs", name).stdout + podman("logs", name).stderr
            assert code == 0, log[-3000:]
            for problem in ("403", "forbidden", "Read-only file system", "Traceback"):
                assert problem not in log, log[-3000:]
        api.delete(f"/api/v1/nodes/{node}")
