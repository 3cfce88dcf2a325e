"""The API client: REST verbs on any resource path, with retries and rate limiting.

Objects go in and come out as plain dicts (orjson), never typed models: nothing
the server sends is lost on a round trip, and decoding costs microseconds.

Every verb funnels into :meth:`KubeClient._request` (watches into
:meth:`KubeClient._send_stream`), and both into one attempt, :meth:`KubeClient._attempt`,
repeated by the one attempt loop of vk_trio (:func:`vk_trio.util.retry` with the
:class:`RetryPolicy`). That is the hot path of the whole node agent (each pod status
write passes through it), so an attempt is kept flat: take a rate-limit token, get
the cached ``Authorization`` value, build one ``httpx.Request`` and hand it straight
to the transport.  httpx's
``AsyncClient`` machinery (cookies, redirects, event hooks, URL merging) is
bypassed because none of it applies to the Kubernetes API and it costs more
than the transport itself; ``httpx`` stays the interface through its request,
response and transport types, so any ``httpx.AsyncBaseTransport`` (e.g.
``httpx.MockTransport`` in tests) can stand in for the built-in one.
"""

from __future__ import annotations

import builtins
import enum
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from functools import partial
from types import TracebackType
from typing import Any, Final, final
from urllib.parse import quote, urlencode

import attrs
import httpx
import orjson
import trio

from .. import __version__
from ..util import retry
from ._config import KubeConfig
from ._errors import ApiConnectionError, ApiError, Gone, Unauthorized, error_from_response
from ._ratelimit import RateLimiterStatistics, TokenBucket
from ._retry import RetryPolicy
from ._transport import STREAM_EXTENSION, HTTP11Transport, PoolLimits, ReadyBody
from ._watch import WatchEvent, WatchStream

__all__ = [
    "DEFAULT_BURST",
    "DEFAULT_QPS",
    "ClientStatistics",
    "KubeClient",
    "PatchType",
    "RequestObserver",
]

DEFAULT_QPS: Final = 200.0
"""Requests per second of the client-side token bucket (``--kube-api-qps``)."""
DEFAULT_BURST: Final = 400
"""Requests the token bucket lets through at once (``--kube-api-burst``)."""

_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
_EMPTY: Final = ReadyBody(b"")


class PatchType(enum.Enum):
    """The four patch flavours the API server understands (the value is the content type)."""

    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"


@final
@attrs.frozen
class ClientStatistics:
    """Counters of a :class:`KubeClient`.

    ``requests`` counts calls per verb (get, list, watch, create, update,
    patch, delete) — not HTTP attempts; ``attempts`` counts HTTP requests
    sent, ``retries`` the repeated ones, ``reauthentications`` the credential
    refreshes forced by a 401, ``failures`` calls that raised an ApiError;
    ``open_watches`` watches currently open; ``rate_limiter`` is None when
    client-side rate limiting is off.
    """

    requests: Mapping[str, int]
    attempts: int
    retries: int
    reauthentications: int
    failures: int
    open_watches: int
    rate_limiter: RateLimiterStatistics | None


def _query(params: Mapping[str, str | None] | None) -> str:
    if not params:
        return ""
    items = [(k, v) for k, v in params.items() if v is not None]
    return "?" + urlencode(items, quote_via=quote) if items else ""


_PLAIN_PATH: Final = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
_PLAIN_QUERY: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")


