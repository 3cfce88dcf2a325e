"""Running the node: one root nursery with the API client, the virtual node, the kubelet API
and the metrics endpoint, and the signal handling that shuts it down gracefully."""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import final

import trio

from vk_trio.api import KubeletServer, KubeletServerConfig, open_review_client
from vk_trio.kube import ApiError, ConfigError, KubeClient, load_config
from vk_trio.node import NodeOptions, VirtualNode, heartbeat_client

from ._api_metrics import ApiRequestMetrics
from ._metrics_server import Liveness, metrics_app, serve_metrics
from ._provider import LoadedProvider
from ._rlimit import raise_open_file_limit
from ._settings import Settings

__all__ = [
    "FORCED_EXIT",
    "FORCE_EXIT_GRACE",
    "STARTUP_FAILED",
    "Shutdown",
    "kubelet_server_config",
    "node_options",
    "run_node",
]

logger = logging.getLogger("vk_trio.cli")

STARTUP_FAILED = 1
"""Exit status when the node cannot start (bad kubeconfig, registration refused, timeout)."""

FORCED_EXIT = 2
"""Exit status after a second SIGTERM/SIGINT cut the graceful shutdown short."""

FORCE_EXIT_GRACE = 5.0
"""Seconds a forced stop may take to unwind before the process exits regardless."""


def node_options(settings: Settings) -> NodeOptions:
    """Map the command's settings onto the node's options."""
    return NodeOptions(
        node_name=settings.node_name,
        provider_name=settings.provider,
        operating_system=settings.operating_system,
        kubelet_version=settings.kubelet_version,
        internal_ip=settings.pod_ip,
        daemon_port=settings.kubelet_port,
        taint=settings.taint,
        pod_sync_workers=settings.pod_sync_workers,
        status_workers=settings.status_workers,
        full_resync_period=settings.full_resync_period,
        load_balancer_exclusion=settings.load_balancer_exclusion,
    )


def kubelet_server_config(settings: Settings) -> KubeletServerConfig:
    """Map the command's settings onto the kubelet API server's configuration."""
    return KubeletServerConfig(
        node_name=settings.node_name,
        tls_cert_file=settings.tls_cert_file,
        tls_key_file=settings.tls_key_file,
        listen_address=settings.listen_address,
        port=settings.kubelet_port,
        client_ca_file=settings.client_ca_file,
        anonymous_auth=settings.anonymous_auth,
        stream_idle_timeout=settings.stream_idle_timeout,
        stream_creation_timeout=settings.stream_creation_timeout,
    )


def run_node(settings: Settings, provider: LoadedProvider) -> int:
    """Run the virtual node until SIGTERM/SIGINT; returns the process exit status.

    A start-up failure is one clear log line and status 1; a signal is a graceful shutdown
    (stop taking work, finish in-flight provider calls within a bound, flush status writes) and
    status 0, also when it arrives before the node is ready; a second signal cuts the shutdown
    short with status 2 (see :class:`Shutdown`).
    """
    raise_open_file_limit()
    try:
        return trio.run(_run, settings, provider)
    except ConfigError as exc:
        # Like every other start-up misconfiguration: one line, "vk-trio: <where>: <what>",
        # on stderr whatever the log format (the message names the file and, for YAML, the line).
        text = " ".join(str(exc).split())
        if not text.startswith(("kubeconfig", "in-cluster config")):
            text = f"kubeconfig: {text}"
        print(f"vk-trio: {text}", file=sys.stderr)
    except ApiError as exc:
        logger.error("cannot register node %r: %s", settings.node_name, exc)
    except trio.TooSlowError:
        logger.error(
            "node %r was not ready within --startup-timeout %ss",
            settings.node_name,
            settings.startup_timeout,
        )
    except OSError as exc:
        logger.error("cannot start: %s", exc)
    return STARTUP_FAILED


async def _run(settings: Settings, provider: LoadedProvider) -> int:
    # The signal receiver is open before anything that can wait (the kubeconfig's exec plugin,
    # registration against an API server that does not answer), so a stop works in every phase.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        shutdown = Shutdown()
        failure: Exception | None = None
        async with trio.open_nursery() as watcher:
            watcher.start_soon(shutdown.watch, signals)
            try:
                with shutdown.scope:
                    await _serve(settings, provider, shutdown)
            except (ConfigError, ApiError, trio.TooSlowError, OSError) as exc:
                failure = exc  # raised outside the nursery, so not inside an exception group
            finally:
                watcher.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if shutdown.forced:
        return FORCED_EXIT
    return 0


