"""What a provider factory is given: :class:`ProviderConfig`, and cluster lookups through it.

The factory runs once, at start-up, before the process talks to the API server, so that a bad
provider configuration is reported (and the process exits) before anything is registered.  The
cluster lookups a provider may want (config maps, secrets, services, the node's pods) come from the
node's informer caches, which exist only once the node runs; :class:`LateResourceLookup` is the
handle the factory receives now and the node binds later.
"""

from __future__ import annotations

from typing import Any, Protocol, final

import attrs

__all__ = ["LateResourceLookup", "ProviderConfig", "ResourceLookup"]


class ResourceLookup(Protocol):
    """Read-only lookups in the node's informer caches (no API round trip, never blocks)."""

    def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ConfigMap, or ``None`` if the cache has no such object."""
        ...

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Secret (``data`` values base64 as in the API), or ``None``."""
        ...

    def list_services(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Services of one namespace, or of all namespaces when ``namespace`` is ``None``."""
        ...

    def list_pods(self) -> list[dict[str, Any]]:
        """The pods bound to this node, as the API server has them."""
        ...


@final
class LateResourceLookup:
    """A :class:`ResourceLookup` that answers once the node has bound the real one.

    Before :meth:`bind` every lookup raises ``RuntimeError``: a provider that needs lookups inside
    its factory is asking for data that does not exist yet, and should do it in ``run()`` or in a
    pod call instead.  The objects returned belong to the cache: treat them as read-only.
    """

    __slots__ = ("_target",)

    def __init__(self) -> None:
        self._target: ResourceLookup | None = None

    def bind(self, target: ResourceLookup) -> None:
        """Called by the node when its caches exist.  Binding twice is a programming error."""
        if self._target is not None:
            raise RuntimeError("LateResourceLookup is already bound")
        self._target = target

    @property
    def is_bound(self) -> bool:
        """Whether lookups are answered yet."""
        return self._target is not None

    def _require(self) -> ResourceLookup:
        if self._target is None:
            raise RuntimeError("cluster lookups are not available until the node is running")
        return self._target

    def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        """See :meth:`ResourceLookup.get_config_map`."""
        return self._require().get_config_map(namespace, name)

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """See :meth:`ResourceLookup.get_secret`."""
        return self._require().get_secret(namespace, name)

    def list_services(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """See :meth:`ResourceLookup.list_services`."""
        return self._require().list_services(namespace)

    def list_pods(self) -> list[dict[str, Any]]:
        """See :meth:`ResourceLookup.list_pods`."""
        return self._require().list_pods()


@final
@attrs.frozen(kw_only=True)
class ProviderConfig:
    """Everything a provider factory gets to build its provider.

    ``config_path`` is ``--provider-config`` (``None`` when not given); what the file means is the
    provider's business.  ``internal_ip`` is ``$VKUBELET_POD_IP`` (may be empty), the address the
    API server reaches the kubelet API at; ``daemon_port`` is ``$KUBELET_PORT``.  ``kubeconfig``
    is the node's own ``--kubeconfig`` (``None``: the default search), for a provider that needs
    a client of the home cluster of its own (the cluster provider asks it for service-account
    tokens); load it with ``vk_trio.kube.load_config`` inside ``run()``.
    """

    provider_name: str
    node_name: str
    config_path: str | None = None
    operating_system: str = "linux"
    internal_ip: str = ""
    daemon_port: int = 10250
    cluster_domain: str = "cluster.local"
    kubeconfig: str | None = None
    resources: ResourceLookup = attrs.field(factory=LateResourceLookup)
