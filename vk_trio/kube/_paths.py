"""Build API paths: the client's verbs take paths, this is how to spell them.

The core group lives under ``/api/v1``, every other group under
``/apis/<group>/<version>``; namespaced objects put ``namespaces/<ns>``
before the plural.  Names are percent-quoted so that an odd name cannot
smuggle a ``/`` or ``?`` into the path.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["api_prefix", "resource_path"]


def _segment(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what} must not be empty")
    if value in (".", ".."):
        raise ValueError(f"{what} must not be {value!r}")
    return quote(value, safe="")


def api_prefix(api_version: str) -> str:
    """``"v1"`` -> ``"/api/v1"``; ``"apps/v1"`` -> ``"/apis/apps/v1"``."""
    if not api_version or api_version.count("/") > 1 or api_version.startswith("/"):
        raise ValueError(f"invalid apiVersion {api_version!r}")
    if "/" in api_version:
        group, version = api_version.split("/")
        return f"/apis/{_segment(group, 'group')}/{_segment(version, 'version')}"
    return f"/api/{_segment(api_version, 'version')}"


def resource_path(
    api_version: str,
    plural: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The API path of a collection, an object or an object's subresource.

    >>> resource_path("v1", "pods", namespace="ns", name="p", subresource="status")
    '/api/v1/namespaces/ns/pods/p/status'
    >>> resource_path("coordination.k8s.io/v1", "leases", namespace="kube-node-lease")
    '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases'
    """
    parts = [api_prefix(api_version)]
    if namespace is not None:
        parts.append("namespaces")
        parts.append(_segment(namespace, "namespace"))
    parts.append(_segment(plural, "plural"))
    if name is not None:
        parts.append(_segment(name, "name"))
    if subresource is not None:
        if name is None:
            raise ValueError("a subresource needs a name")
        parts.append(_segment(subresource, "subresource"))
    return "/".join(parts)
