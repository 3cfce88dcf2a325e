"""An ``httpx.AsyncBaseTransport`` on trio streams with a lean keep-alive pool.

Why not httpx's own transport: httpcore's pool does O(connections) book-keeping,
socket polling and anyio locking on every request, which on trio caps a client
at well under 1k requests/s and gets *slower* as concurrency grows.  The API
client needs several thousand small PATCHes per second, so this transport keeps
the per-request work to: pop an idle connection, write one buffer, parse the
answer with the small HTTP/1.1 codec of :mod:`._http11` (h11 was measured at
about a quarter of the client's CPU per request on this path), push the
connection back.

Design points:

* **Bounded pool per origin.**  At most ``PoolLimits.max_connections``
  connections per (scheme, host, port, TLS server name).  When all are busy a
  request waits in FIFO order; a released connection is handed straight to the
  first waiter, so a burst cannot starve an early caller.
* **Dedicated connections for streams.**  A request carrying the
  ``"vk_trio.stream"`` extension (watches) gets a connection of its own that is
  neither counted against the pool bound nor returned to it: a hundred watches
  never block ordinary requests, and ordinary requests never queue behind a
  watch.
* **Whole bodies for pooled requests.**  A pooled request's response body is
  read completely before the response is returned, and the connection goes
  back to the pool at once.  The read timeout therefore bounds the whole
  response; for streamed responses it bounds each read (stall detection).
* **Stale connections.**  An idle connection that became readable (the peer
  closed it) or outlived ``keepalive_expiry`` is discarded before use.  If a
  reused connection still fails before any byte of the answer arrives, a safe
  request (GET/HEAD/OPTIONS) is sent again once on a fresh connection; other
  methods get the error, because the server may have acted on them.
* **TLS** on a non-blocking ``ssl.SSLSocket`` (:mod:`._tls`) with the
  caller's ``ssl.SSLContext`` (ALPN ``http/1.1``); the ``sni_hostname`` request extension (httpx's
  spelling) or ``tls_server_name`` overrides the name used for SNI and
  certificate verification, like kubeconfig's ``tls-server-name``.
"""

from __future__ import annotations

import collections
import select
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Final, final

import attrs
import httpx
import trio

from ._http11 import ProtocolError, ResponseParser, serialize_request
from ._tls import TLSSocketStream, open_tls_stream

__all__ = ["STREAM_EXTENSION", "HTTP11Transport", "PoolLimits", "ReadyBody", "TransportStatistics"]

#: Request extension: ``{"vk_trio.stream": True}`` asks for a dedicated connection and a
#: streamed body (used for watches).
STREAM_EXTENSION: Final = "vk_trio.stream"

_RECEIVE_SIZE: Final = 65536
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}
_IO_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError, ProtocolError)


@final
@attrs.frozen
class PoolLimits:
    """Connection-pool bounds (per origin).

    ``max_connections`` bounds the pooled connections (streams are extra);
    ``max_idle_connections`` how many idle ones are kept (default: all);
    ``keepalive_expiry`` how long an idle connection may be reused, in seconds.
    """

    max_connections: int = attrs.field(default=32, validator=attrs.validators.ge(1))
    max_idle_connections: int | None = None
    keepalive_expiry: float = 30.0


@final
@attrs.frozen
class TransportStatistics:
    """Counters of an :class:`HTTP11Transport` (all origins together)."""

    requests: int
    connections_opened: int
    pooled_connections: int
    idle_connections: int
    stream_connections: int
    pool_waits: int
    stale_retries: int


_Origin = tuple[bytes, bytes, int, str | None]


class _Connection:
    """One HTTP/1.1 connection: a trio stream and the socket under it."""

    __slots__ = ("_close", "_fileno", "expires_at", "got_data", "reused", "stream")

    def __init__(self, stream: trio.abc.Stream, fileno: int, close: Callable[[], None]) -> None:
        self.stream = stream
        self._fileno = fileno
        self._close = close
        self.expires_at = 0.0
        self.reused = False
        self.got_data = False

    def is_stale(self, now: float) -> bool:
        # A readable idle connection has either been closed by the peer (EOF) or
        # carries bytes nobody asked for; neither may be reused.
        if now >= self.expires_at:
            return True
        poller = select.poll()
        poller.register(self._fileno, select.POLLIN)
        return bool(poller.poll(0))

    def close_now(self) -> None:
        """Close without awaiting (no TLS close_notify); fine for idle or broken connections."""
        self._close()

    async def receive_into(self, parser: ResponseParser, chunks: list[bytes]) -> None:
        """Receive once and feed the parser, appending decoded body bytes to ``chunks``."""
        data = await self.stream.receive_some(_RECEIVE_SIZE)
        if data:
            self.got_data = True
            chunks += parser.feed(bytes(data))
        else:
            parser.feed_eof()


