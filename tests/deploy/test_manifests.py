"""The deploy/ manifests agree with the code: flags parse, files are where the env says, RBAC
binds the service account the Deployment runs as, the mock config has the node's entry.

(Applying them to a real API server with server-side dry run is in ``test_apply.py``.)
"""

from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from vk_trio.cli import parse_command_line, settings_from
from vk_trio_mock import parse_mock_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_namespaced_objects_live_in_vk_trio_except_the_lease_role() -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for doc in documents():
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in cluster_scoped:
            assert namespace is None, doc["metadata"]["name"]
        elif doc["kind"] in ("Role", "RoleBinding"):
            assert namespace == "kube-node-lease"
        else:
            assert namespace == "vk-trio", doc["metadata"]["name"]


def test_bindings_grant_the_roles_to_the_deployment_service_account() -> None:
    deployment = find("Deployment", "vk-trio")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    find("ServiceAccount", account)
    for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = next(d for d in documents() if d["kind"] == kind)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "vk-trio"}
        ]
        assert binding["roleRef"]["kind"] == role_kind
        find(role_kind, binding["roleRef"]["name"])


def verbs(kind: str, name: str) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for rule in find(kind, name)["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = f"{group}/{resource}" if group else resource
                granted.setdefault(key, set()).update(rule["verbs"])
    return granted


def test_cluster_role_is_exactly_what_the_process_uses() -> None:
    assert verbs("ClusterRole", "vk-trio") == {
        "pods": {"get", "list", "watch", "delete"},
        "pods/status": {"patch"},
        "nodes": {"get", "create", "watch"},
        "nodes/status": {"patch"},
        "events": {"create", "patch"},
        "configmaps": {"get", "list", "watch"},
        "secrets": {"get", "list", "watch"},
        "services": {"get", "list", "watch"},
        "authentication.k8s.io/tokenreviews": {"create"},
        "authorization.k8s.io/subjectaccessreviews": {"create"},
    }
    assert verbs("Role", "vk-trio-lease") == {
        "coordination.k8s.io/leases": {"get", "create", "update"}
    }


def container() -> dict[str, Any]:
    spec = find("Deployment", "vk-trio")["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    result: dict[str, Any] = only
    return result


def mounted_file(path: str) -> tuple[str, str]:
    """(volume kind:name, key) that provides ``path`` in the container."""
    spec = find("Deployment", "vk-trio")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container()["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            volume = volumes[mount["name"]]
            source = volume.get("secret", {}).get("secretName") or volume["configMap"]["name"]
            return source, path[len(prefix) :]
    raise AssertionError(f"{path} is not mounted")


def test_every_file_the_command_reads_is_mounted() -> None:
    env = {e["name"]: e.get("value") for e in container()["env"]}
    assert mounted_file(env["APISERVER_CERT_LOCATION"]) == ("vk-trio-serving", "tls.crt")
    assert mounted_file(env["APISERVER_KEY_LOCATION"]) == ("vk-trio-serving", "tls.key")
    assert mounted_file(env["APISERVER_CA_CERT_LOCATION"]) == ("kube-root-ca.crt", "ca.crt")
    args = parse_command_line(container()["args"])
    assert mounted_file(args.provider_config) == ("vk-trio-provider", "mock.json")
    secret = find("Secret", "vk-trio-serving")
    assert set(secret["data"]) == {"tls.crt", "tls.key"}


def test_args_and_env_are_valid_settings(tmp_path: Path) -> None:
    """Run the Deployment's args and env through the command's validation, files stood in."""
    ca = trustme.CA()
    cert = ca.issue_cert("vk-mock")
    paths = {name: tmp_path / name for name in ("tls.crt", "tls.key", "ca.crt", "mock.json")}
    cert.cert_chain_pems[0].write_to_path(str(paths["tls.crt"]))
    cert.private_key_pem.write_to_path(str(paths["tls.key"]))
    ca.cert_pem.write_to_path(str(paths["ca.crt"]))
    paths["mock.json"].write_text(find("ConfigMap", "vk-trio-provider")["data"]["mock.json"])

    def local(path: str) -> str:
        return str(paths[Path(path).name])

    env: dict[str, str] = {}
    for entry in container()["env"]:
        if "value" in entry:
            value = entry["value"]
            env[entry["name"]] = local(value) if value.startswith("/") else value
        else:
            assert entry["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
            env[entry["name"]] = "10.244.0.7"
    argv = [
        arg.replace("/etc/vk-trio/provider/mock.json", local("mock.json"))
        for arg in container()["args"]
    ]
    settings = settings_from(parse_command_line(argv), env, providers=frozenset({"mock"}))
    assert settings.node_name == "vk-mock"
    assert settings.pod_ip == "10.244.0.7"
    assert settings.client_ca_file is not None
    assert settings.anonymous_auth is False
    assert settings.metrics_address is not None
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"kubelet": settings.kubelet_port, "metrics": settings.metrics_address.port}
    mock = parse_mock_config(paths["mock.json"].read_text(), settings.node_name)
    assert mock.capacity() == {"cpu": "8", "memory": "32Gi", "pods": "110"}


@pytest.mark.parametrize(
    ("probe", "path"),
    [("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/healthz")],
)
def test_probes_use_the_metrics_port(probe: str, path: str) -> None:
    """Liveness must not depend on the API server (a slow start or an outage is no reason to
    restart): /livez; readiness may: /healthz. The metrics port listens on the pod IP."""
    assert container()[probe]["httpGet"] == {"path": path, "port": "metrics"}
    args = parse_command_line(container()["args"])
    assert args.metrics_addr == ":10255"


def test_startup_probe_allows_a_slow_start() -> None:
    startup = container()["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_container_runs_unprivileged() -> None:
    pod = find("Deployment", "vk-trio")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    assert container()["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    assert "USER 10001:10001" in dockerfile
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "vk-trio"]' in dockerfile
