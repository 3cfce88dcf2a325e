"""deploy/ against the real API server.

* Every manifest passes a server-side dry-run apply (schema, defaulting, validation, admission).
* The RBAC really lets the ServiceAccount make each API call the process makes, through a token
  from the TokenRequest API, and refuses neighbouring calls it does not need.

* ``vk-trio`` itself, run as a subprocess with that token, registers its node, runs a pod through
  its whole life and stops, with not one request refused.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._controlplane import AdminClient, ApiError, ControlPlane, wait_for

from .test_manifests import documents, find

JSON = dict[str, Any]


def localised(namespace: str) -> list[JSON]:
    """The manifests with the ``vk-trio`` namespace replaced by the test's namespace."""
    docs = []
    for doc in copy.deepcopy(documents()):
        if doc["kind"] == "Namespace":
            doc["metadata"]["name"] = namespace
        if doc["metadata"].get("namespace") == "vk-trio":
            doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
        docs.append(doc)
    return docs


_PLURALS = {
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "Deployment": "deployments",
}


def object_path(doc: JSON) -> str:
    group_version = doc["apiVersion"]
    prefix = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    namespace = doc["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{scope}/{_PLURALS[doc['kind']]}/{doc['metadata']['name']}"


def test_manifests_pass_server_side_dry_run(controlplane: ControlPlane, namespace: str) -> None:
    """Server-side apply with ``dryRun=All``: what ``kubectl apply --server-side --dry-run=server``
    sends, object by object."""
    docs = localised(namespace)
    assert {doc["kind"] for doc in docs} == set(_PLURALS)
    with controlplane.admin_client() as api:
        for doc in docs:
            answer = api.request(
                "PATCH",
                object_path(doc),
                doc,
                params={"dryRun": "All", "fieldManager": "vk-trio-deploy-test", "force": "true"},
                content_type="application/apply-patch+yaml",
            )
            assert answer["kind"] == doc["kind"]
            assert answer["metadata"]["name"] == doc["metadata"]["name"]
            if doc["kind"] == "Deployment":
                # defaulted and validated by the server, not just echoed
                template = answer["spec"]["template"]["spec"]
                assert template["containers"][0]["terminationMessagePath"]
                assert template["serviceAccountName"] == "vk-trio"
        # nothing was created
        with pytest.raises(ApiError) as info:
            api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/vk-trio")
        assert info.value.status == 404
        with pytest.raises(ApiError) as info:
            api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/vk-trio")
        assert info.value.status == 404


class ServiceAccountClient:
    """Requests as the ServiceAccount, with a bearer token from the TokenRequest API."""

    def __init__(self, controlplane: ControlPlane, token: str) -> None:
        self.token = token
        self.http = httpx.Client(
            base_url=controlplane.server,
            verify=ssl.create_default_context(cafile=str(controlplane.ca_cert)),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def call(self, method: str, path: str, body: Any = None, patch: str | None = None) -> int:
        headers = {
            "Content-Type": f"application/{patch}-patch+json" if patch else "application/json"
        }
        response = self.http.request(method, path, json=body, headers=headers)
        return response.status_code

    def allowed(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        subresource: str = "",
        namespace: str = "",
    ) -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "subresource": subresource,
                    "namespace": namespace,
                }
            },
        }
        response = self.http.post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=review
        )
        response.raise_for_status()
        return bool(response.json()["status"]["allowed"])


