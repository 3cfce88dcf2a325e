"""The cattrs converter behind the typed provider values (Kubernetes JSON <-> attrs).

Rules, chosen so that a typed value serialises the way the API server would show it:

* field names are camelCased with the Kubernetes spelling of initialisms (``host_ip`` -> ``hostIP``,
  ``pod_ips`` -> ``podIPs``, ``container_id`` -> ``containerID``);
* a field whose default is ``None`` or ``()`` is left out while it still has that default (the
  ``omitempty`` fields of the Go types); fields with a real default (``ready``, ``restartCount``,
  ``exitCode``, ...) are always written;
* times are ``datetime`` values, written as RFC 3339 in UTC with second precision (``metav1.Time``)
  and read from any ISO 8601 text; a naive ``datetime`` is taken to be UTC;
* unknown keys are ignored when reading, so a typed value holds the fields it models and
  nothing else (return a dict from a provider when every field must survive).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = ["CONVERTER", "camel_case", "format_time", "parse_time"]

_INITIALISMS = {"id": "ID", "ip": "IP", "ips": "IPs", "uid": "UID", "url": "URL", "cidr": "CIDR"}


def camel_case(name: str) -> str:
    """``host_ip`` -> ``hostIP``: the JSON name Kubernetes uses for a snake_case attribute."""
    first, *rest = name.split("_")
    return first + "".join(_INITIALISMS.get(part, part[:1].upper() + part[1:]) for part in rest)


def format_time(value: datetime) -> str:
    """RFC 3339, UTC, whole seconds: the wire form of ``metav1.Time``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime:
    """Read a time written as ISO 8601 text (``...Z`` or an offset) or passed as a ``datetime``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"invalid time {value!r} (want RFC 3339, e.g. 2024-01-31T12:00:00Z)"
            ) from None
    else:
        raise TypeError(f"invalid time {value!r} (want RFC 3339 text or a datetime)")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


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
