"""Pin the public surface of vk_trio.api.spdy and vk_trio.api.streams, and the sans-IO rule."""

from __future__ import annotations

import ast
import pathlib

from vk_trio.api import spdy, streams

SANS_IO_MODULES = ["_codec", "_dictionary", "_errors", "_events", "_frames", "_headers", "_session"]


def _public(module: object) -> set[str]:
    return {name for name in vars(module) if not name.startswith("_")}


def test_spdy_exports() -> None:
    assert _public(spdy) == {
        "SPDY3_DICTIONARY", "MAX_FRAME_LENGTH", "MAX_STREAM_ID", "SPDY_VERSION",
        # codec
        "FrameDecoder", "FrameEncoder", "encode_header_block", "decode_header_block",
        "header_value",
        # frames
        "BadHeaderBlock", "DataFrame", "Frame", "FrameType", "GoAwayFrame", "GoAwayStatus",
        "Headers", "HeadersFrame", "PingFrame", "RstStatus", "RstStreamFrame", "Setting",
        "SettingsFrame", "SettingsId", "SynReplyFrame", "SynStreamFrame", "UnknownFrame",
        "WindowUpdateFrame",
        # session
        "SessionConfig", "SessionStatistics", "SpdySession", "StreamState",
        "DataReceived", "Event", "GoAwayReceived", "HeadersReceived", "PingAcknowledged",
        "PingReceived", "SettingsReceived", "StreamEnded", "StreamOpened", "StreamReplied",
        "StreamReset", "WindowUpdated",
        # errors
        "ProtocolError", "SpdyError", "StreamClosedError",
        # trio adapter
        "SpdyConnection", "SpdyConnectionStatistics", "open_spdy_connection",
        "SpdyConnectionClosed", "SpdyStream", "StreamResetError",
    }  # fmt: skip


def test_streams_exports() -> None:
    assert _public(streams) == {
        "CHANNEL_ERROR", "CHANNEL_RESIZE", "CHANNEL_STDERR", "CHANNEL_STDIN", "CHANNEL_STDOUT",
        "CLOSE_SIGNAL", "ChannelData", "ChannelDecodeError", "ChannelProtocol", "CloseSignal",
        "channel_protocol", "decode_channel_message", "encode_channel_message",
        "encode_close_signal", "encode_port_prefix",
        "PortForwardHandler", "PortForwardStream", "RemoteCommandOptions",
        "RemoteCommandStreams", "StreamCreationTimeout", "parse_remote_command_options",
        "ACCEPTED_PROTOCOLS_HEADER", "PORT_FORWARD_PROTOCOL_V1", "PORT_FORWARD_SPDY_PROTOCOLS",
        "PORT_FORWARD_WEBSOCKET_PROTOCOLS", "PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL",
        "REMOTE_COMMAND_SPDY_PROTOCOLS",
        "REMOTE_COMMAND_WEBSOCKET_PROTOCOLS", "STREAM_PROTOCOL_HEADER", "STREAM_PROTOCOL_V1",
        "STREAM_PROTOCOL_V2", "STREAM_PROTOCOL_V3", "STREAM_PROTOCOL_V4", "STREAM_PROTOCOL_V5",
        "WEBSOCKET_BASE64_V1", "WEBSOCKET_BASE64_V4", "ProtocolNegotiationError",
        "negotiate_spdy_protocol", "negotiate_websocket_subprotocol",
        "ResizeDecodeError", "ResizeDecoder", "pump_resize_events",
        "accept_spdy_remote_command", "serve_spdy_port_forward", "validate_port_forward_headers",
        "Status", "encode_status", "status_exit_code", "status_for_error",
        "status_internal_error", "status_non_zero_exit", "status_success",
        "AsgiWebSocket", "ClosableWebSocketTransport", "TrioWebSocket", "WebSocketByteStream",
        "WebSocketClosed", "WebSocketTransport",
        "open_websocket_remote_command", "parse_port_forward_ports",
        "serve_websocket_port_forward",
    }  # fmt: skip


def test_sans_io_modules_import_no_io_library() -> None:
    package = pathlib.Path(spdy.__file__).parent
    allowed = {"__future__", "enum", "struct", "typing", "zlib", "collections", "attrs"}
    for name in SANS_IO_MODULES:
        tree = ast.parse((package / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{name} imports {roots - allowed}"