@final
class _UrlFactory:
    """``httpx.URL`` objects for API paths under the server URL.

    httpx parses and normalises every URL string in pure Python, which was
    ~15 % of the client's CPU per request.  Paths built by
    :func:`resource_path` and query strings built here are already in their
    final, percent-encoded form, so for such targets the URL is derived from
    the parsed server URL by replacing path and query.  That touches httpx's
    private ``_uri_reference``; a self-check at construction falls back to the
    public parser if httpx ever changes underneath.
    """

    def __init__(self, server: str) -> None:
        self._prefix = server.rstrip("/")
        base = httpx.URL(self._prefix + "/")
        self._base_path = base.path.rstrip("/")
        self._reference = getattr(base, "_uri_reference", None)
        self._fast = self._reference is not None and self._self_check()

    def __call__(self, target: str) -> httpx.URL:
        if self._fast:
            path, mark, query = target.partition("?")
            if _PLAIN_PATH.fullmatch(path) and (not mark or _PLAIN_QUERY.fullmatch(query)):
                url = httpx.URL.__new__(httpx.URL)
                url._uri_reference = self._reference._replace(  # type: ignore[union-attr]
                    path=self._base_path + path, query=query if mark else None
                )
                return url
        return httpx.URL(self._prefix + target)

    def _self_check(self) -> bool:
        sample = "/api/v1/namespaces/a%2Fb/pods/p-1/status?labelSelector=a%3Db&limit=5"
        try:
            self._fast = True
            fast = self(sample)
            slow = httpx.URL(self._prefix + sample)
            return (str(fast), fast.raw_path, fast.netloc, fast.scheme, fast.port) == (
                str(slow),
                slow.raw_path,
                slow.netloc,
                slow.scheme,
                slow.port,
            )
        except Exception:
            return False


@final
@attrs.define(slots=True)
class _Call:
    """One API call across its attempts (what to send; whether it re-authenticated already)."""

    method: str
    target: str
    url: httpx.URL
    headers: list[tuple[bytes, bytes]]
    body: httpx.AsyncByteStream
    extensions: dict[str, Any]
    streamed: bool
    reauthenticated: bool = False


RequestObserver = Callable[[str, int, float], None]
"""``observer(verb, status_code, seconds)``; status code 0 means no answer."""


