"""exec, attach and port-forward: what happens before the upgrade, and the provider call after.

Before the upgrade (whatever the wire) a request is validated into a plan - provider
capability (501), options (400), protocol negotiation (400/403) - so every refusal is an
ordinary HTTP answer.  After the upgrade the wire-independent streams from
:mod:`vk_trio.api.streams` are handed to the provider:

* exec/attach: the provider call runs until it returns, raises, or the client goes away (then
  it is cancelled - the kubelet cancels the call's context when the SPDY connection closes; for
  WebSockets we do the same instead of waiting for a stream error).  The result is written on
  the error stream as the kubelet's ``Status``.
* port-forward: each forwarded connection is one ``port_forward`` call; a failure is reported on
  that connection's error stream as ``error forwarding port <p> to pod <pod>, uid <uid>: <err>``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import final

import attrs
import trio

from vk_trio.provider import (
    AttachProvider,
    ContainerExitError,
    ExecProvider,
    PortForwardProvider,
)

from ..util import go_quote
from ._http import HttpError, RequestHead
from ._routing import RouteKind, RouteMatch
from .streams import (
    PORT_FORWARD_SPDY_PROTOCOLS,
    REMOTE_COMMAND_SPDY_PROTOCOLS,
    STREAM_PROTOCOL_HEADER,
    PortForwardHandler,
    PortForwardStream,
    ProtocolNegotiationError,
    RemoteCommandOptions,
    RemoteCommandStreams,
    negotiate_spdy_protocol,
    parse_port_forward_ports,
    parse_remote_command_options,
    status_for_error,
)

__all__ = [
    "RemoteCommandPlan",
    "check_spdy_upgrade_headers",
    "go_header_repr",
    "negotiate_spdy",
    "plan_port_forward",
    "plan_remote_command",
    "port_forward_handler",
    "run_remote_command",
    "websocket_port_forward_ports",
]

logger = logging.getLogger(__name__)

_NOT_IMPLEMENTED = HttpError(501, "501 not implemented")


@final
@attrs.frozen(kw_only=True)
class RemoteCommandPlan:
    """A validated exec/attach request."""

    kind: RouteKind
    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]
    options: RemoteCommandOptions

    @property
    def attach(self) -> bool:
        return self.kind is RouteKind.ATTACH


def plan_remote_command(
    provider: object, match: RouteMatch, query: Mapping[str, Sequence[str]]
) -> RemoteCommandPlan:
    """Validate an exec/attach request: 501 without the capability, 400 for bad options."""
    if match.kind is RouteKind.EXEC and not isinstance(provider, ExecProvider):
        raise _NOT_IMPLEMENTED
    if match.kind is RouteKind.ATTACH and not isinstance(provider, AttachProvider):
        raise _NOT_IMPLEMENTED
    try:
        options = parse_remote_command_options(query)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    command = tuple(query.get("command", ())) if match.kind is RouteKind.EXEC else ()
    return RemoteCommandPlan(
        kind=match.kind,
        namespace=match.params["namespace"],
        pod=match.params["pod"],
        container=match.params["container"],
        command=command,
        options=options,
    )


def plan_port_forward(provider: object) -> None:
    """501 unless the provider forwards ports."""
    if not isinstance(provider, PortForwardProvider):
        raise _NOT_IMPLEMENTED


def websocket_port_forward_ports(query: Mapping[str, Sequence[str]]) -> list[int]:
    """The ports of a WebSocket port-forward (``?port=80&port=443`` or ``?port=80,443``; also
    ``ports``), 400 with the kubelet's texts."""
    values = [*query.get("port", ()), *query.get("ports", ())]
    try:
        return parse_port_forward_ports(values)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


def negotiate_spdy(head: RequestHead, kind: RouteKind) -> str:
    """The SPDY subprotocol to answer with (from a fixed list, in the client's order of
    preference); 400/403 with apimachinery's texts otherwise."""
    server = PORT_FORWARD_SPDY_PROTOCOLS if kind is RouteKind.PORT_FORWARD else None
    try:
        return negotiate_spdy_protocol(
            head.header_values(STREAM_PROTOCOL_HEADER),
            server or REMOTE_COMMAND_SPDY_PROTOCOLS,
            request_header_count=head.header_count(),
        )
    except ProtocolNegotiationError as exc:
        raise HttpError(exc.status_code, str(exc), headers=exc.headers) from None


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def go_header_repr(head: RequestHead) -> str:
    """The request headers as Go's ``%#v`` prints an ``http.Header`` (keys sorted)."""
    grouped: dict[str, list[str]] = {}
    for name, value in head.headers:
        if name == b"host":
            continue
        grouped.setdefault(_canonical(name.decode("latin-1")), []).append(value.decode("latin-1"))
    items = []
    for key in sorted(grouped):
        values = ", ".join(go_quote(v) for v in grouped[key])
        items.append(f"{go_quote(key)}:[]string{{{values}}}")
    return "http.Header{" + ", ".join(items) + "}"


def check_spdy_upgrade_headers(head: RequestHead) -> None:
    """400 unless ``Connection`` has ``upgrade`` and ``Upgrade`` has ``spdy/3.1``."""
    connection = ",".join(head.header_values("connection") or ()).lower()
    upgrade = ",".join(head.header_values("upgrade") or ()).lower()
    if "upgrade" not in connection or "spdy/3.1" not in upgrade:
        raise HttpError(
            400, f"unable to upgrade: missing upgrade headers in request: {go_header_repr(head)}"
        )


async def run_remote_command(
    provider: object, plan: RemoteCommandPlan, streams: RemoteCommandStreams
) -> None:
    """Call the provider with ``streams`` and report the result; cancel the call if the client
    goes away first (then nothing is reported: nobody is listening)."""
    error: BaseException | None = None
    client_gone = False
    async with trio.open_nursery() as nursery:

        async def cancel_when_gone() -> None:
            nonlocal client_gone
            await streams.wait_closed()
            client_gone = True
            nursery.cancel_scope.cancel()

        nursery.start_soon(cancel_when_gone)
        io = streams.attach_io()
        try:
            if plan.attach:
                assert isinstance(provider, AttachProvider)
                await provider.attach_to_container(plan.namespace, plan.pod, plan.container, io)
            else:
                assert isinstance(provider, ExecProvider)
                await provider.run_in_container(
                    plan.namespace, plan.pod, plan.container, plan.command, io
                )
        except ContainerExitError as exc:
            error = exc
        except Exception as exc:
            logger.warning(
                "%s in %s/%s/%s failed: %s",
                "attach" if plan.attach else "exec",
                plan.namespace,
                plan.pod,
                plan.container,
                exc,
            )
            error = exc
        nursery.cancel_scope.cancel()
    if client_gone:
        logger.info(
            "%s client for %s/%s/%s went away; provider call cancelled",
            "attach" if plan.attach else "exec",
            plan.namespace,
            plan.pod,
            plan.container,
        )
        return
    await streams.write_status(status_for_error(error, attach=plan.attach))


def port_forward_handler(provider: object, namespace: str, pod: str) -> PortForwardHandler:
    """The per-connection handler given to the SPDY/WebSocket port-forward servers."""
    assert isinstance(provider, PortForwardProvider)

    async def handle(stream: PortForwardStream) -> None:
        try:
            await provider.port_forward(namespace, pod, stream.port, stream.data)
        except Exception as exc:
            logger.info("port-forward %s/%s:%d failed: %s", namespace, pod, stream.port, exc)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.write_error(
                    f"error forwarding port {stream.port} to pod {pod}, uid : {exc}"
                )

    return handle
