"""Environment resolution: turn a pod's ``env``/``envFrom`` into the flat list a container gets.

Providers run containers somewhere that knows nothing about ConfigMaps, Secrets or Services, so the
node does what the kubelet does before it starts a container: read the referenced objects (from the
informer caches, never from the API server directly), expand ``$(VAR)`` references, add the
service-link variables, and hand the provider a pod whose containers carry only ``{name, value}``
entries and an empty ``envFrom``.

The function is pure: the objects come through :class:`EnvSources`, and the events to emit come
back as values in :class:`EnvResult`, so the caller decides how to record them (every attempt, with
the pod as the involved object).

Differences from the Go Virtual Kubelet (see docs/differences.md):

* ``fieldRef`` to ``status.podIP``/``podIPs``/``hostIP``/``hostIPs``/``phase`` does not fail the
  pod: the entry stays as ``{name, valueFrom: {fieldRef}}`` for the provider to fill in, because
  only it knows where the pod runs (``apply_runtime_fields`` does that for a provider);
* ``resourceFieldRef`` is resolved like the kubelet does, unset limits defaulting to the node's
  allocatable amount, instead of being dropped silently;
* ``fieldRef.apiVersion`` may be omitted (the API server defaults it to ``v1`` anyway).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol, final

import attrs

from ._expansion import expand, mapping_for
from ._fieldref import FieldRefError, resolve_field_ref, resolve_resource_field_ref
from ._service_env import service_env, services_for_pod

__all__ = ["EnvEvent", "EnvResult", "EnvSources", "is_env_var_name", "resolve_pod_env"]

WARNING: Final = "Warning"
CONTAINER_GROUPS: Final = ("initContainers", "containers", "ephemeralContainers")

_ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class EnvSources(Protocol):
    """The caches env resolution reads. ``None`` means "does not exist"; an exception means the
    object could not be read (reported as ``FailedToRead…``)."""

    def get_config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def get_secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def list_services(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        """Every service of ``namespace`` (the resolver asks for the pod's and ``default``)."""
        ...


@final
@attrs.frozen
class EnvEvent:
    """An event to record against the pod (same reasons and messages as the Go version)."""

    type: str
    reason: str
    message: str


@final
@attrs.frozen
class EnvResult:
    """Outcome of :func:`resolve_pod_env`.

    ``pod`` is the resolved copy (``None`` when resolution failed); ``error`` the failure text (the
    Go version's error strings); ``reason`` the event reason of the failure.
    """

    pod: dict[str, Any] | None
    events: tuple[EnvEvent, ...] = ()
    error: str | None = None
    reason: str | None = None


class _Skip:
    """Marks an optional variable that is left out."""


_SKIP: Final = _Skip()


class _Failed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_env_var_name(name: str) -> bool:
    """Kubernetes' rule for names that may be used as environment variable names."""
    if name in (".", "..") or name.startswith(".."):
        return False
    return _ENV_VAR_NAME.match(name) is not None


def _decode_secret(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value


class _Kind:
    """What differs between ConfigMaps and Secrets in messages and decoding."""

    def __init__(self, label: str, title: str, decode: bool) -> None:
        self.label = label  # "configmap"
        self.title = title  # "ConfigMap"
        self.decode = decode

    def values(self, obj: Mapping[str, Any]) -> dict[str, str]:
        data: Mapping[str, str] = obj.get("data") or {}
        if self.decode:
            return {key: _decode_secret(value) for key, value in data.items()}
        return dict(data)


_CONFIG_MAP = _Kind("configmap", "ConfigMap", decode=False)
_SECRET = _Kind("secret", "Secret", decode=True)


@final
class _Resolver:
    def __init__(
        self,
        pod: Mapping[str, Any],
        sources: EnvSources,
        node_allocatable: Mapping[str, str],
    ) -> None:
        self.pod = pod
        self.sources = sources
        self.node_allocatable = node_allocatable
        meta = pod.get("metadata") or {}
        self.namespace: str = meta.get("namespace", "")
        self.pod_name: str = meta.get("name", "")
        self.events: list[EnvEvent] = []
        self._service_env: dict[str, str] | None = None

    def event(self, reason: str, message: str) -> None:
        self.events.append(EnvEvent(WARNING, reason, message))

    def fail(self, reason: str, event_message: str, error: str) -> _Failed:
        self.event(reason, event_message)
        return _Failed(reason, error)

    def services(self) -> dict[str, str]:
        if self._service_env is None:
            enable = (self.pod.get("spec") or {}).get("enableServiceLinks")
            enable_links = True if enable is None else bool(enable)
            master = list(self.sources.list_services("default"))
            own: list[Mapping[str, Any]] = []
            if enable_links:
                own = master if self.namespace == "default" else []
                own = own or list(self.sources.list_services(self.namespace))
            chosen = services_for_pod(self.namespace, enable_links, own, master)
            self._service_env = service_env(chosen)
        return self._service_env

    def _lookup(self, kind: _Kind, name: str) -> Mapping[str, Any] | None:
        if kind is _CONFIG_MAP:
            return self.sources.get_config_map(self.namespace, name)
        return self.sources.get_secret(self.namespace, name)

    def env_from(self, source: Mapping[str, Any], result: dict[str, str | None]) -> None:
        if "configMapRef" in source:
            kind, ref = _CONFIG_MAP, source["configMapRef"] or {}
        elif "secretRef" in source:
            kind, ref = _SECRET, source["secretRef"] or {}
        else:
            return
        name = str(ref.get("name", ""))
        optional = ref.get("optional") is True
        mode = "Optional" if optional else "Mandatory"
        try:
            obj = self._lookup(kind, name)
        except Exception as exc:
            reason = f"FailedToRead{mode}{kind.title}"
            message = f'failed to read {kind.label} "{name}"'
            if optional:
                self.event(reason, message)
                return
            raise self.fail(
                reason, message, f'failed to fetch {kind.label} "{name}": {exc}'
            ) from exc
        if obj is None:
            message = f'{kind.label} "{name}" not found'
            if optional:
                self.event(f"Optional{kind.title}NotFound", message)
                return
            raise self.fail(f"Mandatory{kind.title}NotFound", message, message)
        prefix = str(source.get("prefix") or "")
        invalid: list[str] = []
        for key, value in kind.values(obj).items():
            full = prefix + key
            if not is_env_var_name(full):
                invalid.append(full)
                continue
            result[full] = value
        if invalid:
            self.event(
                "InvalidEnvironmentVariableNames",
                f"keys [{', '.join(sorted(invalid))}] from {kind.label} {self.namespace}/{name} "
                "were skipped since they are invalid as environment variable names",
            )

    def key_ref(self, kind: _Kind, var: str, ref: Mapping[str, Any]) -> str | None:
        """The value of a configMapKeyRef/secretKeyRef; ``None`` = optional and skipped."""
        name = str(ref.get("name", ""))
        key = str(ref.get("key", ""))
        optional = ref.get("optional") is True
        mode = "Optional" if optional else "Mandatory"
        skip = f'skipping optional envvar "{var}": '
        try:
            obj = self._lookup(kind, name)
        except Exception as exc:
            reason = f"FailedToRead{mode}{kind.title}"
            message = f'failed to read {kind.label} "{name}"'
            if optional:
                self.event(reason, skip + message)
                return None
            raise self.fail(
                reason, message, f'failed to read {kind.label} "{name}": {exc}'
            ) from exc
        if obj is None:
            message = f'{kind.label} "{name}" not found'
            if optional:
                self.event(f"Optional{kind.title}NotFound", skip + message)
                return None
            raise self.fail(f"Mandatory{kind.title}NotFound", message, message)
        values = kind.values(obj)
        if key not in values:
            message = f'key "{key}" does not exist in {kind.label} "{name}"'
            if optional:
                self.event(f"Optional{kind.title}KeyNotFound", skip + message)
                return None
            raise self.fail(
                f"Mandatory{kind.title}KeyNotFound",
                message,
                f'{kind.label} "{name}" doesn\'t contain the "{key}" key required by pod '
                f"{self.pod_name}",
            )
        return values[key]

    def container(self, container: Mapping[str, Any]) -> list[dict[str, Any]]:
        # None marks a deferred entry (kept as valueFrom for the provider), so it is unknown to
        # $(VAR) expansion exactly like a missing variable.
        resolved: dict[str, str | None] = {}
        deferred: dict[str, dict[str, Any]] = {}
        for source in container.get("envFrom") or []:
            self.env_from(source, resolved)
        services = self.services()
        known = {name: value for name, value in resolved.items() if value is not None}
        for entry in container.get("env") or []:
            name = str(entry.get("name", ""))
            value_from: Mapping[str, Any] | None = entry.get("valueFrom")
            value: str | None
            if value_from is None:
                value = expand(str(entry.get("value") or ""), mapping_for(known, services))
            else:
                outcome = self.value_from(container, name, value_from)
                if isinstance(outcome, _Skip):
                    continue
                value = outcome
                if value is None:
                    deferred[name] = {"name": name, "valueFrom": dict(value_from)}
            resolved[name] = value
            if value is None:
                known.pop(name, None)
            else:
                deferred.pop(name, None)
                known[name] = value
        for name, value in services.items():
            resolved.setdefault(name, value)
        return [
            deferred[name] if value is None else {"name": name, "value": value}
            for name, value in resolved.items()
        ]

    def value_from(
        self, container: Mapping[str, Any], var: str, value_from: Mapping[str, Any]
    ) -> str | _Skip | None:
        """Resolve one ``valueFrom``: a value, ``None`` (deferred) or ``_SKIP`` (omitted)."""
        if value_from.get("configMapKeyRef") is not None:
            value = self.key_ref(_CONFIG_MAP, var, value_from["configMapKeyRef"])
            return _SKIP if value is None else value
        if value_from.get("secretKeyRef") is not None:
            value = self.key_ref(_SECRET, var, value_from["secretKeyRef"])
            return _SKIP if value is None else value
        if value_from.get("fieldRef") is not None:
            try:
                return resolve_field_ref(self.pod, value_from["fieldRef"])
            except FieldRefError as exc:
                raise self.fail("FailedToResolveFieldRef", str(exc), str(exc)) from exc
        if value_from.get("resourceFieldRef") is not None:
            try:
                return resolve_resource_field_ref(
                    self.pod, container, value_from["resourceFieldRef"], self.node_allocatable
                )
            except FieldRefError as exc:
                raise self.fail("FailedToResolveResourceFieldRef", str(exc), str(exc)) from exc
        self.event(
            "UnsupportedEnvironmentVariableSource",
            f'skipping envvar "{var}": unsupported valueFrom source {sorted(value_from)}',
        )
        return _SKIP


def resolve_pod_env(
    pod: Mapping[str, Any],
    sources: EnvSources,
    *,
    node_allocatable: Mapping[str, str] | None = None,
) -> EnvResult:
    """Resolve the env of every container of ``pod`` (init, regular, ephemeral, in that order).

    The returned pod is a copy sharing every part it does not change; the input is not modified.
    The first failure aborts the whole pod, as upstream. ``node_allocatable`` supplies the defaults
    for ``resourceFieldRef`` to unset limits.
    """
    resolver = _Resolver(pod, sources, node_allocatable or {})
    spec: Mapping[str, Any] = pod.get("spec") or {}
    new_spec = dict(spec)
    try:
        for group in CONTAINER_GROUPS:
            containers = spec.get(group)
            if not containers:
                continue
            new_spec[group] = [
                {**container, "env": resolver.container(container), "envFrom": []}
                for container in containers
            ]
    except _Failed as failure:
        return EnvResult(None, tuple(resolver.events), str(failure), failure.reason)
    return EnvResult({**pod, "spec": new_spec}, tuple(resolver.events))
