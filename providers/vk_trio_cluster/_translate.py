"""From a home pod to the remote pod that runs it (pure functions, no I/O).

What changes on the way (and why):

* metadata: same name, the remote namespace; the home labels and annotations plus the ownership
  labels/annotations of :mod:`._labels`; UID, resourceVersion, managedFields, owner references,
  finalizers and timestamps are the home cluster's business and are dropped;
* scheduling: ``nodeName``, ``affinity``, ``nodeSelector``, ``schedulerName``,
  ``topologySpreadConstraints``, priority and the virtual node's own tolerations describe the
  *home* cluster; they are replaced by the configuration's ``nodeSelector``/``tolerations``;
* host namespaces (``hostNetwork``/``hostPID``/``hostIPC``) are refused: the pod would share a
  node it was never scheduled to (an :class:`InvalidInputError`, which the node reports as an
  event and a failed status);
* ConfigMaps and Secrets are referred to by their *reflected* names (:func:`reflected_name`,
  the home name plus the node), so two virtual nodes sharing a remote namespace never overwrite
  or delete each other's copies;
* service-account tokens: every ``serviceAccountToken`` projection becomes an item of the pod's
  token Secret (a home-cluster token, see :mod:`._tokens`), and the ``kube-root-ca.crt`` and
  ``metadata.namespace`` items of the same projected volume come from that Secret too, so
  in-cluster clients in the remote pod see the home cluster's CA and namespace.  The remote
  service account is not mounted.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, Final, final

import attrs

from vk_trio.provider import InvalidInputError

from ._config import ClusterConfig
from ._labels import KIND_LABEL, ORIGIN_RESOURCE_VERSION_ANNOTATION, ownership

__all__ = [
    "TOKEN_CA_KEY",
    "TOKEN_NAMESPACE_KEY",
    "References",
    "TokenSource",
    "references",
    "reflected_name",
    "reflected_object",
    "remote_pod_for",
    "token_secret_name",
    "token_sources",
]

ROOT_CA_CONFIG_MAP: Final = "kube-root-ca.crt"
TOKEN_CA_KEY: Final = "ca.crt"
TOKEN_NAMESPACE_KEY: Final = "namespace"
_HOME_TOLERATION_KEYS: Final = ("virtual-kubelet.io/provider",)
_DROPPED_METADATA: Final = (
    "uid",
    "resourceVersion",
    "managedFields",
    "ownerReferences",
    "finalizers",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "generateName",
    "selfLink",
)
_DROPPED_SPEC: Final = (
    "nodeName",
    "affinity",
    "nodeSelector",
    "schedulerName",
    "topologySpreadConstraints",
    "priority",
    "priorityClassName",
    "preemptionPolicy",
    "serviceAccountName",
    "serviceAccount",
    "ephemeralContainers",
    "schedulingGates",
)
_HOST_NAMESPACES: Final = ("hostNetwork", "hostPID", "hostIPC")


@final
@attrs.frozen
class References:
    """The home ConfigMaps and Secrets a pod uses (names in the pod's namespace)."""

    config_maps: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()

    def __or__(self, other: References) -> References:
        return References(self.config_maps | other.config_maps, self.secrets | other.secrets)


@final
@attrs.frozen
class TokenSource:
    """One ``serviceAccountToken`` projection: the token Secret's ``key`` holds its token."""

    key: str
    audience: str | None
    expiration_seconds: int


def reflected_name(name: str, node: str) -> str:
    """The remote name of the copy of home object ``name`` made by virtual node ``node``."""
    full = f"{name}.{node}"
    if len(full) <= 253:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: 253 - len(node) - 12]}-{digest}.{node}"


def token_secret_name(pod_uid: str) -> str:
    """The remote Secret holding a pod's home-cluster service-account token(s)."""
    return f"vk-trio-token.{pod_uid}"


