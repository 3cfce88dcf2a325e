"""A realistic pod, as a Deployment's pod looks on a real cluster once it runs.

Three containers with env (plain and valueFrom), ports, resources, probes, mounts; configMap,
secret, emptyDir and projected service-account volumes; default tolerations; five conditions and
three running container statuses; and the managedFields that kube-controller-manager, the
scheduler and the kubelet leave behind, derived from the object the way the API server builds
them (one ``f:`` entry per field a manager set, list items keyed by name). Every pod gets its own
names, UID and addresses so that no string is shared between pods by accident.
"""

from __future__ import annotations

import uuid
from typing import Any

_APP_ENV = [
    ("LOG_LEVEL", "info"),
    ("HTTP_PORT", "8080"),
    ("METRICS_PORT", "9090"),
    ("CACHE_TTL_SECONDS", "300"),
    ("FEATURE_FLAGS", "new-checkout,fast-search"),
]


def _container(pod: int, index: int, name: str) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in _APP_ENV]
    env.append(
        {
            "name": "POD_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        }
    )
    env.append(
        {
            "name": "POD_IP",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
        }
    )
    env.append(
        {
            "name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": f"db-credentials-{pod % 7}", "key": "password"}},
        }
    )
    return {
        "name": name,
        "image": f"registry.example.com/shop/{name}:1.{index}.{pod % 13}",
        "imagePullPolicy": "IfNotPresent",
        "command": [f"/usr/local/bin/{name}"],
        "args": ["--config=/etc/app/config.yaml", f"--shard={pod % 16}", "--verbose=false"],
        "env": env,
        "ports": [
            {"name": "http", "containerPort": 8080 + index, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090 + index, "protocol": "TCP"},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app", "readOnly": True},
            {"name": "cache", "mountPath": "/var/cache/app"},
            {
                "name": f"kube-api-access-{pod:05x}",
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "readOnly": True,
            },
        ],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080 + index, "scheme": "HTTP"},
            "initialDelaySeconds": 10,
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": 8080 + index, "scheme": "HTTP"},
            "timeoutSeconds": 1,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def _suffix(i: int) -> str:
    """A 5-character pod-name suffix, distinct for every i below 36**5 (7919 is prime)."""
    n = (i * 7919 + 12345) % 36**5
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(5):
        n, r = divmod(n, 36)
        out += chars[r]
    return out


def _hex(seed: int) -> str:
    """64 hex digits, unique per seed (digests and container IDs)."""
    return uuid.UUID(int=seed * 2 + 1).hex + uuid.UUID(int=seed * 2 + 2).hex


def _fields(value: Any) -> dict[str, Any]:
    """The managedFields ``fieldsV1`` shape of ``value`` (what a manager that set it owns)."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            listed: dict[str, Any] = {}
            for element in item:
                if "name" in element:
                    ident = f'k:{{"name":"{element["name"]}"}}'
                elif "containerPort" in element:
                    ident = f'k:{{"containerPort":{element["containerPort"]},"protocol":"TCP"}}'
                elif "type" in element:
                    ident = f'k:{{"type":"{element["type"]}"}}'
                else:
                    ident = "."
                listed[ident] = {".": {}, **_fields(element)}
            out[f"f:{key}"] = listed
        elif isinstance(item, dict):
            out[f"f:{key}"] = _fields(item) if item else {}
        else:
            out[f"f:{key}"] = {}
    return out


def realistic_pod(i: int, *, node: str = "vk-node-1") -> dict[str, Any]:
    """Pod number ``i`` of a 3-container Deployment, running on ``node``."""
    rs = f"shop-frontend-7d9f8c{i % 97:02d}b"
    name = f"{rs}-{_suffix(i)}"
    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    containers = [
        _container(i, n, c) for n, c in enumerate(("web", "sidecar-proxy", "log-shipper"))
    ]
    spec: dict[str, Any] = {
        "volumes": [
            {"name": "config", "configMap": {"name": "shop-frontend-config", "defaultMode": 420}},
            {"name": "tls", "secret": {"secretName": "shop-frontend-tls", "defaultMode": 420}},
            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
            {
                "name": f"kube-api-access-{i:05x}",
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ],
                },
            },
        ],
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "shop-frontend",
        "serviceAccount": "shop-frontend",
        "nodeName": node,
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"},
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    started = f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:{(i * 7) % 60:02d}Z"
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": started}
            for t in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ],
        "hostIP": "192.168.10.21",
        "hostIPs": [{"ip": "192.168.10.21"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": started,
        "containerStatuses": [
            {
                "name": c["name"],
                "state": {"running": {"startedAt": started}},
                "lastState": {},
                "ready": True,
                "restartCount": i % 3,
                "image": c["image"],
                "imageID": f"registry.example.com/shop/{c['name']}@sha256:{_hex(i * 31 + n)}",
                "containerID": f"containerd://{_hex(i * 41 + n)}",
                "started": True,
            }
            for n, c in enumerate(containers)
        ],
        "qosClass": "Burstable",
    }
    metadata: dict[str, Any] = {
        "name": name,
        "generateName": f"{rs}-",
        "namespace": "shop",
        "uid": str(uuid.UUID(int=i * 104729 + 17)),
        "resourceVersion": str(100000 + i),
        "creationTimestamp": started,
        "labels": {
            "app.kubernetes.io/name": "shop-frontend",
            "app.kubernetes.io/part-of": "shop",
            "pod-template-hash": rs.rsplit("-", 1)[1],
            "tier": "frontend",
        },
        "annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-11-20T08:00:00Z",
            "prometheus.io/scrape": "true",
        },
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs,
                "uid": str(uuid.UUID(int=(i % 97) * 15485863 + 3)),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    metadata["managedFields"] = [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": started,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": _fields(
                    {
                        k: metadata[k]
                        for k in ("generateName", "labels", "annotations", "ownerReferences")
                    }
                ),
                "f:spec": _fields({k: v for k, v in spec.items() if k != "nodeName"}),
            },
        },
        {
            "manager": "kube-scheduler",
            "operation": "Update",
            "apiVersion": "v1",
            "time": started,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:status": {
                    "f:conditions": {
                        'k:{"type":"PodScheduled"}': {
                            ".": {},
                            "f:lastProbeTime": {},
                            "f:lastTransitionTime": {},
                            "f:status": {},
                            "f:type": {},
                        }
                    }
                }
            },
            "subresource": "status",
        },
        {
            "manager": "vk-trio",
            "operation": "Update",
            "apiVersion": "v1",
            "time": started,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": _fields({k: v for k, v in status.items()})},
            "subresource": "status",
        },
    ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}
