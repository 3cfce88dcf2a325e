"""The cluster provider: home pods run as pods of a remote cluster.

Life of a pod (see ``docs/providers/cluster.md`` for the whole story):

* ``create_pod``: remote namespace (created on demand), reflected ConfigMaps/Secrets and the token
  Secret first, then the translated pod (:mod:`._translate`).  A remote pod of the same name that
  this node made for the same home pod (same origin UID) is *adopted*, never created twice - that
  is how a restarted provider takes its pods back.
* status: a remote pod informer selected by ``vk-trio.io/node=<node>`` calls the notifier for every
  change; nothing is polled.
* ``delete_pod``: the remote pod is deleted with the home grace period; when the informer sees it
  gone the home pod gets its final status, and the node removes it from the API.
* a remote pod deleted behind our back is created again (``restartPolicy`` Always/OnFailure,
  counted in ``restartCount``) or ends the home pod ``Failed`` (Never).

All background work (informers, reflection, token renewal, capacity, recreations) runs in
:meth:`ClusterProvider.run`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast, final

import trio

from vk_trio.informers import DeletedFinalStateUnknown, InformerFactory, SharedInformer
from vk_trio.kube import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    Invalid,
    KubeClient,
    KubeConfig,
    NotFound,
    PatchType,
    RetryPolicy,
    load_config,
)
from vk_trio.provider import (
    AttachIO,
    ContainerLogOptions,
    InvalidInputError,
    MetricFamily,
    NodeCallback,
    NotFoundError,
    PodCallback,
    ResourceLookup,
)
from vk_trio.provider import types as k8s

from ._capacity import capacity_from
from ._config import ClusterConfig
from ._labels import NODE_LABEL, origin_of
from ._reflect import Copy, Reflection
from ._status import REMOTE_POD_DELETED_REASON, deleted_status, home_status, recreating_status
from ._streams import RemoteStreams
from ._tokens import Tokens
from ._translate import references, reflected_name, remote_pod_for, token_secret_name

__all__ = ["ClusterProvider"]

logger = logging.getLogger("vk_trio_cluster")

Key = tuple[str, str]

SYNC_INTERVAL: Final = 2.0
"""Seconds between reflection passes (follow origins, collect unused copies, renew tokens)."""
CAPACITY_INTERVAL: Final = 60.0
PING_TIMEOUT: Final = 5.0
SCHEDULE_WAIT: Final = 60.0
"""Longest wait of a kubelet-API call for the remote pod to be scheduled."""
_RECREATE_BACKOFF: Final = (1.0, 2.0, 5.0, 10.0, 30.0)


def _ignore(_obj: Any) -> None:
    pass


def _key(pod: Mapping[str, Any]) -> Key:
    meta = pod["metadata"]
    return str(meta.get("namespace") or "default"), str(meta["name"])


def _uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


@final
class ClusterProvider:
    """Offloads the virtual node's pods to a remote cluster (see the module docstring).

    ``remote_config``/``home_config`` replace loading the kubeconfigs (tests).
    """

    def __init__(
        self,
        *,
        node_name: str,
        config: ClusterConfig,
        internal_ip: str = "",
        daemon_port: int = 10250,
        home_kubeconfig: str | None = None,
        resources: ResourceLookup,
        remote_config: KubeConfig | None = None,
        home_config: KubeConfig | None = None,
    ) -> None:
        self._node_name = node_name
        self._config = config
        self._internal_ip = internal_ip
        self._daemon_port = daemon_port
        self._home_kubeconfig = home_kubeconfig
        self._lookup = resources
        self._remote_config = remote_config
        self._home_config = home_config
        self._pods: dict[Key, dict[str, Any]] = {}
        self._reported: dict[Key, dict[str, Any]] = {}
        self._deleting: set[Key] = set()
        self._failed: set[Key] = set()
        self._restarts: dict[str, int] = {}
        self._namespaces: set[str] = set()
        self._notify: PodCallback = _ignore
        self._notify_node: NodeCallback = _ignore
        self._node: dict[str, Any] = {}
        self._capacity: tuple[dict[str, str], dict[str, str]] | None = (
            (dict(config.capacity), dict(config.capacity)) if config.capacity else None
        )
        self._synced = trio.Event()
        self._healthy = True
        self._send_recovered, self._recovered = trio.open_memory_channel[None](math.inf)
        self._poke = trio.Event()
        self._send_recreate, self._recreate = trio.open_memory_channel[Key](math.inf)
        self._remote: KubeClient | None = None
        self._pinger: KubeClient | None = None
        self._pod_informer: SharedInformer | None = None
        self._reflection: Reflection | None = None
        self._tokens: Tokens | None = None
        self._streams: RemoteStreams | None = None
        self.recreated = 0

    # -- running ------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect to both clusters, start the remote informers and the background loops."""
        remote_config = self._remote_config or await load_config(
            self._config.kubeconfig, context=self._config.context
        )
        home_config = self._home_config or await load_config(self._home_kubeconfig)
        agent = f"vk-trio-cluster/{self._node_name}"
        async with (
            KubeClient(remote_config, user_agent=agent, field_manager=agent) as remote,
            KubeClient(
                remote_config,
                user_agent=agent,
                timeout=PING_TIMEOUT,
                retry=RetryPolicy(max_attempts=1),
            ) as pinger,
            KubeClient(home_config, user_agent=agent) as home,
        ):
            factory = InformerFactory(remote, label_selector=f"{NODE_LABEL}={self._node_name}")
            pods = factory.informer("v1", "pods", all_namespaces=True)
            informers = {
                "ConfigMap": factory.informer("v1", "configmaps", all_namespaces=True),
                "Secret": factory.informer("v1", "secrets", all_namespaces=True),
            }
            pods.add_event_handler(
                on_add=self._on_remote,
                on_update=lambda _old, new: self._on_remote(new),
                on_delete=self._on_remote_delete,
            )
            self._remote, self._pinger, self._pod_informer = remote, pinger, pods
            self._reflection = Reflection(
                remote,
                self._lookup,
                informers,
                node=self._node_name,
                name_for=lambda name: reflected_name(name, self._node_name),
            )
            self._tokens = Tokens(home, remote, self._lookup, node=self._node_name)
            self._streams = RemoteStreams(remote_config, self._remote_name)
            try:
                await self._run_loops(factory, informers, task_status)
            finally:
                await self._streams.aclose()

    async def _run_loops(
        self,
        factory: InformerFactory,
        informers: Mapping[str, SharedInformer],
        task_status: trio.TaskStatus[None],
    ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(factory.run)
            nursery.start_soon(self._wait_for_sync, factory, informers["Secret"])
            nursery.start_soon(self._recreate_loop)
            nursery.start_soon(self._sync_loop)
            nursery.start_soon(self._recovery_loop)
            if self._config.capacity is None:
                nursery.start_soon(self._capacity_loop)
            task_status.started()

    async def _wait_for_sync(self, factory: InformerFactory, secrets: SharedInformer) -> None:
        await factory.wait_for_cache_sync()
        assert self._tokens is not None
        for secret in secrets.store.list():
            origin = origin_of(secret)
            if origin is not None and secret["metadata"]["name"] == token_secret_name(origin[2]):
                self._tokens.adopt(origin[2], secret)
        self._synced.set()
        logger.info("remote caches synced: %d remote pods of this node", len(pods_of(self)))
        if self._node:
            self._node["status"]["conditions"] = _conditions(ready=True)
            self._notify_node(copy.deepcopy(self._node))

    def _client(self) -> KubeClient:
        if self._remote is None:
            raise RuntimeError("the cluster provider is not running")
        return self._remote

    def _remote_namespace(self, namespace: str) -> str:
        return self._config.remote_namespace_for(namespace, self._node_name)

    def _remote_name(self, namespace: str, name: str) -> tuple[str, str]:
        """The remote pod of home pod ``namespace/name`` (for the kubelet API)."""
        key = (namespace, name)
        if key not in self._pods:
            raise NotFoundError(f'pod "{namespace}/{name}" is not known to the provider')
        return self._remote_namespace(namespace), name

    def _cached_remote(self, key: Key) -> dict[str, Any] | None:
        if self._pod_informer is None:
            return None
        return self._pod_informer.store.get_by_key(f"{self._remote_namespace(key[0])}/{key[1]}")

    # -- statuses from the remote informer ----------------------------------------------------

    def _report(self, key: Key, pod: Mapping[str, Any], status: dict[str, Any]) -> None:
        stored = {**pod, "status": status}
        self._reported[key] = stored
        self._notify(cast(k8s.Pod, stored))

    def _home_of(self, remote: Mapping[str, Any]) -> tuple[Key, dict[str, Any]] | None:
        origin = origin_of(remote)
        if origin is None:
            return None
        key = (origin[0], origin[1])
        home = self._pods.get(key)
        if home is None or _uid(home) != origin[2]:
            return None
        return key, home

    def _on_remote(self, remote: dict[str, Any]) -> None:
        found = self._home_of(remote)
        if found is None:
            return
        key, home = found
        if key in self._failed:
            return
        if remote["metadata"].get("deletionTimestamp") and key not in self._deleting:
            # Deleted behind our back: its last statuses (often a terminal phase) must not reach
            # the home pod, whose phase could then never go back to Running after the remote pod
            # is created again.  The delete event decides what the home pod shows.
            return
        restarts = self._restarts.get(_uid(home), 0)
        self._report(key, home, home_status(remote, host_ip=self._internal_ip, restarts=restarts))

    def _on_remote_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        remote = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self._poke.set()
        found = self._home_of(remote)
        if found is None:
            return
        key, home = found
        if key in self._deleting:
            self._finish(key, _uid(home))
            return
        previous = (self._reported.get(key) or {}).get("status") or {}
        policy = (home.get("spec") or {}).get("restartPolicy") or "Always"
        if policy == "Never":
            self._failed.add(key)
            self._report(
                key,
                home,
                deleted_status(
                    previous,
                    home,
                    phase="Failed",
                    reason=REMOTE_POD_DELETED_REASON,
                    message="the remote pod was deleted outside vk-trio",
                ),
            )
            return
        uid = _uid(home)
        self._restarts[uid] = self._restarts.get(uid, 0) + 1
        self._report(key, home, recreating_status(previous, home, restarts=self._restarts[uid]))
        self._send_recreate.send_nowait(key)

    def _finish(self, key: Key, uid: str) -> None:
        """The remote pod is gone after our delete: final status, forget the pod."""
        home = self._pods.get(key)
        if home is None or _uid(home) != uid:
            return
        previous = (self._reported.get(key) or {}).get("status") or {}
        if key not in self._failed:
            self._report(
                key,
                home,
                deleted_status(
                    previous,
                    home,
                    phase="Succeeded",
                    reason="Deleted",
                    message="the remote pod was deleted",
                ),
            )
        for table in (self._pods, self._reported):
            table.pop(key, None)
        self._deleting.discard(key)
        self._failed.discard(key)
        self._restarts.pop(uid, None)
        if self._tokens is not None:
            self._tokens.forget(uid)
        self._poke.set()

    # -- background loops ---------------------------------------------------------------------

    async def _recreate_loop(self) -> None:
        async with trio.open_nursery() as nursery:
            async for key in self._recreate:
                nursery.start_soon(self._recreate_one, key)

    async def _recreate_one(self, key: Key) -> None:
        for attempt in range(1_000_000):
            home = self._pods.get(key)
            if home is None or key in self._deleting:
                return
            try:
                await self._create(home)
            except InvalidInputError as exc:
                logger.warning("cannot recreate the remote pod of %s/%s: %s", *key, exc)
                return
            except (ApiError, RuntimeError) as exc:
                delay = _RECREATE_BACKOFF[min(attempt, len(_RECREATE_BACKOFF) - 1)]
                logger.info("recreating the remote pod of %s/%s failed (%s), retrying", *key, exc)
                await trio.sleep(delay)
            else:
                self.recreated += 1
                return

    def _wanted(self) -> list[Copy]:
        wanted: list[Copy] = []
        for key, pod in list(self._pods.items()):
            wanted += self._copies_for(pod, key)
        return wanted

    def _copies_for(self, pod: Mapping[str, Any], key: Key) -> list[Copy]:
        refs = references(pod)
        for api_pod in self._api_pods(key):
            if _uid(api_pod) == _uid(pod):
                refs = refs | references(api_pod)
        remote_ns = self._remote_namespace(key[0])
        return [("ConfigMap", key[0], n, remote_ns) for n in sorted(refs.config_maps)] + [
            ("Secret", key[0], n, remote_ns) for n in sorted(refs.secrets)
        ]

    def _api_pods(self, key: Key) -> list[dict[str, Any]]:
        """The home pod as the API server has it (its env references were resolved away in the
        copy the provider got)."""
        try:
            pods = self._lookup.list_pods()
        except RuntimeError:
            return []
        return [p for p in pods if _key(p) == key]

    def _in_use(self) -> set[tuple[str, str, str]]:
        """(kind, namespace, name) of every copy a remote pod of this node refers to."""
        used: set[tuple[str, str, str]] = set()
        if self._pod_informer is None:
            return used
        for remote in self._pod_informer.store.list():
            namespace = str(remote["metadata"].get("namespace"))
            refs = references(remote)
            used |= {("ConfigMap", namespace, n) for n in refs.config_maps}
            used |= {("Secret", namespace, n) for n in refs.secrets}
            # the token Secret is referred to from projected volumes
            for volume in (remote.get("spec") or {}).get("volumes") or ():
                for source in (volume.get("projected") or {}).get("sources") or ():
                    if "secret" in source:
                        used.add(("Secret", namespace, source["secret"].get("name", "")))
        return used

    async def _sync_loop(self) -> None:
        await self._synced.wait()
        while True:
            with trio.move_on_after(SYNC_INTERVAL):
                await self._poke.wait()
            self._poke = trio.Event()
            try:
                await self._sync_once()
            except (ApiError, RuntimeError) as exc:
                logger.info("reflection pass failed (retried): %s", exc)

    async def _sync_once(self) -> None:
        assert self._reflection is not None and self._tokens is not None
        wanted = self._wanted()
        await self._reflection.ensure(wanted)
        await self._reflection.collect(wanted, self._in_use())
        now = datetime.now(UTC)
        for key, pod in list(self._pods.items()):
            if key in self._deleting or not self._tokens.due(_uid(pod), now):
                continue
            await self._tokens.ensure(pod, self._remote_namespace(key[0]))
        await self._collect_tokens()

    async def _collect_tokens(self) -> None:
        """Delete token Secrets of pods that are neither known nor running remotely."""
        remote = self._client()
        assert self._reflection is not None
        known = {_uid(p) for p in self._pods.values()}
        used = self._in_use()
        secrets = self._reflection._informers["Secret"].store.list()
        for secret in secrets:
            meta = secret["metadata"]
            origin = origin_of(secret)
            if origin is None or meta["name"] != token_secret_name(origin[2]):
                continue
            if origin[2] in known or ("Secret", meta["namespace"], meta["name"]) in used:
                continue
            with contextlib.suppress(NotFound, Conflict):
                await remote.delete(
                    f"/api/v1/namespaces/{meta['namespace']}/secrets/{meta['name']}",
                    uid=meta.get("uid"),
                )

    async def _capacity_loop(self) -> None:
        while True:
            try:
                await self._refresh_capacity()
            except ApiError as exc:
                logger.info("cannot read the remote cluster's capacity (retried): %s", exc)
            await trio.sleep(CAPACITY_INTERVAL)

    async def _refresh_capacity(self) -> None:
        remote = self._client()
        selector = ",".join(f"{k}={v}" for k, v in self._config.node_selector.items()) or None
        nodes, _ = await remote.list_all("/api/v1/nodes", label_selector=selector)
        pods, _ = await remote.list_all(
            "/api/v1/pods", field_selector="status.phase!=Succeeded,status.phase!=Failed"
        )
        computed = capacity_from(
            nodes, pods, selector=self._config.node_selector, node_name=self._node_name
        )
        if computed != self._capacity:
            self._capacity = computed
            if self._node:
                self._apply_capacity(self._node)
                self._notify_node(copy.deepcopy(self._node))

    # -- PodLifecycleHandler ------------------------------------------------------------------

    async def _ensure_namespace(self, namespace: str) -> None:
        if namespace in self._namespaces:
            return
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "vk-trio"}},
        }
        with contextlib.suppress(AlreadyExists):
            await self._client().create("/api/v1/namespaces", body)
        self._namespaces.add(namespace)

    async def _create(self, pod: dict[str, Any]) -> None:
        """Everything the remote pod needs, then the pod (or adopt the one that exists)."""
        key = _key(pod)
        uid = _uid(pod)
        remote_ns = self._remote_namespace(key[0])
        remote_pod = remote_pod_for(
            pod, node=self._node_name, namespace=remote_ns, config=self._config
        )
        await self._ensure_namespace(remote_ns)
        assert self._reflection is not None and self._tokens is not None
        missing = await self._reflection.ensure(self._copies_for(pod, key))
        if missing:
            raise RuntimeError(f"waiting for {', '.join(missing)} in the home cluster")
        await self._tokens.ensure(pod, remote_ns)
        remote = self._client()
        path = f"/api/v1/namespaces/{remote_ns}/pods"
        existing = self._cached_remote(key)
        if existing is None:
            try:
                created = await remote.create(path, remote_pod)
            except Invalid as exc:
                raise InvalidInputError(f"the remote cluster rejected the pod: {exc}") from exc
            except Forbidden as exc:
                raise RuntimeError(f"the remote cluster refused the pod: {exc}") from exc
            except AlreadyExists:
                existing = await remote.get(f"{path}/{key[1]}")
            else:
                self._on_remote(created)
                return
        origin = origin_of(existing)
        labels = existing["metadata"].get("labels") or {}
        if labels.get(NODE_LABEL) != self._node_name or origin is None:
            raise InvalidInputError(
                f"the remote cluster already has a pod {remote_ns}/{key[1]} that this virtual "
                "node did not create"
            )
        if origin[2] == uid:
            self._on_remote(existing)  # adopted: same home pod, nothing to create
            return
        with contextlib.suppress(NotFound, Conflict):
            await remote.delete(f"{path}/{key[1]}", uid=existing["metadata"].get("uid"))
        raise RuntimeError(f"an earlier remote pod {remote_ns}/{key[1]} is still being deleted")

    async def create_pod(self, pod: k8s.Pod) -> None:
        """Create (or adopt) the remote pod; its status arrives through the notifier."""
        await self._create_pod(cast(dict[str, Any], pod))

    async def _create_pod(self, pod: dict[str, Any]) -> None:
        await self._synced.wait()
        key = _key(pod)
        remote_pod_for(  # refuse what can never run before remembering the pod
            pod,
            node=self._node_name,
            namespace=self._remote_namespace(key[0]),
            config=self._config,
        )
        known = self._pods.get(key)
        if known is not None and _uid(known) != _uid(pod):
            self._reported.pop(key, None)
        self._pods[key] = pod
        self._deleting.discard(key)
        self._failed.discard(key)
        await self._create(pod)

    async def update_pod(self, pod: k8s.Pod) -> None:
        """Patch what may change on a running pod onto the remote pod."""
        await self._update_pod(cast(dict[str, Any], pod))

    async def _update_pod(self, pod: dict[str, Any]) -> None:
        await self._synced.wait()
        key = _key(pod)
        previous = self._pods.get(key)
        if previous is None or _uid(previous) != _uid(pod):
            raise NotFoundError(f'pod "{key[0]}/{key[1]}" is not known to the provider')
        self._pods[key] = pod
        reported = self._reported.get(key)
        if reported is not None:
            self._reported[key] = {**pod, "status": reported.get("status") or {}}
        current = self._cached_remote(key)
        if current is None:
            return
        desired = remote_pod_for(
            pod, node=self._node_name, namespace=self._remote_namespace(key[0]), config=self._config
        )
        patch = _update_patch(previous, desired, current)
        if patch:
            path = f"/api/v1/namespaces/{self._remote_namespace(key[0])}/pods/{key[1]}"
            try:
                await self._client().patch(path, patch, patch_type=PatchType.STRATEGIC)
            except Invalid as exc:
                raise InvalidInputError(f"the remote cluster rejected the change: {exc}") from exc

    async def delete_pod(self, pod: k8s.Pod) -> None:
        """Delete the remote pod with the home grace period; the final status follows once it
        is gone."""
        await self._delete_pod(cast(dict[str, Any], pod))

    async def _delete_pod(self, pod: dict[str, Any]) -> None:
        await self._synced.wait()
        key = _key(pod)
        uid = _uid(pod)
        known = self._pods.get(key)
        if known is not None and uid and _uid(known) != uid:
            known = None
        remote_ns = self._remote_namespace(key[0])
        path = f"/api/v1/namespaces/{remote_ns}/pods/{key[1]}"
        try:
            existing: dict[str, Any] | None = await self._client().get(path)
        except NotFound:
            existing = None
        origin = origin_of(existing) if existing is not None else None
        ours = (
            existing is not None
            and origin is not None
            and (existing["metadata"].get("labels") or {}).get(NODE_LABEL) == self._node_name
            and (not uid or origin[2] == uid)
        )
        if known is None and not ours:
            raise NotFoundError(f'pod "{key[0]}/{key[1]}" is not known to the provider')
        if known is None:
            self._pods[key] = known = pod
        self._deleting.add(key)
        if ours:
            assert existing is not None
            grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
            try:
                await self._client().delete(
                    path,
                    grace_period_seconds=None if grace is None else int(grace),
                    uid=existing["metadata"].get("uid"),
                )
            except (NotFound, Conflict):
                self._finish(key, _uid(known))
            return
        self._finish(key, _uid(known))

    async def get_pod(self, namespace: str, name: str) -> k8s.Pod:
        """The pod as last given to the provider, with the status last reported."""
        key = (namespace, name)
        pod = self._reported.get(key) or self._pods.get(key)
        if pod is None:
            raise NotFoundError(f'pod "{namespace}/{name}" is not known to the provider')
        return cast(k8s.Pod, pod)

    async def get_pod_status(self, namespace: str, name: str) -> k8s.PodStatus:
        """The status last reported (``Pending`` before the remote pod has one)."""
        pod = await self.get_pod(namespace, name)
        return pod.get("status") or {"phase": "Pending"}

    async def get_pods(self) -> list[k8s.Pod]:
        """The pods given to the provider, and the remote pods of this node not claimed yet
        (after a restart), in the home shape, so the node deletes those whose home pod is gone.

        No checkpoint once the caches are in: an answer consistent with ``get_pod`` asked just
        before (no status event can slip in between the two)."""
        if not self._synced.is_set():
            await self._synced.wait()
        result = [self._reported.get(k) or p for k, p in self._pods.items()]
        if self._pod_informer is not None:
            for remote in self._pod_informer.store.list():
                origin = origin_of(remote)
                if origin is None or (origin[0], origin[1]) in self._pods:
                    continue
                result.append(
                    {
                        "metadata": {"namespace": origin[0], "name": origin[1], "uid": origin[2]},
                        "spec": remote.get("spec") or {},
                        "status": home_status(remote, host_ip=self._internal_ip),
                    }
                )
        return cast(list[k8s.Pod], result)

    # -- notifier, node -----------------------------------------------------------------------

    def notify_pods(self, callback: PodCallback) -> None:
        self._notify = callback

    def notify_node_status(self, callback: NodeCallback) -> None:
        self._notify_node = callback
        if self._synced.is_set() and self._node:
            # the caches synced before the node asked: tell it now (the callback never blocks)
            self._node["status"]["conditions"] = _conditions(ready=True)
            callback(copy.deepcopy(self._node))

    async def ping(self) -> None:
        """Healthy while the remote API server answers.

        The first failure also pushes ``Ready=False`` (``RemoteClusterUnreachable``) at once,
        rather than at the node's next periodic status update; pods are left alone (not evicted,
        not repatriated): they keep running in the remote cluster, and their informer catches up
        when it comes back.
        """
        if self._pinger is None:
            raise RuntimeError("the cluster provider is not running")
        try:
            await self._pinger.get("/version")
        except ApiError as exc:
            message = f"remote cluster unreachable: {exc}"
            if self._healthy:
                self._healthy = False
                logger.warning("%s", message)
                self._announce(ready=False, message=message)
            raise RuntimeError(message) from exc
        if not self._healthy:
            self._healthy = True
            logger.info("remote cluster reachable again")
            self._send_recovered.send_nowait(None)

    def _announce(self, *, ready: bool, message: str = "") -> None:
        if not self._node:
            return
        conditions = _conditions(ready=ready)
        if not ready:
            conditions[0].update(reason="RemoteClusterUnreachable", message=message)
        self._node["status"]["conditions"] = conditions
        self._notify_node(copy.deepcopy(self._node))

    async def _recovery_loop(self) -> None:
        """Ready again once a ping succeeded: announced a moment later, when the node has
        recorded that ping (an announcement before it would be overridden by the failed one)."""
        async for _ in self._recovered:
            await trio.sleep(1.0)
            if self._healthy:
                self._announce(ready=True)

    def _apply_capacity(self, node: dict[str, Any]) -> None:
        status = node.setdefault("status", {})
        capacity, allocatable = self._capacity or ({}, {})
        status["capacity"] = dict(capacity)
        status["allocatable"] = dict(allocatable)

    def configure_node(self, node: dict[str, Any]) -> None:
        """Capacity (computed or configured), address, kubelet port."""
        node.setdefault("metadata", {}).setdefault("labels", {})[
            "node.kubernetes.io/exclude-from-external-load-balancers"
        ] = "true"
        status = node.setdefault("status", {})
        if self._capacity is None:
            zero = {"cpu": "0", "memory": "0", "pods": "0"}
            self._capacity = (zero, dict(zero))
        self._apply_capacity(node)
        if self._internal_ip:
            status["addresses"] = [{"type": "InternalIP", "address": self._internal_ip}]
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self._daemon_port}}
        status["conditions"] = _conditions(ready=self._synced.is_set())
        self._node = copy.deepcopy(node)

    # -- kubelet API --------------------------------------------------------------------------

    def _stream_client(self) -> RemoteStreams:
        if self._streams is None:
            raise RuntimeError("the cluster provider is not running")
        return self._streams

    async def _scheduled(self, namespace: str, name: str) -> RemoteStreams:
        """The stream client, once the remote pod of a known pod is bound to a remote node
        (the remote API server refuses streams to a pod without one); bounded wait."""
        streams = self._stream_client()
        key = (namespace, name)
        with trio.move_on_after(SCHEDULE_WAIT):
            while key in self._pods:
                remote = self._cached_remote(key)
                if remote is not None and (remote.get("spec") or {}).get("nodeName"):
                    break
                await trio.sleep(0.2)
        await trio.lowlevel.checkpoint()
        return streams

    async def get_container_logs(
        self, namespace: str, pod_name: str, container_name: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        """The remote container's log, as the remote API server serves it."""
        return await (await self._scheduled(namespace, pod_name)).logs(
            namespace, pod_name, container_name, options
        )

    async def run_in_container(
        self,
        namespace: str,
        pod_name: str,
        container_name: str,
        command: Sequence[str],
        io: AttachIO,
    ) -> None:
        """``exec`` in the remote container (WebSocket ``v5.channel.k8s.io``)."""
        await (await self._scheduled(namespace, pod_name)).exec(
            namespace, pod_name, container_name, command, io
        )

    async def attach_to_container(
        self, namespace: str, pod_name: str, container_name: str, io: AttachIO
    ) -> None:
        """``attach`` to the remote container."""
        await (await self._scheduled(namespace, pod_name)).attach(
            namespace, pod_name, container_name, io
        )

    async def port_forward(
        self, namespace: str, pod_name: str, port: int, stream: trio.abc.Stream
    ) -> None:
        """Forward one connection to ``port`` of the remote pod."""
        await (await self._scheduled(namespace, pod_name)).port_forward(
            namespace, pod_name, port, stream
        )

    async def get_stats_summary(self) -> dict[str, Any]:
        """The offloaded pods' entries of the remote nodes' summaries."""
        return await self._stream_client().stats_summary(self._node_name, self._offloaded())

    async def get_metrics_resource(self) -> list[MetricFamily]:
        """The offloaded pods' resource metrics, from the remote nodes' ``/metrics/resource``."""
        return await self._stream_client().metrics_resource(self._offloaded())

    def _offloaded(self) -> list[tuple[dict[str, Any], tuple[str, str, str]]]:
        """Remote pods of the pods we run, with their home ``(namespace, name, uid)``."""
        result = []
        for key, pod in list(self._pods.items()):
            remote = self._cached_remote(key)
            if remote is not None and key not in self._deleting:
                result.append((remote, (key[0], key[1], _uid(pod))))
        return result


def pods_of(provider: ClusterProvider) -> list[dict[str, Any]]:
    informer = provider._pod_informer
    return [] if informer is None else informer.store.list()


def _conditions(*, ready: bool) -> list[dict[str, Any]]:
    """The node's conditions: Ready once the remote caches are in (the node controller turns it
    False while pings of the remote API server fail); no pressure of any kind."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return [
        condition("Ready", "True", "KubeletReady", "the remote cluster is reachable")
        if ready
        else condition(
            "Ready", "False", "RemoteClusterPending", "connecting to the remote cluster"
        ),
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "no memory pressure"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "no PID pressure"),
        condition("NetworkUnavailable", "False", "RouteCreated", "remote cluster networking"),
    ]


def _changed_map(
    before: Mapping[str, str], desired: Mapping[str, str], current: Mapping[str, str]
) -> dict[str, str | None]:
    """A merge-patch of ``current`` to ``desired``: set what differs, remove keys the home pod
    had before and no longer has (keys added in the remote cluster are left alone)."""
    patch: dict[str, str | None] = {k: v for k, v in desired.items() if current.get(k) != v}
    for k in before:
        if k not in desired and k in current:
            patch[k] = None
    return patch


def _update_patch(
    previous: Mapping[str, Any], desired: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The strategic-merge patch that brings ``current`` (remote) in line with ``desired``."""
    patch: dict[str, Any] = {}
    prev_meta = previous.get("metadata") or {}
    cur_meta = current.get("metadata") or {}
    for field in ("labels", "annotations"):
        changed = _changed_map(
            prev_meta.get(field) or {},
            desired["metadata"].get(field) or {},
            cur_meta.get(field) or {},
        )
        if changed:
            patch.setdefault("metadata", {})[field] = changed
    spec: dict[str, Any] = {}
    cur_spec = current.get("spec") or {}
    want_spec = desired.get("spec") or {}
    for group in ("initContainers", "containers"):
        images = {c["name"]: c.get("image") for c in cur_spec.get(group) or ()}
        changed_images = [
            {"name": c["name"], "image": c.get("image")}
            for c in want_spec.get(group) or ()
            if c["name"] in images and images[c["name"]] != c.get("image")
        ]
        if changed_images:
            spec[group] = changed_images
    deadline = want_spec.get("activeDeadlineSeconds")
    if deadline is not None and deadline != cur_spec.get("activeDeadlineSeconds"):
        spec["activeDeadlineSeconds"] = deadline
    tolerations = list(cur_spec.get("tolerations") or ())
    added = [t for t in want_spec.get("tolerations") or () if t not in tolerations]
    if added:
        spec["tolerations"] = tolerations + added
    if spec:
        patch["spec"] = spec
    return patch
