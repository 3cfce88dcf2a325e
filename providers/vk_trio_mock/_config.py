"""The mock's configuration file: the Go mock's format, plus optional test knobs.

The file is a JSON object keyed by node name; the entry of the node being run says what the node
offers::

    {"vk-mock": {"cpu": "2", "memory": "32Gi", "pods": "128",
                 "others": {"nvidia.com/gpu": "4"}, "providerID": "mock://vk-mock"}}

Missing ``cpu``/``memory``/``pods`` default to ``20``/``100Gi``/``20``.  As in the Go mock, field
names match case-insensitively, unknown fields are ignored, every entry must have the right types,
and a node without an entry is an error (its CPU value is empty).

vk-trio adds an optional ``knobs`` object to the node's entry, for tests and benchmarks::

    "knobs": {
      "latency":  {"create": 0.05, "update": 0, "delete": 0.01, "get": 0, "list": 0},
      "failures": {"create": {"nth": [1, 3], "fraction": 0.1, "seed": 7, "message": "quota"},
                   "update": {...}, "delete": {...}},
      "spikes":   {"create": {"fraction": 0.05, "seconds": 2.0, "seed": 3}, "get": {...}},
      "hangs":    {"create": [10], "get": [...]},
      "ledger":   "/path/to/ledger.jsonl"
    }

and an optional ``logs`` object saying what the containers' logs hold (see :class:`MockLogs`)::

    "logs": {"lines": 3, "interval": 1.0, "containers": {"app": ["first line", "second"]}}

``latency`` is seconds slept (on trio's clock) at the start of each call of that kind (``get``
covers ``get_pod`` and ``get_pod_status``, ``list`` is ``get_pods``).  ``failures`` makes calls
raise a plain error (one the controllers retry): the ``nth`` calls of that kind (1-based, counting
every call), and each call with probability ``fraction`` (deterministic with ``seed``).

The last three exist for the fault-injection suite (``tests/faults``): ``spikes`` adds ``seconds``
to a random ``fraction`` of the calls of a kind (a latency spike, on top of ``latency``); ``hangs``
lists call numbers (1-based, as ``nth``) of a kind that never return (until cancelled: a hung
provider); ``ledger`` names a file to which every *successful* create, update and delete appends
one JSON line (``op``, ``namespace``, ``name``, ``uid``, ``pid``), so that a test outside the
process can count creates per pod UID (:meth:`MockProvider.creates_per_uid` counts them in
process).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, final

import attrs

from vk_trio.provider import InvalidInputError

from ._quantity import is_quantity

__all__ = [
    "DEFAULT_CPU",
    "DEFAULT_MEMORY",
    "DEFAULT_PODS",
    "FailurePlan",
    "LatencySpikes",
    "MockConfig",
    "MockKnobs",
    "MockLogs",
    "load_mock_config",
    "parse_mock_config",
]

DEFAULT_CPU: Final = "20"
DEFAULT_MEMORY: Final = "100Gi"
DEFAULT_PODS: Final = "20"

LATENCY_OPERATIONS: Final = ("create", "update", "delete", "get", "list")
FAILURE_OPERATIONS: Final = ("create", "update", "delete")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy: configuration values must not change under the provider."""
    return MappingProxyType(dict(mapping))


@final
@attrs.frozen(kw_only=True)
class FailurePlan:
    """Which calls of one kind fail: the ``nth`` ones (1-based) and a random ``fraction``."""

    nth: frozenset[int] = frozenset()
    fraction: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    seed: int | None = None
    message: str | None = None


@final
@attrs.frozen(kw_only=True)
class LatencySpikes:
    """A random ``fraction`` of the calls of one kind take ``seconds`` longer."""

    fraction: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    seconds: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    seed: int | None = None


def _freeze_hangs(mapping: Mapping[str, frozenset[int]]) -> Mapping[str, frozenset[int]]:
    return MappingProxyType({op: frozenset(calls) for op, calls in mapping.items()})


@final
@attrs.frozen(kw_only=True)
class MockKnobs:
    """Per-call latency (seconds), failure plans, latency spikes and hung calls by operation
    name, and the ledger file of successful calls (``None``: none written)."""

    latency: Mapping[str, float] = attrs.field(default=_EMPTY, converter=_freeze)
    failures: Mapping[str, FailurePlan] = attrs.field(default=_EMPTY, converter=_freeze)
    spikes: Mapping[str, LatencySpikes] = attrs.field(default=_EMPTY, converter=_freeze)
    hangs: Mapping[str, frozenset[int]] = attrs.field(default=_EMPTY, converter=_freeze_hangs)
    ledger: str | None = None


@final
@attrs.frozen(kw_only=True)
class MockLogs:
    """What ``kubectl logs`` shows for the mock's containers.

    Every container has ``lines`` lines of history (``containers`` gives the exact lines for a
    container name instead), one minute apart, the last one stamped when the pod was created;
    with ``follow`` a new line is written every ``interval`` seconds (trio's clock) for as long
    as the client stays.
    """

    lines: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    interval: float = attrs.field(default=1.0, validator=attrs.validators.gt(0.0))
    containers: Mapping[str, tuple[str, ...]] = attrs.field(default=_EMPTY, converter=_freeze)


