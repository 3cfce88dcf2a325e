"""The ``process`` entry point: builds a :class:`ProcessProvider` from ``--provider-config``."""

from __future__ import annotations

import os
import shutil

from vk_trio.provider import InvalidInputError, ProviderConfig

from ._config import load_process_config
from ._provider import ProcessProvider

__all__ = ["create_provider"]


def create_provider(config: ProviderConfig) -> ProcessProvider:
    """Read and check the configuration; every problem is one ``InvalidInputError`` line."""
    process_config = load_process_config(config.config_path)
    state = process_config.state_dir
    try:
        (state / "pods").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"stateDir: cannot create {state}: {exc.strerror or exc}") from exc
    if not os.access(state, os.W_OK | os.X_OK):
        raise InvalidInputError(f"stateDir: {state} is not writable")
    if process_config.isolation == "namespaces":
        missing = [tool for tool in ("unshare", "nsenter") if shutil.which(tool) is None]
        if missing:
            raise InvalidInputError(
                f"isolation: 'namespaces' needs {' and '.join(missing)} (util-linux) on PATH"
            )
    return ProcessProvider(
        node_name=config.node_name,
        config=process_config,
        resources=config.resources,
        internal_ip=config.internal_ip,
        daemon_port=config.daemon_port,
        operating_system=config.operating_system,
    )
