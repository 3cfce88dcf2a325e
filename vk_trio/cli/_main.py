"""Entry point of the ``vk-trio`` console script."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from vk_trio import __version__
from vk_trio.provider import list_providers

from ._errors import SettingsError
from ._flags import parse_command_line
from ._logging import configure_logging
from ._provider import create_provider
from ._run import run_node
from ._settings import settings_from
from ._tracing import start_tracing

__all__ = ["main"]

USAGE_ERROR = 2
CONFIG_ERROR = 1


def _fail(error: SettingsError, status: int) -> int:
    print(f"vk-trio: {error}", file=sys.stderr)
    return status


def _providers(name: str | None) -> int:
    names = sorted({entry.name for entry in list_providers()})
    if name is None:
        for each in names:
            print(each)
        return 0
    if name in names:
        print(name)
        return 0
    print(f"no such provider {name}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    ``argv`` excludes the program name (default ``sys.argv[1:]``); ``environ`` defaults to the
    process environment.  Start-up misconfigurations print one line on stderr and return 1
    (2 for a malformed command line).
    """
    args_list = sys.argv[1:] if argv is None else argv
    env = os.environ if environ is None else environ
    try:
        args = parse_command_line(args_list)
    except SettingsError as exc:
        return _fail(exc, USAGE_ERROR)
    except SystemExit as exc:  # --help printed the usage
        return exc.code if isinstance(exc.code, int) else 0

    if args.command == "version":
        print(f"vk-trio {__version__}")
        return 0
    if args.command == "providers":
        return _providers(args.name)

    installed = frozenset(entry.name for entry in list_providers())
    try:
        settings = settings_from(args, env, providers=installed)
        configure_logging(
            settings.log_level, settings.log_format, fields={"node": settings.node_name}
        )
        stop_tracing = start_tracing(settings)
        provider = create_provider(settings)
    except SettingsError as exc:
        return _fail(exc, CONFIG_ERROR)
    try:
        return run_node(settings, provider)
    finally:
        stop_tracing()
