"""Running the node: the seam between the command and the controllers."""

from __future__ import annotations

import logging

from ._provider import LoadedProvider
from ._settings import Settings

__all__ = ["NODE_NOT_BUILT", "run_node"]

logger = logging.getLogger("vk_trio.cli")

NODE_NOT_BUILT = 3
"""Exit status of ``run_node`` while the controllers do not exist."""


def run_node(settings: Settings, provider: LoadedProvider) -> int:
    """Run the virtual node until SIGTERM/SIGINT; returns the process exit status.

    This is where the pod and node controllers (``vk_trio.node``), the kubelet API server and the
    metrics server will be started in one trio nursery.  They are not built yet, so it reports
    that and fails: the settings and the provider were validated, nothing was registered.
    """
    logger.error(
        "cannot run node %r: the node controllers (vk_trio.node) are not built yet; "
        "settings and provider %r are valid, nothing was registered",
        settings.node_name,
        provider.name,
    )
    return NODE_NOT_BUILT
