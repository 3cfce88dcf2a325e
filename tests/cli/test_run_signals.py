"""The signal state machine of ``vk-trio run`` (in-process; the real-process tests are in
tests/e2e/test_cli_signals.py)."""

import signal

import trio
import trio.testing

from vk_trio.cli._run import Shutdown


async def test_first_signal_before_ready_cancels_the_start_up() -> None:
    shutdown = Shutdown()
    send, receive = trio.open_memory_channel[int](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(shutdown.watch, receive)
        with shutdown.scope:
            await send.send(signal.SIGTERM)
            await trio.sleep_forever()  # registration retrying against a dead API server
        nursery.cancel_scope.cancel()
    assert shutdown.scope.cancelled_caught
    assert shutdown.requested.is_set()
    assert not shutdown.forced


async def test_first_signal_once_ready_drains_and_a_second_forces() -> None:
    shutdown = Shutdown()
    stopped: list[str] = []
    send, receive = trio.open_memory_channel[int](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(shutdown.watch, receive)
        with shutdown.scope:
            shutdown.started(lambda: stopped.append("node"), lambda: stopped.append("server"))
            await send.send(signal.SIGINT)
            await shutdown.requested.wait()
            assert stopped == ["node", "server"]
            await trio.testing.wait_all_tasks_blocked()
            assert not shutdown.scope.cancel_called  # the drain is left to run
            await send.send(signal.SIGTERM)
            await trio.sleep_forever()  # a drain that does not finish
        nursery.cancel_scope.cancel()
    assert shutdown.forced
    assert stopped == ["node", "server"]


async def test_a_signal_racing_with_the_end_of_start_up_still_stops() -> None:
    shutdown = Shutdown()
    send, receive = trio.open_memory_channel[int](10)
    stopped: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(shutdown.watch, receive)
        await send.send(signal.SIGTERM)
        await shutdown.requested.wait()
        with shutdown.scope:
            pass  # cancelled already: nothing left to start
        shutdown.started(lambda: stopped.append("node"))
        nursery.cancel_scope.cancel()
    assert stopped == ["node"]
