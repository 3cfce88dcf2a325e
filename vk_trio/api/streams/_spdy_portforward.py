"""port-forward over SPDY (``portforward.k8s.io``): pair data and error streams per request.

Each forwarded connection is two client-opened streams with headers ``streamType`` (``error`` or
``data``), ``port`` and ``requestID``; any number of pairs share one SPDY connection.  Streams
with a missing or invalid ``port``/``streamType`` are reset without a reply, as the kubelet's
stream handler rejects them.  A pair that is not complete within the creation timeout gets
``(conn=..., request=...) timed out waiting for streams`` on its error stream.  A complete pair
is handed to the handler in its own task; both streams are closed when the handler returns.

Unlike the kubelet (which runs the forwarder with a background context), the handlers are
cancelled when the client closes the connection, so a provider cannot leak a forwarding task.
"""

from __future__ import annotations

import contextlib
import logging
from itertools import count

import trio

from vk_trio.api.spdy import RstStatus, SpdyConnection, SpdyConnectionClosed, SpdyStream

from ._interface import PortForwardHandler, PortForwardStream

__all__ = ["serve_spdy_port_forward", "validate_port_forward_headers"]

logger = logging.getLogger(__name__)
_connection_ids = count(1)


def _parse_port(text: str) -> int:
    """Go's ``strconv.ParseUint(text, 10, 16)`` with its error texts."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value > 0xFFFF:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def validate_port_forward_headers(stream: SpdyStream) -> tuple[int, str]:
    """``(port, streamType)`` of a port-forward stream; :class:`ValueError` with the kubelet's
    texts if the stream must be rejected."""
    port_text = stream.header("port") or ""
    if not port_text:
        raise ValueError('"port" header is required')
    try:
        port = _parse_port(port_text)
    except ValueError as exc:
        raise ValueError(f'unable to parse "{port_text}" as a port: {exc}') from None
    if port < 1:
        raise ValueError(f'port "{port_text}" must be > 0')
    stream_type = stream.header("streamtype") or ""
    if not stream_type:
        raise ValueError('"streamType" header is required')
    if stream_type not in ("error", "data"):
        raise ValueError(f'invalid stream type "{stream_type}"')
    return port, stream_type


class _Pair:
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.data: SpdyStream | None = None
        self.error: SpdyStream | None = None
        self.complete = trio.Event()

    def add(self, stream: SpdyStream, stream_type: str) -> bool:
        if stream_type == "error":
            if self.error is not None:
                raise ValueError("error stream already assigned")
            self.error = stream
        else:
            if self.data is not None:
                raise ValueError("data stream already assigned")
            self.data = stream
        done = self.error is not None and self.data is not None
        if done:
            self.complete.set()
        return done

    async def print_error(self, message: str) -> None:
        if self.error is None:
            await trio.lowlevel.checkpoint()
            return
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.error.send_all(message.encode())


def _request_id(stream: SpdyStream, stream_type: str) -> str:
    request_id = stream.header("requestid")
    if request_id:
        return request_id
    # Old clients send no requestID; their pairs are consecutive stream ids (error, then data).
    return str(stream.stream_id if stream_type == "error" else stream.stream_id - 2)


class _PairServer:
    """The pairing state of one connection."""

    def __init__(
        self, handler: PortForwardHandler, creation_timeout: float, nursery: trio.Nursery
    ) -> None:
        self._handler = handler
        self._timeout = creation_timeout
        self._nursery = nursery
        self._pairs: dict[str, _Pair] = {}
        self._conn_id = next(_connection_ids)

    async def admit(self, stream: SpdyStream) -> None:
        try:
            port, stream_type = validate_port_forward_headers(stream)
        except ValueError as exc:
            logger.info("port-forward stream rejected: %s", exc)
            await stream.reset(RstStatus.CANCEL)
            return
        await stream.reply()
        request_id = _request_id(stream, stream_type)
        pair = self._pairs.get(request_id)
        if pair is None:
            pair = self._pairs[request_id] = _Pair(request_id)
            self._nursery.start_soon(self._monitor, pair)
        try:
            complete = pair.add(stream, stream_type)
        except ValueError as exc:
            message = f"error processing stream for request {request_id}: {exc}"
            logger.info("port-forward %s", message)
            await pair.print_error(message)
            await stream.reset(RstStatus.PROTOCOL_ERROR)
            return
        if complete:
            self._nursery.start_soon(self._forward, pair, port)

    def no_more_streams(self) -> None:
        """The client will open no more streams: incomplete pairs can never complete."""
        for pair in self._pairs.values():
            pair.complete.set()

    async def _monitor(self, pair: _Pair) -> None:
        with trio.move_on_after(self._timeout):
            await pair.complete.wait()
            self._pairs.pop(pair.request_id, None)
            if pair.error is None or pair.data is None:
                for stream in (pair.error, pair.data):
                    if stream is not None:
                        await stream.aclose()
            return
        self._pairs.pop(pair.request_id, None)
        message = f"(conn={self._conn_id}, request={pair.request_id}) timed out waiting for streams"
        logger.info("port-forward %s", message)
        await pair.print_error(message)
        for stream in (pair.error, pair.data):
            if stream is not None:
                await stream.aclose()

    async def _forward(self, pair: _Pair, port: int) -> None:
        assert pair.data is not None and pair.error is not None
        forwarded = PortForwardStream(
            port=port,
            request_id=pair.request_id,
            data=pair.data,
            error_writer=pair.error.send_all,
        )
        try:
            await self._handler(forwarded)
        except Exception as exc:
            logger.exception("port-forward handler failed for port %s", port)
            await pair.print_error(f"error forwarding port {port}: {exc}")
        finally:
            with trio.CancelScope(shield=True):
                await pair.data.aclose()
                await pair.error.aclose()


async def serve_spdy_port_forward(
    connection: SpdyConnection, handler: PortForwardHandler, *, creation_timeout: float = 30.0
) -> None:
    """Serve port-forward pairs on ``connection`` until the client stops opening streams (GOAWAY
    or close) and every running pair has finished; all of them are cancelled when the
    connection closes."""

    async def cancel_when_closed(scope: trio.CancelScope) -> None:
        await connection.wait_closed()
        scope.cancel()

    async with trio.open_nursery() as outer:
        outer.start_soon(cancel_when_closed, outer.cancel_scope)
        async with trio.open_nursery() as nursery:
            server = _PairServer(handler, creation_timeout, nursery)
            while True:
                try:
                    stream = await connection.accept_stream()
                except SpdyConnectionClosed:
                    server.no_more_streams()
                    break
                await server.admit(stream)
        outer.cancel_scope.cancel()