@final
@attrs.frozen(kw_only=True)
class MockConfig:
    """What the node offers (quantities as text) and the test knobs."""

    cpu: str = DEFAULT_CPU
    memory: str = DEFAULT_MEMORY
    pods: str = DEFAULT_PODS
    others: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_freeze)
    provider_id: str | None = None
    knobs: MockKnobs = MockKnobs()
    logs: MockLogs = MockLogs()

    def capacity(self) -> dict[str, str]:
        """``status.capacity`` (and ``allocatable``) of the node."""
        result = {"cpu": self.cpu, "memory": self.memory, "pods": self.pods}
        result.update(self.others)
        return result


_FIELDS = {"cpu": "cpu", "memory": "memory", "pods": "pods", "others": "others"}
_FIELDS |= {"providerid": "providerID", "knobs": "knobs", "logs": "logs"}


def _fields_of(node: str, entry: object) -> dict[str, Any]:
    """The entry's known fields under their canonical names (case-insensitive, last one wins)."""
    if not isinstance(entry, dict):
        raise InvalidInputError(f"the entry of node {node!r} must be a JSON object")
    found: dict[str, Any] = {}
    for key, value in entry.items():
        canonical = _FIELDS.get(key.lower())
        if canonical is not None:
            found[canonical] = value
    for name in ("cpu", "memory", "pods", "providerID"):
        if name in found and found[name] is not None and not isinstance(found[name], str):
            raise InvalidInputError(
                f"{name!r} of node {node!r} must be a string, not {json.dumps(found[name])}"
            )
    others = found.get("others")
    if others is not None and (
        not isinstance(others, dict) or not all(isinstance(v, str) for v in others.values())
    ):
        raise InvalidInputError(
            f"'others' of node {node!r} must be an object of resource name to quantity text"
        )
    return found


def _number(where: str, value: object, *, integer: bool = False, section: str = "knobs") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{section}: {where} must be a number, not {json.dumps(value)}")
    if not math.isfinite(value) or value < 0 or (integer and not isinstance(value, int)):
        kind = "a whole number" if integer else "a number"
        raise InvalidInputError(f"{section}: {where} must be {kind} >= 0, not {value}")
    return float(value)


def _parse_failure(op: str, raw: object) -> FailurePlan:
    if not isinstance(raw, dict):
        raise InvalidInputError(f"knobs: failures.{op} must be an object")
    unknown = set(raw) - {"nth", "fraction", "seed", "message"}
    if unknown:
        raise InvalidInputError(f"knobs: failures.{op} has unknown fields {sorted(unknown)}")
    nth_raw = raw.get("nth", [])
    if not isinstance(nth_raw, list):
        raise InvalidInputError(f"knobs: failures.{op}.nth must be a list of call numbers")
    nth: set[int] = set()
    for item in nth_raw:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise InvalidInputError(
                f"knobs: failures.{op}.nth holds call numbers >= 1, not {json.dumps(item)}"
            )
        nth.add(item)
    fraction = _number(f"failures.{op}.fraction", raw.get("fraction", 0))
    if fraction > 1:
        raise InvalidInputError(f"knobs: failures.{op}.fraction must be <= 1, not {fraction}")
    seed = raw.get("seed")
    if seed is not None:
        seed = int(_number(f"failures.{op}.seed", seed, integer=True))
    message = raw.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidInputError(f"knobs: failures.{op}.message must be a string")
    return FailurePlan(nth=frozenset(nth), fraction=fraction, seed=seed, message=message)


def _parse_knobs(raw: object) -> MockKnobs:
    if raw is None:
        return MockKnobs()
    if not isinstance(raw, dict):
        raise InvalidInputError("knobs must be a JSON object")
    unknown = set(raw) - {"latency", "failures", "spikes", "hangs", "ledger"}
    if unknown:
        raise InvalidInputError(f"knobs has unknown fields {sorted(unknown)}")
    latency_raw = raw.get("latency", {})
    if not isinstance(latency_raw, dict):
        raise InvalidInputError("knobs: latency must be an object of operation to seconds")
    latency: dict[str, float] = {}
    for op, value in latency_raw.items():
        if op not in LATENCY_OPERATIONS:
            raise InvalidInputError(
                f"knobs: latency.{op} is not an operation ({', '.join(LATENCY_OPERATIONS)})"
            )
        latency[op] = _number(f"latency.{op}", value)
    failures_raw = raw.get("failures", {})
    if not isinstance(failures_raw, dict):
        raise InvalidInputError("knobs: failures must be an object of operation to plan")
    failures: dict[str, FailurePlan] = {}
    for op, plan in failures_raw.items():
        if op not in FAILURE_OPERATIONS:
            raise InvalidInputError(
                f"knobs: failures.{op} is not an operation ({', '.join(FAILURE_OPERATIONS)})"
            )
        failures[op] = _parse_failure(op, plan)
    spikes_raw = raw.get("spikes", {})
    if not isinstance(spikes_raw, dict):
        raise InvalidInputError("knobs: spikes must be an object of operation to spike plan")
    spikes = {op: _parse_spikes(op, plan) for op, plan in spikes_raw.items()}
    hangs_raw = raw.get("hangs", {})
    if not isinstance(hangs_raw, dict):
        raise InvalidInputError("knobs: hangs must be an object of operation to call numbers")
    hangs = {op: _parse_hangs(op, calls) for op, calls in hangs_raw.items()}
    ledger = raw.get("ledger")
    if ledger is not None and (not isinstance(ledger, str) or not ledger):
        raise InvalidInputError("knobs: ledger must be a file path")
    return MockKnobs(latency=latency, failures=failures, spikes=spikes, hangs=hangs, ledger=ledger)


