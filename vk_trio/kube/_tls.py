"""TLS for the client transport on a non-blocking ``ssl.SSLSocket``.

``trio.SSLStream`` runs OpenSSL through memory BIOs and moves every record
through Python (its retry loop, two BIO copies, conflict detectors); against
the API server that glue was about 40 % of the client's CPU per request,
measured.  A non-blocking ``ssl.SSLSocket`` lets OpenSSL read and write the
socket itself, and trio only waits for readiness (``wait_readable`` /
``wait_writable``), which is the pattern the ``ssl`` module documents for
non-blocking sockets.

Details that matter:

* ``SSLWantReadError``/``SSLWantWriteError`` can come from either direction
  (a TLS 1.3 key update or session ticket makes a read want to write and
  vice versa), so both are handled around every operation.
* Decrypted bytes can sit inside OpenSSL while the socket is not readable;
  ``receive_some`` asks OpenSSL first and only then waits.
* Every call is a trio checkpoint: when no wait was needed, an explicit
  checkpoint keeps a busy stream from starving other tasks.
* No close_notify is sent or required (HTTP/1.1 framing tells where a
  response ends, like ``trio.SSLStream(https_compatible=True)``).
"""

from __future__ import annotations

import socket as stdlib_socket
import ssl
from typing import final

import trio

__all__ = ["TLSSocketStream", "open_tls_stream"]


@final
class TLSSocketStream(trio.abc.Stream):
    """A trio stream over a connected, handshaken, non-blocking ``ssl.SSLSocket``."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.socket = sock
        self._closed = False

    def getpeercert(self) -> dict[str, object] | None:
        return self.socket.getpeercert()  # type: ignore[return-value]

    def fileno(self) -> int:
        return self.socket.fileno()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")
        sock = self.socket
        view = memoryview(data)
        waited = False
        try:
            while view:
                try:
                    sent = sock.send(view)
                except ssl.SSLWantWriteError:
                    waited = True
                    await trio.lowlevel.wait_writable(sock)
                    continue
                except ssl.SSLWantReadError:
                    waited = True
                    await trio.lowlevel.wait_readable(sock)
                    continue
                view = view[sent:]
        except (OSError, ssl.SSLError, ValueError) as exc:
            if self._closed:
                raise trio.ClosedResourceError("the TLS stream was closed") from exc
            raise trio.BrokenResourceError(f"TLS send failed: {exc}") from exc
        if not waited:
            await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.wait_writable(self.socket)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")
        sock = self.socket
        size = max_bytes or 65536
        waited = False
        try:
            while True:
                try:
                    data = sock.recv(size)
                    break
                except ssl.SSLWantReadError:
                    waited = True
                    await trio.lowlevel.wait_readable(sock)
                except ssl.SSLWantWriteError:
                    waited = True
                    await trio.lowlevel.wait_writable(sock)
        except (OSError, ssl.SSLError, ValueError) as exc:
            if self._closed:
                raise trio.ClosedResourceError("the TLS stream was closed") from exc
            raise trio.BrokenResourceError(f"TLS receive failed: {exc}") from exc
        if not waited:
            await trio.lowlevel.checkpoint()
        return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self.socket)
            self.socket.close()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()


async def open_tls_stream(
    tcp: trio.SocketStream, context: ssl.SSLContext, server_hostname: str
) -> TLSSocketStream:
    """Take over ``tcp``'s socket and run the TLS handshake on it.

    On failure the socket is closed and the error propagates
    (``ssl.SSLError`` for certificate problems, ``OSError`` for the rest).
    """
    fd = tcp.socket.detach()
    raw = stdlib_socket.socket(fileno=fd)
    raw.setblocking(False)
    try:
        sock = context.wrap_socket(
            raw, server_hostname=server_hostname, do_handshake_on_connect=False
        )
    except BaseException:
        raw.close()
        raise
    try:
        while True:
            try:
                sock.do_handshake()
                break
            except ssl.SSLWantReadError:
                await trio.lowlevel.wait_readable(sock)
            except ssl.SSLWantWriteError:
                await trio.lowlevel.wait_writable(sock)
    except BaseException:
        trio.lowlevel.notify_closing(sock)
        sock.close()
        raise
    return TLSSocketStream(sock)
