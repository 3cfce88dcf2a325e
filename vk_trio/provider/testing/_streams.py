"""The kubelet-API capabilities, driven through the same provider-facing stream interfaces the
kubelet API uses (:class:`~vk_trio.provider.AttachIO` of trio streams, a log
``ReceiveStream``, a port-forward ``Stream``), without any HTTP in between."""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio.testing

from .._errors import ContainerExitError
from .._stats import MetricFamily, summary_to_dict
from .._streaming import (
    AttachIO,
    AttachProvider,
    ContainerLogOptions,
    ContainerLogsProvider,
    ExecProvider,
    MetricsResourceProvider,
    PortForwardProvider,
    StatsSummaryProvider,
)
from ..types import Pod
from ._kit import Kit

__all__ = ["attach", "exec_", "logs", "metrics", "port_forward", "stats"]


def _container(pod: Pod) -> str:
    return pod["spec"]["containers"][0]["name"]


async def _read_all(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
    while data := await stream.receive_some():
        into += data


async def logs(kit: Kit) -> None:
    """``get_container_logs``: a stream that ends (without ``follow``) and whose reader can be
    cancelled (with ``follow``); an unknown pod is NotFoundError."""
    provider = kit.provider
    assert isinstance(provider, ContainerLogsProvider)
    pod = kit.pod("logs")
    namespace, name = await kit.create_running(pod)
    container = _container(pod)
    stream = await provider.get_container_logs(namespace, name, container, ContainerLogOptions())
    received = bytearray()
    with trio.move_on_after(kit.timeout) as scope:
        async with stream:
            await _read_all(stream, received)
    assert not scope.cancelled_caught, (
        f"the log stream without follow did not end within {kit.timeout:g} s"
    )
    expected = kit.settings.logs_contain
    if expected is not None:
        assert expected in bytes(received), f"the logs lack {expected!r}: {bytes(received)!r}"
    followed = await provider.get_container_logs(
        namespace, name, container, ContainerLogOptions(follow=True)
    )
    async with followed, trio.open_nursery() as nursery:
        nursery.start_soon(_read_all, followed, bytearray())
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()  # the client went away
    await kit.expect_not_found(
        "get_container_logs",
        lambda: provider.get_container_logs(
            namespace, f"{name}-unknown", container, ContainerLogOptions()
        ),
    )
    await kit.cleanup(pod)


async def exec_(kit: Kit) -> None:
    """``run_in_container``: output on stdout, input from stdin, a non-zero exit as
    ``ContainerExitError`` with its code; an unknown pod is NotFoundError."""
    provider = kit.provider
    assert isinstance(provider, ExecProvider)
    settings = kit.settings
    pod = kit.pod("exec")
    namespace, name = await kit.create_running(pod)
    container = _container(pod)

    async def run(command: Sequence[str], stdin: bytes | None) -> tuple[bytes, bytes, int]:
        return await _exec_session(
            kit, namespace=namespace, name=name, container=container, command=command, stdin=stdin
        )

    out, _err, code = await run(settings.exec_command, None)
    assert code == 0, f"exec {list(settings.exec_command)} exited with {code}"
    assert out == settings.exec_output, (
        f"exec {list(settings.exec_command)} wrote {out!r}, expected {settings.exec_output!r}"
    )
    out, _err, code = await run(settings.exec_stdin_command, b"line one\nline two\n")
    assert (out, code) == (b"line one\nline two\n", 0), (
        f"exec {list(settings.exec_stdin_command)} with stdin: stdout {out!r}, exit code {code}"
    )
    _out, _err, code = await run(settings.exec_failing_command, None)
    assert code == settings.exec_failing_code, (
        f"exec {list(settings.exec_failing_command)} exited with {code}, expected "
        f"{settings.exec_failing_code} (raise ContainerExitError(code) for a non-zero exit)"
    )
    await kit.expect_not_found(
        "run_in_container",
        lambda: provider.run_in_container(
            namespace, f"{name}-unknown", container, settings.exec_command, AttachIO()
        ),
    )
    await kit.cleanup(pod)


async def _exec_session(
    kit: Kit,
    *,
    namespace: str,
    name: str,
    container: str,
    command: Sequence[str],
    stdin: bytes | None,
) -> tuple[bytes, bytes, int]:
    provider = kit.provider
    assert isinstance(provider, ExecProvider)
    stdout_send, stdout_receive = trio.testing.memory_stream_one_way_pair()
    stderr_send, stderr_receive = trio.testing.memory_stream_one_way_pair()
    stdin_send, stdin_receive = trio.testing.memory_stream_one_way_pair()
    io = AttachIO(
        stdin=stdin_receive if stdin is not None else None, stdout=stdout_send, stderr=stderr_send
    )
    out, err = bytearray(), bytearray()
    code = 0
    with trio.fail_after(kit.timeout):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_read_all, stdout_receive, out)
            nursery.start_soon(_read_all, stderr_receive, err)
            if stdin is not None:
                await stdin_send.send_all(stdin)
                await stdin_send.aclose()  # the client closed stdin
            try:
                await provider.run_in_container(namespace, name, container, list(command), io)
            except ContainerExitError as exc:
                code = exc.exit_code
            finally:
                # what the kubelet API does after the call: close whatever is left
                await stdout_send.aclose()
                await stderr_send.aclose()
    return bytes(out), bytes(err), code


