"""What the kubelet API may say about pods, and which pods a request may reach.

Three rules from the kubelet's own server:

* ``/runningpods/`` lists what runs - names, UIDs, container names and images - and nothing
  else.  The provider's pods carry resolved environment values (Secrets included); the kubelet
  builds this list from the container runtime, which knows none of that.
* A request for a pod's logs, exec, attach or port-forward names a pod bound to this node, or
  it is 404 (``pod does not exist``) before the provider hears of it.
* The names in the path are Kubernetes names (DNS-1123 labels for namespace and container,
  a DNS-1123 subdomain for the pod); anything else is 400 and never reaches a provider, whose
  backend may treat a name as a path or a shell word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vk_trio.util import go_quote

from ._http import HttpError

__all__ = ["check_names", "find_pod", "running_pod_summary"]

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_LABEL_MAX = 63
_SUBDOMAIN_MAX = 253


def is_dns1123_label(value: str) -> bool:
    return len(value) <= _LABEL_MAX and _LABEL.match(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= _SUBDOMAIN_MAX and all(is_dns1123_label(part) for part in value.split("."))


def check_names(params: Mapping[str, str]) -> None:
    """400 unless ``namespace``/``container`` are DNS-1123 labels and ``pod`` a subdomain."""
    for key in ("namespace", "pod", "container"):
        value = params.get(key)
        if value is None:
            continue
        valid = is_dns1123_subdomain(value) if key == "pod" else is_dns1123_label(value)
        if not valid:
            kind = "DNS-1123 subdomain" if key == "pod" else "DNS-1123 label"
            raise HttpError(400, f"invalid {key} name {go_quote(value)}: not a {kind}")


def find_pod(
    pods: Iterable[Mapping[str, Any]], namespace: str, name: str
) -> Mapping[str, Any] | None:
    """The pod ``namespace/name`` among ``pods`` (the node's bound pods), else ``None``."""
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("name") == name and meta.get("namespace") == namespace:
            return pod
    return None


def running_pod_summary(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a provider's pod that ``/runningpods/`` may show (see the module docstring)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    metadata = {k: meta[k] for k in ("name", "namespace", "uid") if meta.get(k)}
    containers = [
        {k: c[k] for k in ("name", "image") if k in c}
        for c in spec.get("containers") or ()
        if isinstance(c, Mapping)
    ]
    return {"metadata": metadata, "spec": {"containers": containers}, "status": {}}