def _check_latency_op(section: str, op: str) -> None:
    if op not in LATENCY_OPERATIONS:
        raise InvalidInputError(
            f"knobs: {section}.{op} is not an operation ({', '.join(LATENCY_OPERATIONS)})"
        )


def _parse_spikes(op: str, raw: object) -> LatencySpikes:
    _check_latency_op("spikes", op)
    if not isinstance(raw, dict):
        raise InvalidInputError(f"knobs: spikes.{op} must be an object")
    unknown = set(raw) - {"fraction", "seconds", "seed"}
    if unknown:
        raise InvalidInputError(f"knobs: spikes.{op} has unknown fields {sorted(unknown)}")
    fraction = _number(f"spikes.{op}.fraction", raw.get("fraction", 0))
    if fraction > 1:
        raise InvalidInputError(f"knobs: spikes.{op}.fraction must be <= 1, not {fraction}")
    seconds = _number(f"spikes.{op}.seconds", raw.get("seconds", 0))
    seed = raw.get("seed")
    if seed is not None:
        seed = int(_number(f"spikes.{op}.seed", seed, integer=True))
    return LatencySpikes(fraction=fraction, seconds=seconds, seed=seed)


def _parse_hangs(op: str, raw: object) -> frozenset[int]:
    _check_latency_op("hangs", op)
    if not isinstance(raw, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and item >= 1 for item in raw
    ):
        raise InvalidInputError(f"knobs: hangs.{op} must be a list of call numbers >= 1")
    return frozenset(raw)


def _parse_logs(raw: object) -> MockLogs:
    if raw is None:
        return MockLogs()
    if not isinstance(raw, dict):
        raise InvalidInputError("logs must be a JSON object")
    unknown = set(raw) - {"lines", "interval", "containers"}
    if unknown:
        raise InvalidInputError(f"logs has unknown fields {sorted(unknown)}")
    lines = int(_number("lines", raw.get("lines", 3), integer=True, section="logs"))
    interval = _number("interval", raw.get("interval", 1.0), section="logs")
    if interval <= 0:
        raise InvalidInputError(f"logs: interval must be a number > 0, not {interval}")
    containers_raw = raw.get("containers", {})
    if not isinstance(containers_raw, dict):
        raise InvalidInputError("logs: containers must be an object of container name to lines")
    containers: dict[str, tuple[str, ...]] = {}
    for name, entries in containers_raw.items():
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise InvalidInputError(f"logs: containers.{name} must be a list of strings")
        if any("\n" in e for e in entries):
            raise InvalidInputError(f"logs: containers.{name} lines must not contain newlines")
        containers[name] = tuple(entries)
    return MockLogs(lines=lines, interval=interval, containers=containers)


def parse_mock_config(text: str | bytes, node_name: str) -> MockConfig:
    """Read the configuration of ``node_name`` from the file's text.

    Raises :class:`~vk_trio.provider.InvalidInputError` with the Go mock's messages for invalid
    quantities (``invalid CPU value "x"``, ``invalid memory value``, ``invalid pods value``,
    ``invalid other value``).
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidInputError("must be a JSON object keyed by node name")
    entries = {node: _fields_of(node, entry) for node, entry in document.items()}
    fields = entries.get(node_name)
    if fields is None:
        # The Go mock reads a missing entry as empty values and then fails on the empty CPU.
        raise InvalidInputError(
            f'invalid CPU value "" (the file has no entry for node {node_name!r})'
        )
    cpu = fields.get("cpu") or DEFAULT_CPU
    memory = fields.get("memory") or DEFAULT_MEMORY
    pods = fields.get("pods") or DEFAULT_PODS
    others: dict[str, str] = fields.get("others") or {}
    for label, value in (("CPU", cpu), ("memory", memory), ("pods", pods)):
        if not is_quantity(value):
            raise InvalidInputError(f"invalid {label} value {json.dumps(value)}")
    for name in sorted(others):
        if not is_quantity(others[name]):
            raise InvalidInputError(f"invalid other value {json.dumps(others[name])} (for {name})")
    return MockConfig(
        cpu=cpu,
        memory=memory,
        pods=pods,
        others=others,
        provider_id=fields.get("providerID") or None,
        knobs=_parse_knobs(fields.get("knobs")),
        logs=_parse_logs(fields.get("logs")),
    )


def load_mock_config(path: str, node_name: str) -> MockConfig:
    """Read and parse the file at ``path``; an unreadable file is an ``InvalidInputError`` too."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_mock_config(text, node_name)
