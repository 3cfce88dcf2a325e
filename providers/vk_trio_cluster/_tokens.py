"""Home-cluster service-account tokens for offloaded pods, kept in a remote Secret.

A pod's ``serviceAccountToken`` projections (the automatic ``kube-api-access-*`` volume and any
of the user's) would, in the remote cluster, hold a token of the *remote* cluster.  Instead the
provider asks the *home* API server for a token with the TokenRequest API - same service account,
same audience and expiry as the projection, bound to the home pod so that it dies with it - and
stores it with the home ``ca.crt`` and the home namespace in the pod's token Secret
(``vk-trio-token.<pod uid>``).  Tokens are renewed at about 80% of their lifetime; the time of
the next renewal is recorded on the Secret, so a restarted provider picks it up.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, final

from vk_trio.kube import AlreadyExists, KubeClient
from vk_trio.provider import ResourceLookup

from ._labels import KIND_LABEL, ownership
from ._translate import (
    ROOT_CA_CONFIG_MAP,
    TOKEN_CA_KEY,
    TOKEN_NAMESPACE_KEY,
    token_secret_name,
    token_sources,
)

__all__ = ["REFRESH_AT_ANNOTATION", "REFRESH_FRACTION", "Tokens"]

logger = logging.getLogger("vk_trio_cluster.tokens")

REFRESH_FRACTION: Final = 0.8
REFRESH_AT_ANNOTATION: Final = "vk-trio.io/token-refresh-at"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _parse(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _format(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@final
class Tokens:
    """Issues and renews the token Secrets (see the module docstring)."""

    def __init__(
        self, home: KubeClient, remote: KubeClient, lookup: ResourceLookup, *, node: str
    ) -> None:
        self._home = home
        self._remote = remote
        self._lookup = lookup
        self._node = node
        self._refresh_at: dict[str, datetime] = {}  # pod uid -> when to renew
        self.issued = 0

    def due(self, uid: str, now: datetime) -> bool:
        """Whether the pod's tokens must be (re)issued now."""
        at = self._refresh_at.get(uid)
        return at is None or at <= now

    def forget(self, uid: str) -> None:
        self._refresh_at.pop(uid, None)

    def adopt(self, uid: str, secret: Mapping[str, Any]) -> None:
        """Take the renewal time from an existing token Secret (after a restart)."""
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        at = _parse(str(annotations.get(REFRESH_AT_ANNOTATION) or ""))
        if at is not None:
            self._refresh_at.setdefault(uid, at)

    async def ensure(self, pod: Mapping[str, Any], remote_ns: str) -> bool:
        """Issue the pod's tokens and write its token Secret if due; False if it has none."""
        sources = token_sources(pod)
        if not sources:
            return False
        meta = pod["metadata"]
        uid = str(meta["uid"])
        now = datetime.now(UTC)
        if not self.due(uid, now):
            return True
        namespace = str(meta.get("namespace") or "default")
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        data: dict[str, str] = {TOKEN_NAMESPACE_KEY: _b64(namespace)}
        root_ca = self._lookup.get_config_map(namespace, ROOT_CA_CONFIG_MAP) or {}
        ca = (root_ca.get("data") or {}).get("ca.crt")
        if ca:
            data[TOKEN_CA_KEY] = _b64(ca)
        earliest: datetime | None = None
        for source in sources:
            spec: dict[str, Any] = {
                "expirationSeconds": source.expiration_seconds,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": uid,
                },
            }
            if source.audience:
                spec["audiences"] = [source.audience]
            answer = await self._home.create(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
            )
            status = answer.get("status") or {}
            data[source.key] = _b64(str(status.get("token") or ""))
            expires = _parse(str(status.get("expirationTimestamp") or "")) or (
                now + timedelta(seconds=source.expiration_seconds)
            )
            refresh = now + (expires - now) * REFRESH_FRACTION
            earliest = refresh if earliest is None else min(earliest, refresh)
        assert earliest is not None
        labels, annotations = ownership(self._node, namespace, str(meta["name"]), uid)
        labels[KIND_LABEL] = "token"
        annotations[REFRESH_AT_ANNOTATION] = _format(earliest)
        name = token_secret_name(uid)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": remote_ns,
                "labels": labels,
                "annotations": annotations,
            },
            "data": data,
        }
        path = f"/api/v1/namespaces/{remote_ns}/secrets"
        try:
            await self._remote.create(path, secret)
        except AlreadyExists:
            await self._remote.update(f"{path}/{name}", secret)
        self._refresh_at[uid] = earliest
        self.issued += 1
        return True
