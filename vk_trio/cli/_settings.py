"""Flags + environment -> one validated, frozen :class:`Settings` value.

Precedence follows the Go command: a flag beats the environment variable that supplies its
default (``--nodename`` over ``DEFAULT_NODE_NAME``), except for the taint, where the
``VKUBELET_TAINT_*`` variables override ``--taint`` and the provider name, as in Go.  Every
problem is a :class:`SettingsError` naming the flag or variable, found here, before anything
starts.  Files named by the settings are checked for readability (and certificates for loading)
here too, so a bad mount is reported at once and not when the first client connects.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from typing import Any, Final, Literal, final

import attrs

from vk_trio import __version__
from vk_trio.kube import DEFAULT_BURST, DEFAULT_QPS
from vk_trio.node import (
    DEFAULT_TAINT_KEY,
    KUBELET_VERSION_PREFIX,
    NodeOptions,
    Taint,
    TaintError,
)
from vk_trio.tracing import parse_sample_rate

from ._duration import DurationError, parse_duration
from ._errors import SettingsError
from ._flags import BOOL_VALUES

__all__ = [
    "DEFAULT_KUBELET_PORT",
    "DEFAULT_NODE_NAME",
    "DEFAULT_TAINT_KEY",
    "KUBELET_VERSION",
    "LOG_LEVELS",
    "Address",
    "Settings",
    "Taint",
    "settings_from",
]

DEFAULT_NODE_NAME: Final = "virtual-kubelet"
# The defaults the command shares with the library come from the library: the node's options
# and the API client (tests/cli/test_settings.py checks that they agree). Only what exists on the
# command line alone is defined here.
NODE_DEFAULTS: Final = NodeOptions(node_name=DEFAULT_NODE_NAME)
"""The node's options as the library defaults them; the command's defaults are read from here."""
DEFAULT_KUBELET_PORT: Final = NODE_DEFAULTS.daemon_port
DEFAULT_METRICS_ADDRESS: Final = "127.0.0.1:10255"
DEFAULT_EVENT_QPS: Final = 50.0
DEFAULT_EVENT_BURST: Final = 100
KUBELET_VERSION: Final = KUBELET_VERSION_PREFIX + __version__
LOG_LEVELS: Final = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@final
@attrs.frozen
class Address:
    """A listen address: ``host`` empty means every interface."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@final
@attrs.frozen(kw_only=True)
class Settings:
    """Everything the command was told, validated.  Durations are in seconds."""

    provider: str
    provider_config: str | None
    node_name: str
    operating_system: Literal["linux", "windows"]
    kubeconfig: str | None
    cluster_domain: str
    pod_sync_workers: int
    status_workers: int
    full_resync_period: float
    startup_timeout: float | None
    stream_idle_timeout: float
    stream_creation_timeout: float
    taint: Taint | None
    log_level: str
    log_format: Literal["text", "json"]
    metrics_address: Address | None
    listen_address: str
    kubelet_port: int
    tls_cert_file: str
    tls_key_file: str
    client_ca_file: str | None
    anonymous_auth: bool
    pod_ip: str
    kube_api_qps: float
    kube_api_burst: int
    event_qps: float = DEFAULT_EVENT_QPS
    event_burst: int = DEFAULT_EVENT_BURST
    kubelet_version: str = KUBELET_VERSION
    load_balancer_exclusion: bool = NODE_DEFAULTS.load_balancer_exclusion
    trace_exporter: Literal["none", "otlp"] = "none"
    trace_sample_rate: float | None = None
    """A probability; ``None``: ``OTEL_TRACES_SAMPLER``, else the Go command's 1 in 10,000."""
    trace_service_name: str | None = None
    trace_tags: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def kubelet_address(self) -> Address:
        """Where the kubelet API listens."""
        return Address(self.listen_address, self.kubelet_port)


# -- small parsers, each raising SettingsError naming its source ---------------------------------