async def attach(kit: Kit) -> None:
    """``attach_to_container``: input reaches the main process and its output comes back;
    the client going away (cancellation) ends the call and leaves the pod running."""
    provider = kit.provider
    assert isinstance(provider, AttachProvider)
    settings = kit.settings
    pod = kit.pod("attach")
    namespace, name = await kit.create_running(pod)
    container = _container(pod)
    stdout_send, stdout_receive = trio.testing.memory_stream_one_way_pair()
    stdin_send, stdin_receive = trio.testing.memory_stream_one_way_pair()
    io = AttachIO(stdin=stdin_receive, stdout=stdout_send)
    out = bytearray()
    expect = settings.attach_output
    async with trio.open_nursery() as nursery:
        nursery.start_soon(provider.attach_to_container, namespace, name, container, io)
        await stdin_send.send_all(settings.attach_input)
        if expect is not None:
            with trio.move_on_after(kit.timeout):
                while expect not in out:
                    data = await stdout_receive.receive_some()
                    if not data:
                        break
                    out += data
            assert expect in out, f"attach: sent {settings.attach_input!r}, got {bytes(out)!r}"
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()  # the client went away
    assert await kit.known(namespace, name), "attach ended and the pod is gone"
    await kit.expect_not_found(
        "attach_to_container",
        lambda: provider.attach_to_container(namespace, f"{name}-unknown", container, AttachIO()),
    )
    await kit.cleanup(pod)


async def port_forward(kit: Kit) -> None:
    """``port_forward``: bytes flow both ways over one ``trio.abc.Stream`` and the call ends
    when the client closes; an unknown pod is NotFoundError."""
    provider = kit.provider
    assert isinstance(provider, PortForwardProvider)
    settings = kit.settings
    pod = kit.pod("forward")
    namespace, name = await kit.create_running(pod)
    client, server = trio.testing.memory_stream_pair()
    received = bytearray()
    with trio.fail_after(kit.timeout):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                provider.port_forward, namespace, name, settings.forward_port, server
            )
            await client.send_all(settings.forward_request)
            while len(received) < len(settings.forward_response):
                data = await client.receive_some()
                if not data:
                    break
                received += data
            await client.aclose()
    assert received.startswith(settings.forward_response), (
        f"port-forward to port {settings.forward_port}: sent {settings.forward_request!r}, "
        f"got {bytes(received)!r}, expected it to start with {settings.forward_response!r}"
    )
    _client, unknown = trio.testing.memory_stream_pair()
    await kit.expect_not_found(
        "port_forward",
        lambda: provider.port_forward(namespace, f"{name}-unknown", settings.forward_port, unknown),
    )
    await kit.cleanup(pod)


async def stats(kit: Kit) -> None:
    """``get_stats_summary``: the node and, eventually, the running pod, with its reference."""
    provider = kit.provider
    assert isinstance(provider, StatsSummaryProvider)
    pod = kit.pod("stats")
    namespace, name = await kit.create_running(pod)

    async def listed() -> bool:
        summary = summary_to_dict(await provider.get_stats_summary())
        assert isinstance(summary.get("node"), dict), "the stats summary has no node"
        assert summary["node"].get("nodeName"), "the stats summary's node has no nodeName"
        refs = [p.get("podRef") or {} for p in summary.get("pods") or []]
        return any((r.get("namespace"), r.get("name")) == (namespace, name) for r in refs)

    await kit.wait_for(f"the stats summary to list pod {namespace}/{name}", listed)
    await kit.cleanup(pod)


async def metrics(kit: Kit) -> None:
    """``get_metrics_resource``: metric families with names, types and samples."""
    provider = kit.provider
    assert isinstance(provider, MetricsResourceProvider)
    families = await provider.get_metrics_resource()
    assert all(isinstance(f, MetricFamily) for f in families), "not a sequence of MetricFamily"
    for family in families:
        assert family.name and family.type in ("counter", "gauge", "untyped"), family
