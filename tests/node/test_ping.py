"""The ping controller: cadence, first result, single flight, timeouts."""

import pytest
import trio
import trio.testing

from vk_trio.node._ping import PingController


async def test_pings_at_start_then_every_interval(autojump_clock: trio.testing.MockClock) -> None:
    times: list[float] = []

    async def ping() -> None:
        times.append(trio.current_time())

    controller = PingController(ping, interval=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(controller.run)
        first = await controller.first_result()
        assert first.ok
        await trio.sleep(35)
        nursery.cancel_scope.cancel()
    assert times == [0, 10, 20, 30]  # one ping at start, not two back to back
    assert controller.statistics().rounds == 4


async def test_readers_wait_for_the_first_result(autojump_clock: trio.testing.MockClock) -> None:
    async def slow_ping() -> None:
        await trio.sleep(3)

    controller = PingController(slow_ping, interval=10)
    assert controller.latest is None
    async with trio.open_nursery() as nursery:
        await nursery.start(controller.run)
        result = await controller.first_result()
        assert trio.current_time() == 3
        assert result.started_at == 0
        nursery.cancel_scope.cancel()


async def test_failures_are_results_and_recovery_is_seen(
    autojump_clock: trio.testing.MockClock,
) -> None:
    answers = [RuntimeError("down"), RuntimeError("still down"), None]

    async def ping() -> None:
        answer = answers.pop(0) if answers else None
        if answer is not None:
            raise answer

    controller = PingController(ping, interval=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(controller.run)
        first = await controller.first_result()
        assert isinstance(first.error, RuntimeError)
        assert str(first.error) == "down"
        second = await controller.wait_for_change()
        assert str(second.error) == "still down"
        third = await controller.wait_for_change()
        assert third.ok
        nursery.cancel_scope.cancel()
    assert controller.statistics().failures == 2


async def test_single_flight_with_timeout(autojump_clock: trio.testing.MockClock) -> None:
    in_flight = 0
    max_in_flight = 0
    release = trio.Event()

    async def hung_ping() -> None:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        try:
            await release.wait()
        finally:
            in_flight -= 1

    controller = PingController(hung_ping, interval=1, timeout=0.1)
    async with trio.open_nursery() as nursery:
        await nursery.start(controller.run)
        first = await controller.first_result()
        assert isinstance(first.error, TimeoutError)
        assert trio.current_time() == pytest.approx(0.1)
        await trio.sleep(10)  # many rounds pass while the first call hangs
        stats = controller.statistics()
        assert stats.calls_started == 1
        assert stats.in_flight
        assert stats.rounds >= 5
        release.set()
        result = await controller.wait_for_change()
        while not result.ok:
            result = await controller.wait_for_change()
        nursery.cancel_scope.cancel()
    assert max_in_flight == 1


def test_invalid_settings() -> None:
    async def ping() -> None:
        pass

    with pytest.raises(ValueError, match="interval"):
        PingController(ping, interval=0)
    with pytest.raises(ValueError, match="timeout"):
        PingController(ping, timeout=0)
