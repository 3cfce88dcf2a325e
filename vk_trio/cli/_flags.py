"""The command line, flag for flag compatible with the Go ``virtual-kubelet`` command.

``argparse`` does the parsing; this module only declares the flags and makes every parse error a
:class:`SettingsError` (one line, naming the flag) instead of argparse's usage dump.  Values stay
raw text here: turning them into a :class:`Settings` (and every check) is ``_settings``'s job, so
that flags and environment variables are validated in one place with one style of message.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from vk_trio.kube import DEFAULT_BURST, DEFAULT_QPS
from vk_trio.node import NodeOptions

from ._errors import SettingsError

__all__ = ["BOOL_VALUES", "build_parser", "parse_bool", "parse_command_line"]

BOOL_VALUES = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    try:
        return BOOL_VALUES[text]
    except KeyError:
        raise argparse.ArgumentTypeError(f'invalid boolean "{text}" (use true or false)') from None


class _Parser(argparse.ArgumentParser):
    """Errors become :class:`SettingsError`; remembers which flags take a value."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value_flags: set[str] = set()

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.nargs is None:
            self.value_flags.update(action.option_strings)
        return action

    def error(self, message: str) -> NoReturn:
        raise SettingsError("command line", message)


_DESCRIPTION = """\
Run a virtual node: register it with the API server, run the pods scheduled to it through a
provider, serve the kubelet API.  Environment variables: KUBECONFIG, DEFAULT_NODE_NAME,
KUBELET_PORT, APISERVER_CERT_LOCATION, APISERVER_KEY_LOCATION, APISERVER_CA_CERT_LOCATION,
VKUBELET_POD_IP, VKUBELET_TAINT_KEY, VKUBELET_TAINT_VALUE, VKUBELET_TAINT_EFFECT (see
docs/deploy.md)."""


