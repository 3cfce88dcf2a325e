"""Entry point of the ``vk-trio`` console script."""

from __future__ import annotations

import sys

from vk_trio import __version__


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["version"]:
        print(f"vk-trio {__version__}")
        return 0
    print("vk-trio: the node agent is not built yet (see the virtual node issue)", file=sys.stderr)
    return 2
