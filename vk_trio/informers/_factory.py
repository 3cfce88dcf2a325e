"""The informer factory: one shared informer (one watch) per resource and selector.

Several parts of a process often want the same objects — the pod controller, the status updater
and the kubelet API all read the node's pods. Each asking the factory gets the same informer, so
the API server serves one LIST and one WATCH however many readers there are.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import final

import attrs
import trio

from vk_trio.kube import resource_path

from ._informer import InformerStatistics, SharedInformer
from ._objects import IndexFunc, Transform, strip_managed_fields
from ._reflector import ListWatchClient, ReflectorOptions


@final
@attrs.frozen
class InformerKey:
    """What makes two informer requests the same informer."""

    path: str
    label_selector: str | None
    field_selector: str | None


@final
class InformerFactory:
    """Creates shared informers lazily and runs them all in one nursery.

    Args:
        client: a :class:`vk_trio.kube.KubeClient`.
        namespace: default namespace scope of every informer (None: all namespaces).
        resync_period: default resync period of every informer (0: none).
        label_selector, field_selector: default selectors, used when an informer request does not
            give its own (like client-go's ``WithTweakListOptions``).
        transform: cache transform of every informer (default: drop managedFields).
        options: reflector tuning for every informer.

    Run it with ``await nursery.start(factory.run)`` or ``async with factory:``. Informers
    requested while it runs start at once; those requested before start when it starts.
    """

    def __init__(
        self,
        client: ListWatchClient,
        *,
        namespace: str | None = None,
        resync_period: float = 0.0,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Transform | None = strip_managed_fields,
        options: ReflectorOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._resync_period = resync_period
        self._label_selector = label_selector or None
        self._field_selector = field_selector or None
        self._transform = transform
        self._options = options
        self._rng = rng
        self._informers: dict[InformerKey, SharedInformer] = {}
        self._nursery: trio.Nursery | None = None
        self._shut_down = False
        self._exit_stack: AsyncExitStack | None = None

    def informer(
        self,
        api_version: str,
        plural: str,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> SharedInformer:
        """The shared informer for a resource, created on first request.

        ``namespace`` overrides the factory's namespace (``all_namespaces=True`` overrides it with
        "all"); selectors override the factory's defaults. A later request for the same informer
        with ``indexers`` adds those indexers; its ``resync_period`` is ignored (the first wins).
        """
        scope = namespace if namespace is not None else self._namespace
        if all_namespaces:
            scope = None
        path = resource_path(api_version, plural, namespace=scope)
        return self.informer_for_path(
            path,
            label_selector=label_selector,
            field_selector=field_selector,
            resync_period=resync_period,
            indexers=indexers,
        )

    def informer_for_path(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> SharedInformer:
        """Like :meth:`informer` for a collection path (e.g. a custom resource's)."""
        key = InformerKey(
            path,
            label_selector or self._label_selector,
            field_selector or self._field_selector,
        )
        informer = self._informers.get(key)
        if informer is not None:
            if indexers:
                missing = {n: f for n, f in indexers.items() if n not in informer.store.indexers}
                if missing:
                    informer.add_indexers(missing)
            return informer
        if self._shut_down:
            raise RuntimeError("informer factory has shut down")
        informer = SharedInformer(
            self._client,
            key.path,
            label_selector=key.label_selector,
            field_selector=key.field_selector,
            resync_period=self._resync_period if resync_period is None else resync_period,
            indexers=indexers,
            transform=self._transform,
            options=self._options,
            rng=self._rng,
        )
        self._informers[key] = informer
        if self._nursery is not None:
            self._nursery.start_soon(informer.run)
        return informer

    @property
    def informers(self) -> Mapping[InformerKey, SharedInformer]:
        """Every informer created so far."""
        return dict(self._informers)

    async def wait_for_cache_sync(self) -> bool:
        """Wait until every informer created so far has synced; False if one stopped first."""
        for informer in list(self._informers.values()):
            if not await informer.wait_for_cache_sync():
                return False
        return True

    def statistics(self) -> dict[InformerKey, InformerStatistics]:
        """Statistics of every informer."""
        return {key: inf.statistics() for key, inf in self._informers.items()}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run every informer (present and future) until cancelled."""
        if self._nursery is not None or self._shut_down:
            raise RuntimeError("informer factory is already running or has shut down")
        try:
            async with trio.open_nursery() as nursery:
                for informer in self._informers.values():
                    await nursery.start(informer.run)
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            self._shut_down = True

    async def __aenter__(self) -> InformerFactory:
        stack = AsyncExitStack()
        nursery = await stack.enter_async_context(trio.open_nursery())
        try:
            await nursery.start(self.run)
        except BaseException:
            await stack.aclose()
            raise
        stack.callback(nursery.cancel_scope.cancel)
        self._exit_stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._exit_stack is not None
        stack, self._exit_stack = self._exit_stack, None
        return await stack.__aexit__(exc_type, exc, tb)