@final
class KubeClient:
    """An async Kubernetes API client on trio (``async with KubeClient(config) as client``).

        ``qps``/``burst`` configure the client-side token bucket (``qps=None``
        turns it off; watches are never limited).  The default of 200/400
    (:data:`DEFAULT_QPS`/:data:`DEFAULT_BURST`, the command's defaults too) is
        forty times client-go's 5/10 and still leaves the API server's own
        priority-and-fairness (429 + Retry-After, honoured here) as the real
        guard.  ``transport`` replaces the built-in :class:`HTTP11Transport` (e.g.
        with ``httpx.MockTransport``); ``retry`` sets the retry policy (see
        :mod:`vk_trio.kube._retry`); ``timeout`` bounds each request (connect,
        send and the whole answer) in seconds; ``max_connections`` bounds the
        built-in transport's pool (watches use connections of their own).  Fewer,
        busier connections are cheaper for the API server: with 64 requests in
        flight, 64 HTTP/1.1 connections cost it about a fifth more CPU per request
        than 16-32 (measured), so extra concurrency queues here instead.
        ``observer`` is called after every attempt of an ordinary request with the
        verb, the status code (0 when the connection failed) and the seconds it
        took: the seam for API request latency metrics, kept free of any metrics
        library here.
    """

    def __init__(
        self,
        config: KubeConfig,
        *,
        qps: float | None = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - immutable value
        timeout: float = 60.0,
        max_connections: int = 32,
        field_manager: str = "vk-trio",
        rng: random.Random | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        self._config = config
        self._observer = observer
        base = httpx.URL(config.server)
        if base.scheme not in ("http", "https"):
            raise ValueError(f"server URL must be http(s), not {config.server!r}")
        self._urls = _UrlFactory(config.server)
        if transport is None:
            transport = HTTP11Transport(
                ssl_context=config.ssl_context,
                limits=PoolLimits(max_connections=max_connections),
                tls_server_name=config.tls_server_name,
            )
            self._owns_transport = True
        else:
            self._owns_transport = False
        self._transport = transport
        if isinstance(transport, HTTP11Transport):
            on_tls_change = getattr(config.credentials, "on_tls_change", None)
            if on_tls_change is not None:
                on_tls_change(transport.close_idle_connections)
        self._credentials = config.credentials
        self._limiter = TokenBucket(qps, burst) if qps else None
        self._retry = retry
        self._rng = rng if rng is not None else random.Random()
        self._field_manager = field_manager
        agent = user_agent or f"vk-trio/{__version__} (python; trio)"
        host = base.netloc
        self._base_headers: list[tuple[bytes, bytes]] = [
            (b"Host", host),
            (b"Accept", b"application/json"),
            (b"User-Agent", agent.encode()),
        ]
        self._extensions: dict[str, Any] = {
            "timeout": {
                "connect": min(10.0, timeout),
                "read": timeout,
                "write": timeout,
                "pool": timeout,
            },
        }
        if config.tls_server_name:
            self._extensions["sni_hostname"] = config.tls_server_name
        self._timeout = timeout
        self._requests = dict.fromkeys(_VERBS, 0)
        self._attempts = 0
        self._retries = 0
        self._reauth = 0
        self._failures = 0
        self._open_watches = 0
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def config(self) -> KubeConfig:
        return self._config

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (and the built-in transport); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport:
            with trio.CancelScope(shield=True):
                await self._transport.aclose()

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            requests=dict(self._requests),
            attempts=self._attempts,
            retries=self._retries,
            reauthentications=self._reauth,
            failures=self._failures,
            open_watches=self._open_watches,
            rate_limiter=self._limiter.statistics() if self._limiter is not None else None,
        )

    # -- verbs ---------------------------------------------------------------------------

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET an object (or any read-only path, e.g. ``/version``)."""
        self._requests["get"] += 1
        return await self._request("GET", path + _query(params), idempotent=True)

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
    ) -> dict[str, Any]:
        """One page of a collection: the List object (``items``, ``metadata.continue``...)."""
        self._requests["list"] += 1
        query = _query(
            {
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": str(limit) if limit is not None else None,
                "continue": continue_,
                "resourceVersion": resource_version,
                "resourceVersionMatch": resource_version_match,
            }
        )
        return await self._request("GET", path + query, idempotent=True)

    async def list_all(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        resource_version: str | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item of a collection, paging ``page_size`` at a time; returns (items, list RV).

        All pages belong to the snapshot of the first one (the server keeps the
        resourceVersion in the continue token).  If the continue token expires
        mid-way (410), the whole list is fetched again in one unpaged request,
        as client-go's pager does.
        """
        first = await self.list(
            path,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=page_size,
            resource_version=resource_version,
        )
        items: builtins.list[dict[str, Any]] = builtins.list(first.get("items") or [])
        metadata = first.get("metadata") or {}
        list_rv = str(metadata.get("resourceVersion") or "")
        token = metadata.get("continue")
        while token:
            try:
                page = await self.list(
                    path,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    limit=page_size,
                    continue_=token,
                )
            except Gone:
                full = await self.list(
                    path,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    resource_version=resource_version,
                )
                meta = full.get("metadata") or {}
                full_items = builtins.list(full.get("items") or [])
                return full_items, str(meta.get("resourceVersion") or "")
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
        return items, list_rv

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
    ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        """Watch a collection: ``async with client.watch(path) as events: async for ev in events``.

        ``read_timeout`` is the longest silence tolerated before the stream is
        declared stalled (:class:`ApiConnectionError`); by default it is
        ``timeout_seconds + 30`` when ``timeout_seconds`` is given (the server
        should have ended the stream by then), else no limit.  With
        ``send_initial_events=True`` the server first replays the current state
        as ADDED events and marks the end with a bookmark carrying the
        ``k8s.io/initial-events-end`` annotation (``resourceVersionMatch`` is
        set to ``NotOlderThan`` as the server requires).  Watches use a
        connection of their own and are not rate limited.
        """
        self._requests["watch"] += 1
        params: dict[str, str | None] = {
            "watch": "1",
            "resourceVersion": resource_version,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "timeoutSeconds": str(timeout_seconds) if timeout_seconds is not None else None,
            "allowWatchBookmarks": "true" if allow_bookmarks else None,
        }
        if send_initial_events is not None:
            params["sendInitialEvents"] = "true" if send_initial_events else "false"
            if send_initial_events:
                params["resourceVersionMatch"] = "NotOlderThan"
        if read_timeout is None and timeout_seconds is not None:
            read_timeout = float(timeout_seconds) + 30.0
        target = path + _query(params)
        extensions = dict(self._extensions)
        extensions["timeout"] = {
            "connect": min(10.0, self._timeout),
            "read": read_timeout,
            "write": self._timeout,
            "pool": self._timeout,
        }
        extensions[STREAM_EXTENSION] = True

        async def open_response() -> httpx.Response:
            self._open_watches += 1
            try:
                return await self._send_stream(target, extensions)
            except BaseException:
                self._open_watches -= 1
                raise

        def on_close() -> None:
            self._open_watches -= 1

        return WatchStream(
            open_response,
            read_timeout=read_timeout,
            own_timer=not isinstance(self._transport, HTTP11Transport),
            on_close=on_close,
        )

    async def create(
        self, path: str, body: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """POST a new object to a collection path.  Never retried once it may have arrived."""
        self._requests["create"] += 1
        query = _query({"fieldManager": field_manager})
        return await self._request(
            "POST",
            path + query,
            body=orjson.dumps(body),
            content_type=b"application/json",
            idempotent=False,
        )

    async def update(
        self, path: str, body: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """PUT a whole object.  Put ``metadata.resourceVersion`` in it for optimistic
        concurrency (a stale one raises :class:`Conflict`); only such updates are retried."""
        self._requests["update"] += 1
        metadata = body.get("metadata")
        guarded = isinstance(metadata, Mapping) and bool(metadata.get("resourceVersion"))
        query = _query({"fieldManager": field_manager})
        return await self._request(
            "PUT",
            path + query,
            body=orjson.dumps(body),
            content_type=b"application/json",
            idempotent=guarded,
        )

    async def patch(
        self,
        path: str,
        body: Any,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        """PATCH an object (or a subresource path such as ``.../pods/p/status``).

        ``body`` is a dict (a list for JSON patch), or ready ``bytes``/``str``
        (e.g. YAML for apply).  Server-side apply (``PatchType.APPLY``) needs a
        field manager: ``field_manager`` or the client's default (``vk-trio``);
        ``force=True`` takes over conflicting fields.  Only apply patches are
        retried after they may have arrived (see :mod:`vk_trio.kube._retry`).
        """
        self._requests["patch"] += 1
        if isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = orjson.dumps(body)
        apply = patch_type is PatchType.APPLY
        if force is not None and not apply:
            raise ValueError("force is only meaningful for server-side apply (PatchType.APPLY)")
        manager = field_manager or (self._field_manager if apply else None)
        query = _query(
            {
                "fieldManager": manager,
                "force": ("true" if force else "false") if force is not None else None,
            }
        )
        return await self._request(
            "PATCH",
            path + query,
            body=payload,
            content_type=patch_type.value.encode(),
            idempotent=apply,
        )

    async def delete(
        self,
        path: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        """DELETE an object; returns what the server returns (the object, or a Status).

        ``uid``/``resource_version`` are preconditions (a mismatch raises
        :class:`Conflict`); ``propagation_policy`` is ``Orphan``,
        ``Background`` or ``Foreground``.  Only deletes with a precondition are
        retried after they may have arrived; a replay of one that had
        succeeded raises :class:`NotFound`.
        """
        self._requests["delete"] += 1
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        preconditions: dict[str, str] = {}
        if uid is not None:
            preconditions["uid"] = uid
        if resource_version is not None:
            preconditions["resourceVersion"] = resource_version
        if preconditions:
            options["preconditions"] = preconditions
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        return await self._request(
            "DELETE",
            path,
            body=orjson.dumps(options),
            content_type=b"application/json",
            idempotent=bool(preconditions),
        )

    # -- the one request path ------------------------------------------------------------

    def _url(self, target: str) -> httpx.URL:
        if not target.startswith("/"):
            raise ValueError(f"API paths start with '/': {target!r}")
        return self._urls(target)

    async def _request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        content_type: bytes | None = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        if self._closed:
            raise RuntimeError("the client is closed")
        headers = self._base_headers
        if body is not None:
            # The body goes in as a ready stream with its length: httpx's request
            # encoding (content sniffing, header defaults, a read) costs more than
            # the rest of building the request.
            headers = [*headers, (b"Content-Length", str(len(body)).encode())]
            if content_type is not None:
                headers.append((b"Content-Type", content_type))
        call = _Call(
            method,
            target,
            self._url(target),
            headers,
            _EMPTY if body is None else ReadyBody(body),
            self._extensions,
            streamed=False,
        )
        _, content = await self._with_retries(call, idempotent=idempotent)
        return orjson.loads(content) if content else {}

    async def _send_stream(self, target: str, extensions: dict[str, Any]) -> httpx.Response:
        """Open a streamed GET (watch): retried like any GET until the response starts."""
        call = _Call(
            "GET", target, self._url(target), self._base_headers, _EMPTY, extensions, streamed=True
        )
        response, _ = await self._with_retries(call, idempotent=True)
        return response

    async def _with_retries(self, call: _Call, *, idempotent: bool) -> tuple[httpx.Response, bytes]:
        """The one attempt loop of every request: :func:`vk_trio.util.retry` with the policy."""
        policy = self._retry
        try:
            return await retry(
                partial(self._attempt, call),
                backoff=policy.backoff,
                retryable=partial(policy.retryable, idempotent=idempotent),
                retry_after=policy.server_delay,
                max_attempts=policy.max_attempts,
                on_retry=self._count_retry,
                rng=self._rng,
            )
        except ApiError:
            self._failures += 1
            raise

    def _count_retry(self, _error: Exception, _attempt: int, _delay: float) -> None:
        self._retries += 1

    async def _attempt(self, call: _Call) -> tuple[httpx.Response, bytes]:
        """One attempt: send, and answer a 2xx response (with its body unless streamed).

        Any other answer raises its :class:`ApiError`; a failure to get one raises
        :class:`ApiConnectionError` (``sent`` False when no byte reached the server). A 401
        with credentials that can be refreshed is sent again at once within the attempt (the
        server did not run it), once per call.
        """
        observer = None if call.streamed else self._observer
        method = call.method
        while True:
            if self._limiter is not None and not call.streamed:
                await self._limiter.acquire()
            authorization = await self._credentials.authorization()
            request = httpx.Request(
                method,
                call.url,
                headers=call.headers
                if authorization is None
                else [*call.headers, (b"Authorization", authorization.encode())],
                stream=call.body,
                extensions=call.extensions,
            )
            self._attempts += 1
            started = time.perf_counter() if observer is not None else 0.0
            try:
                response = await self._transport.handle_async_request(request)
                if call.streamed:
                    content = b""
                else:
                    answer = response.stream
                    if type(answer) is ReadyBody:
                        content = answer.body
                    else:
                        content = await response.aread()
            except httpx.TransportError as exc:
                if observer is not None:
                    observer(method, 0, time.perf_counter() - started)
                raise ApiConnectionError(
                    f"{method} {call.target}: {exc}", sent=not isinstance(exc, _NOT_SENT)
                ) from exc
            status = response.status_code
            if observer is not None:
                observer(method, status, time.perf_counter() - started)
            if 200 <= status < 300:
                return response, content
            if call.streamed:
                content = await response.aread()
                await response.aclose()
            if (
                status == 401
                and authorization is not None
                and not call.reauthenticated
                and await self._reauthenticate(authorization)
            ):
                call.reauthenticated = True
                continue
            raise error_from_response(
                status, content, retry_after=response.headers.get("retry-after")
            )

    async def _reauthenticate(self, rejected: str) -> bool:
        try:
            renewed = await self._credentials.refresh(rejected)
        except Exception as exc:
            raise Unauthorized(
                f"the server rejected the credentials and refreshing them failed: {exc}",
                status_code=401,
            ) from exc
        if renewed:
            self._reauth += 1
        return renewed
