"""Probe and hook actions: ``exec``, ``httpGet``, ``tcpSocket`` against a local process.

Pods share the host network, so every address is ``127.0.0.1`` unless ``host`` says otherwise.
An action returns ``(ok, message)``; it never raises for a failing target (a refused connection,
a non-2xx/3xx answer, a non-zero exit and a timeout are all just "failed").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, final

import attrs
import trio

__all__ = ["ProbeAction", "ProbeSpec", "run_action"]

ExecRunner = Callable[[Sequence[str], float], Awaitable[tuple[int, bytes]]]
"""Runs a command in the container's environment with a timeout: ``(exit code, output)``."""

DEFAULT_HOST: Final = "127.0.0.1"


@final
@attrs.frozen(kw_only=True)
class ProbeSpec:
    """A probe's timing, with the kubelet's defaults."""

    action: Mapping[str, Any]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_dict(cls, probe: Mapping[str, Any]) -> ProbeSpec:
        return cls(
            action=probe,
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


ProbeAction = Mapping[str, Any]


def _port(value: Any, ports: Mapping[str, int]) -> int:
    if isinstance(value, int):
        return value
    if str(value).isdigit():
        return int(value)
    if value in ports:
        return ports[value]
    raise ValueError(f"port {value!r} is not a number nor a named container port")


async def _http_get(
    spec: Mapping[str, Any], ports: Mapping[str, int], timeout: float
) -> tuple[bool, str]:
    host = spec.get("host") or DEFAULT_HOST
    port = _port(spec.get("port"), ports)
    path = spec.get("path") or "/"
    headers = "".join(
        f"{h.get('name')}: {h.get('value', '')}\r\n" for h in spec.get("httpHeaders") or ()
    )
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/vk-trio\r\n"
        f"{headers}Connection: close\r\n\r\n"
    ).encode()
    with trio.move_on_after(timeout) as scope:
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            return False, f"Get http://{host}:{port}{path}: {exc.strerror or exc}"
        async with stream:
            await stream.send_all(request)
            head = b""
            while b"\r\n" not in head and len(head) < 4096:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                head += chunk
    if scope.cancelled_caught:
        return False, f"Get http://{host}:{port}{path}: timeout after {timeout:g}s"
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f"Get http://{host}:{port}{path}: malformed answer"
    code = int(parts[1])
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def _tcp(
    spec: Mapping[str, Any], ports: Mapping[str, int], timeout: float
) -> tuple[bool, str]:
    host = spec.get("host") or DEFAULT_HOST
    port = _port(spec.get("port"), ports)
    with trio.move_on_after(timeout):
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            return False, f"dial tcp {host}:{port}: {exc.strerror or exc}"
        await stream.aclose()
        return True, ""
    return False, f"dial tcp {host}:{port}: timeout after {timeout:g}s"


async def run_action(
    action: Mapping[str, Any], *, ports: Mapping[str, int], timeout: float, run_exec: ExecRunner
) -> tuple[bool, str]:
    """Run the ``exec``/``httpGet``/``tcpSocket`` part of a probe or hook."""
    try:
        if "exec" in action:
            command = list((action["exec"] or {}).get("command") or ())
            if not command:
                return False, "exec action without a command"
            code, output = await run_exec(command, timeout)
            return code == 0, output.decode(errors="replace").strip()[-1024:]
        if "httpGet" in action:
            return await _http_get(action["httpGet"] or {}, ports, timeout)
        if "tcpSocket" in action:
            return await _tcp(action["tcpSocket"] or {}, ports, timeout)
    except (ValueError, OSError) as exc:
        return False, str(exc)
    return False, "no supported action (exec, httpGet, tcpSocket)"
