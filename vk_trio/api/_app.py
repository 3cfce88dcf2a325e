"""The kubelet API as an ASGI application, plus the SPDY entry points the front door uses.

:class:`KubeletApp` serves every route of the kubelet API over ASGI (``http`` scopes, and
``websocket`` scopes for exec/attach/port-forward) and is what hypercorn runs; tests drive it
in-process with ``httpx.ASGITransport``.  SPDY/3.1 upgrades cannot travel through ASGI, so the
front door calls :meth:`KubeletApp.prepare_spdy` (everything up to the 101: authentication,
routing, validation, negotiation - the same code as for ASGI requests) and then
:meth:`KubeletApp.serve_spdy` on the upgraded connection.

Request order, as upstream: authentication and authorization first (so an unauthorized caller
learns nothing about paths), then routing (301/404/405), then the handler's parameter checks.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, final

import attrs
import orjson
import trio

from vk_trio import tracing
from vk_trio.provider import (
    ContainerLogsProvider,
    MetricsResourceProvider,
    PodLifecycleHandler,
    StatsSummaryProvider,
    is_invalid_input,
    is_not_found,
    summary_to_dict,
)

from ._auth import KubeletAuth
from ._http import TEXT_PLAIN, HttpError, RequestHead
from ._logs import copy_log_stream, parse_log_options
from ._pods import check_names, find_pod, running_pod_summary
from ._remote import (
    RemoteCommandPlan,
    check_spdy_upgrade_headers,
    negotiate_spdy,
    plan_port_forward,
    plan_remote_command,
    port_forward_handler,
    run_remote_command,
    websocket_port_forward_ports,
)
from ._routing import RouteKind, RouteMatch, decode_path, resolve_route
from ._stats import (
    PROMETHEUS_TEXT_CONTENT_TYPE,
    MetricsEncodingError,
    render_metric_families,
)
from ._websocket import serve_websocket_session
from .spdy import SpdyConnection, SpdyConnectionClosed
from .streams import (
    PORT_FORWARD_WEBSOCKET_PROTOCOLS,
    PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL,
    REMOTE_COMMAND_WEBSOCKET_PROTOCOLS,
    AsgiWebSocket,
    StreamCreationTimeout,
    accept_spdy_remote_command,
    negotiate_websocket_subprotocol,
    serve_spdy_port_forward,
)

__all__ = ["AppStatistics", "KubeletApp", "PodSource", "SpdyPlan"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Returns the pods bound to this node (the node's pod informer: ``spec.nodeName=<node>``).
PodSource = Callable[[], Sequence[Mapping[str, Any]]]

_NOT_IMPLEMENTED = HttpError(501, "501 not implemented")


@final
@attrs.frozen
class AppStatistics:
    """Requests answered, by route kind (``"other"`` for unrouted) and by status code."""

    by_route: Mapping[str, int]
    by_status: Mapping[int, int]
    streams_active: int


@final
@attrs.frozen(kw_only=True)
class SpdyPlan:
    """A validated SPDY upgrade: answer 101 with ``protocol``, then call ``serve_spdy``."""

    match: RouteMatch
    protocol: str
    remote: RemoteCommandPlan | None


def _provider_error(message: str, error: BaseException) -> HttpError:
    if is_not_found(error):
        status = 404
    elif is_invalid_input(error):
        status = 400
    else:
        status = 500
    return HttpError(status, message, newline=False)


def _pod_list(pods: Sequence[Mapping[str, Any]]) -> bytes:
    return orjson.dumps(
        {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": list(pods) or None}
    )


class _Responder:
    """Plain HTTP responses over an ``http`` scope, or over a ``websocket`` scope before accept
    (the ``websocket.http.response`` extension), so non-streaming routes work for both."""

    def __init__(self, scope_type: str, send: Send) -> None:
        self._prefix = "websocket.http.response" if scope_type == "websocket" else "http.response"
        self._send = send
        self.status: int | None = None

    async def start(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self.status = status
        await self._send(
            {"type": f"{self._prefix}.start", "status": status, "headers": list(headers)}
        )

    async def body(self, data: bytes, *, more: bool = False) -> None:
        await self._send({"type": f"{self._prefix}.body", "body": data, "more_body": more})

    async def full(self, status: int, headers: Sequence[tuple[bytes, bytes]], data: bytes) -> None:
        headers = [*headers, (b"content-length", str(len(data)).encode())]
        await self.start(status, headers)
        await self.body(data)

    async def error(self, error: HttpError) -> None:
        await self.start(error.status, error.response_headers())
        await self.body(error.body)


@final
class KubeletApp:
    """The kubelet API (see the module docstring).

    ``provider`` is the node's provider: the routes use whichever of the optional
    capabilities it implements and answer 501 for the others.  ``pods`` lists the pods bound
    to the node for ``/pods`` (501 without it); both are plain attributes, so a caller that
    builds the node after the server (to learn a port picked at bind time) can set them later.
    """

    def __init__(
        self,
        provider: PodLifecycleHandler,
        *,
        auth: KubeletAuth,
        pods: PodSource | None = None,
        stream_idle_timeout: float = 30.0,
        stream_creation_timeout: float = 30.0,
    ) -> None:
        self.provider = provider
        self.auth = auth
        self.pods = pods
        self.stream_idle_timeout = stream_idle_timeout
        self.stream_creation_timeout = stream_creation_timeout
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._streams_active = 0

    def statistics(self) -> AppStatistics:
        return AppStatistics(
            by_route=dict(self._by_route),
            by_status=dict(self._by_status),
            streams_active=self._streams_active,
        )

    def _count(self, kind: RouteKind | None, status: int | None) -> None:
        self._by_route[kind.value if kind is not None else "other"] += 1
        if status is not None:
            self._by_status[status] += 1

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            raise ValueError(f"unsupported ASGI scope type {scope['type']!r}")
        responder = _Responder(scope["type"], send)
        if not tracing.enabled():
            await self._serve(scope, receive, responder)
            return
        with tracing.span("kubelet_api.request", _request_attributes(scope), kind="server") as span:
            try:
                await self._serve(scope, receive, responder)
            finally:
                if responder.status is not None:
                    span.set_attribute("http.response.status_code", responder.status)

    async def _serve(self, scope: Scope, receive: Receive, responder: _Responder) -> None:
        kind: RouteKind | None = None
        try:
            head = RequestHead.from_scope(scope)
            head = attrs.evolve(head, path=decode_path(head.raw_path))
            await self.auth.check(head)
            match = resolve_route(head.method, head.path, head.query_string)
            kind = match.kind
            await self._dispatch(scope, head, match, receive, responder)
        except HttpError as error:
            if responder.status is None:
                await responder.error(error)
                responder.status = error.status
        finally:
            self._count(kind, responder.status)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(
        self,
        scope: Scope,
        head: RequestHead,
        match: RouteMatch,
        receive: Receive,
        responder: _Responder,
    ) -> None:
        kind = match.kind
        if kind.streaming:
            if head.kind == "websocket":
                await self._websocket(scope, head, match, receive, responder)
            else:
                self._refuse_http_stream(head, match)
            return
        if kind is RouteKind.HEALTHZ:
            await responder.full(200, [(b"content-type", TEXT_PLAIN)], b"ok")
        elif kind is RouteKind.PODS:
            if self.pods is None:
                raise _NOT_IMPLEMENTED
            body = _pod_list(self.pods())
            await responder.full(200, [(b"content-type", b"application/json")], body)
        elif kind is RouteKind.RUNNING_PODS:
            try:
                running = await self.provider.get_pods()
            except Exception as exc:
                raise HttpError(500, str(exc), newline=False) from exc
            summary = [running_pod_summary(pod) for pod in running]
            await responder.full(200, [(b"content-type", b"application/json")], _pod_list(summary))
        elif kind is RouteKind.CONTAINER_LOGS:
            await self._container_logs(head, match, receive, responder)
        elif kind is RouteKind.STATS_SUMMARY:
            await self._stats_summary(responder)
        elif kind is RouteKind.METRICS_RESOURCE:
            await self._metrics_resource(responder)

    # -- non-streaming routes --------------------------------------------------------------

    async def _container_logs(
        self, head: RequestHead, match: RouteMatch, receive: Receive, responder: _Responder
    ) -> None:
        options = parse_log_options(head.query())
        self._check_pod(match)
        provider = self.provider
        if not isinstance(provider, ContainerLogsProvider):
            raise _NOT_IMPLEMENTED
        namespace, pod, container = (match.params[k] for k in ("namespace", "pod", "container"))
        try:
            stream = await provider.get_container_logs(namespace, pod, container, options)
        except Exception as exc:
            raise _provider_error(f"error getting container logs?): {exc}", exc) from exc
        async with stream, trio.open_nursery() as nursery:

            async def cancel_on_disconnect() -> None:
                while True:
                    message = await receive()
                    if message["type"] in ("http.disconnect", "websocket.disconnect"):
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(cancel_on_disconnect)
            await responder.start(
                200, [(b"content-type", TEXT_PLAIN), (b"x-content-type-options", b"nosniff")]
            )
            try:
                await copy_log_stream(
                    stream,
                    lambda data: responder.body(data, more=True),
                    limit_bytes=options.limit_bytes,
                )
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                logger.info("log stream %s/%s/%s ended: %s", namespace, pod, container, exc)
            await responder.body(b"")
            nursery.cancel_scope.cancel()

    async def _stats_summary(self, responder: _Responder) -> None:
        provider = self.provider
        if not isinstance(provider, StatsSummaryProvider):
            raise _NOT_IMPLEMENTED
        try:
            summary = summary_to_dict(await provider.get_stats_summary())
        except Exception as exc:
            raise HttpError(
                500, f"error getting status from provider: {exc}", newline=False
            ) from exc
        await responder.full(200, [(b"content-type", b"application/json")], orjson.dumps(summary))

    async def _metrics_resource(self, responder: _Responder) -> None:
        provider = self.provider
        if not isinstance(provider, MetricsResourceProvider):
            raise _NOT_IMPLEMENTED
        try:
            families = await provider.get_metrics_resource()
        except Exception as exc:
            raise HttpError(
                500, f"error getting status from provider: {exc}", newline=False
            ) from exc
        try:
            body = render_metric_families(families)
        except MetricsEncodingError as exc:
            raise HttpError(
                500, f"could not convert metrics to prometheus text format: {exc}", newline=False
            ) from exc
        await responder.full(200, [(b"content-type", PROMETHEUS_TEXT_CONTENT_TYPE)], body)

    # -- streaming routes ----------------------------------------------------------------

    def _check_pod(self, match: RouteMatch) -> None:
        """400 for names that are not Kubernetes names, 404 for a pod not bound to this node
        (see ``_pods``); without a pod source (tests, embedders) only the names are checked."""
        check_names(match.params)
        if self.pods is None:
            return
        if find_pod(self.pods(), match.params["namespace"], match.params["pod"]) is None:
            raise HttpError(404, "pod does not exist")

    def _validate_stream(self, head: RequestHead, match: RouteMatch) -> RemoteCommandPlan | None:
        self._check_pod(match)
        if match.kind is RouteKind.PORT_FORWARD:
            plan_port_forward(self.provider)
            return None
        return plan_remote_command(self.provider, match, head.query())

    def _refuse_http_stream(self, head: RequestHead, match: RouteMatch) -> None:
        """An exec/attach/port-forward request that is not a WebSocket and did not reach the
        front door as a SPDY upgrade: the same validation, then a 400."""
        self._validate_stream(head, match)
        negotiate_spdy(head, match.kind)
        check_spdy_upgrade_headers(head)
        # A SPDY upgrade that arrives here came as a later request on a kept-alive connection;
        # only the first request of a connection can switch protocols (Go clients always dial
        # a new connection for an upgrade).
        raise HttpError(
            400,
            "unable to upgrade: a SPDY/3.1 upgrade must be the first request on its connection",
        )

    async def _websocket(
        self,
        scope: Scope,
        head: RequestHead,
        match: RouteMatch,
        receive: Receive,
        responder: _Responder,
    ) -> None:
        plan = self._validate_stream(head, match)
        supported: tuple[str, ...]
        if plan is None:
            supported = (*PORT_FORWARD_WEBSOCKET_PROTOCOLS, PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL)
        else:
            supported = REMOTE_COMMAND_WEBSOCKET_PROTOCOLS
        offered = [str(p) for p in scope.get("subprotocols") or ()]
        chosen = negotiate_websocket_subprotocol(offered, supported)
        if chosen is None:
            raise HttpError(
                400,
                f"requested protocol(s) are not supported: [{' '.join(offered)}]; "
                f"supports [{' '.join(p for p in supported if p)}]",
            )
        ports: list[int] = []
        if plan is None and chosen != PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL:
            # The tunnelled SPDY session carries its ports in stream headers instead.
            ports = websocket_port_forward_ports(head.query())
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await responder._send({"type": "websocket.accept", "subprotocol": chosen or None})
        responder.status = 101
        websocket = AsgiWebSocket(receive, responder._send)
        self._streams_active += 1
        try:
            await serve_websocket_session(
                websocket,
                chosen,
                provider=self.provider,
                remote=plan,
                port_forward=None
                if plan is not None
                else port_forward_handler(
                    self.provider, match.params["namespace"], match.params["pod"]
                ),
                ports=ports,
                idle_timeout=self.stream_idle_timeout,
                creation_timeout=self.stream_creation_timeout,
            )
        finally:
            self._streams_active -= 1
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                try:
                    await websocket.aclose(1000)
                except OSError as exc:
                    logger.debug("closing WebSocket: %s", exc)

    # -- SPDY (called by the front door) ---------------------------------------------------

    async def prepare_spdy(self, head: RequestHead) -> SpdyPlan:
        """Everything before a SPDY 101: authentication and authorization, routing, provider
        capability, options, protocol negotiation, upgrade headers.  Raises
        :class:`~vk_trio.api._http.HttpError` with the answer to send instead."""
        if not tracing.enabled():
            return await self._prepare_spdy(head)
        attributes = {"http.request.method": head.method, "url.path": head.path}
        with tracing.span("kubelet_api.request", attributes, kind="server") as span:
            try:
                plan = await self._prepare_spdy(head)
            except HttpError as error:
                span.set_attribute("http.response.status_code", error.status)
                raise
            span.set_attribute("http.response.status_code", 101)
            return plan

    async def _prepare_spdy(self, head: RequestHead) -> SpdyPlan:
        kind: RouteKind | None = None
        try:
            head = attrs.evolve(head, path=decode_path(head.raw_path))
            await self.auth.check(head)
            match = resolve_route(head.method, head.path, head.query_string)
            kind = match.kind
            if not kind.streaming:
                raise HttpError(400, "unable to upgrade: this path does not stream")
            remote = self._validate_stream(head, match)
            protocol = negotiate_spdy(head, kind)
            check_spdy_upgrade_headers(head)
        except HttpError as error:
            self._count(kind, error.status)
            raise
        self._count(kind, 101)
        return SpdyPlan(match=match, protocol=protocol, remote=remote)

    async def serve_spdy(self, plan: SpdyPlan, connection: SpdyConnection) -> None:
        """Serve an upgraded SPDY connection until the session is over."""
        if not tracing.enabled():
            await self._serve_spdy(plan, connection)
            return
        attributes = {"kubelet_api.route": plan.match.kind.value, **plan.match.params}
        with tracing.span("kubelet_api.stream", attributes, kind="server"):
            await self._serve_spdy(plan, connection)

    async def _serve_spdy(self, plan: SpdyPlan, connection: SpdyConnection) -> None:
        self._streams_active += 1
        try:
            if plan.remote is None:
                namespace, pod = plan.match.params["namespace"], plan.match.params["pod"]
                await serve_spdy_port_forward(
                    connection,
                    port_forward_handler(self.provider, namespace, pod),
                    creation_timeout=self.stream_creation_timeout,
                )
                return
            try:
                async with accept_spdy_remote_command(
                    connection,
                    plan.protocol,
                    plan.remote.options,
                    creation_timeout=self.stream_creation_timeout,
                ) as streams:
                    await run_remote_command(self.provider, plan.remote, streams)
            except StreamCreationTimeout as exc:
                logger.info("%s: %s", plan.match.kind.value, exc)
            except SpdyConnectionClosed:
                logger.info("%s: client left before opening its streams", plan.match.kind.value)
        finally:
            self._streams_active -= 1


def _request_attributes(scope: Scope) -> dict[str, Any]:
    """A kubelet API request's span attributes (HTTP semantic conventions)."""
    return {
        "http.request.method": scope.get("method", "GET"),
        "url.path": scope.get("path", ""),
        "network.protocol.name": scope["type"],
    }
