"""Cluster lookups served from the node's informer caches.

One object answers both the env resolver (:class:`~vk_trio.node.EnvSources`) and providers
(:class:`vk_trio.provider.ResourceLookup`, bound through ``LateResourceLookup``): ConfigMaps,
Secrets and Services of all namespaces, and the pods bound to this node. Nothing here calls the
API server; a lookup is a dict access in the cache.
"""

from __future__ import annotations

from typing import Any, final

from vk_trio.informers import SharedInformer, wait_for_cache_sync

__all__ = ["ClusterLookups"]


@final
class ClusterLookups:
    """Lookups over the ConfigMap, Secret, Service and (node-filtered) Pod informers."""

    def __init__(
        self,
        *,
        pods: SharedInformer,
        config_maps: SharedInformer,
        secrets: SharedInformer,
        services: SharedInformer,
    ) -> None:
        self.pods = pods
        self.config_maps = config_maps
        self.secrets = secrets
        self.services = services
        self._pods = pods.lister()
        self._config_maps = config_maps.lister()
        self._secrets = secrets.lister()
        self._services = services.lister()

    async def wait_for_cache_sync(self) -> bool:
        """Wait for every cache; False if one stopped before syncing.

        The pod controller waits for this before its first sync, so a mandatory reference to an
        existing ConfigMap never fails just because its cache was still loading (the Go version
        only waits for the pod cache).
        """
        return await wait_for_cache_sync(self.pods, self.config_maps, self.secrets, self.services)

    def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._config_maps.get(f"{namespace}/{name}")

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._secrets.get(f"{namespace}/{name}")

    def list_services(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._services.list(namespace=namespace)

    def list_pods(self) -> list[dict[str, Any]]:
        return self._pods.list()

    def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._pods.get(f"{namespace}/{name}" if namespace else name)