def build_parser() -> _Parser:
    """The parser of ``vk-trio [flags] [version | providers [NAME]]``."""
    parser = _Parser(
        prog="vk-trio",
        description=_DESCRIPTION,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    hidden = argparse.SUPPRESS
    add("--provider", help="provider to run (see `vk-trio providers`)")
    add("--provider-config", metavar="PATH", help="provider configuration file")
    add("--nodename", help="node name (default: $DEFAULT_NODE_NAME, else virtual-kubelet)")
    add("--os", help="operating system of the node: linux or windows (default: linux)")
    add("--kubeconfig", metavar="PATH", help="kubeconfig (default: $KUBECONFIG, else in-cluster)")
    add("--cluster-domain", help="cluster DNS domain handed to the provider (cluster.local)")
    node = NodeOptions(node_name="-")  # the library's defaults are the command's
    add("--pod-sync-workers", metavar="N", help=f"pod sync workers ({node.pod_sync_workers})")
    add("--status-workers", metavar="N", help="pod status workers (default: --pod-sync-workers)")
    add("--full-resync-period", metavar="DURATION", help="informer resync period (default: 1m)")
    add("--startup-timeout", metavar="DURATION", help="give up if not ready by then (0: wait)")
    add("--stream-idle-timeout", metavar="DURATION", help="exec/attach idle timeout (30s)")
    add("--stream-creation-timeout", metavar="DURATION", help="stream setup timeout (30s)")
    add("--disable-taint", nargs="?", const="true", metavar="BOOL", help="register without taint")
    add("--taint", metavar="KEY", help="deprecated: taint key (use VKUBELET_TAINT_KEY)")
    add("--log-level", help="trace, debug, info, warn, error, fatal or panic (default: info)")
    add("--log-format", help="text or json (default: text)")
    add(
        "--metrics-addr",
        metavar="HOST:PORT",
        help='metrics, /healthz and /livez over HTTP ("127.0.0.1:10255")',
    )
    add("--listen-address", metavar="IP", help="kubelet API address (default: all interfaces)")
    add(
        "--client-ca-file", metavar="PATH", help="CA for client certs ($APISERVER_CA_CERT_LOCATION)"
    )
    add("--anonymous-auth", nargs="?", const="true", metavar="BOOL", help="allow anonymous access")
    add("--kube-api-qps", metavar="QPS", help=f"API request rate (default: {DEFAULT_QPS:g})")
    add("--kube-api-burst", metavar="N", help=f"API request burst (default: {DEFAULT_BURST})")
    add("--event-qps", metavar="QPS", help="event write rate, its own budget (default: 50)")
    add("--event-burst", metavar="N", help="event write burst (default: 100)")
    add(
        "--load-balancer-exclusion",
        nargs="?",
        const="true",
        metavar="BOOL",
        help="label the node out of cloud load-balancer pools (default: true)",
    )
    # Accepted for compatibility with the Go command, which ignores them too.
    add("--namespace", help=hidden)
    add("--enable-node-lease", nargs="?", const="true", help=hidden)
    # OpenTelemetry tracing (docs/observability.md); OTEL_* variables configure the exporter.
    add(
        "--trace-exporter",
        action="append",
        metavar="NAME",
        help="otlp (OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT; needs vk-trio[otlp]) or none "
        "(default: none)",
    )
    add(
        "--trace-sample-rate",
        metavar="RATE",
        help="always, never or a percentage 0-100 (default: OTEL_TRACES_SAMPLER, else 1 in 10000)",
    )
    add(
        "--trace-service-name",
        metavar="NAME",
        help="service.name of the spans (default: OTEL_SERVICE_NAME, else virtual-kubelet)",
    )
    add(
        "--trace-tag",
        action="append",
        metavar="KEY=VALUE",
        help="a resource attribute of the spans",
    )

    commands = parser.add_subparsers(dest="command", metavar="{version,providers}")
    commands.add_parser("version", help="print the version")
    providers = commands.add_parser("providers", help="list the installed providers")
    providers.add_argument("name", nargs="?", help="print NAME if installed, else fail")
    return parser


_BOOL_FLAGS = {
    "--disable-taint": "disable_taint",
    "--anonymous-auth": "anonymous_auth",
    "--load-balancer-exclusion": "load_balancer_exclusion",
    "--enable-node-lease": "enable_node_lease",
}
_COMMANDS = ("version", "providers")


def parse_command_line(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` (without the program name).  Raises :class:`SettingsError`.

    Before argparse sees them, tokens are normalised to the Go flag library's rules: a boolean
    flag never takes the next word as its value (``--disable-taint`` or ``--disable-taint=false``),
    a value flag always does, even one starting with ``-`` (``--startup-timeout -1s``), and an
    unknown flag or command is reported by name.
    """
    parser = build_parser()
    value_flags = parser.value_flags - set(_BOOL_FLAGS)
    tokens: list[str] = []
    bools: dict[str, str] = {}
    seen_command = False
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            tokens += argv[i - 1 :]
            break
        if token.startswith("-") and token != "-":
            name, has_value, value = token.partition("=")
            if name in _BOOL_FLAGS and not seen_command:
                bools[_BOOL_FLAGS[name]] = value if has_value else "true"
            elif name in ("-h", "--help"):
                tokens.append(token)
            elif name in value_flags and not seen_command:
                if not has_value:
                    if i >= len(argv):
                        raise SettingsError("command line", f"flag needs an argument: {name}")
                    value = argv[i]
                    i += 1
                tokens.append(f"{name}={value}")
            else:
                raise SettingsError("command line", f"unknown flag: {name}")
        else:
            if not seen_command and token not in _COMMANDS:
                raise SettingsError(
                    "command line",
                    f'unknown command "{token}" (commands: {", ".join(_COMMANDS)})',
                )
            seen_command = True
            tokens.append(token)
    args = parser.parse_args(tokens)
    for dest, value in bools.items():
        setattr(args, dest, value)
    return args