def _containers(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for group in ("initContainers", "containers"):
        yield from spec.get(group) or ()


def _is_token_volume(volume: Mapping[str, Any]) -> bool:
    sources = (volume.get("projected") or {}).get("sources") or ()
    return any("serviceAccountToken" in source for source in sources)


def references(pod: Mapping[str, Any]) -> References:
    """Every ConfigMap and Secret the pod refers to (env, envFrom, volumes, imagePullSecrets).

    The ``kube-root-ca.crt`` of a token volume is not included: the token Secret carries it.
    """
    spec = pod.get("spec") or {}
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for container in _containers(spec):
        for env in container.get("env") or ():
            source = env.get("valueFrom") or {}
            if "configMapKeyRef" in source:
                config_maps.add(source["configMapKeyRef"].get("name", ""))
            if "secretKeyRef" in source:
                secrets.add(source["secretKeyRef"].get("name", ""))
        for env_from in container.get("envFrom") or ():
            if "configMapRef" in env_from:
                config_maps.add(env_from["configMapRef"].get("name", ""))
            if "secretRef" in env_from:
                secrets.add(env_from["secretRef"].get("name", ""))
    for volume in spec.get("volumes") or ():
        if "configMap" in volume:
            config_maps.add(volume["configMap"].get("name", ""))
        if "secret" in volume:
            secrets.add(volume["secret"].get("secretName", ""))
        token_volume = _is_token_volume(volume)
        for source in (volume.get("projected") or {}).get("sources") or ():
            if "configMap" in source:
                name = source["configMap"].get("name", "")
                if not (token_volume and name == ROOT_CA_CONFIG_MAP):
                    config_maps.add(name)
            if "secret" in source:
                secrets.add(source["secret"].get("name", ""))
    for pull in spec.get("imagePullSecrets") or ():
        secrets.add(pull.get("name", ""))
    config_maps.discard("")
    secrets.discard("")
    return References(frozenset(config_maps), frozenset(secrets))


def token_sources(pod: Mapping[str, Any]) -> list[TokenSource]:
    """The pod's ``serviceAccountToken`` projections, in order (keys ``token-0``, ...)."""
    found: list[TokenSource] = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        for source in (volume.get("projected") or {}).get("sources") or ():
            projection = source.get("serviceAccountToken")
            if projection is not None:
                found.append(
                    TokenSource(
                        key=f"token-{len(found)}",
                        audience=projection.get("audience") or None,
                        expiration_seconds=int(projection.get("expirationSeconds") or 3600),
                    )
                )
    return found


def _rename_env(container: dict[str, Any], node: str) -> None:
    for env in container.get("env") or ():
        source = env.get("valueFrom") or {}
        for key in ("configMapKeyRef", "secretKeyRef"):
            ref = source.get(key)
            if ref and ref.get("name"):
                ref["name"] = reflected_name(ref["name"], node)
    for env_from in container.get("envFrom") or ():
        for key in ("configMapRef", "secretRef"):
            ref = env_from.get(key)
            if ref and ref.get("name"):
                ref["name"] = reflected_name(ref["name"], node)


def _token_volume_sources(
    sources: list[dict[str, Any]], token_secret: str, counter: list[int], node: str
) -> list[dict[str, Any]]:
    """A token volume's sources, with the token, CA and namespace items taken from the
    token Secret."""
    result: list[dict[str, Any]] = []
    for source in sources:
        if "serviceAccountToken" in source:
            key = f"token-{counter[0]}"
            counter[0] += 1
            path = source["serviceAccountToken"].get("path", "token")
            result.append({"secret": {"name": token_secret, "items": [{"key": key, "path": path}]}})
        elif "configMap" in source and source["configMap"].get("name") == ROOT_CA_CONFIG_MAP:
            items = source["configMap"].get("items") or [{"key": TOKEN_CA_KEY, "path": "ca.crt"}]
            result.append({"secret": {"name": token_secret, "items": items}})
        elif "downwardAPI" in source:
            kept, moved = [], []
            for item in source["downwardAPI"].get("items") or ():
                field = (item.get("fieldRef") or {}).get("fieldPath")
                if field == "metadata.namespace":
                    moved.append(
                        {"key": TOKEN_NAMESPACE_KEY, "path": item.get("path", "namespace")}
                    )
                else:
                    kept.append(item)
            if moved:
                result.append({"secret": {"name": token_secret, "items": moved}})
            if kept:
                result.append({"downwardAPI": {**source["downwardAPI"], "items": kept}})
        else:
            result.append(_rename_source(source, node))
    return result


def _rename_source(source: dict[str, Any], node: str) -> dict[str, Any]:
    for key in ("configMap", "secret"):
        ref = source.get(key)
        if ref and ref.get("name"):
            ref["name"] = reflected_name(ref["name"], node)
    return source


def _rename_volumes(spec: dict[str, Any], node: str, token_secret: str) -> None:
    counter = [0]
    for volume in spec.get("volumes") or ():
        if "configMap" in volume and volume["configMap"].get("name"):
            volume["configMap"]["name"] = reflected_name(volume["configMap"]["name"], node)
        if "secret" in volume and volume["secret"].get("secretName"):
            volume["secret"]["secretName"] = reflected_name(volume["secret"]["secretName"], node)
        projected = volume.get("projected")
        if projected is None:
            continue
        sources = projected.get("sources") or []
        if _is_token_volume(volume):
            projected["sources"] = _token_volume_sources(sources, token_secret, counter, node)
        else:
            projected["sources"] = [_rename_source(source, node) for source in sources]


def remote_pod_for(
    pod: Mapping[str, Any], *, node: str, namespace: str, config: ClusterConfig
) -> dict[str, Any]:
    """The remote pod for home ``pod`` in remote ``namespace`` (see the module docstring).

    Raises :class:`InvalidInputError` for a pod that must not be offloaded.
    """
    source_spec = pod.get("spec") or {}
    for field in _HOST_NAMESPACES:
        if source_spec.get(field):
            raise InvalidInputError(
                f"spec.{field}: pods using host namespaces are not offloaded to the remote cluster"
            )
    meta = pod.get("metadata") or {}
    home_namespace = str(meta.get("namespace") or "default")
    name = str(meta["name"])
    uid = str(meta.get("uid") or "")
    labels, annotations = ownership(node, home_namespace, name, uid)
    remote_meta = {
        key: copy.deepcopy(value) for key, value in meta.items() if key not in _DROPPED_METADATA
    }
    remote_meta["namespace"] = namespace
    remote_meta["labels"] = {**(meta.get("labels") or {}), **labels}
    remote_meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    spec = copy.deepcopy(dict(source_spec))
    for field in _DROPPED_SPEC:
        spec.pop(field, None)
    spec["automountServiceAccountToken"] = False
    tolerations = [
        t for t in spec.get("tolerations") or () if t.get("key") not in _HOME_TOLERATION_KEYS
    ]
    tolerations += [dict(t) for t in config.tolerations if dict(t) not in tolerations]
    if tolerations:
        spec["tolerations"] = tolerations
    else:
        spec.pop("tolerations", None)
    if config.node_selector:
        spec["nodeSelector"] = dict(config.node_selector)
    for container in _containers(spec):
        _rename_env(container, node)
    _rename_volumes(spec, node, token_secret_name(uid))
    if spec.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [
            {"name": reflected_name(p["name"], node)}
            for p in spec["imagePullSecrets"]
            if p.get("name")
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": remote_meta, "spec": spec}


def reflected_object(
    kind: str, home: Mapping[str, Any], *, node: str, namespace: str
) -> dict[str, Any]:
    """The remote copy of a home ConfigMap or Secret (``kind``), for remote ``namespace``."""
    meta = home.get("metadata") or {}
    labels, annotations = ownership(
        node, str(meta.get("namespace") or ""), str(meta["name"]), str(meta.get("uid") or "")
    )
    labels[KIND_LABEL] = "reflected"
    annotations[ORIGIN_RESOURCE_VERSION_ANNOTATION] = str(meta.get("resourceVersion") or "")
    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": reflected_name(str(meta["name"]), node),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
    }
    for field in ("data", "binaryData"):
        if field in home:
            result[field] = copy.deepcopy(home[field])
    if kind == "Secret":
        # A service-account-token Secret would be taken over (or emptied) by the remote
        # cluster's token controller: the copy is plain data.  ``immutable`` is not copied
        # either, so that the copy can follow its origin.
        kind_type = str(home.get("type") or "Opaque")
        result["type"] = "Opaque" if kind_type.endswith("service-account-token") else kind_type
    return result
