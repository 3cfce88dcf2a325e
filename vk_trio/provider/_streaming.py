"""Optional capabilities behind the kubelet HTTP API: logs, exec, attach, port-forward, stats.

Each is a separate runtime-checkable protocol; a provider implements the ones it can serve and the
kubelet API answers the others with an error.  Streams are trio streams: the API layer owns the
connection (SPDY or WebSocket) and hands the provider plain byte streams.  This module fixes the
*provider-facing* shape only; the wire protocols live in ``vk_trio.api``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, final, runtime_checkable

import attrs
import trio

from ._stats import MetricFamily, Summary

__all__ = [
    "AttachIO",
    "AttachProvider",
    "ContainerLogOptions",
    "ContainerLogsProvider",
    "ExecProvider",
    "MetricsResourceProvider",
    "PortForwardProvider",
    "StatsSummaryProvider",
    "TermSize",
]


@final
@attrs.frozen(kw_only=True)
class ContainerLogOptions:
    """``kubectl logs`` options, already validated.  ``None`` means "not given"."""

    tail_lines: int | None = None
    limit_bytes: int | None = None
    timestamps: bool = False
    follow: bool = False
    previous: bool = False
    since_seconds: int | None = None
    since_time: datetime | None = None


@final
@attrs.frozen
class TermSize:
    """A terminal size change sent by the client (``kubectl exec -t`` on a window resize)."""

    width: int
    height: int


@final
@attrs.frozen(kw_only=True)
class AttachIO:
    """The streams of one exec/attach session; each is ``None`` unless the client asked for it.

    ``resize`` delivers :class:`TermSize` values and is set only with ``tty``.  The provider may
    close ``stdout``/``stderr`` when done; the API layer closes whatever is left afterwards.
    """

    stdin: trio.abc.ReceiveStream | None = None
    stdout: trio.abc.SendStream | None = None
    stderr: trio.abc.SendStream | None = None
    tty: bool = False
    resize: trio.MemoryReceiveChannel[TermSize] | None = None


@runtime_checkable
class ContainerLogsProvider(Protocol):
    """Serves ``kubectl logs``."""

    async def get_container_logs(
        self, namespace: str, pod_name: str, container_name: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        """A stream of the log bytes; with ``options.follow`` it stays open until cancelled."""
        ...


@runtime_checkable
class ExecProvider(Protocol):
    """Serves ``kubectl exec``."""

    async def run_in_container(
        self,
        namespace: str,
        pod_name: str,
        container_name: str,
        command: Sequence[str],
        io: AttachIO,
    ) -> None:
        """Run ``command`` and return when it finished with exit code 0.

        Raise :class:`~vk_trio.provider.ContainerExitError` for a non-zero exit.  Cancellation
        means the client went away.
        """
        ...


@runtime_checkable
class AttachProvider(Protocol):
    """Serves ``kubectl attach``."""

    async def attach_to_container(
        self, namespace: str, pod_name: str, container_name: str, io: AttachIO
    ) -> None:
        """Connect ``io`` to the container's main process until it ends or the client leaves."""
        ...


@runtime_checkable
class PortForwardProvider(Protocol):
    """Serves ``kubectl port-forward``: one call per forwarded connection."""

    async def port_forward(
        self, namespace: str, pod_name: str, port: int, stream: trio.abc.Stream
    ) -> None:
        """Pump bytes between ``stream`` and ``port`` of the pod until either side closes."""
        ...


@runtime_checkable
class StatsSummaryProvider(Protocol):
    """Serves ``/stats/summary``."""

    async def get_stats_summary(self) -> Summary | Mapping[str, Any]:
        """Node and pod resource usage now."""
        ...


@runtime_checkable
class MetricsResourceProvider(Protocol):
    """Serves ``/metrics/resource`` (what the metrics server scrapes)."""

    async def get_metrics_resource(self) -> Sequence[MetricFamily]:
        """Resource-usage metric families (``node_cpu_usage_seconds_total``, ...)."""
        ...
