"""The shared informer: one reflector, one cache, any number of event handlers.

Handlers are plain synchronous functions called from the reflector's task right after the cache
changed, so a handler always sees the cache already holding the object it is told about. They
must not block (they typically put a key in a work queue); there is no per-handler buffer and task
as in client-go, because a synchronous function cannot wait anyway and calling it directly keeps
the order of notifications trivially the order of events.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, final

import attrs
import trio

from ._lister import Lister
from ._objects import (
    DeletedFinalStateUnknown,
    IndexFunc,
    Object,
    Transform,
    resource_version_of,
    strip_managed_fields,
)
from ._reflector import (
    ListWatchClient,
    Reflector,
    ReflectorOptions,
    ReflectorStatistics,
)
from ._store import Store

logger = logging.getLogger("vk_trio.informers")

MINIMUM_RESYNC_PERIOD = 1.0
"""Handlers may not ask for resyncs more often than this (seconds), as in client-go."""

OnAdd = Callable[[Object], object]
OnUpdate = Callable[[Object, Object], object]
OnDelete = Callable[[Object | DeletedFinalStateUnknown], object]


def _determine_resync_period(desired: float, check: float) -> float:
    if desired == 0 or check == 0:
        return 0.0
    return max(desired, check)


def _now() -> float:
    # Handlers may be registered before trio runs (then resync dates count from time 0).
    try:
        return trio.current_time()
    except RuntimeError:
        return 0.0


@final
class HandlerRegistration:
    """Handle returned by :meth:`SharedInformer.add_event_handler`."""

    def __init__(
        self,
        informer: SharedInformer,
        *,
        on_add: OnAdd | None,
        on_update: OnUpdate | None,
        on_delete: OnDelete | None,
        requested_resync: float,
        resync_period: float,
    ) -> None:
        self._informer = informer
        self._on_add = on_add
        self._on_update = on_update
        self._on_delete = on_delete
        self.requested_resync_period = requested_resync
        self._resync_period = resync_period
        self._next_resync = _now() + resync_period if resync_period else 0.0
        self._syncing = False
        self._removed = False
        self.calls = 0
        self.errors = 0

    @property
    def resync_period(self) -> float:
        """Seconds between resyncs (``on_update(obj, obj)`` for every object); 0: never."""
        return self._resync_period

    @property
    def has_synced(self) -> bool:
        """The informer has synced and this handler has been told about the initial contents."""
        return not self._removed and self._informer.has_synced

    @property
    def removed(self) -> bool:
        """Whether :meth:`remove` was called."""
        return self._removed

    def remove(self) -> None:
        """Stop calling this handler (idempotent; a call in progress completes)."""
        self._informer.remove_event_handler(self)

    async def wait_for_cache_sync(self) -> bool:
        """Wait until :attr:`has_synced`; False if the informer stopped (or this was removed)."""
        await self._informer.wait_for_cache_sync()
        return self.has_synced

    # The informer calls these; each shields the informer from a failing handler.

    def _add(self, obj: Object) -> None:
        if self._on_add is not None:
            self._call("add", self._on_add, obj)

    def _update(self, old: Object, new: Object) -> None:
        if self._on_update is not None:
            self._call("update", self._on_update, old, new)

    def _delete(self, obj: Object | DeletedFinalStateUnknown) -> None:
        if self._on_delete is not None:
            self._call("delete", self._on_delete, obj)

    def _call(self, what: str, func: Callable[..., object], *args: Any) -> None:
        if self._removed:
            return
        self.calls += 1
        try:
            func(*args)
        except Exception:
            self.errors += 1
            self._informer._note_handler_error()
            logger.exception("%s: %s handler %r failed", self._informer.name, what, func)

    def _set_resync_period(self, period: float) -> None:
        self._resync_period = period
        self._next_resync = _now() + period if period else 0.0

    def _check_resync(self, now: float) -> bool:
        self._syncing = self._resync_period != 0 and now >= self._next_resync
        if self._syncing:
            self._next_resync = now + self._resync_period
        return self._syncing


@final
@attrs.frozen
class InformerStatistics:
    """A snapshot of an informer: cache size, notifications delivered, its reflector's counters."""

    objects: int
    handlers: int
    has_synced: bool
    adds: int
    updates: int
    deletes: int
    tombstones: int
    """Deletes noticed only at a relist (delivered as :class:`DeletedFinalStateUnknown`)."""
    resyncs: int
    handler_errors: int
    reflector: ReflectorStatistics


