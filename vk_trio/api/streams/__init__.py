"""Kubernetes remote-command and port-forward streams over SPDY and WebSocket.

One handler-facing interface whatever the wire: :class:`RemoteCommandStreams` for exec/attach
and :class:`PortForwardStream` for port-forward, produced by

* :func:`accept_spdy_remote_command` / :func:`serve_spdy_port_forward` on a
  :class:`~vk_trio.api.spdy.SpdyConnection` (after :func:`negotiate_spdy_protocol`), and
* :func:`open_websocket_remote_command` / :func:`serve_websocket_port_forward` on an accepted
  WebSocket (:class:`AsgiWebSocket`, :class:`TrioWebSocket`, after
  :func:`negotiate_websocket_subprotocol`), and
* for port-forward WebSockets that tunnel SPDY (:data:`PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL`),
  the SPDY functions over a :class:`WebSocketByteStream`.

The results are reported with the ``metav1.Status`` builders (:func:`status_for_error` and
friends).  The channel framing itself is available sans-IO (:func:`encode_channel_message`,
:func:`decode_channel_message`).
"""

from ._channels import CHANNEL_ERROR as CHANNEL_ERROR
from ._channels import CHANNEL_RESIZE as CHANNEL_RESIZE
from ._channels import CHANNEL_STDERR as CHANNEL_STDERR
from ._channels import CHANNEL_STDIN as CHANNEL_STDIN
from ._channels import CHANNEL_STDOUT as CHANNEL_STDOUT
from ._channels import CLOSE_SIGNAL as CLOSE_SIGNAL
from ._channels import ChannelData as ChannelData
from ._channels import ChannelDecodeError as ChannelDecodeError
from ._channels import ChannelProtocol as ChannelProtocol
from ._channels import CloseSignal as CloseSignal
from ._channels import channel_protocol as channel_protocol
from ._channels import decode_channel_message as decode_channel_message
from ._channels import encode_channel_message as encode_channel_message
from ._channels import encode_close_signal as encode_close_signal
from ._channels import encode_port_prefix as encode_port_prefix
from ._interface import PortForwardHandler as PortForwardHandler
from ._interface import PortForwardStream as PortForwardStream
from ._interface import RemoteCommandOptions as RemoteCommandOptions
from ._interface import RemoteCommandStreams as RemoteCommandStreams
from ._interface import StreamCreationTimeout as StreamCreationTimeout
from ._interface import parse_remote_command_options as parse_remote_command_options
from ._protocols import ACCEPTED_PROTOCOLS_HEADER as ACCEPTED_PROTOCOLS_HEADER
from ._protocols import PORT_FORWARD_PROTOCOL_V1 as PORT_FORWARD_PROTOCOL_V1
from ._protocols import PORT_FORWARD_SPDY_PROTOCOLS as PORT_FORWARD_SPDY_PROTOCOLS
from ._protocols import PORT_FORWARD_WEBSOCKET_PROTOCOLS as PORT_FORWARD_WEBSOCKET_PROTOCOLS
from ._protocols import (
    PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL as PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL,
)
from ._protocols import REMOTE_COMMAND_SPDY_PROTOCOLS as REMOTE_COMMAND_SPDY_PROTOCOLS
from ._protocols import REMOTE_COMMAND_WEBSOCKET_PROTOCOLS as REMOTE_COMMAND_WEBSOCKET_PROTOCOLS
from ._protocols import STREAM_PROTOCOL_HEADER as STREAM_PROTOCOL_HEADER
from ._protocols import STREAM_PROTOCOL_V1 as STREAM_PROTOCOL_V1
from ._protocols import STREAM_PROTOCOL_V2 as STREAM_PROTOCOL_V2
from ._protocols import STREAM_PROTOCOL_V3 as STREAM_PROTOCOL_V3
from ._protocols import STREAM_PROTOCOL_V4 as STREAM_PROTOCOL_V4
from ._protocols import STREAM_PROTOCOL_V5 as STREAM_PROTOCOL_V5
from ._protocols import WEBSOCKET_BASE64_V1 as WEBSOCKET_BASE64_V1
from ._protocols import WEBSOCKET_BASE64_V4 as WEBSOCKET_BASE64_V4
from ._protocols import ProtocolNegotiationError as ProtocolNegotiationError
from ._protocols import negotiate_spdy_protocol as negotiate_spdy_protocol
from ._protocols import negotiate_websocket_subprotocol as negotiate_websocket_subprotocol
from ._resize import ResizeDecodeError as ResizeDecodeError
from ._resize import ResizeDecoder as ResizeDecoder
from ._resize import pump_resize_events as pump_resize_events
from ._spdy_exec import accept_spdy_remote_command as accept_spdy_remote_command
from ._spdy_portforward import serve_spdy_port_forward as serve_spdy_port_forward
from ._spdy_portforward import validate_port_forward_headers as validate_port_forward_headers
from ._status import Status as Status
from ._status import encode_status as encode_status
from ._status import status_exit_code as status_exit_code
from ._status import status_for_error as status_for_error
from ._status import status_internal_error as status_internal_error
from ._status import status_non_zero_exit as status_non_zero_exit
from ._status import status_success as status_success
from ._transport import AsgiWebSocket as AsgiWebSocket
from ._transport import ClosableWebSocketTransport as ClosableWebSocketTransport
from ._transport import TrioWebSocket as TrioWebSocket
from ._transport import WebSocketClosed as WebSocketClosed
from ._transport import WebSocketTransport as WebSocketTransport
from ._tunnel import WebSocketByteStream as WebSocketByteStream
from ._ws_exec import open_websocket_remote_command as open_websocket_remote_command
from ._ws_portforward import parse_port_forward_ports as parse_port_forward_ports
from ._ws_portforward import serve_websocket_port_forward as serve_websocket_port_forward
