"""``kubectl exec`` and exec probes/hooks: a new process in a container's environment.

The process gets the container's environment, working directory and user, and (with
``isolation: namespaces``) the pod's namespaces, through the same argv wrapping the container
itself was started with.  With a TTY it runs on a fresh pseudo-terminal as its controlling
terminal (``setsid --ctty``), and the client's window size changes are applied to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import pty
import struct
import subprocess
import termios
from collections.abc import Mapping, Sequence
from typing import Any

import trio

from vk_trio.provider import AttachIO, TermSize

__all__ = ["ExecTarget", "capture", "interactive"]


class ExecTarget:
    """Where and as whom a command runs (argv already wrapped into the pod's namespaces)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        cwd: str,
        user: int | None,
        group: int | None,
    ) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.user = user
        self.group = group

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"env": self.env, "cwd": self.cwd}
        if self.user is not None:
            options["user"] = self.user
            options["extra_groups"] = []
        if self.group is not None:
            options["group"] = self.group
        return options


async def capture(argv: Sequence[str], target: ExecTarget, timeout: float) -> tuple[int, bytes]:
    """Run to completion within ``timeout``: ``(exit code, stdout+stderr)``; -1 on timeout or
    when it cannot start."""
    with trio.move_on_after(timeout):
        try:
            result = await trio.run_process(
                list(argv),
                stdin=subprocess.DEVNULL,
                capture_stdout=True,
                stderr=subprocess.STDOUT,
                check=False,
                start_new_session=True,
                **target.options(),
            )
        except OSError as exc:
            return -1, str(exc).encode()
        return result.returncode, result.stdout
    return -1, f"command timed out after {timeout:g}s".encode()


async def _copy_in(
    source: trio.abc.ReceiveStream, sink: trio.abc.SendStream, *, close: bool = True
) -> None:
    """Client stdin into the process; closes the process side at the end of input (``close``;
    not for a terminal, whose one descriptor also carries the output)."""
    try:
        while chunk := await source.receive_some(65536):
            await sink.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        if close:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await sink.aclose()


async def _copy_out(
    source: trio.abc.ReceiveStream,
    sink: trio.abc.SendStream | None,
    done: trio.Event | None = None,
) -> None:
    try:
        while chunk := await source.receive_some(65536):
            if sink is not None:
                await sink.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # a terminal reads EIO once the process side is closed: that is the end
    finally:
        if done is not None:
            done.set()


def _resize(fd: int, size: TermSize) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))


async def _resizes(fd: int, sizes: trio.MemoryReceiveChannel[TermSize]) -> None:
    async for size in sizes:
        _resize(fd, size)


async def interactive(argv: Sequence[str], target: ExecTarget, io: AttachIO) -> int:
    """Run with the client's streams attached; the exit code."""
    if io.tty:
        return await _with_tty(argv, target, io)
    process = await trio.lowlevel.open_process(
        list(argv),
        stdin=subprocess.PIPE if io.stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **target.options(),
    )
    try:
        async with trio.open_nursery() as nursery:
            if io.stdin is not None and process.stdin is not None:
                nursery.start_soon(_copy_in, io.stdin, process.stdin)
            async with trio.open_nursery() as outputs:
                assert process.stdout is not None and process.stderr is not None
                outputs.start_soon(_copy_out, process.stdout, io.stdout)
                outputs.start_soon(_copy_out, process.stderr, io.stderr)
            code = await process.wait()
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                await process.wait()
    return code


async def _with_tty(argv: Sequence[str], target: ExecTarget, io: AttachIO) -> int:
    master, slave = pty.openpty()
    _resize(master, TermSize(80, 24))
    try:
        process = await trio.lowlevel.open_process(
            ["setsid", "--ctty", *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            **target.options(),
        )
    finally:
        os.close(slave)
    stream = trio.lowlevel.FdStream(master)
    try:
        async with trio.open_nursery() as nursery:
            if io.resize is not None:
                nursery.start_soon(_resizes, master, io.resize)
            if io.stdin is not None:
                nursery.start_soon(functools.partial(_copy_in, io.stdin, stream, close=False))
            output_done = trio.Event()
            nursery.start_soon(_copy_out, stream, io.stdout, output_done)
            code = await process.wait()
            # what is still buffered on the terminal, then done
            with trio.move_on_after(2):
                await output_done.wait()
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
                await process.wait()
            with contextlib.suppress(OSError, trio.ClosedResourceError):
                await stream.aclose()
    return code
