"""port-forward over a WebSocket (``v4.channel.k8s.io``, its base64 variant, or none).

The ports come from the request's ``port`` query parameters (:func:`parse_port_forward_ports`).
Port *i* uses channel ``2i`` for data (both ways) and ``2i+1`` for errors (server to client); the
first message on each of them is the port as 2 little-endian bytes.  All ports are forwarded
concurrently, one handler call each; when all have returned the session is over.  (Virtual
Kubelet never parses the ports, so its WebSocket port-forward forwards nothing; this one works.)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import trio

from ._channels import channel_protocol, encode_port_prefix
from ._interface import PortForwardHandler, PortForwardStream
from ._mux import ChannelDuplex, ChannelMux
from ._transport import WebSocketTransport

__all__ = ["parse_port_forward_ports", "serve_websocket_port_forward"]

logger = logging.getLogger(__name__)


def parse_port_forward_ports(values: Sequence[str]) -> list[int]:
    """Parse the ``port`` query values (each may be a comma-separated list) with the kubelet's
    error texts (HTTP 400 when they raise :class:`ValueError`)."""
    if not values:
        raise ValueError('query parameter "port" is required')
    ports: list[int] = []
    for value in values:
        if not value:
            raise ValueError('query parameter "port" cannot be empty')
        for part in value.split(","):
            if not part.isascii() or not part.isdigit():
                raise ValueError(
                    f'unable to parse "{value}" as a port: strconv.ParseUint: parsing '
                    f'"{part}": invalid syntax'
                )
            port = int(part)
            if port > 0xFFFF:
                raise ValueError(
                    f'unable to parse "{value}" as a port: strconv.ParseUint: parsing '
                    f'"{part}": value out of range'
                )
            if port < 1:
                raise ValueError(f'port "{value}" must be > 0')
            ports.append(port)
    return ports


async def serve_websocket_port_forward(
    transport: WebSocketTransport,
    subprotocol: str,
    ports: Sequence[int],
    handler: PortForwardHandler,
    *,
    max_buffer: int = 1 << 20,
) -> None:
    """Forward every port in ``ports`` through ``handler`` until all handlers return (the
    WebSocket closing ends their data streams).  The route closes the WebSocket afterwards."""
    mux = ChannelMux(transport, channel_protocol(subprotocol), max_buffer=max_buffer)
    streams: list[PortForwardStream] = []
    for index, port in enumerate(ports):
        data_channel, error_channel = 2 * index, 2 * index + 1
        error_writer = mux.writer(error_channel)
        streams.append(
            PortForwardStream(
                port=port,
                request_id=str(index),
                data=ChannelDuplex(mux.reader(data_channel), mux.writer(data_channel)),
                error_writer=error_writer.send_all,
            )
        )

    async def forward(stream: PortForwardStream) -> None:
        try:
            await handler(stream)
        except Exception as exc:
            logger.exception("port-forward handler failed for port %s", stream.port)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.write_error(f"error forwarding port {stream.port}: {exc}")
        finally:
            await stream.data.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(mux.run_reader)
        for index, stream in enumerate(streams):
            prefix = encode_port_prefix(stream.port)
            await mux.send(2 * index, prefix)
            await mux.send(2 * index + 1, prefix)
        async with trio.open_nursery() as handlers:
            for stream in streams:
                handlers.start_soon(forward, stream)
        nursery.cancel_scope.cancel()
