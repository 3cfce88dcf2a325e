"""Which pod conditions the node writes, and how readiness gates fold into ``Ready``.

A pod's ``status.conditions`` has several writers: the API server's binding sets
``PodScheduled``, the kubelet owns ``Initialized``, ``ContainersReady``, ``Ready`` and
``PodReadyToStartContainers``, the disruption and eviction machinery adds ``DisruptionTarget``,
and anything named in ``spec.readinessGates`` (a load balancer's target health, a rollout tool's
flag) belongs to the controller that gates on it. The kubelet writes only its own types and
keeps every other entry as it finds it; we do the same, so a provider that reports no
conditions, stale copies of others' conditions, or conditions of other types cannot erase or
roll back what another controller wrote.

``PodScheduled`` is written when the provider reports it (as the kubelet does) but never
removed when it does not: the binding put it there, and a provider that reports only a phase
must not take it away.

Readiness gates: like the kubelet, ``Ready`` is ``True`` only when the provider says the pod is
ready *and* every gate's condition is ``True``; otherwise it is ``False`` with reason
``ReadinessGatesNotReady``. A gate's condition changing therefore changes the ``Ready`` we want,
which is what makes the pod controller write again when another client flips a gate.

Transition times follow the kubelet too: an unchanged status keeps the time already on the API
object, a changed one takes the provider's time if it gave one, else now. For ``Ready`` of a
gated pod the provider's time is ignored, because the provider cannot know when a gate flipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..util import Now, format_time, utc_now

__all__ = [
    "KUBELET_CONDITION_TYPES",
    "NEVER_REMOVED_CONDITION_TYPES",
    "READINESS_GATES_NOT_READY",
    "desired_conditions",
    "readiness_gates",
]

KUBELET_CONDITION_TYPES: Final = frozenset(
    {"PodScheduled", "Initialized", "ContainersReady", "Ready", "PodReadyToStartContainers"}
)
"""The condition types whose value comes from the provider; every other type is left alone."""

NEVER_REMOVED_CONDITION_TYPES: Final = frozenset({"PodScheduled"})
"""Owned types that stay when the provider stops reporting them (set by the API server first)."""

READINESS_GATES_NOT_READY: Final = "ReadinessGatesNotReady"


def readiness_gates(pod: Mapping[str, Any]) -> tuple[str, ...]:
    """The condition types named in ``spec.readinessGates``, in order."""
    gates = (pod.get("spec") or {}).get("readinessGates") or ()
    return tuple(
        str(gate["conditionType"])
        for gate in gates
        if isinstance(gate, Mapping) and gate.get("conditionType")
    )


def _by_type(conditions: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("type") is not None:
            out.setdefault(str(condition["type"]), condition)
    return out


def _gate_problem(gates: Sequence[str], current: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why the readiness gates hold the pod back, or ``None`` when they are all ``True``."""
    problems = []
    for gate in gates:
        condition = current.get(gate)
        if condition is None:
            problems.append(f'readiness gate "{gate}" has no condition yet')
        elif condition.get("status") != "True":
            problems.append(f'readiness gate "{gate}" is {condition.get("status")}, not True')
    return "; ".join(problems) or None


def _with_transition_time(
    wanted: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    now: Now,
    *,
    trust_provider_time: bool,
) -> dict[str, Any]:
    condition = dict(wanted)
    if old is not None and old.get("status") == condition.get("status"):
        if old.get("lastTransitionTime"):
            condition["lastTransitionTime"] = old["lastTransitionTime"]
        return condition
    if not (trust_provider_time and condition.get("lastTransitionTime")):
        condition["lastTransitionTime"] = format_time(now())
    return condition


def desired_conditions(
    current: Sequence[Any],
    reported: Sequence[Any],
    gates: Sequence[str] = (),
    now: Now = utc_now,
) -> list[Any]:
    """``status.conditions`` as the node wants it: others' entries untouched and in place, the
    owned types as the provider reports them (gates folded into ``Ready``), new ones appended.

    ``now`` is called only when a condition's status changes, so the result is the same from
    one call to the next whenever nothing needs writing.
    """
    old = _by_type(current)
    wanted = {
        kind: condition
        for kind, condition in _by_type(reported).items()
        if kind in KUBELET_CONDITION_TYPES
    }
    ready = wanted.get("Ready")
    if ready is not None and gates:
        problem = _gate_problem(gates, old)
        if ready.get("status") == "True" and problem is not None:
            ready = {
                "type": "Ready",
                "status": "False",
                "reason": READINESS_GATES_NOT_READY,
                "message": problem,
            }
        wanted["Ready"] = _with_transition_time(
            ready, old.get("Ready"), now, trust_provider_time=False
        )
    for kind, condition in wanted.items():
        if kind != "Ready" or not gates:
            wanted[kind] = _with_transition_time(
                condition, old.get(kind), now, trust_provider_time=True
            )
    out: list[Any] = []
    for condition in current:
        owner = condition.get("type") if isinstance(condition, Mapping) else None
        if owner in wanted:
            out.append(wanted.pop(owner))
        elif owner not in KUBELET_CONDITION_TYPES or owner in NEVER_REMOVED_CONDITION_TYPES:
            out.append(condition)
        # else: an owned type the provider no longer reports is dropped
    out.extend(wanted.values())
    return out