class _Waiter:
    __slots__ = ("connection", "event", "granted")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.granted = False
        self.connection: _Connection | None = None


class _Pool:
    """Idle connections and the bound for one origin.

    ``total`` counts every pooled connection that exists or is being opened
    (idle + in use).  A slot is granted either with an idle connection or as
    the right to open a new one (``connection is None``).
    """

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        self.max_idle = (
            limits.max_connections
            if limits.max_idle_connections is None
            else limits.max_idle_connections
        )
        self.idle: collections.deque[_Connection] = collections.deque()
        self.total = 0
        self.waiters: collections.deque[_Waiter] = collections.deque()

    def try_acquire(self, now: float) -> tuple[bool, _Connection | None]:
        idle = self.idle
        while idle:
            conn = idle.pop()  # most recently used first: it is the likeliest to be alive
            if conn.is_stale(now):
                conn.close_now()
                self.total -= 1
                continue
            conn.reused = True
            return True, conn
        if self.total < self.limits.max_connections:
            self.total += 1
            return True, None
        return False, None

    def release(self, conn: _Connection | None, now: float) -> None:
        """Give back a slot: with a reusable connection, or ``None`` if it was closed/never made."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if waiter.granted:  # pragma: no cover - granted waiters are removed when granted
                continue
            waiter.granted = True
            if conn is not None:
                conn.reused = True
            waiter.connection = conn
            waiter.event.set()
            return
        if conn is None:
            self.total -= 1
            return
        conn.expires_at = now + self.limits.keepalive_expiry
        self.idle.append(conn)
        if len(self.idle) > self.max_idle:
            oldest = self.idle.popleft()
            oldest.close_now()
            self.total -= 1

    def close_idle(self) -> None:
        while self.idle:
            self.idle.pop().close_now()
            self.total -= 1


def _deadline(*timeouts: float | None) -> float:
    """The deadline for the sum of ``timeouts`` from now (infinite if any is None)."""
    total = 0.0
    for timeout in timeouts:
        if timeout is None:
            return float("inf")
        total += timeout
    return trio.current_time() + total


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    value = request.extensions.get("timeout")
    return value if isinstance(value, dict) else {}


@final
class HTTP11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 transport for ``httpx`` on trio (see the module docstring).

    Usable on its own with ``httpx.AsyncClient(transport=HTTP11Transport(...))``
    or as the transport of :class:`~vk_trio.kube.KubeClient`.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: PoolLimits = PoolLimits(),
        connect_timeout: float | None = 10.0,
        tls_server_name: str | None = None,
    ) -> None:
        self._ssl_context = ssl_context
        self._limits = limits
        self._connect_timeout = connect_timeout
        self._tls_server_name = tls_server_name
        self._pools: dict[_Origin, _Pool] = {}
        self._streams: set[_Connection] = set()
        self._closed = False
        self._requests = 0
        self._opened = 0
        self._pool_waits = 0
        self._stale_retries = 0

    # -- public --------------------------------------------------------------------------

    def statistics(self) -> TransportStatistics:
        """Counters, for benchmarks and tests."""
        return TransportStatistics(
            requests=self._requests,
            connections_opened=self._opened,
            pooled_connections=sum(p.total for p in self._pools.values()),
            idle_connections=sum(len(p.idle) for p in self._pools.values()),
            stream_connections=len(self._streams),
            pool_waits=self._pool_waits,
            stale_retries=self._stale_retries,
        )

    def close_idle_connections(self) -> None:
        """Drop every idle connection (e.g. after the client certificate changed)."""
        for pool in self._pools.values():
            pool.close_idle()

    async def aclose(self) -> None:
        """Close idle and stream connections; connections in use close when released."""
        self._closed = True
        self.close_idle_connections()
        for conn in list(self._streams):
            conn.close_now()
        self._streams.clear()
        await trio.lowlevel.checkpoint()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        self._requests += 1
        sni = request.extensions.get("sni_hostname") or self._tls_server_name
        port = url.port or _DEFAULT_PORTS[scheme]
        origin: _Origin = (scheme, url.raw_host, port, sni)
        timeouts = _timeouts(request)
        if request.extensions.get(STREAM_EXTENSION):
            return await self._handle_stream(request, origin, timeouts)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self._limits)
        payload, streamed = await self._payload(request)
        data = self._head(request, payload, streamed)
        safe = request.method in _SAFE_METHODS
        attempts = 0
        while True:
            attempts += 1
            conn = await self._acquire(pool, request, timeouts)
            if conn is None:
                try:
                    conn = await self._connect(request, origin, timeouts)
                except BaseException:
                    pool.release(None, trio.current_time())
                    raise
            try:
                return await self._exchange(conn, pool, request, data, timeouts)
            except _StaleConnection as stale:
                # The peer closed a kept-alive connection under us.  Only a safe request
                # may go again: anything else may already have been acted upon.
                if not safe or attempts >= 3:
                    raise stale.error from stale.error.__cause__
                self._stale_retries += 1

    # -- internals -----------------------------------------------------------------------

    async def _payload(self, request: httpx.Request) -> tuple[bytes, bool]:
        """The request body, and whether it was read from a (possibly chunked) stream."""
        stream = request.stream
        if type(stream) is ReadyBody:
            return stream.body, False
        if isinstance(stream, httpx.ByteStream):
            return request.content, False
        return await request.aread(), True

    async def _acquire(
        self, pool: _Pool, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Connection | None:
        ok, conn = pool.try_acquire(trio.current_time())
        if ok:
            return conn
        self._pool_waits += 1
        waiter = _Waiter()
        pool.waiters.append(waiter)
        timeout = timeouts.get("pool")
        try:
            with trio.fail_after(timeout if timeout is not None else float("inf")):
                await waiter.event.wait()
        except BaseException as exc:
            if waiter.granted:
                # Granted while we were being cancelled: pass the slot on.
                pool.release(waiter.connection, trio.current_time())
            else:
                pool.waiters.remove(waiter)
            if isinstance(exc, trio.TooSlowError):
                raise httpx.PoolTimeout(
                    "timed out waiting for a pooled connection", request=request
                ) from None
            raise
        # A handed-over connection has just finished a request: no staleness check needed.
        return waiter.connection

    async def _connect(
        self, request: httpx.Request, origin: _Origin, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, raw_host, port, sni = origin
        host = raw_host.decode("ascii")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        timeout = timeouts.get("connect", self._connect_timeout)
        tcp: trio.SocketStream | None = None
        tls: TLSSocketStream | None = None
        try:
            with trio.fail_after(timeout if timeout is not None else float("inf")):
                tcp = await trio.open_tcp_stream(host, port)
                if scheme == b"https":
                    context = self._ssl_context
                    if context is None:
                        context = self._ssl_context = default_ssl_context()
                    tls = await open_tls_stream(tcp, context, sni or host)
        except trio.TooSlowError:
            if tcp is not None:
                tcp.socket.close()
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from None
        except (OSError, ssl.SSLError) as exc:
            if tcp is not None:
                tcp.socket.close()
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {exc}", request=request
            ) from exc
        except BaseException:
            if tcp is not None:
                tcp.socket.close()
            raise
        self._opened += 1
        if tls is not None:
            return _Connection(tls, tls.fileno(), tls.close)
        return _Connection(tcp, tcp.socket.fileno(), tcp.socket.close)

    def _head(self, request: httpx.Request, payload: bytes, streamed: bool) -> bytes:
        headers = request.headers.raw
        present = {name.lower() for name, _ in headers}
        if streamed and b"transfer-encoding" in present:
            # A streamed body was read into memory: it is sent with a length instead.
            headers = [(k, v) for k, v in headers if k.lower() != b"transfer-encoding"]
            present.discard(b"transfer-encoding")
        if b"host" not in present:
            headers = [(b"Host", request.url.netloc), *headers]
        if payload and b"content-length" not in present and b"transfer-encoding" not in present:
            headers = [*headers, (b"Content-Length", str(len(payload)).encode())]
        return serialize_request(request.method.encode(), request.url.raw_path, headers, payload)

    async def _exchange(
        self,
        conn: _Connection,
        pool: _Pool,
        request: httpx.Request,
        data: bytes,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        """Send the request and read the whole response; release ``conn`` in every case.

        One cancel scope covers the write and the read (scopes cost several µs
        each on this path): its deadline is the write plus the read timeout.
        """
        writing = True
        conn.got_data = False
        parser = ResponseParser(head_request=request.method == "HEAD")
        chunks: list[bytes] = []
        deadline = _deadline(timeouts.get("write"), timeouts.get("read"))
        try:
            try:
                with trio.CancelScope(deadline=deadline) as scope:
                    await conn.stream.send_all(data)
                    writing = False
                    while not parser.done:
                        await conn.receive_into(parser, chunks)
                if scope.cancelled_caught:
                    if writing:
                        raise httpx.WriteTimeout("timed out sending the request", request=request)
                    raise httpx.ReadTimeout("timed out waiting for the response", request=request)
            except _IO_ERRORS as exc:
                error = self._io_error(exc, request, writing)
                if conn.reused and not conn.got_data:
                    error.__cause__ = exc
                    raise _StaleConnection(error) from exc
                raise error from exc
        except BaseException:
            conn.close_now()
            pool.release(None, trio.current_time())
            raise
        now = trio.current_time()
        if parser.keep_alive and not self._closed:
            pool.release(conn, now)
        else:
            conn.close_now()
            pool.release(None, now)
        head = parser.head
        assert head is not None
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        extensions = {"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason}
        if any(name == b"content-encoding" for name, _ in head.headers):
            # Let httpx decode it (the client never asks for compression, others may).
            return httpx.Response(
                head.status_code,
                headers=head.headers,
                stream=httpx.ByteStream(body),
                request=request,
                extensions=extensions,
            )
        return httpx.Response(
            head.status_code,
            headers=head.headers,
            stream=ReadyBody(body),
            request=request,
            extensions=extensions,
        )

    @staticmethod
    def _io_error(
        exc: BaseException, request: httpx.Request, writing: bool
    ) -> httpx.TransportError:
        if writing:
            return httpx.WriteError(f"sending the request failed: {exc}", request=request)
        if isinstance(exc, ProtocolError):
            return httpx.RemoteProtocolError(f"bad response: {exc}", request=request)
        return httpx.ReadError(
            f"reading the response failed: {exc or type(exc).__name__}", request=request
        )

    async def _handle_stream(
        self, request: httpx.Request, origin: _Origin, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        payload, streamed = await self._payload(request)
        data = self._head(request, payload, streamed)
        conn = await self._connect(request, origin, timeouts)
        self._streams.add(conn)
        parser = ResponseParser(head_request=request.method == "HEAD")
        early: list[bytes] = []
        read_timeout = timeouts.get("read")
        writing = True
        try:
            with trio.CancelScope(deadline=_deadline(timeouts.get("write"), read_timeout)) as scope:
                await conn.stream.send_all(data)
                writing = False
                while parser.head is None:
                    await conn.receive_into(parser, early)
            if scope.cancelled_caught:
                raise httpx.ReadTimeout("timed out waiting for the response", request=request)
        except BaseException as exc:
            self._streams.discard(conn)
            conn.close_now()
            if isinstance(exc, _IO_ERRORS):
                raise self._io_error(exc, request, writing) from exc
            raise
        head = parser.head
        assert head is not None
        return httpx.Response(
            head.status_code,
            headers=head.headers,
            stream=_StreamBody(
                self, conn, parser, early, request=request, read_timeout=read_timeout
            ),
            request=request,
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )

    def _stream_done(self, conn: _Connection) -> None:
        self._streams.discard(conn)
        conn.close_now()


@final
class ReadyBody(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A body that is complete in memory: every pooled response's, and the client's requests.

    It reads like any httpx stream; :class:`~vk_trio.kube.KubeClient` and this
    transport take ``body`` directly instead, skipping httpx's generic read and
    encode machinery (a measurable share of the per-request cost).  Responses
    use it only for bodies without a ``Content-Encoding``, so ``body`` is the
    final content.
    """

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        yield self.body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