async def _serve(settings: Settings, provider: LoadedProvider, shutdown: Shutdown) -> None:
    config = await load_config(settings.kubeconfig)
    options = node_options(settings)
    failure: Exception | None = None
    observe = ApiRequestMetrics().observe
    async with (
        KubeClient(
            config, qps=settings.kube_api_qps, burst=settings.kube_api_burst, observer=observe
        ) as client,
        # Events on a client of their own, with their own rate budget, as the kubelet does.
        KubeClient(
            config, qps=settings.event_qps, burst=settings.event_burst, observer=observe
        ) as event_client,
        # Lease and node status on a client nothing else can starve (issue 13, finding 1);
        # the kubelet API's reviews on one with a budget of their own.
        heartbeat_client(
            config, lease_duration_seconds=options.lease_duration_seconds, observer=observe
        ) as heartbeats,
        open_review_client(config, observer=observe) as review_client,
        trio.open_nursery() as nursery,
    ):
        node = VirtualNode(
            options,
            client,
            provider.provider,
            resources=provider.resources,
            event_client=event_client,
            heartbeat_client=heartbeats,
        )
        server = KubeletServer(
            kubelet_server_config(settings),
            provider.provider,
            client=review_client,
            pods=lambda: node.lookups.pods.lister().list(),
        )
        stopping = shutdown.requested
        # As in the Go command, the kubelet API listens before the node registers, so the
        # port it advertises answers from the first moment.
        await nursery.start(server.run)
        if settings.metrics_address is not None:
            liveness = Liveness()
            await nursery.start(liveness.run, stopping)
            app = metrics_app(
                healthy=lambda: node.ready.is_set() and not stopping.is_set(),
                alive=liveness.alive,
            )
            urls = await nursery.start(
                lambda task_status: serve_metrics(
                    settings.metrics_address,  # type: ignore[arg-type]
                    app,
                    shutdown=stopping,
                    task_status=task_status,
                )
            )
            logger.info("metrics, /healthz and /livez on %s", ", ".join(urls))
        timeout = settings.startup_timeout if settings.startup_timeout else math.inf
        try:
            with trio.fail_after(timeout):
                await nursery.start(node.run)
        except BaseException as exc:
            failure = _startup_failure(exc)
            if failure is None:
                raise
            nursery.cancel_scope.cancel()
        else:
            # From here on a stop drains: the node stops taking work and finishes what it has.
            shutdown.started(node.stop, server.stop)
            await stopping.wait()
            logger.info("shutting down node %s", settings.node_name)
            # node.run returns by itself once its graceful stop is done; then the nursery ends.
            nursery.cancel_scope.deadline = trio.current_time() + options.shutdown_timeout + 5
    if failure is not None:
        raise failure


def _startup_failure(exc: BaseException) -> Exception | None:
    """The start-up failure that ``exc`` carries (possibly inside exception groups), if any.

    Structured concurrency wraps a child's error in groups; the operator should see the one
    cause (a timeout, a refused registration, an OS error) as one line, not a task tree.
    """
    if isinstance(exc, trio.TooSlowError | ApiError | ConfigError | OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _startup_failure(inner)
            if found is not None:
                return found
    return None


@final
class Shutdown:
    """What SIGTERM and SIGINT do, in every phase of the process.

    Before the node is ready there is nothing to drain (no pod has been handed to the provider
    by this process), so the first signal cancels the start-up at once: against an API server
    that does not answer, registration would otherwise retry for ever. Once the node runs, the
    first signal is the graceful stop (``stops``: stop taking work, finish in-flight calls within
    their bound, flush status). A second signal in any phase cancels everything, and if the
    process still runs :data:`FORCE_EXIT_GRACE` seconds later (a task stuck in a shielded scope,
    a hung thread) it ends with :func:`os._exit`: an operator's second Ctrl-C must never be
    swallowed.
    """

    def __init__(self) -> None:
        self.requested = trio.Event()
        self.scope = trio.CancelScope()
        self.forced = False
        self._stops: tuple[Callable[[], None], ...] | None = None

    def started(self, *stops: Callable[[], None]) -> None:
        """The node is ready: from now on the first signal calls ``stops``."""
        self._stops = stops
        if self.requested.is_set():  # a signal raced with the last step of the start-up
            self._stop()

    def _stop(self) -> None:
        if self._stops is None:
            logger.info("stopping before the node was ready")
            self.scope.cancel()
            return
        for stop in self._stops:
            stop()

    async def watch(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not self.requested.is_set():
                logger.info("received %s: graceful shutdown (again to exit at once)", name)
                self.requested.set()
                self._stop()
                continue
            logger.warning("received %s again: exiting without draining", name)
            self.forced = True
            self.scope.cancel()
            await trio.sleep(FORCE_EXIT_GRACE)
            logger.error("still running %gs after a forced stop: exiting now", FORCE_EXIT_GRACE)
            for handler in logging.getLogger().handlers:
                handler.flush()
            os._exit(FORCED_EXIT)