@pytest.fixture
def account(controlplane: ControlPlane, namespace: str) -> Iterator[ServiceAccountClient]:
    """The deploy/ ServiceAccount and RBAC, really created (under unique names), and a token."""
    suffix = uuid.uuid4().hex[:8]
    role_name = f"vk-trio-test-{suffix}"
    subject = [{"kind": "ServiceAccount", "name": "vk-trio", "namespace": namespace}]
    cluster_role = find("ClusterRole", "vk-trio")
    lease_role = find("Role", "vk-trio-lease")
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    created: list[str] = []
    with controlplane.admin_client() as api:
        try:
            api.create(
                f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "vk-trio"}}
            )
            api.create(
                f"{rbac}/clusterroles",
                {"metadata": {"name": role_name}, "rules": cluster_role["rules"]},
            )
            created.append(f"{rbac}/clusterroles/{role_name}")
            api.create(
                f"{rbac}/clusterrolebindings",
                {
                    "metadata": {"name": role_name},
                    "roleRef": {**cluster_role_ref(), "name": role_name},
                    "subjects": subject,
                },
            )
            created.append(f"{rbac}/clusterrolebindings/{role_name}")
            lease_ns = f"{rbac}/namespaces/kube-node-lease"
            api.create(
                f"{lease_ns}/roles", {"metadata": {"name": role_name}, "rules": lease_role["rules"]}
            )
            created.append(f"{lease_ns}/roles/{role_name}")
            api.create(
                f"{lease_ns}/rolebindings",
                {
                    "metadata": {"name": role_name},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": role_name,
                    },
                    "subjects": subject,
                },
            )
            created.append(f"{lease_ns}/rolebindings/{role_name}")
            token = api.create(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/vk-trio/token",
                {"spec": {"expirationSeconds": 3600}},
            )["status"]["token"]
            client = ServiceAccountClient(controlplane, token)
            try:
                yield client
            finally:
                client.http.close()
        finally:
            for path in reversed(created):
                api.delete(path)


def cluster_role_ref() -> JSON:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole"}


def wait_allowed(account: ServiceAccountClient) -> None:
    """RBAC changes reach the authorizer through an informer: wait until they have."""
    wait_for(
        lambda: (
            account.allowed("get", "nodes")
            and account.allowed(
                "get", "leases", group="coordination.k8s.io", namespace="kube-node-lease"
            )
        ),
        timeout=30,
        message="RBAC for the vk-trio ServiceAccount",
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_service_account_can_make_every_call_the_process_makes(
    controlplane: ControlPlane, namespace: str, account: ServiceAccountClient
) -> None:
    wait_allowed(account)
    node = f"vk-deploy-test-{uuid.uuid4().hex[:8]}"
    with controlplane.admin_client() as api:
        try:
            _exercise(account, api, namespace, node)
        finally:
            for path in (f"/api/v1/nodes/{node}",):
                try:
                    api.delete(path)
                except ApiError as exc:
                    if exc.status != 404:
                        raise


def _exercise(account: ServiceAccountClient, api: AdminClient, namespace: str, node: str) -> None:
    ns = f"/api/v1/namespaces/{namespace}"
    # Node registration, status heartbeat, re-read.
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}
    assert account.call("POST", "/api/v1/nodes", body) == 201
    assert account.call("GET", f"/api/v1/nodes/{node}") == 200
    own = f"fieldSelector=metadata.name%3D{node}"
    assert account.call("GET", f"/api/v1/nodes?{own}&watch=1&timeoutSeconds=1") == 200
    status = {
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}
    }
    assert (
        account.call("PATCH", f"/api/v1/nodes/{node}/status", status, patch="strategic-merge")
        == 200
    )
    # Lease in kube-node-lease.
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    lease = {
        "metadata": {"name": node},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now()},
    }
    assert account.call("POST", leases, lease) == 201
    current = account.http.get(f"{leases}/{node}").json()
    current["spec"]["renewTime"] = now()
    assert account.call("PUT", f"{leases}/{node}", current) == 200
    # Pods bound to the node: list/watch by field selector, status patch, final delete.
    pod = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }
    api.create(f"{ns}/pods", pod)
    selector = f"fieldSelector=spec.nodeName%3D{node}"
    assert account.call("GET", f"/api/v1/pods?{selector}") == 200
    assert account.call("GET", f"/api/v1/pods?{selector}&watch=1&timeoutSeconds=1") == 200
    assert account.call("GET", f"{ns}/pods/p") == 200
    assert (
        account.call(
            "PATCH", f"{ns}/pods/p/status", {"status": {"phase": "Running"}}, patch="merge"
        )
        == 200
    )
    # Events: created, then patched with a higher count.
    event = {
        "metadata": {"name": "p.vk"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace},
        "reason": "ProviderCreateSuccess",
        "message": "Create pod in provider successfully",
        "type": "Normal",
        "count": 1,
        "source": {"component": f"{node}/pod-controller"},
    }
    assert account.call("POST", f"{ns}/events", event) == 201
    assert account.call("PATCH", f"{ns}/events/p.vk", {"count": 2}, patch="strategic-merge") == 200
    delete = {
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": api.get(f"{ns}/pods/p")["metadata"]["uid"]},
    }
    assert account.call("DELETE", f"{ns}/pods/p", delete) == 200
    # Environment resolution: informers over all namespaces.
    for resource in ("configmaps", "secrets", "services"):
        assert account.call("GET", f"/api/v1/{resource}") == 200
        assert account.call("GET", f"/api/v1/{resource}?watch=1&timeoutSeconds=1") == 200
    # Webhook authentication/authorization of kubelet-API clients.
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": "x"},
    }
    assert account.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review) == 201
    sar = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "someone",
            "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy"},
        },
    }
    assert account.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar) == 201