def _positive_int(source: str, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(source, f'"{text}" is not a whole number') from None
    if value <= 0:
        raise SettingsError(source, f"{what} must be greater than 0 (got {value})")
    return value


def _duration(source: str, text: str, *, allow_zero: bool = True) -> float:
    try:
        value = parse_duration(text)
    except DurationError as exc:
        raise SettingsError(source, str(exc)) from None
    if value < 0 or (value == 0 and not allow_zero):
        raise SettingsError(source, f'duration "{text}" must be greater than 0')
    return value


def _bool(source: str, text: str) -> bool:
    try:
        return BOOL_VALUES[text]
    except KeyError:
        raise SettingsError(source, f'invalid boolean "{text}" (use true or false)') from None


def _port(source: str, text: str, *, any_free: bool = False) -> int:
    """A TCP port; with ``any_free``, 0 too (bind any free port, as every network tool does)."""
    try:
        port = int(text)
    except ValueError:
        raise SettingsError(source, f'"{text}" is not a port number') from None
    low = 0 if any_free else 1
    if not low <= port <= 65535:
        raise SettingsError(source, f"port {port} is out of range ({low}-65535)")
    return port


def _ip(source: str, text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise SettingsError(source, f'"{text}" is not an IP address') from None


def _address(source: str, text: str, *, any_free: bool = False) -> Address:
    host, sep, port = text.rpartition(":")
    if not sep:
        raise SettingsError(source, f'"{text}" is not HOST:PORT (e.g. ":10255", "127.0.0.1:10255")')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host not in ("", "localhost"):
        host = _ip(source, host)
    return Address(host, _port(source, port, any_free=any_free))


def _readable(source: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise SettingsError(source, f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise SettingsError(source, f"cannot read {path}: {exc.strerror or exc}") from None


def _check_serving_pair(cert: str, key: str) -> None:
    cert_source, key_source = "APISERVER_CERT_LOCATION", "APISERVER_KEY_LOCATION"
    if b"-----BEGIN CERTIFICATE-----" not in _readable(cert_source, cert):
        raise SettingsError(cert_source, f"{cert} holds no PEM certificate")
    if b"PRIVATE KEY-----" not in _readable(key_source, key):
        raise SettingsError(key_source, f"{key} holds no PEM private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        source = f"{cert_source}/{key_source}"
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise SettingsError(
                source, f"the key in {key} does not match the certificate"
            ) from None
        raise SettingsError(source, f"cannot load {cert} with {key}: {exc.reason or exc}") from None


def _check_ca(source: str, path: str) -> None:
    if b"-----BEGIN CERTIFICATE-----" not in _readable(source, path):
        raise SettingsError(source, f"{path} holds no PEM certificate")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise SettingsError(source, f"cannot load CA certificates from {path}: {exc}") from None


def _kubeconfig(flag: str | None, env: Mapping[str, str]) -> str | None:
    if flag is not None:
        if not os.path.isfile(flag):
            raise SettingsError("--kubeconfig", f"{flag} does not exist or is not a file")
        return flag
    listed = env.get("KUBECONFIG", "")
    if not listed:
        return None
    paths = [p for p in listed.split(os.pathsep) if p]
    if not any(os.path.isfile(p) for p in paths):
        raise SettingsError("KUBECONFIG", f"no such file: {listed}")
    return listed


def _node_name(flag: str | None, env: Mapping[str, str]) -> str:
    source, name = "--nodename", flag
    if name is None:
        source, name = "DEFAULT_NODE_NAME", env.get("DEFAULT_NODE_NAME", DEFAULT_NODE_NAME)
        if "DEFAULT_NODE_NAME" not in env:
            source = "--nodename"
    if not name:
        raise SettingsError(source, "the node name must not be empty")
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise SettingsError(
            source,
            f'node name "{name}" is not a valid DNS subdomain '
            "(lower-case letters, digits, '-' and '.', at most 253 characters)",
        )
    return name


def _taint(args: argparse.Namespace, provider: str, env: Mapping[str, str]) -> Taint | None:
    if _bool("--disable-taint", args.disable_taint or "false"):
        return None
    key_source, key = "--taint", args.taint if args.taint is not None else DEFAULT_TAINT_KEY
    if "VKUBELET_TAINT_KEY" in env:
        key_source, key = "VKUBELET_TAINT_KEY", env["VKUBELET_TAINT_KEY"]
    value_source, value = "--provider", provider
    if "VKUBELET_TAINT_VALUE" in env:
        value_source, value = "VKUBELET_TAINT_VALUE", env["VKUBELET_TAINT_VALUE"]
    effect_source, effect = "VKUBELET_TAINT_EFFECT", env.get("VKUBELET_TAINT_EFFECT", "NoSchedule")
    taint = Taint(key, value, effect)
    try:
        taint.validate()  # the node's rules; only the naming of the source is ours
    except TaintError as exc:
        source = {"key": key_source, "value": value_source}.get(exc.part, effect_source)
        raise SettingsError(source, str(exc)) from None
    return taint


def settings_from(
    args: argparse.Namespace,
    env: Mapping[str, str],
    *,
    providers: frozenset[str] | None = None,
) -> Settings:
    """Validate parsed flags and the environment into :class:`Settings`.

    ``providers`` is the set of installed provider names (``None`` skips the check, for tests that
    build settings without a registry).  Raises :class:`SettingsError`.
    """
    provider = args.provider or ""
    if not provider:
        raise SettingsError("--provider", "no provider given (see `vk-trio providers`)")
    if providers is not None and provider not in providers:
        available = ", ".join(sorted(providers)) or "none installed"
        raise SettingsError(
            "--provider", f'provider "{provider}" not found (available: {available})'
        )

    provider_config = args.provider_config
    if provider_config is not None:
        if not provider_config:
            raise SettingsError("--provider-config", "the path must not be empty")
        _readable("--provider-config", provider_config)

    operating_system = args.os if args.os is not None else "linux"
    if operating_system not in ("linux", "windows"):
        raise SettingsError(
            "--os", f'operating system "{operating_system}" is not supported (use linux or windows)'
        )

    workers = NODE_DEFAULTS.pod_sync_workers
    if args.pod_sync_workers:
        workers = _positive_int("--pod-sync-workers", args.pod_sync_workers, "pod sync workers")
    status_workers = workers
    if args.status_workers is not None:
        status_workers = _positive_int("--status-workers", args.status_workers, "status workers")

    startup_timeout = _duration("--startup-timeout", args.startup_timeout or "0")

    log_level = (args.log_level or "info").lower()
    if log_level not in LOG_LEVELS:
        raise SettingsError(
            "--log-level",
            f'could not parse log level "{args.log_level}" '
            "(use trace, debug, info, warn, error, fatal or panic)",
        )
    log_format = args.log_format or "text"
    if log_format not in ("text", "json"):
        raise SettingsError(
            "--log-format", f'"{log_format}" is not a log format (use text or json)'
        )

    kubelet_port = DEFAULT_KUBELET_PORT
    if "KUBELET_PORT" in env:
        kubelet_port = _port("KUBELET_PORT", env["KUBELET_PORT"])
    listen_address = ""
    if args.listen_address:
        listen_address = _ip("--listen-address", args.listen_address)

    # Loopback by default: the metrics port is plain HTTP without authentication (the kubelet's
    # read-only port is off by default for the same reason). ":10255" serves every interface.
    metrics_text = args.metrics_addr if args.metrics_addr is not None else DEFAULT_METRICS_ADDRESS
    metrics_address = (
        _address("--metrics-addr", metrics_text, any_free=True) if metrics_text else None
    )
    if metrics_address is not None and metrics_address.port == kubelet_port:
        hosts = {metrics_address.host, listen_address}
        if "" in hosts or len(hosts) == 1:
            raise SettingsError(
                "--metrics-addr", f"port {kubelet_port} is already the kubelet port (KUBELET_PORT)"
            )

    cert = env.get("APISERVER_CERT_LOCATION", "")
    key = env.get("APISERVER_KEY_LOCATION", "")
    if not cert:
        raise SettingsError(
            "APISERVER_CERT_LOCATION", "not set: the kubelet API needs a serving certificate file"
        )
    if not key:
        raise SettingsError(
            "APISERVER_KEY_LOCATION", "not set: the kubelet API needs the serving certificate's key"
        )
    _check_serving_pair(cert, key)

    client_ca: str | None = None
    if args.client_ca_file is not None:
        client_ca = args.client_ca_file
        _check_ca("--client-ca-file", client_ca)
    elif env.get("APISERVER_CA_CERT_LOCATION"):
        client_ca = env["APISERVER_CA_CERT_LOCATION"]
        _check_ca("APISERVER_CA_CERT_LOCATION", client_ca)
    # Secure by default, unlike the Go command (which lets everyone in without a client CA):
    # anonymous access only when asked for; with a client CA, anonymous requests then still go
    # through authorization.  See docs/differences.md.
    anonymous_auth = False
    if args.anonymous_auth is not None:
        anonymous_auth = _bool("--anonymous-auth", args.anonymous_auth)

    pod_ip = env.get("VKUBELET_POD_IP", "")
    if pod_ip:
        pod_ip = _ip("VKUBELET_POD_IP", pod_ip)

    qps = _rate("--kube-api-qps", args.kube_api_qps, DEFAULT_QPS)
    burst = DEFAULT_BURST
    if args.kube_api_burst is not None:
        burst = _positive_int("--kube-api-burst", args.kube_api_burst, "the request burst")
    # Events get a budget of their own, as in the kubelet (--event-qps/--event-burst): a burst
    # of pod events must not hold back the status writes that make pods Running.
    event_qps = _rate("--event-qps", args.event_qps, DEFAULT_EVENT_QPS)
    event_burst = DEFAULT_EVENT_BURST
    if args.event_burst is not None:
        event_burst = _positive_int("--event-burst", args.event_burst, "the event burst")

    return Settings(
        provider=provider,
        provider_config=provider_config,
        node_name=_node_name(args.nodename, env),
        operating_system="windows" if operating_system == "windows" else "linux",
        kubeconfig=_kubeconfig(args.kubeconfig, env),
        cluster_domain=args.cluster_domain or "cluster.local",
        pod_sync_workers=workers,
        status_workers=status_workers,
        full_resync_period=(
            _duration("--full-resync-period", args.full_resync_period)
            if args.full_resync_period
            else NODE_DEFAULTS.full_resync_period
        ),
        startup_timeout=startup_timeout or None,
        stream_idle_timeout=_duration(
            "--stream-idle-timeout", args.stream_idle_timeout or "30s", allow_zero=False
        ),
        stream_creation_timeout=_duration(
            "--stream-creation-timeout", args.stream_creation_timeout or "30s", allow_zero=False
        ),
        taint=_taint(args, provider, env),
        log_level=log_level,
        log_format="json" if log_format == "json" else "text",
        metrics_address=metrics_address,
        listen_address=listen_address,
        kubelet_port=kubelet_port,
        tls_cert_file=cert,
        tls_key_file=key,
        client_ca_file=client_ca,
        anonymous_auth=anonymous_auth,
        pod_ip=pod_ip,
        kube_api_qps=qps,
        kube_api_burst=burst,
        event_qps=event_qps,
        event_burst=event_burst,
        load_balancer_exclusion=_bool(
            "--load-balancer-exclusion",
            args.load_balancer_exclusion or str(NODE_DEFAULTS.load_balancer_exclusion).lower(),
        ),
        **_tracing(args),
    )


TRACE_EXPORTERS: Final = ("none", "otlp")
RESERVED_TRACE_TAGS: Final = ("operatingSystem", "provider", "nodeName")
"""Resource attributes vk-trio sets itself (the Go command reserves the same keys)."""


def _tracing(args: argparse.Namespace) -> dict[str, Any]:
    exporters = [
        name.strip() for value in args.trace_exporter or () for name in value.split(",") if name
    ]
    for name in exporters:
        if name not in TRACE_EXPORTERS:
            raise SettingsError(
                "--trace-exporter", f'tracing exporter "{name}" not found (use otlp or none)'
            )
    sample_rate = None
    if args.trace_sample_rate is not None:
        try:
            sample_rate = parse_sample_rate(args.trace_sample_rate)
        except ValueError as exc:
            raise SettingsError("--trace-sample-rate", str(exc)) from None
    service_name = args.trace_service_name
    if service_name is not None and not service_name.strip():
        raise SettingsError("--trace-service-name", "the name must not be empty")
    tags: dict[str, str] = {}
    for tag in args.trace_tag or ():
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise SettingsError("--trace-tag", f'"{tag}" is not KEY=VALUE')
        if key in RESERVED_TRACE_TAGS:
            raise SettingsError("--trace-tag", f'"{key}" is set by vk-trio itself')
        tags[key] = value
    return {
        "trace_exporter": "otlp" if "otlp" in exporters else "none",
        "trace_sample_rate": sample_rate,
        "trace_service_name": service_name,
        "trace_tags": tags,
    }


def _rate(flag: str, value: str | None, default: float) -> float:
    """A request rate per second: a finite number greater than 0."""
    if value is None:
        return default
    try:
        rate = float(value)
    except ValueError:
        raise SettingsError(flag, f'"{value}" is not a number') from None
    if not rate > 0 or rate == float("inf"):
        raise SettingsError(flag, f"the request rate must be greater than 0 (got {rate})")
    return rate
