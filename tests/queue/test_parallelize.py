"""parallelize: N workers over pieces, cancellation, errors propagated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
import trio.testing

from vk_trio.queue import parallelize


async def test_every_piece_once_with_at_most_n_at_a_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    active = 0
    peak = 0
    done: list[int] = []

    async def work(piece: int) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await trio.sleep(1)
        active -= 1
        done.append(piece)

    await parallelize(range(10), work, workers=4)
    assert sorted(done) == list(range(10))
    assert peak == 4
    assert trio.current_time() == 3  # ceil(10 / 4) rounds of 1 s


async def test_a_generator_is_consumed_lazily(autojump_clock: trio.testing.MockClock) -> None:
    taken: list[int] = []

    def pieces() -> Iterator[int]:
        for n in range(100):
            taken.append(n)
            yield n

    started: list[int] = []

    async def work(piece: int) -> None:
        started.append(piece)
        await trio.sleep(1)

    with trio.move_on_after(1.5):
        await parallelize(pieces(), work, workers=3)
    # After 1.5 s: the first three finished, the next three started; nothing more was taken.
    assert started == [0, 1, 2, 3, 4, 5]
    assert taken == started


async def test_cancellation_stops_the_pieces_in_flight_and_the_rest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    finished: list[int] = []

    async def work(piece: int) -> None:
        await trio.sleep(10)
        finished.append(piece)  # pragma: no cover - never reached

    with trio.move_on_after(5) as scope:
        await parallelize(list(range(50)), work, workers=8)
    assert scope.cancelled_caught
    assert finished == []


async def test_the_first_error_stops_everything_and_propagates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    started: list[int] = []
    finished: list[int] = []

    async def work(piece: int) -> None:
        started.append(piece)
        await trio.sleep(piece)
        if piece == 2:
            raise ValueError(f"piece {piece} is bad")
        finished.append(piece)

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="piece 2 is bad")):
        await parallelize(range(1, 100), work, workers=3)
    assert finished == [1]  # piece 3 was in flight and got cancelled
    assert started == [1, 2, 3, 4]
    assert trio.current_time() == 2


async def test_fewer_pieces_than_workers_and_no_pieces() -> None:
    seen: list[str] = []

    async def work(piece: str) -> None:
        await trio.lowlevel.checkpoint()
        seen.append(piece)

    await parallelize(["a", "b"], work, workers=16)
    assert sorted(seen) == ["a", "b"]
    await parallelize([], work, workers=16)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        await parallelize(["a"], work, workers=0)