@pytest.mark.parametrize(
    ("verb", "resource", "extra"),
    [
        ("create", "pods", {}),
        ("update", "pods", {}),
        ("patch", "pods", {}),
        ("update", "pods", {"subresource": "status"}),
        ("delete", "nodes", {}),
        ("update", "nodes", {}),
        ("patch", "nodes", {}),
        ("list", "nodes", {}),
        ("create", "secrets", {"namespace": "default"}),
        ("delete", "configmaps", {"namespace": "default"}),
        ("create", "leases", {"group": "coordination.k8s.io", "namespace": "default"}),
        ("delete", "leases", {"group": "coordination.k8s.io", "namespace": "kube-node-lease"}),
        ("get", "nodes", {"subresource": "proxy"}),
    ],
)
def test_service_account_gets_nothing_more(
    account: ServiceAccountClient, verb: str, resource: str, extra: dict[str, str]
) -> None:
    wait_allowed(account)
    assert not account.allowed(verb, resource, **extra)


def test_vk_trio_runs_a_pod_with_only_the_service_accounts_token(
    controlplane: ControlPlane, namespace: str, account: ServiceAccountClient, tmp_path: Path
) -> None:
    wait_allowed(account)
    node = f"vk-sa-{uuid.uuid4().hex[:8]}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": controlplane.server,
                            "certificate-authority": str(controlplane.ca_cert),
                        },
                    }
                ],
                "users": [{"name": "sa", "user": {"token": account.token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa"}}],
                "current-context": "sa",
            }
        )
    )
    mock = tmp_path / "mock.json"
    mock.write_text(json.dumps({node: {}}))
    log = tmp_path / "vk-trio.log"
    env = {
        **os.environ,
        "KUBELET_PORT": str(_free_port()),
        "VKUBELET_POD_IP": "127.0.0.1",
        "APISERVER_CERT_LOCATION": str(controlplane.kubelet_cert),
        "APISERVER_KEY_LOCATION": str(controlplane.kubelet_key),
        "APISERVER_CA_CERT_LOCATION": str(controlplane.ca_cert),
    }
    argv = [
        str(Path(sys.executable).with_name("vk-trio")),
        *("--provider", "mock", "--provider-config", str(mock), "--nodename", node),
        *("--kubeconfig", str(kubeconfig), "--metrics-addr", f"127.0.0.1:{_free_port()}"),
        *("--log-level", "debug"),
    ]
    pods = f"/api/v1/namespaces/{namespace}/pods"
    with log.open("w") as out, controlplane.admin_client() as api:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: _ready(api, node), timeout=60, message=f"node {node} Ready")
            api.create(
                pods,
                {
                    "metadata": {"name": "web"},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
                },
            )
            wait_for(
                lambda: api.get(f"{pods}/web")["status"].get("phase") == "Running",
                timeout=60,
                message="pod Running",
            )
            api.request("DELETE", f"{pods}/web", {"gracePeriodSeconds": 1})
            wait_for(lambda: not _exists(api, f"{pods}/web"), timeout=60, message="pod gone")
            leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
            lease = api.get(f"{leases}/{node}")
            assert lease["spec"]["holderIdentity"] == node
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            with contextlib.suppress(ApiError):
                api.delete(f"/api/v1/nodes/{node}")
    text = log.read_text()
    assert code == 0, text[-3000:]
    for refusal in ("403", "Forbidden", "forbidden"):
        assert refusal not in text, text[-3000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(api: AdminClient, node: str) -> bool:
    try:
        obj = api.get(f"/api/v1/nodes/{node}")
    except ApiError:
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in obj["status"].get("conditions", [])
    )


def _exists(api: AdminClient, path: str) -> bool:
    try:
        api.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True
