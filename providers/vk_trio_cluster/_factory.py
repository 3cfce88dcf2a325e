"""The ``cluster`` entry point: checks ``--provider-config``, builds a ClusterProvider."""

from __future__ import annotations

import re

from vk_trio.provider import InvalidInputError, ProviderConfig

from ._config import load_cluster_config
from ._provider import ClusterProvider

__all__ = ["create_provider"]

_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def create_provider(config: ProviderConfig) -> ClusterProvider:
    """Read the configuration file; every problem is one ``InvalidInputError`` line that names
    the file and the key."""
    if config.config_path is None:
        raise InvalidInputError(
            "--provider-config is required: a YAML file with at least `kubeconfig:` (the remote "
            "cluster's credentials)"
        )
    node = config.node_name
    if len(node) > 63 or _LABEL_VALUE.fullmatch(node) is None:
        # Every remote object is labelled with the node's name: it must be a label value.
        raise InvalidInputError(
            f"--nodename {node!r}: the cluster provider needs a node name of at most 63 "
            "characters that is a valid label value"
        )
    try:
        cluster_config = load_cluster_config(config.config_path)
    except InvalidInputError as exc:
        raise InvalidInputError(f"--provider-config {config.config_path}: {exc}") from None
    return ClusterProvider(
        node_name=node,
        config=cluster_config,
        internal_ip=config.internal_ip,
        daemon_port=config.daemon_port,
        home_kubeconfig=config.kubeconfig,
        resources=config.resources,
    )
