"""The reflector: keep a sink (store or informer) equal to the API server's view of a resource.

List (paged) once, then watch from the list's resource version and apply every event; when the
watch breaks, resume it from the last resource version seen; when the server says that version is
gone (410), list again — objects that vanished in between are then only visible as missing keys,
which the informer turns into tombstone deletes. The retry rules and numbers follow client-go's
reflector (``tools/cache/reflector.go``); the differences are listed in docs/informers.md.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, NoReturn, Protocol, final

import attrs
import trio

from vk_trio.kube import (
    ApiConnectionError,
    ApiError,
    Gone,
    InternalError,
    TooManyRequests,
    WatchEvent,
    error_from_status,
)

from ._backoff import Backoff, watch_timeout_seconds
from ._objects import Object, resource_version_of

logger = logging.getLogger("vk_trio.informers.reflector")

DEFAULT_PAGE_SIZE = 500
"""Items per LIST page unless :attr:`ReflectorOptions.page_size` says otherwise."""

VERY_SHORT_WATCH = 1.0
"""A watch that ends within this many seconds without a single event counts as a failure."""

VERY_SHORT_WATCHES_BEFORE_RELIST = 2
"""Very short empty watches in a row that make the reflector relist (client-go: the first).

An overloaded API server ends a watcher that cannot keep up ("forcing watcher close due to
unresponsiveness") - often right after it opened, while the server replays the backlog. Its
resource version is still good, so the first such watch is retried from it after backoff; a
relist, which would cost the server and us a full copy of every object (at 10,000 pods, hundreds
of megabytes here), only follows a second one in a row."""

INTERNAL_ERROR_RESET = 60.0
"""Internal-error retry window restarts when the previous internal error is older than this."""


class ListWatchClient(Protocol):
    """The part of :class:`vk_trio.kube.KubeClient` a reflector uses (fakes implement just this)."""

    async def list(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> dict[str, Any]: ...

    def watch(
        self,
        path: str,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        send_initial_events: bool | None = None,
        read_timeout: float | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]: ...


class ReflectorSink(Protocol):
    """Where a reflector writes; a :class:`Store` is one, a :class:`SharedInformer` another.

    Every method is synchronous: the sink is updated between two checkpoints of the reflector's
    task, so readers see each change whole.
    """

    def replace(self, objs: list[Object], resource_version: str, /) -> object: ...
    def add(self, obj: Object, /) -> object: ...
    def update(self, obj: Object, /) -> object: ...
    def delete(self, obj: Object, /) -> object: ...
    def bookmark(self, resource_version: str, /) -> object: ...


@final
@attrs.frozen
class ReflectorOptions:
    """Tuning knobs; the defaults are client-go's. See the table in docs/informers.md."""

    page_size: int | None = None
    """``limit`` of each LIST page. None: client-go's rule — pages of 500, except that a relist
    at a known resource version is sent without a limit so the API server's watch cache can serve
    it (unless an earlier list showed that cache to be off). A number forces that page size on
    every LIST; 0 never paginates."""
    min_watch_timeout: float = 300.0
    """Each watch asks the server to end it after U[min, 2*min) whole seconds."""
    stall_grace: float = 30.0
    """A watch stream silent for its timeout plus this many seconds is declared stalled."""
    backoff_initial: float = 0.8
    backoff_cap: float = 30.0
    backoff_factor: float = 2.0
    backoff_jitter: float = 1.0
    backoff_reset_after: float = 120.0
    """The backoff starts over when no retry was needed for this long."""
    max_internal_error_retry_duration: float = 0.0
    """Re-watch at once (no relist) on 500s for this long after the first one; 0 disables."""
    initial_list_resource_version: str = "0"
    """``"0"``: the first LIST may be served from the API server's watch cache (cheap, possibly a
    little stale — the watch catches up); ``""``: a consistent read."""


@final
@attrs.frozen
class ReflectorStatistics:
    """Counters since the reflector was created."""

    lists: int
    list_pages: int
    expired_lists: int
    """LISTs refused because the resource version was too old (then retried from scratch)."""
    watches: int
    events: int
    bookmarks: int
    watch_restarts: int
    """Watches that ended (timeout, broken stream, stall) and were resumed without a relist."""
    stalled_watches: int
    gone: int
    """Watches ended by 410 Gone (history compacted) — each one leads to a relist."""
    too_many_requests: int
    retries: int
    """Backoff sleeps taken."""
    last_sync_resource_version: str
    last_error: str | None


class VeryShortWatchError(Exception):
    """The watch ended almost at once with no event: something is wrong; relist after backoff."""


class WatchStalledError(Exception):
    """No event and no bookmark for longer than the server's own watch timeout."""


@final
class Reflector:
    """List-then-watch loop for one resource path and selector, feeding a :class:`ReflectorSink`.

    Run it with ``await nursery.start(reflector.run)``; cancel the scope to stop it. It never
    returns on its own: API errors are logged and retried with backoff; anything else (a bug in the
    sink) propagates.
    """

    def __init__(
        self,
        client: ListWatchClient,
        path: str,
        sink: ReflectorSink,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        options: ReflectorOptions | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._path = path
        self._sink = sink
        self._label_selector = label_selector or None
        self._field_selector = field_selector or None
        self._options = options or ReflectorOptions()
        self.name = name or _describe(path, label_selector, field_selector)
        self._rng = rng or random.Random()
        opts = self._options
        self._backoff = Backoff(
            initial=opts.backoff_initial,
            cap=opts.backoff_cap,
            factor=opts.backoff_factor,
            jitter=opts.backoff_jitter,
            reset_after=opts.backoff_reset_after,
            rng=self._rng,
        )
        self._last_sync_rv = ""
        self._rv_unavailable = False
        self._paginated_result = False
        self._internal_first: float | None = None
        self._internal_last: float | None = None
        self._stats: dict[str, int] = dict.fromkeys(
            (
                "lists",
                "list_pages",
                "expired_lists",
                "watches",
                "events",
                "bookmarks",
                "watch_restarts",
                "stalled_watches",
                "gone",
                "too_many_requests",
                "retries",
            ),
            0,
        )
        self._last_error: str | None = None

    @property
    def last_sync_resource_version(self) -> str:
        """The resource version the sink reflects (from the last list, event or bookmark)."""
        return self._last_sync_rv

    def statistics(self) -> ReflectorStatistics:
        """Counters: lists, pages, watches, events, restarts, stalls, 410s, 429s, backoffs."""
        return ReflectorStatistics(
            **self._stats,
            last_sync_resource_version=self._last_sync_rv,
            last_error=self._last_error,
        )

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """List and watch forever; reports started at once (sync is the sink's business)."""
        task_status.started()
        while True:
            try:
                await self._list_and_watch()
            except Gone as exc:
                self._stats["gone"] += 1
                self._note_error(exc, logging.INFO, "watch expired (410), relisting")
            except (ApiError, VeryShortWatchError, WatchStalledError) as exc:
                self._note_error(exc, logging.WARNING, "list/watch failed, retrying")
            await self._sleep_backoff()

    # -- list -------------------------------------------------------------------------------------

    def _relist_resource_version(self) -> str:
        if self._rv_unavailable:
            return ""  # the last version is gone: a consistent read from etcd
        if not self._last_sync_rv:
            return self._options.initial_list_resource_version
        return self._last_sync_rv

    async def _list_and_watch(self) -> None:
        await self._list()
        await self._watch_loop()

    async def _list(self) -> None:
        rv = self._relist_resource_version()
        try:
            items, list_rv, paginated = await self._list_pages(rv)
        except ApiError as exc:
            if not (_is_expired(exc) or _is_too_large_rv(exc)):
                raise
            self._stats["expired_lists"] += 1
            logger.info("%s: list at resource version %r expired, listing afresh", self.name, rv)
            self._rv_unavailable = True
            rv = ""
            items, list_rv, paginated = await self._list_pages(rv)
        if rv == "0" and paginated:
            # The server paginated a RV=0 list: its watch cache is off, so page from now on.
            self._paginated_result = True
        self._rv_unavailable = False
        self._stats["lists"] += 1
        self._sink.replace(items, list_rv)
        self._last_sync_rv = list_rv

    async def _list_pages(self, rv: str) -> tuple[list[Object], str, bool]:
        page_size = self._options.page_size
        limit: int | None
        if page_size is not None:
            limit = page_size if page_size > 0 else None
        elif self._paginated_result or rv in ("", "0"):
            limit = DEFAULT_PAGE_SIZE
        else:
            # A relist at a known RV is served from the watch cache only without a limit.
            limit = None
        items: list[Object] = []
        cont: str | None = None
        pages = 0
        while True:
            try:
                page = await self._client.list(
                    self._path,
                    label_selector=self._label_selector,
                    field_selector=self._field_selector,
                    limit=limit,
                    continue_=cont,
                    resource_version=(rv or None) if cont is None else None,
                )
            except ApiError as exc:
                if cont is None or not _is_expired(exc):
                    raise
                # The continue token outlived etcd's history: one unpaginated list instead.
                logger.info("%s: continue token expired, listing in one page", self.name)
                page = await self._client.list(
                    self._path,
                    label_selector=self._label_selector,
                    field_selector=self._field_selector,
                    resource_version=rv or None,
                )
                self._stats["list_pages"] += 1
                return _page_items(page), _page_rv(page), False
            pages += 1
            self._stats["list_pages"] += 1
            items.extend(_page_items(page))
            cont = (page.get("metadata") or {}).get("continue") or None
            if not cont:
                return items, _page_rv(page), pages > 1

    # -- watch ------------------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        """Watch from the last RV; return (or raise) when a relist is needed."""
        opts = self._options
        short_in_a_row = 0
        while True:
            timeout = watch_timeout_seconds(opts.min_watch_timeout, self._rng)
            read_timeout = timeout + opts.stall_grace
            started = trio.current_time()
            events = 0
            established = False
            start_rv = self._last_sync_rv
            defer_rv = start_rv in ("", "0")
            try:
                async with self._client.watch(
                    self._path,
                    resource_version=start_rv or None,
                    label_selector=self._label_selector,
                    field_selector=self._field_selector,
                    timeout_seconds=timeout,
                    allow_bookmarks=True,
                    # Our own per-event deadline below fires first and is counted as a stall.
                    read_timeout=read_timeout + 5.0,
                ) as stream:
                    established = True
                    self._stats["watches"] += 1
                    iterator = stream.__aiter__()
                    while True:
                        with trio.move_on_after(read_timeout) as scope:
                            try:
                                event = await iterator.__anext__()
                            except StopAsyncIteration:
                                break
                        if scope.cancelled_caught:
                            raise WatchStalledError(
                                f"no event for {read_timeout:.0f} s (watch timeout {timeout} s)"
                            )
                        events += 1
                        defer_rv = self._handle_event(event, defer_rv)
            except TooManyRequests as exc:
                # The server is shedding load: wait, then resume the same watch (no relist).
                self._stats["too_many_requests"] += 1
                self._note_error(exc, logging.INFO, "watch throttled (429), retrying")
                await self._sleep_backoff(minimum=exc.retry_after or 0.0)
                continue
            except InternalError as exc:
                if not self._retry_internal_error():
                    raise
                self._note_error(exc, logging.INFO, "watch internal error, re-watching")
                continue
            except Gone:
                raise
            except WatchStalledError as exc:
                self._stats["stalled_watches"] += 1
                self._stats["watch_restarts"] += 1
                self._note_error(exc, logging.WARNING, "watch stalled, restarting it")
                continue
            except ApiConnectionError as exc:
                if not established:
                    # Could not reach the server (down, restarting): back off, then re-watch from
                    # the same RV — a relist would only add load and fail the same way.
                    self._note_error(exc, logging.INFO, "cannot open watch, retrying")
                    await self._sleep_backoff()
                    continue
                # The stream broke mid-way: resume it like a stream that ended.
                self._note_error(exc, logging.INFO, "watch stream broken, resuming")
            self._stats["watch_restarts"] += 1
            if events == 0 and trio.current_time() - started < VERY_SHORT_WATCH:
                short = VeryShortWatchError(
                    f"watch of {self.name} ended after "
                    f"{trio.current_time() - started:.3f} s with no event"
                )
                short_in_a_row += 1
                if short_in_a_row >= VERY_SHORT_WATCHES_BEFORE_RELIST:
                    raise short
                self._note_error(short, logging.INFO, "re-watching from the same version")
                await self._sleep_backoff()
                continue
            short_in_a_row = 0

    def _handle_event(self, event: WatchEvent, defer_rv: bool) -> bool:
        kind = event.type
        obj = event.object
        if kind == "ERROR":
            raise error_from_status(obj)
        rv = resource_version_of(obj)
        if kind == "ADDED":
            self._sink.add(obj)
        elif kind == "MODIFIED":
            self._sink.update(obj)
        elif kind == "DELETED":
            self._sink.delete(obj)
        elif kind == "BOOKMARK":
            self._stats["bookmarks"] += 1
            if rv:
                self._sink.bookmark(rv)
        else:
            logger.warning("%s: ignoring watch event of unknown type %r", self.name, kind)
            return defer_rv
        self._stats["events"] += 1
        if defer_rv and kind == "ADDED":
            # A watch from "" / "0" starts with synthetic ADDED events in no RV order.
            return True
        if rv:
            self._last_sync_rv = rv
        return False

    # -- retry helpers ----------------------------------------------------------------------------

    async def _sleep_backoff(self, minimum: float = 0.0) -> None:
        self._stats["retries"] += 1
        await trio.sleep(max(self._backoff.next_delay(), minimum))

    def _retry_internal_error(self) -> bool:
        limit = self._options.max_internal_error_retry_duration
        if limit <= 0:
            return False
        now = trio.current_time()
        if self._internal_last is None or now - self._internal_last > INTERNAL_ERROR_RESET:
            self._internal_first = now
        self._internal_last = now
        assert self._internal_first is not None
        return now - self._internal_first <= limit

    def _note_error(self, exc: BaseException, level: int, what: str) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        logger.log(level, "%s: %s: %s", self.name, what, self._last_error)


def _describe(path: str, label_selector: str | None, field_selector: str | None) -> str:
    parts = [path]
    if label_selector:
        parts.append(f"labels={label_selector}")
    if field_selector:
        parts.append(f"fields={field_selector}")
    return " ".join(parts)


def _page_items(page: Mapping[str, Any]) -> list[Object]:
    items: list[Object] = page.get("items") or []
    # List items come without kind/apiVersion; fill them in so cached objects look alike no
    # matter whether they came from a list or a watch.
    list_kind = page.get("kind")
    api_version = page.get("apiVersion")
    if isinstance(list_kind, str) and list_kind.endswith("List") and items:
        kind = list_kind[: -len("List")]
        for item in items:
            if "kind" not in item:
                item["kind"] = kind
                if api_version is not None:
                    item["apiVersion"] = api_version
    return items


def _page_rv(page: Mapping[str, Any]) -> str:
    rv = (page.get("metadata") or {}).get("resourceVersion")
    return rv if isinstance(rv, str) else ""


def _is_expired(exc: ApiError) -> bool:
    return isinstance(exc, Gone) or exc.status_code == 410 or exc.reason in ("Expired", "Gone")


def _is_too_large_rv(exc: ApiError) -> bool:
    status = exc.status or {}
    causes = (status.get("details") or {}).get("causes") or ()
    if any(cause.get("reason") == "ResourceVersionTooLarge" for cause in causes):
        return True
    return exc.status_code == 504 and "Too large resource version" in (exc.message or "")
