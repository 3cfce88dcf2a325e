"""The mock container's built-in commands, driven through exec/attach with memory streams."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
import trio.testing

from vk_trio.provider import AttachIO, ContainerExitError, Pod, TermSize
from vk_trio.provider.types import Container, EnvVar
from vk_trio_mock import MockProvider


def pod() -> Pod:
    env: list[EnvVar] = [{"name": "GREETING", "value": "hi"}, {"name": "EMPTY"}]
    env.append({"name": "FROM", "valueFrom": {"fieldRef": {"fieldPath": "x"}}})
    container: Container = {"name": "app", "env": env}
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [container]}}


class Session:
    """Memory streams standing in for the client's stdin/stdout/stderr."""

    def __init__(self, *, stdin: bool = False, stderr: bool = True, tty: bool = False) -> None:
        self.stdout_in, self.stdout_out = _pipe()
        self.stderr_in, self.stderr_out = _pipe()
        self.stdin_in, self.stdin_out = _pipe()
        self.resize_send, resize_receive = trio.open_memory_channel[TermSize](4)
        self.io = AttachIO(
            stdin=self.stdin_out if stdin else None,
            stdout=self.stdout_in,
            stderr=self.stderr_in if stderr else None,
            tty=tty,
            resize=resize_receive if tty else None,
        )


def _pipe() -> tuple[trio.abc.SendStream, trio.abc.ReceiveStream]:
    send, receive = trio.testing.memory_stream_one_way_pair()
    return send, receive


async def drain(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while True:
        with trio.move_on_after(0.01):
            chunk = await stream.receive_some()
            if not chunk:
                return data
            data += chunk
            continue
        return data


async def run(command: Sequence[str], session: Session | None = None) -> tuple[bytes, bytes]:
    session = session or Session()
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    await mock.run_in_container("ns", "p", "app", command, session.io)
    return await drain(session.stdout_out), await drain(session.stderr_out)


async def test_echo_and_echoerr() -> None:
    assert await run(["echo", "hello", "world"]) == (b"hello world\n", b"")
    assert await run(["echoerr", "oops"]) == (b"", b"oops\n")
    # Without stderr (a tty session) errors go to stdout.
    assert await run(["echoerr", "oops"], Session(stderr=False)) == (b"oops\n", b"")


async def test_env_prints_literal_values_and_hostname() -> None:
    out, _ = await run(["env"])
    assert out == b"HOSTNAME=p\nGREETING=hi\nEMPTY=\n"


async def test_exit_codes() -> None:
    assert await run(["exit", "0"]) == (b"", b"")
    with pytest.raises(ContainerExitError) as info:
        await run(["exit", "3"])
    assert info.value.exit_code == 3
    with pytest.raises(ContainerExitError) as info:
        await run(["exit", "x"])
    assert info.value.exit_code == 2


async def test_unknown_command_is_127_with_a_message() -> None:
    session = Session()
    with pytest.raises(ContainerExitError) as info:
        await run(["ls", "-l"], session)
    assert info.value.exit_code == 127
    assert await drain(session.stderr_out) == b"ls: command not found\n"
    with pytest.raises(ContainerExitError):
        await run([])


async def test_sleep_uses_trios_clock(autojump_clock: trio.testing.MockClock) -> None:
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    start = trio.current_time()
    await mock.run_in_container("ns", "p", "app", ["sleep", "7.5"], Session().io)
    assert trio.current_time() - start == pytest.approx(7.5)
    with pytest.raises(ContainerExitError):
        await run(["sleep", "soon"])


async def test_cat_copies_stdin_until_eof() -> None:
    session = Session(stdin=True)
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(mock.run_in_container, "ns", "p", "app", ["cat"], session.io)
        await session.stdin_in.send_all(b"one\n")
        assert await session.stdout_out.receive_some() == b"one\n"
        await session.stdin_in.send_all(b"two")
        assert await session.stdout_out.receive_some() == b"two"
        await session.stdin_in.aclose()


async def test_sh_dash_c_runs_statements_in_turn() -> None:
    out, err = await run(["sh", "-c", "echo a; echoerr b; echo 'c d'"])
    assert (out, err) == (b"a\nc d\n", b"b\n")
    with pytest.raises(ContainerExitError) as info:
        await run(["sh", "-c", "echo before; exit 4; echo after"])
    assert info.value.exit_code == 4


async def test_interactive_shell_with_tty_echoes_prompts_and_tracks_resize() -> None:
    session = Session(stdin=True, stderr=False, tty=True)
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    async with trio.open_nursery() as nursery:

        async def shell() -> None:
            with pytest.raises(ContainerExitError) as info:
                await mock.run_in_container("ns", "p", "app", ["sh"], session.io)
            assert info.value.exit_code == 5

        nursery.start_soon(shell)
        assert await drain(session.stdout_out) == b"$ "
        await session.resize_send.send(TermSize(120, 40))
        await trio.testing.wait_all_tasks_blocked()
        await session.stdin_in.send_all(b"size\r")
        assert await drain(session.stdout_out) == b"size\r\n120x40\r\n$ "
        await session.stdin_in.send_all(b"hello there\r")
        assert await drain(session.stdout_out) == b"hello there\r\nhello there\r\n$ "
        await session.stdin_in.send_all(b"exit 5\r")


async def test_interactive_shell_without_tty_and_exit_zero() -> None:
    session = Session(stdin=True)
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(mock.run_in_container, "ns", "p", "app", ["bash"], session.io)
        await session.stdin_in.send_all(b"abc\necho x\n\n")
        await trio.testing.wait_all_tasks_blocked()
        await session.stdin_in.send_all(b"exit\nnot run\n")
    assert await drain(session.stdout_out) == b"abc\nx\n"


async def test_attach_without_stdin_waits_for_the_client(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = Session()
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    with trio.move_on_after(1000) as scope:
        await mock.attach_to_container("ns", "p", "app", session.io)
    assert scope.cancelled_caught
    assert await drain(session.stdout_out) == b"mock container attached\n"


async def test_attach_runs_the_shell_on_stdin() -> None:
    session = Session(stdin=True)
    mock = MockProvider(node_name="vk")
    await mock.create_pod(pod())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(mock.attach_to_container, "ns", "p", "app", session.io)
        await session.stdin_in.send_all(b"ping\n")
        await session.stdin_in.aclose()
    assert await drain(session.stdout_out) == b"mock container attached\nping\n"
