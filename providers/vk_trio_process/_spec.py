"""Reading a container's spec the way the process provider needs it (validated up front)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any, Final, final

import attrs

from vk_trio.provider import InvalidInputError

from ._probes import ProbeSpec
from ._quantity import parse_quantity

__all__ = ["DEFAULT_PATH", "ContainerSpec", "grace_period", "parse_containers"]

DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_GRACE: Final = 30.0


class ExecutableNotFound(Exception):
    """The command is not on PATH (a RunContainerError, handled like a crash)."""


@final
@attrs.frozen(kw_only=True)
class ContainerSpec:
    name: str
    image: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    working_dir: str | None
    user: int | None
    group: int | None
    stdin: bool
    tty: bool
    init: bool
    memory_limit: int | None
    cpu_limit_millis: int | None
    ports: Mapping[str, int]
    host_ports: tuple[int, ...]
    liveness: ProbeSpec | None
    readiness: ProbeSpec | None
    startup: ProbeSpec | None
    post_start: Mapping[str, Any] | None
    pre_stop: Mapping[str, Any] | None
    mounts: tuple[tuple[str, str, bool], ...]  # (volume name, mountPath, readOnly)

    def resolve(self) -> list[str]:
        """``argv`` with the program looked up on the container's (or the host's) PATH."""
        program = self.argv[0]
        if "/" in program:
            if not os.access(program, os.X_OK):
                raise ExecutableNotFound(f'exec: "{program}": no such executable file')
            return list(self.argv)
        found = shutil.which(program, path=self.env.get("PATH", DEFAULT_PATH))
        if found is None:
            raise ExecutableNotFound(f'exec: "{program}": executable file not found in $PATH')
        return [found, *self.argv[1:]]


def _ids(security: Mapping[str, Any] | None, pod_security: Mapping[str, Any]) -> tuple[Any, Any]:
    security = security or {}
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    group = security.get("runAsGroup", pod_security.get("runAsGroup"))
    return user, group


def _probe(container: Mapping[str, Any], key: str) -> ProbeSpec | None:
    probe = container.get(key)
    return ProbeSpec.from_dict(probe) if probe else None


def _container(
    c: Mapping[str, Any], pod_security: Mapping[str, Any], *, init: bool
) -> ContainerSpec:
    name = str(c.get("name") or "")
    where = f"container {name!r}"
    argv = [*(c.get("command") or ()), *(c.get("args") or ())]
    if not argv:
        raise InvalidInputError(
            f"{where}: no command: the process provider runs command/args on the host, "
            "it does not pull or run images"
        )
    if not all(isinstance(a, str) for a in argv):
        raise InvalidInputError(f"{where}: command and args must be strings")
    env: dict[str, str] = {}
    for entry in c.get("env") or ():
        if "valueFrom" in entry and "value" not in entry:
            raise InvalidInputError(f"{where}: env {entry.get('name')!r} was not resolved")
        env[str(entry["name"])] = str(entry.get("value", ""))
    user, group = _ids(c.get("securityContext"), pod_security)
    if (user is not None or group is not None) and os.geteuid() != 0:
        if (user is not None and int(user) != os.geteuid()) or (
            group is not None and int(group) != os.getegid()
        ):
            raise InvalidInputError(f"{where}: runAsUser/runAsGroup need vk-trio to run as root")
        user = group = None
    limits = (c.get("resources") or {}).get("limits") or {}
    try:
        memory = int(parse_quantity(limits["memory"])) if "memory" in limits else None
        cpu = int(parse_quantity(limits["cpu"]) * 1000) if "cpu" in limits else None
    except ValueError as exc:
        raise InvalidInputError(f"{where}: limits: {exc}") from exc
    ports: dict[str, int] = {}
    host_ports: list[int] = []
    for port in c.get("ports") or ():
        number = int(port.get("containerPort") or 0)
        if port.get("name"):
            ports[str(port["name"])] = number
        if port.get("hostPort") or number:
            host_ports.append(int(port.get("hostPort") or number))
    lifecycle = c.get("lifecycle") or {}
    mounts = tuple(
        (str(m["name"]), str(m["mountPath"]), bool(m.get("readOnly")))
        for m in c.get("volumeMounts") or ()
    )
    return ContainerSpec(
        name=name,
        image=str(c.get("image") or ""),
        argv=tuple(argv),
        env=env,
        working_dir=c.get("workingDir") or None,
        user=None if user is None else int(user),
        group=None if group is None else int(group),
        stdin=bool(c.get("stdin")),
        tty=bool(c.get("tty")),
        init=init,
        memory_limit=memory,
        cpu_limit_millis=cpu,
        ports=ports,
        host_ports=tuple(host_ports),
        liveness=_probe(c, "livenessProbe"),
        readiness=_probe(c, "readinessProbe"),
        startup=_probe(c, "startupProbe"),
        post_start=lifecycle.get("postStart"),
        pre_stop=lifecycle.get("preStop"),
        mounts=mounts,
    )


def parse_containers(pod: Mapping[str, Any]) -> tuple[list[ContainerSpec], list[ContainerSpec]]:
    """``(init containers, app containers)``; ``InvalidInputError`` for a spec that cannot run."""
    spec = pod.get("spec") or {}
    security = spec.get("securityContext") or {}
    inits = [_container(c, security, init=True) for c in spec.get("initContainers") or ()]
    apps = [_container(c, security, init=False) for c in spec.get("containers") or ()]
    if not apps:
        raise InvalidInputError("the pod has no containers")
    return inits, apps


def grace_period(pod: Mapping[str, Any]) -> float:
    meta = pod.get("metadata") or {}
    value = meta.get("deletionGracePeriodSeconds")
    if value is None:
        value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE if value is None else float(value)
