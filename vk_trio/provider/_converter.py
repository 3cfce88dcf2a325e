"""The cattrs converter behind the typed provider values (Kubernetes JSON <-> attrs).

Rules, chosen so that a typed value serialises the way the API server would show it:

* field names are camelCased with the Kubernetes spelling of initialisms (``host_ip`` -> ``hostIP``,
  ``pod_ips`` -> ``podIPs``, ``container_id`` -> ``containerID``);
* a field whose default is ``None`` or ``()`` is left out while it still has that default (the
  ``omitempty`` fields of the Go types); fields with a real default (``ready``, ``restartCount``,
  ``exitCode``, ...) are always written;
* times are ``datetime`` values, written as RFC 3339 in UTC with second precision (``metav1.Time``)
  and read from any ISO 8601 text; a naive ``datetime`` is taken to be UTC (both by
  :mod:`vk_trio.util`, where every timestamp of vk_trio is formatted and parsed);
* unknown keys are ignored when reading, so a typed value holds the fields it models and
  nothing else (return a dict from a provider when every field must survive).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .. import util

__all__ = ["CONVERTER", "camel_case", "format_time", "parse_time"]

_INITIALISMS = {"id": "ID", "ip": "IP", "ips": "IPs", "uid": "UID", "url": "URL", "cidr": "CIDR"}


def camel_case(name: str) -> str:
    """``host_ip`` -> ``hostIP``: the JSON name Kubernetes uses for a snake_case attribute."""
    first, *rest = name.split("_")
    return first + "".join(_INITIALISMS.get(part, part[:1].upper() + part[1:]) for part in rest)


def format_time(value: datetime) -> str:
    """RFC 3339, UTC, whole seconds: the wire form of ``metav1.Time`` (naive means UTC).

    Provider-facing name of :func:`vk_trio.util.format_time`, the one implementation.
    """
    return util.format_time(value)


def parse_time(value: Any) -> datetime:
    """Read ISO 8601 text (``...Z`` or an offset) or take a ``datetime``; naive means UTC.

    Provider-facing name of :func:`vk_trio.util.parse_time`, the one implementation.
    """
    return util.parse_time(value)


def _omit_when_default(field: attrs.Attribute[Any]) -> bool:
    return field.default is None or field.default == ()


def _unstructure_factory(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    overrides: dict[str, Any] = {
        f.name: override(rename=camel_case(f.name), omit_if_default=_omit_when_default(f))
        for f in attrs.fields(cls)
    }
    return make_dict_unstructure_fn(cls, CONVERTER, **overrides)


def _structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
    overrides: dict[str, Any] = {
        f.name: override(rename=camel_case(f.name)) for f in attrs.fields(cls)
    }
    return make_dict_structure_fn(cls, CONVERTER, **overrides)


CONVERTER = cattrs.Converter()
CONVERTER.register_unstructure_hook(datetime, format_time)
CONVERTER.register_structure_hook(datetime, lambda value, _type: parse_time(value))
CONVERTER.register_unstructure_hook_factory(attrs.has, _unstructure_factory)
CONVERTER.register_structure_hook_factory(attrs.has, _structure_factory)
