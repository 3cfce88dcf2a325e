"""The ``process`` provider's configuration file (YAML, ``--provider-config``).

Every key is optional::

    stateDir: /var/lib/vk-trio/process   # pod sandboxes, logs and state
    isolation: none                       # "namespaces" (default when root) or "none"
    capacity: {cpu: "4", memory: 8Gi, pods: "110"}   # default: this host's cores and memory
    allowHostPath: false

An unknown key or a value of the wrong shape is an :class:`~vk_trio.provider.InvalidInputError`
whose one-line message names the key: the operator sees it at start-up, before the node
registers, rather than a node that half works.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, final

import attrs
import yaml

from vk_trio.provider import InvalidInputError

__all__ = [
    "DEFAULT_PODS",
    "DEFAULT_STATE_DIR",
    "ProcessConfig",
    "host_capacity",
    "load_process_config",
    "parse_process_config",
]

DEFAULT_STATE_DIR: Final = "/var/lib/vk-trio/process"
DEFAULT_PODS: Final = "110"
Isolation = Literal["namespaces", "none"]
_KEYS: Final = ("stateDir", "isolation", "capacity", "allowHostPath")
# A Kubernetes quantity: a decimal number with an optional SI / binary suffix or exponent.
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[kMGTPE]i|[mkMGTPE])?$")


def host_capacity() -> dict[str, str]:
    """This machine's cores (those this process may use) and physical memory, 110 pods."""
    cores = len(os.sched_getaffinity(0))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": str(cores), "memory": f"{memory // 1024}Ki", "pods": DEFAULT_PODS}


def default_isolation() -> Isolation:
    """Namespaces need root (``unshare`` of mount/PID namespaces); without it, none."""
    return "namespaces" if os.geteuid() == 0 else "none"


def _freeze(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@final
@attrs.frozen(kw_only=True)
class ProcessConfig:
    """The parsed configuration; ``capacity`` is complete (host values fill what is not given)."""

    state_dir: Path = Path(DEFAULT_STATE_DIR)
    isolation: Isolation = attrs.field(factory=default_isolation)
    capacity: Mapping[str, str] = attrs.field(factory=host_capacity, converter=_freeze)
    allow_host_path: bool = False


def parse_process_config(data: Any) -> ProcessConfig:
    """Validate the decoded YAML document (``None`` for an empty file means all defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InvalidInputError("the configuration must be a mapping of keys to values")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise InvalidInputError(f"unknown key {unknown[0]!r} (known keys: {', '.join(_KEYS)})")
    state_dir = data.get("stateDir", DEFAULT_STATE_DIR)
    if not isinstance(state_dir, str) or not state_dir:
        raise InvalidInputError(f"stateDir: must be a non-empty path, not {state_dir!r}")
    isolation = data.get("isolation", default_isolation())
    if isolation not in ("namespaces", "none"):
        raise InvalidInputError(f"isolation: must be 'namespaces' or 'none', not {isolation!r}")
    if isolation == "namespaces" and os.geteuid() != 0:
        raise InvalidInputError("isolation: 'namespaces' needs vk-trio to run as root")
    allow = data.get("allowHostPath", False)
    if not isinstance(allow, bool):
        raise InvalidInputError(f"allowHostPath: must be true or false, not {allow!r}")
    capacity = host_capacity()
    given = data.get("capacity", {})
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InvalidInputError("capacity: must be a mapping of resource names to quantities")
    for name, value in given.items():
        text = (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )
        if not isinstance(name, str) or not isinstance(text, str) or not _QUANTITY.match(text):
            raise InvalidInputError(f"capacity.{name}: {value!r} is not a quantity")
        capacity[name] = text
    return ProcessConfig(
        state_dir=Path(state_dir).absolute(),
        isolation=isolation,
        capacity=capacity,
        allow_host_path=allow,
    )


def load_process_config(path: str | None) -> ProcessConfig:
    """Read and validate the file at ``path`` (``None``: every default)."""
    if path is None:
        return parse_process_config(None)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    try:
        return parse_process_config(data)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path}: {exc}") from exc