@final
class SharedInformer:
    """A cache of one resource (path + selectors) kept current by a reflector, with handlers.

    Run it in a nursery (``await nursery.start(informer.run)``) or as ``async with informer:``;
    leaving the block (or cancelling) stops it. Then ``await informer.wait_for_cache_sync()``
    before trusting the cache.

    Args:
        client: a :class:`vk_trio.kube.KubeClient` (anything with its ``list``/``watch``).
        path: the collection's API path, e.g. ``/api/v1/pods`` or
            ``/api/v1/namespaces/ns/configmaps`` (see :func:`vk_trio.kube.resource_path`).
        label_selector, field_selector: server-side filters for both LIST and WATCH.
        resync_period: default for handlers: every that many seconds they get
            ``on_update(obj, obj)`` for every cached object (0: never).
        indexers: extra index functions; the ``namespace`` index is always there.
        transform: run on every object before it is cached (default: drop managedFields).
        options: reflector tuning (:class:`ReflectorOptions`).
    """

    def __init__(
        self,
        client: ListWatchClient,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
        transform: Transform | None = strip_managed_fields,
        options: ReflectorOptions | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = Store(indexers=indexers, transform=transform)
        self._reflector = Reflector(
            client,
            path,
            _InformerSink(self),
            label_selector=label_selector,
            field_selector=field_selector,
            options=options,
            name=name,
            rng=rng,
        )
        self.name = self._reflector.name
        self.path = path
        self.label_selector = label_selector or None
        self.field_selector = field_selector or None
        self._default_resync = float(resync_period)
        self._resync_check_period = float(resync_period)
        self._handlers: list[HandlerRegistration] = []
        self._started = False
        self._stopped = False
        self._synced = False
        self._settled = trio.Event()  # set once synced or stopped
        self._counts = dict.fromkeys(
            ("adds", "updates", "deletes", "tombstones", "resyncs", "handler_errors"), 0
        )
        self._exit_stack: AsyncExitStack | None = None
        self._cm_nursery: trio.Nursery | None = None

    # -- state ------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The cache (read it, never write it: the reflector owns it)."""
        return self._store

    @property
    def indexer(self) -> Store:
        """Alias of :attr:`store` (client-go's name for the indexed store)."""
        return self._store

    def lister(self) -> Lister:
        """A :class:`Lister` over this informer's cache."""
        return Lister(self._store)

    @property
    def has_synced(self) -> bool:
        """The first complete LIST is in the cache and its notifications were delivered."""
        return self._synced

    @property
    def has_started(self) -> bool:
        return self._started

    @property
    def is_stopped(self) -> bool:
        return self._stopped

    @property
    def last_sync_resource_version(self) -> str:
        """The resource version the cache reflects."""
        return self._reflector.last_sync_resource_version

    @property
    def resync_check_period(self) -> float:
        """How often resync due dates are checked (the smallest handler period set before start)."""
        return self._resync_check_period

    async def wait_for_cache_sync(self) -> bool:
        """Wait for :attr:`has_synced`; returns False if the informer stopped before syncing."""
        await self._settled.wait()
        return self._synced

    def statistics(self) -> InformerStatistics:
        return InformerStatistics(
            objects=len(self._store),
            handlers=len(self._handlers),
            has_synced=self._synced,
            reflector=self._reflector.statistics(),
            **self._counts,
        )

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions (allowed while running: existing objects are indexed at once)."""
        if self._stopped:
            raise RuntimeError(f"informer {self.name} has stopped")
        self._store.add_indexers(indexers)

    # -- handlers ---------------------------------------------------------------------------------

    def add_event_handler(
        self,
        *,
        on_add: OnAdd | None = None,
        on_update: OnUpdate | None = None,
        on_delete: OnDelete | None = None,
        resync_period: float | None = None,
    ) -> HandlerRegistration:
        """Register handlers; on a running informer ``on_add`` at once gets every cached object.

        ``resync_period`` defaults to the informer's; a period under 1 s is raised to 1 s, and
        after start one shorter than the informer's check period is raised to it (before start it
        lowers the check period instead), as in client-go.
        """
        if self._stopped:
            raise RuntimeError(
                f"handler was not added to informer {self.name} because it has stopped already"
            )
        desired = self._default_resync if resync_period is None else float(resync_period)
        if desired < 0:
            raise ValueError("resync_period must be >= 0")
        if desired > 0:
            if desired < MINIMUM_RESYNC_PERIOD:
                logger.warning(
                    "%s: resync period %.3f s is too small, using %.0f s",
                    self.name,
                    desired,
                    MINIMUM_RESYNC_PERIOD,
                )
                desired = MINIMUM_RESYNC_PERIOD
            if desired < self._resync_check_period:
                if self._started:
                    logger.warning(
                        "%s: resync period %.3f s is below the running informer's check period "
                        "%.3f s, using the latter",
                        self.name,
                        desired,
                        self._resync_check_period,
                    )
                    desired = self._resync_check_period
                else:
                    self._resync_check_period = desired
                    for reg in self._handlers:
                        reg._set_resync_period(
                            _determine_resync_period(reg.requested_resync_period, desired)
                        )
        registration = HandlerRegistration(
            self,
            on_add=on_add,
            on_update=on_update,
            on_delete=on_delete,
            requested_resync=desired,
            resync_period=_determine_resync_period(desired, self._resync_check_period),
        )
        self._handlers.append(registration)
        if self._started:
            # Late registration: replay the cache as adds, synchronously, so nothing can slip in
            # between the replay and the next event.
            for obj in self._store.list():
                registration._add(obj)
        return registration

    def remove_event_handler(self, registration: HandlerRegistration) -> None:
        """Unregister (idempotent; unknown or already removed registrations are ignored)."""
        if registration._informer is not self:
            raise ValueError("registration belongs to another informer")
        registration._removed = True
        if registration in self._handlers:
            self._handlers.remove(registration)

    # -- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the reflector (and the resync timer) until cancelled.

        Reports started as soon as the reflector runs, before the cache has synced.
        """
        if self._started:
            raise RuntimeError(f"informer {self.name} was already started")
        if self._stopped:
            raise RuntimeError(f"informer {self.name} has stopped")
        self._started = True
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self._reflector.run)
                nursery.start_soon(self._resync_loop)
                task_status.started()
        finally:
            self._stopped = True
            self._settled.set()

    async def __aenter__(self) -> SharedInformer:
        stack = AsyncExitStack()
        nursery = await stack.enter_async_context(trio.open_nursery())
        try:
            await nursery.start(self.run)
        except BaseException:
            await stack.aclose()
            raise
        self._exit_stack = stack
        self._cm_nursery = nursery
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._exit_stack is not None and self._cm_nursery is not None
        self._cm_nursery.cancel_scope.cancel()
        stack, self._exit_stack, self._cm_nursery = self._exit_stack, None, None
        return await stack.__aexit__(exc_type, exc, tb)

    async def _resync_loop(self) -> None:
        period = self._resync_check_period
        if period <= 0:
            return
        await self._settled.wait()
        while not self._stopped:
            await trio.sleep(period)
            if self._should_resync():
                self._counts["resyncs"] += 1
                for obj in self._store.list():
                    self._distribute_update(obj, obj)

    def _should_resync(self) -> bool:
        now = trio.current_time()
        due = False
        for reg in self._handlers:
            due |= reg._check_resync(now)
        return due

    # -- the sink side: called by the reflector ---------------------------------------------------

    def _replace(self, objs: list[Object], resource_version: str) -> None:
        store = self._store
        previous = store.items()  # the old mapping: replace() swaps in a new one
        stored = store.replace(objs, resource_version)
        gone = [
            DeletedFinalStateUnknown(key, obj) for key, obj in previous.items() if key not in store
        ]
        for tombstone in gone:
            self._counts["tombstones"] += 1
            self._distribute_delete(tombstone)
        for obj in stored:
            old = previous.get(store.key_of(obj))
            if old is None:
                self._distribute_add(obj)
            else:
                self._distribute_update(old, obj)
        if not self._synced:
            self._synced = True
            self._settled.set()

    def _upsert(self, obj: Object) -> None:
        old = self._store.get(obj)
        new = self._store.add(obj)
        if old is None:
            self._distribute_add(new)
        else:
            self._distribute_update(old, new)

    def _delete(self, obj: Object) -> None:
        obj = self._store.transform(obj)
        self._store.delete(obj)
        self._distribute_delete(obj)

    def _bookmark(self, resource_version: str) -> None:
        self._store.bookmark(resource_version)

    def _distribute_add(self, obj: Object) -> None:
        self._counts["adds"] += 1
        for reg in tuple(self._handlers):
            reg._add(obj)

    def _distribute_update(self, old: Object, new: Object) -> None:
        # Same resource version: nothing changed (a relist or resync): only handlers whose resync
        # is due hear about it, as in client-go.
        is_sync = resource_version_of(old) == resource_version_of(new)
        self._counts["updates"] += 1
        for reg in tuple(self._handlers):
            if is_sync and not reg._syncing:
                continue
            reg._update(old, new)

    def _distribute_delete(self, obj: Object | DeletedFinalStateUnknown) -> None:
        self._counts["deletes"] += 1
        for reg in tuple(self._handlers):
            reg._delete(obj)

    def _note_handler_error(self) -> None:
        self._counts["handler_errors"] += 1


@final
class _InformerSink:
    """Adapts the reflector's sink protocol to the informer without making it public API."""

    def __init__(self, informer: SharedInformer) -> None:
        self._informer = informer

    def replace(self, objs: list[Object], resource_version: str, /) -> None:
        self._informer._replace(objs, resource_version)

    def add(self, obj: Object, /) -> None:
        self._informer._upsert(obj)

    def update(self, obj: Object, /) -> None:
        self._informer._upsert(obj)

    def delete(self, obj: Object, /) -> None:
        self._informer._delete(obj)

    def bookmark(self, resource_version: str, /) -> None:
        self._informer._bookmark(resource_version)


async def wait_for_cache_sync(*informers: SharedInformer | HandlerRegistration) -> bool:
    """Wait until every informer / handler registration has synced; False if one stopped first."""
    for informer in informers:
        if not await informer.wait_for_cache_sync():
            return False
    return True
