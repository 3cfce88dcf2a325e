"""The cluster provider's configuration file (``--provider-config``), YAML (or JSON)::

    kubeconfig: /etc/vk-trio/remote.kubeconfig   # required: credentials for the remote cluster
    context: remote-admin                        # optional: a context of that file
    remoteNamespace: "{namespace}-{node}"        # optional, default "{namespace}"
    nodeSelector: {pool: offload}                # optional: added to every remote pod
    tolerations:                                 # optional: added to every remote pod
      - {key: dedicated, operator: Equal, value: offload, effect: NoSchedule}
    capacity: {cpu: "64", memory: 256Gi, pods: "1000"}   # optional: replaces the computed one

Every problem is one :class:`~vk_trio.provider.InvalidInputError` whose message starts with the
key at fault, so the command can print it as one line and stop before anything is registered.
A relative ``kubeconfig`` is taken relative to the configuration file.  The kubeconfig itself is
only checked here (readable YAML with the context asked for); it is loaded, credentials and all,
when the provider runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, final

import attrs
import yaml

from vk_trio.provider import InvalidInputError

from ._quantity import is_quantity

__all__ = [
    "DEFAULT_REMOTE_NAMESPACE",
    "ClusterConfig",
    "load_cluster_config",
    "parse_cluster_config",
]

DEFAULT_REMOTE_NAMESPACE: Final = "{namespace}"
KEYS: Final = (
    "kubeconfig",
    "context",
    "remoteNamespace",
    "nodeSelector",
    "tolerations",
    "capacity",
)
TOLERATION_KEYS: Final = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS: Final = ("Exists", "Equal")
TOLERATION_EFFECTS: Final = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_QUALIFIED_NAME = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _frozen_list(items: tuple[Mapping[str, Any], ...]) -> tuple[Mapping[str, Any], ...]:
    return tuple(MappingProxyType(dict(item)) for item in items)


@final
@attrs.frozen(kw_only=True)
class ClusterConfig:
    """A checked configuration.  ``capacity`` is ``None`` when the node's capacity is computed
    from the remote cluster."""

    kubeconfig: str
    context: str | None = None
    remote_namespace: str = DEFAULT_REMOTE_NAMESPACE
    node_selector: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    tolerations: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_frozen_list)
    capacity: Mapping[str, str] | None = None

    def remote_namespace_for(self, namespace: str, node: str) -> str:
        """The remote namespace of a home pod in ``namespace`` on virtual node ``node``.

        Raises :class:`InvalidInputError` when the result is not a namespace name (too long, for
        instance), which no retry can fix.
        """
        name = self.remote_namespace.format(namespace=namespace, node=node)
        if len(name) > 63 or _DNS_LABEL.fullmatch(name) is None:
            raise InvalidInputError(
                f"remoteNamespace: {self.remote_namespace!r} gives {name!r} for namespace "
                f"{namespace!r}, which is not a valid namespace name"
            )
        return name


def _fail(key: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{key}: {problem}")


def _string(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(key, f"must be a non-empty string, not {value!r}")
    return value


def _string_map(key: str, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(key, f"must be a map of strings, not {value!r}")
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or _QUALIFIED_NAME.fullmatch(name) is None:
            raise _fail(key, f"{name!r} is not a valid label key")
        if not isinstance(item, str) or len(item) > 63 or _LABEL_VALUE.fullmatch(item) is None:
            raise _fail(f"{key}.{name}", f"{item!r} is not a valid label value")
        result[name] = item
    return result


def _template(value: object) -> str:
    template = _string("remoteNamespace", value)
    try:
        sample = template.format(namespace="ns", node="node")
    except (KeyError, IndexError, ValueError) as exc:
        raise _fail(
            "remoteNamespace",
            f"{template!r} is not a template of {{namespace}} and {{node}} ({exc!r})",
        ) from None
    if _DNS_LABEL.fullmatch(sample) is None:
        raise _fail("remoteNamespace", f"{template!r} does not give namespace names ({sample!r})")
    return template


def _toleration(index: int, value: object) -> dict[str, Any]:
    where = f"tolerations[{index}]"
    if not isinstance(value, dict):
        raise _fail(where, f"must be a map, not {value!r}")
    unknown = sorted(set(map(str, value)) - set(TOLERATION_KEYS))
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(TOLERATION_KEYS)})")
    for name in ("key", "value"):
        if name in value and not isinstance(value[name], str):
            raise _fail(f"{where}.{name}", f"must be a string, not {value[name]!r}")
    operator = value.get("operator", "Equal")
    if operator not in TOLERATION_OPERATORS:
        raise _fail(f"{where}.operator", f"must be Exists or Equal, not {operator!r}")
    if operator == "Exists" and value.get("value"):
        raise _fail(f"{where}.value", "must be empty when the operator is Exists")
    effect = value.get("effect", "")
    if effect not in TOLERATION_EFFECTS:
        raise _fail(
            f"{where}.effect", f"must be NoSchedule, PreferNoSchedule or NoExecute, not {effect!r}"
        )
    seconds = value.get("tolerationSeconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise _fail(f"{where}.tolerationSeconds", f"must be a whole number, not {seconds!r}")
    if not value.get("key") and operator != "Exists":
        raise _fail(f"{where}.operator", "must be Exists when the key is empty")
    return dict(value)


def _tolerations(value: object) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise _fail("tolerations", f"must be a list of tolerations, not {value!r}")
    return tuple(_toleration(i, item) for i, item in enumerate(value))


def _capacity(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise _fail("capacity", f"must be a non-empty map of resource to quantity, not {value!r}")
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or _QUALIFIED_NAME.fullmatch(name) is None:
            raise _fail("capacity", f"{name!r} is not a resource name")
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(text, str) or not is_quantity(text) or text.startswith("-"):
            raise _fail(f"capacity.{name}", f"{item!r} is not a quantity (e.g. 64, 256Gi, 500m)")
        result[name] = text
    return result


def _check_kubeconfig(path: str, context: str | None) -> None:
    key = "kubeconfig"
    try:
        with open(path, "rb") as f:
            document = yaml.safe_load(f)
    except OSError as exc:
        raise _fail(key, f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise _fail(key, f"{path} is not YAML: {_one_line(exc)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("clusters"), list):
        raise _fail(key, f"{path} is not a kubeconfig (no clusters)")
    contexts = [c.get("name") for c in document.get("contexts") or () if isinstance(c, dict)]
    if context is not None and context not in contexts:
        known = ", ".join(str(c) for c in contexts) or "none"
        raise _fail("context", f"{context!r} is not a context of {path} (contexts: {known})")
    if context is None and not document.get("current-context") and len(contexts) != 1:
        raise _fail("context", f"{path} has no current-context: name one")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def parse_cluster_config(text: str | bytes, *, base_dir: str = ".") -> ClusterConfig:
    """Check the configuration's text; ``base_dir`` anchors a relative ``kubeconfig`` path."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"not valid YAML: {_one_line(exc)}") from None
    if not isinstance(document, dict):
        raise InvalidInputError(f"must be a map with the keys {', '.join(KEYS)}")
    for key in document:
        if key not in KEYS:
            raise _fail(str(key), f"unknown key (known: {', '.join(KEYS)})")
    if document.get("kubeconfig") is None:
        raise _fail("kubeconfig", "required: the path of the remote cluster's kubeconfig")
    kubeconfig = os.path.join(
        base_dir, os.path.expanduser(_string("kubeconfig", document["kubeconfig"]))
    )
    context = document.get("context")
    if context is not None:
        context = _string("context", context)
    _check_kubeconfig(kubeconfig, context)
    template = document.get("remoteNamespace")
    capacity = document.get("capacity")
    return ClusterConfig(
        kubeconfig=kubeconfig,
        context=context,
        remote_namespace=DEFAULT_REMOTE_NAMESPACE if template is None else _template(template),
        node_selector=_string_map("nodeSelector", document.get("nodeSelector") or {}),
        tolerations=_tolerations(document.get("tolerations") or []),
        capacity=None if capacity is None else _frozen(_capacity(capacity)),
    )


def load_cluster_config(path: str) -> ClusterConfig:
    """Read and check the file at ``path``."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_cluster_config(text, base_dir=os.path.dirname(os.path.abspath(path)))
