"""The front door: owns each connection to the kubelet port until it knows who serves it.

Connections are accepted only while fewer than ``max_connections`` are open (a slot is taken
*before* ``accept``, like Go's ``netutil.LimitListener``): beyond that, clients wait in the
kernel's backlog instead of costing a file descriptor each, so a crowd of idle sockets cannot
starve the process's own API client of descriptors.  Every accepted TCP socket gets keepalive
probes and ``TCP_USER_TIMEOUT`` (unacknowledged data for ``write_timeout`` kills it), so a peer
that vanished is noticed without our writing to it forever.

For every accepted connection:

1. TLS handshake (bounded by ``handshake_timeout``); the verified client certificate, if any,
   becomes the connection's :class:`~vk_trio.api._http.PeerIdentity`.
2. ALPN ``h2``: straight to hypercorn (HTTP/2 cannot carry a SPDY upgrade).
3. HTTP/1.1: the first request head is read with h11, bounded in size (``max_head_size``, 431
   beyond) and in time (``head_timeout`` for the whole head, so a slow-loris client is dropped
   without holding anything but its own task); a malformed head is 400.
4. ``Upgrade: SPDY/3.1`` on an exec/attach/port-forward path: served here - the app validates it
   (:meth:`KubeletApp.prepare_spdy`), we answer 101 and run the SPDY session on the raw TLS
   stream, starting with the bytes the client pipelined after the head.
5. Anything else (including WebSocket upgrades) goes to hypercorn's per-connection server with
   the bytes already read replayed first and the identity in each ASGI scope's ``tls``
   extension.  From then on hypercorn owns the connection (keep-alive, HTTP/1.1 pipelining,
   its own idle timeout).

Nothing a client sends can raise out of here: every failure ends that connection only.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Sequence
from typing import Any, final

import attrs
import h11
import trio

from ._app import KubeletApp
from ._handoff import HypercornHandoff
from ._http import HttpError, PeerIdentity, RequestHead
from ._routing import ROUTES
from ._tls import peer_identity, tls_extension
from .spdy import open_spdy_connection

__all__ = ["FrontDoor", "FrontDoorLimits", "FrontDoorStatistics"]

logger = logging.getLogger(__name__)

_STREAM_PREFIXES = tuple("/" + route.segments[0] + "/" for route in ROUTES if route.kind.streaming)
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@final
@attrs.frozen(kw_only=True)
class FrontDoorLimits:
    """Bounds on what a client may cost before it is served."""

    #: Seconds for the TLS handshake.
    handshake_timeout: float = 10.0
    #: Seconds for the whole first request head to arrive.
    head_timeout: float = 10.0
    #: Bytes of request head (request line and headers).
    max_head_size: int = 64 * 1024
    #: Seconds to wait for a clean TLS close after an error response.
    close_timeout: float = 2.0
    #: Connections open at once (before authentication); more wait in the listen backlog.
    #: The server lowers it to what the soft ``RLIMIT_NOFILE`` leaves room for.
    max_connections: int = 4096
    #: Seconds a write may make no progress before the connection is closed (a client that
    #: stopped reading); also the socket's ``TCP_USER_TIMEOUT``.
    write_timeout: float = 60.0
    #: Seconds of silence before TCP keepalive probes start (then every 10 s, 3 probes).
    keepalive_idle: float = 30.0
    #: Requests served on one kept-alive HTTP/1.1 or HTTP/2 connection before it is closed.
    max_requests_per_connection: int = 10_000


@final
@attrs.frozen
class FrontDoorStatistics:
    connections: int
    active: int
    handshake_failures: int
    head_timeouts: int
    bad_heads: int
    spdy_upgrades: int
    handed_off: int
    #: The connection bound in force (``max_connections`` after the file-descriptor clamp).
    max_connections: int
    #: Accepts that waited for a free slot.
    accept_waits: int


class _HeadError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _is_spdy_upgrade(request: h11.Request) -> bool:
    upgrade = b",".join(v for k, v in request.headers if k == b"upgrade").lower()
    if b"spdy/3.1" not in upgrade:
        return False
    target = request.target.split(b"?", 1)[0].decode("latin-1")
    return target.startswith(_STREAM_PREFIXES)


def _websocket_headers_are_ascii(request: h11.Request) -> bool:
    return all(
        value.isascii() for name, value in request.headers if name.startswith(b"sec-websocket-")
    )


def _plain_response(status: int, body: bytes = b"") -> bytes:
    reason = _REASONS.get(status, b"Error")
    body = body or b"%d %s" % (status, reason)
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (status, reason, len(body), body)
    )


@final
class FrontDoor:
    """Connection handler for ``trio.serve_listeners`` (see the module docstring)."""

    def __init__(
        self,
        app: KubeletApp,
        handoff: HypercornHandoff,
        *,
        ssl_context: Any | None = None,
        limits: FrontDoorLimits | None = None,
    ) -> None:
        self.app = app
        self.handoff = handoff
        self.ssl_context = ssl_context
        self.limits = limits or FrontDoorLimits()
        self._connections = self._active = self._handshake_failures = 0
        self._head_timeouts = self._bad_heads = self._spdy = self._handed_off = 0
        self._accept_waits = 0
        self.max_connections = self.limits.max_connections

    def statistics(self) -> FrontDoorStatistics:
        return FrontDoorStatistics(
            connections=self._connections,
            active=self._active,
            handshake_failures=self._handshake_failures,
            head_timeouts=self._head_timeouts,
            bad_heads=self._bad_heads,
            spdy_upgrades=self._spdy,
            handed_off=self._handed_off,
            max_connections=self.max_connections,
            accept_waits=self._accept_waits,
        )

    async def serve_listeners(
        self,
        listeners: Sequence[trio.SocketListener],
        handler_nursery: trio.Nursery,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept on every listener, at most ``max_connections`` open at once, each served by
        :meth:`handle` in ``handler_nursery``; until cancelled."""
        slots = trio.Semaphore(self.max_connections)
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(self._accept_loop, listener, slots, handler_nursery)
            task_status.started()

    async def _accept_loop(
        self, listener: trio.SocketListener, slots: trio.Semaphore, handlers: trio.Nursery
    ) -> None:
        async with listener:
            await self._accept_forever(listener, slots, handlers)

    async def _accept_forever(
        self, listener: trio.SocketListener, slots: trio.Semaphore, handlers: trio.Nursery
    ) -> None:
        while True:
            if slots.value == 0:
                self._accept_waits += 1
            await slots.acquire()
            try:
                stream = await listener.accept()
            except OSError as exc:
                slots.release()
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS):
                    raise
                # Out of descriptors or memory: wait for some to be freed (as trio does).
                logger.error("kubelet API accept failed: %s; pausing 100 ms", exc)
                await trio.sleep(0.1)
                continue
            except BaseException:
                slots.release()
                raise
            handlers.start_soon(self._handle_slot, stream, slots)

    async def _handle_slot(self, stream: trio.SocketStream, slots: trio.Semaphore) -> None:
        try:
            await self.handle(stream)
        finally:
            slots.release()

    def _tune_socket(self, stream: trio.abc.Stream) -> None:
        if not isinstance(stream, trio.SocketStream):
            return
        limits = self.limits
        options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
        for name, value in (
            ("TCP_KEEPIDLE", max(1, int(limits.keepalive_idle))),
            ("TCP_KEEPINTVL", 10),
            ("TCP_KEEPCNT", 3),
            ("TCP_USER_TIMEOUT", max(1, int(limits.write_timeout * 1000))),
        ):
            if hasattr(socket, name):
                options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
        for level, option, value in options:
            try:
                stream.setsockopt(level, option, value)
            except OSError as exc:  # not TCP (a Unix socket in a test) or not supported
                logger.debug("setsockopt(%s, %s) failed: %s", level, option, exc)

    async def handle(self, stream: trio.abc.Stream) -> None:
        """Serve one accepted TCP connection (TLS first if the door has a context)."""
        self._connections += 1
        self._active += 1
        try:
            self._tune_socket(stream)
            if self.ssl_context is None:
                await self.serve_http(stream, peer=None, tls={}, alpn="http/1.1")
                return
            ssl_stream = trio.SSLStream(
                stream, self.ssl_context, server_side=True, https_compatible=True
            )
            try:
                with trio.fail_after(self.limits.handshake_timeout):
                    await ssl_stream.do_handshake()
            except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
                self._handshake_failures += 1
                logger.debug("TLS handshake failed: %r", exc)
                await trio.aclose_forcefully(ssl_stream)
                return
            peer = peer_identity(ssl_stream)
            await self.serve_http(
                ssl_stream,
                peer=peer,
                tls=tls_extension(ssl_stream, peer),
                alpn=ssl_stream.selected_alpn_protocol() or "http/1.1",
            )
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            logger.debug("connection ended: %r", exc)
        except Exception:
            logger.exception("kubelet API connection failed")
        finally:
            self._active -= 1
            await trio.aclose_forcefully(stream)

    async def serve_http(
        self,
        stream: trio.abc.Stream,
        *,
        peer: PeerIdentity | None,
        tls: dict[str, Any],
        alpn: str,
    ) -> None:
        """Everything after TLS (the seam the fuzz tests drive with memory streams)."""
        if alpn == "h2":
            self._handed_off += 1
            await self.handoff.serve(stream, prefix=b"", alpn_protocol="h2", tls=tls)
            return
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_size)
        try:
            request, raw = await self._read_head(stream, connection)
        except _HeadError as error:
            await self._refuse(stream, _plain_response(error.status))
            return
        if request is None:
            await trio.aclose_forcefully(stream)
            return
        if _is_spdy_upgrade(request):
            await self._serve_spdy(stream, connection, request, peer)
            return
        if not _websocket_headers_are_ascii(request):
            # hypercorn's WebSocket handshake decodes these as ASCII and would fail with a
            # traceback instead of an answer (found by the fuzzer).
            self._bad_heads += 1
            await self._refuse(stream, _plain_response(400))
            return
        self._handed_off += 1
        await self.handoff.serve(stream, prefix=raw, alpn_protocol="http/1.1", tls=tls)

    async def _read_head(
        self, stream: trio.abc.Stream, connection: h11.Connection
    ) -> tuple[h11.Request | None, bytes]:
        """The first request and every byte read so far; ``(None, b"")`` for a client that
        closed before sending anything; :class:`_HeadError` for a timeout (408: not answered,
        just closed), an oversized (431) or a malformed (400) head."""
        raw = bytearray()
        limit = self.limits.max_head_size
        with trio.move_on_after(self.limits.head_timeout):
            while True:
                try:
                    event = connection.next_event()
                except h11.RemoteProtocolError as exc:
                    self._bad_heads += 1
                    status = exc.error_status_hint if exc.error_status_hint in (400, 431) else 400
                    raise _HeadError(status) from None
                if isinstance(event, h11.Request):
                    if event.http_version not in (b"1.0", b"1.1"):
                        self._bad_heads += 1
                        raise _HeadError(400)
                    head_size = len(event.target) + sum(len(k) + len(v) for k, v in event.headers)
                    if head_size > limit:
                        self._bad_heads += 1
                        raise _HeadError(431)
                    return event, bytes(raw)
                if event is h11.NEED_DATA:
                    if len(raw) > limit:
                        self._bad_heads += 1
                        raise _HeadError(431)
                    data = await stream.receive_some(16 * 1024)
                    if not data and not raw:
                        return None, b""
                    raw += data
                    connection.receive_data(bytes(data))
                    continue
                # ConnectionClosed (EOF mid-head) or anything unexpected before a request.
                self._bad_heads += 1
                raise _HeadError(400)
        self._head_timeouts += 1
        logger.debug("request head not complete within %ss: dropped", self.limits.head_timeout)
        raise _HeadError(408)

    async def _refuse(self, stream: trio.abc.Stream, response: bytes) -> None:
        if response.startswith(b"HTTP/1.1 408"):
            # A client too slow to send its head gets no answer, just the closed connection.
            await trio.aclose_forcefully(stream)
            return
        with trio.move_on_after(self.limits.close_timeout):
            try:
                await stream.send_all(response)
                await stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        await trio.aclose_forcefully(stream)

    async def _serve_spdy(
        self,
        stream: trio.abc.Stream,
        connection: h11.Connection,
        request: h11.Request,
        peer: PeerIdentity | None,
    ) -> None:
        path, _, query = request.target.partition(b"?")
        head = RequestHead(
            method=request.method.decode("latin-1").upper(),
            path=path.decode("latin-1"),
            raw_path=path,
            query_string=query,
            headers=tuple((bytes(k).lower(), bytes(v)) for k, v in request.headers),
            peer=peer,
        )
        try:
            plan = await self.app.prepare_spdy(head)
        except HttpError as error:
            await self._send_error(stream, connection, error)
            return
        headers = [
            (b"Connection", b"Upgrade"),
            (b"Upgrade", b"SPDY/3.1"),
            (b"X-Stream-Protocol-Version", plan.protocol.encode()),
        ]
        try:
            await stream.send_all(
                connection.send(
                    h11.InformationalResponse(
                        status_code=101, headers=headers, reason=b"Switching Protocols"
                    )
                )
                or b""
            )
        except h11.LocalProtocolError as exc:
            # E.g. an upgrade request with a body still arriving: refuse it.
            logger.info("cannot switch protocols: %s", exc)
            await self._refuse(stream, _plain_response(400))
            return
        trailing, _closed = connection.trailing_data
        self._spdy += 1
        async with open_spdy_connection(
            stream,
            initial_data=bytes(trailing),
            idle_timeout=self.app.stream_idle_timeout or None,
        ) as spdy:
            await self.app.serve_spdy(plan, spdy)

    async def _send_error(
        self, stream: trio.abc.Stream, connection: h11.Connection, error: HttpError
    ) -> None:
        headers = [*error.response_headers(), (b"connection", b"close")]
        try:
            data = connection.send(h11.Response(status_code=error.status, headers=headers)) or b""
            data += connection.send(h11.Data(data=error.body)) or b""
            data += connection.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            logger.info("cannot answer %d: %s", error.status, exc)
            data = _plain_response(error.status, error.body)
        await self._refuse(stream, data)