class _StaleConnection(Exception):
    """Internal: a reused connection failed before the answer began."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


@final
class _StreamBody(httpx.AsyncByteStream):
    """The body of a streamed response, read chunk by chunk from its dedicated connection.

    Each read is bounded by the request's read timeout (a stalled stream raises
    ``httpx.ReadTimeout``).  The connection is closed when the body ends or
    the stream is closed early: stream connections are never reused, so that a
    half-read body can never leak into another request.
    """

    def __init__(
        self,
        transport: HTTP11Transport,
        conn: _Connection,
        parser: ResponseParser,
        early: list[bytes],
        *,
        request: httpx.Request,
        read_timeout: float | None,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._parser = parser
        self._pending = early
        self._request = request
        self._read_timeout = float("inf") if read_timeout is None else read_timeout
        self._done = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._pending:
            early, self._pending = self._pending, []
            return b"".join(early)
        chunks: list[bytes] = []
        if self._done or self._parser.done:
            self._close_sync()
            raise StopAsyncIteration
        try:
            with trio.move_on_after(self._read_timeout) as scope:
                while not chunks and not self._parser.done:
                    await self._conn.receive_into(self._parser, chunks)
            if scope.cancelled_caught:
                self._close_sync()
                raise httpx.ReadTimeout(
                    "no data on the stream within the read timeout", request=self._request
                )
        except _IO_ERRORS as exc:
            self._close_sync()
            raise httpx.ReadError(
                f"reading the stream failed: {exc}", request=self._request
            ) from exc
        except BaseException:
            self._close_sync()
            raise
        if chunks:
            return b"".join(chunks)
        self._close_sync()
        raise StopAsyncIteration

    def _close_sync(self) -> None:
        if not self._done:
            self._done = True
            self._transport._stream_done(self._conn)

    async def aclose(self) -> None:
        self._close_sync()


def default_ssl_context() -> ssl.SSLContext:
    """A verifying client context (system trust store) offering only HTTP/1.1 by ALPN."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.set_alpn_protocols(["http/1.1"])
    return context
