"""The ``mock`` entry point: builds a :class:`MockProvider` from the command's configuration."""

from __future__ import annotations

from vk_trio.provider import InvalidInputError, ProviderConfig

from ._config import load_mock_config
from ._provider import MockProvider

__all__ = ["create_provider"]


def create_provider(config: ProviderConfig) -> MockProvider:
    """Read ``--provider-config`` for this node and build the mock.

    Every configuration problem is an ``InvalidInputError`` whose message names the file.
    """
    if config.config_path is None:
        raise InvalidInputError(
            "--provider-config is required: the mock reads the node's capacity from it"
        )
    try:
        mock_config = load_mock_config(config.config_path, config.node_name)
    except InvalidInputError as exc:
        raise InvalidInputError(f"--provider-config {config.config_path}: {exc}") from exc
    return MockProvider(
        node_name=config.node_name,
        config=mock_config,
        operating_system=config.operating_system,
        internal_ip=config.internal_ip,
        daemon_port=config.daemon_port,
    )
