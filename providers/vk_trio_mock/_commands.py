"""The mock's "container": a handful of built-in commands for ``kubectl exec`` and ``attach``.

=================  ==========================================================================
command            does
=================  ==========================================================================
``echo ARGS``      prints ARGS on stdout
``echoerr ARGS``   prints ARGS on stderr (stdout when the session has no stderr, as with a tty)
``cat``            copies stdin to stdout until stdin ends
``env``            prints ``NAME=value`` for the container's literal ``env`` entries and HOSTNAME
``exit N``         ends with exit code N
``sleep S``        waits S seconds (trio's clock)
``size``           prints the terminal size (``COLSxROWS``) from the latest resize
``sh``/``bash``    ``-c "a; b"`` runs the commands in turn; without ``-c`` an interactive
                   line-echo shell: each line is run if it is one of these commands, else
                   echoed back; with a tty it echoes keystrokes, shows a ``$ `` prompt and
                   takes ``\\r`` as Enter
=================  ==========================================================================

Anything else prints ``<name>: command not found`` on stderr and exits 127, like a shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import final

import trio

from vk_trio.provider import AttachIO, ContainerExitError, TermSize

__all__ = ["COMMANDS", "MockProcess"]


class _ShellExit(Exception):
    """``exit`` (code 0) typed into the interactive shell."""


COMMANDS = ("echo", "echoerr", "cat", "env", "exit", "sleep", "size", "sh", "bash")
_SHELLS = ("sh", "bash")


@final
class MockProcess:
    """One exec/attach session of the mock container."""

    def __init__(self, io: AttachIO, env: Mapping[str, str]) -> None:
        self._io = io
        self._env = env
        self._size: TermSize | None = None
        self._newline = b"\r\n" if io.tty else b"\n"

    async def run(self, command: Sequence[str]) -> None:
        """Run ``command`` to completion; :class:`ContainerExitError` for a non-zero exit."""
        failure: ContainerExitError | None = None
        async with trio.open_nursery() as nursery:
            if self._io.resize is not None:
                nursery.start_soon(self._track_resize, self._io.resize)
            try:
                await self._run(command, interactive=True)
            except ContainerExitError as exc:
                # Raised outside the nursery so callers see it bare, not in an ExceptionGroup.
                failure = exc
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def attach(self) -> None:
        """What ``kubectl attach`` meets: the interactive shell on stdin, or, without stdin,
        a process that prints nothing more until the client leaves."""
        await self._write(b"mock container attached" + self._newline)
        if self._io.stdin is None:
            await trio.sleep_forever()
        await self.run(["sh"])

    async def _track_resize(self, sizes: trio.MemoryReceiveChannel[TermSize]) -> None:
        async for size in sizes:
            self._size = size

    async def _write(self, data: bytes, *, error: bool = False) -> None:
        target = self._io.stderr if error and self._io.stderr is not None else self._io.stdout
        if target is None:
            await trio.lowlevel.checkpoint()
            return
        await target.send_all(data)

    async def _line(self, text: str, *, error: bool = False) -> None:
        await self._write(text.encode() + self._newline, error=error)

    async def _run(self, argv: Sequence[str], *, interactive: bool) -> None:
        if not argv:
            raise ContainerExitError(127, "no command given")
        name, args = argv[0], list(argv[1:])
        if name == "echo":
            await self._line(" ".join(args))
        elif name == "echoerr":
            await self._line(" ".join(args), error=True)
        elif name == "cat":
            await self._cat()
        elif name == "env":
            for key, value in self._env.items():
                await self._line(f"{key}={value}")
        elif name == "exit":
            code = self._exit_code(args)
            if code:
                raise ContainerExitError(code)
        elif name == "sleep":
            await self._sleep(args)
        elif name == "size":
            size = self._size
            await self._line("unknown" if size is None else f"{size.width}x{size.height}")
        elif name in _SHELLS:
            if len(args) >= 2 and args[0] == "-c":
                for statement in args[1].split(";"):
                    await self._run(shlex.split(statement), interactive=False)
            elif interactive:
                await self._shell()
        else:
            await self._line(f"{name}: command not found", error=True)
            raise ContainerExitError(127, f"{name}: command not found")

    def _exit_code(self, args: Sequence[str]) -> int:
        if not args:
            return 0
        try:
            return int(args[0]) & 0xFF
        except ValueError:
            return 2

    async def _sleep(self, args: Sequence[str]) -> None:
        try:
            seconds = float(args[0]) if args else 0.0
        except ValueError:
            await self._line(f"sleep: invalid time interval {args[0]!r}", error=True)
            raise ContainerExitError(1, "sleep: invalid time interval") from None
        await trio.sleep(max(seconds, 0.0))

    async def _cat(self) -> None:
        stdin, stdout = self._io.stdin, self._io.stdout
        if stdin is None:
            await trio.lowlevel.checkpoint()
            return
        while data := await stdin.receive_some():
            if stdout is not None:
                await stdout.send_all(data)

    async def _shell(self) -> None:
        stdin = self._io.stdin
        if stdin is None:
            await trio.lowlevel.checkpoint()
            return
        prompt = b"$ " if self._io.tty else b""
        await self._write(prompt)
        try:
            await self._read_lines(stdin, prompt)
        except _ShellExit:
            return

    async def _read_lines(self, stdin: trio.abc.ReceiveStream, prompt: bytes) -> None:
        tty = self._io.tty
        buffer = b""
        while received := await stdin.receive_some():
            data = bytes(received)
            if tty:
                # A terminal echoes what is typed; Enter arrives as "\r".
                await self._write(data.replace(b"\r", b"\r\n"))
                data = data.replace(b"\r", b"\n")
            buffer += data
            while b"\n" in buffer:
                raw, _, buffer = buffer.partition(b"\n")
                line = raw.decode(errors="replace").strip()
                if line:
                    await self._shell_line(line)
                await self._write(prompt)

    async def _shell_line(self, line: str) -> None:
        try:
            argv = shlex.split(line)
        except ValueError:
            argv = []
        if argv and argv[0] == "exit":
            code = self._exit_code(argv[1:])
            if code:
                raise ContainerExitError(code)
            raise _ShellExit
        if argv and argv[0] in COMMANDS and argv[0] not in (*_SHELLS, "cat"):
            await self._run(argv, interactive=False)
        else:
            await self._line(line)
