"""The mock's in-process echo server behind ``kubectl port-forward``, on whatever port is asked.

If the client speaks HTTP/1.x the server answers each request with ``200 OK`` and a plain-text
body describing it (so ``curl localhost:8080/x`` through a port-forward shows a real HTTP
exchange); otherwise it echoes bytes until the client half-closes, then half-closes too.
"""

from __future__ import annotations

import re

import h11
import trio

__all__ = ["serve_echo"]

_HTTP_REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S+ HTTP/1\.[01]\r?\n")
_MAX_BODY = 1 << 20


async def serve_echo(stream: trio.abc.Stream, *, port: int, pod: str) -> None:
    """Serve one forwarded connection until either side is done."""
    first = await stream.receive_some()
    if not first:
        return
    if _HTTP_REQUEST_LINE.match(bytes(first)):
        await _serve_http(stream, bytes(first), port=port, pod=pod)
        return
    data = bytes(first)
    while data:
        await stream.send_all(data)
        data = bytes(await stream.receive_some())
    if isinstance(stream, trio.abc.HalfCloseableStream):
        await stream.send_eof()


def _describe(request: h11.Request, body: bytes, *, port: int, pod: str) -> bytes:
    lines = [
        f"mock echo server, pod {pod}, port {port}",
        f"{request.method.decode()} {request.target.decode('latin-1')} HTTP/"
        f"{request.http_version.decode()}",
    ]
    lines += [
        f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in request.headers
    ]
    return ("\n".join(lines) + "\n\n").encode() + body


async def _serve_http(stream: trio.abc.Stream, first: bytes, *, port: int, pod: str) -> None:
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(first)
    while True:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError:
                return
            if event is h11.NEED_DATA:
                data = await stream.receive_some()
                connection.receive_data(bytes(data))
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data[: max(0, _MAX_BODY - len(body))]
            elif isinstance(event, h11.EndOfMessage):
                break
            else:  # ConnectionClosed or PAUSED
                return
        assert request is not None
        payload = _describe(request, bytes(body), port=port, pod=pod)
        response = h11.Response(
            status_code=200,
            headers=[
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
            ],
        )
        await stream.send_all(
            (connection.send(response) or b"")
            + (connection.send(h11.Data(data=payload)) or b"")
            + (connection.send(h11.EndOfMessage()) or b"")
        )
        if connection.our_state is h11.MUST_CLOSE:
            return
        try:
            connection.start_next_cycle()
        except h11.LocalProtocolError:
            return
