"""The mock's container logs: history, every kubectl logs option, follow on trio's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio
import trio.testing

from vk_trio.provider import ContainerLogOptions, InvalidInputError, Pod
from vk_trio_mock import MockConfig, MockLogs, MockProvider
from vk_trio_mock._logs import format_timestamp

CREATED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class WallClock:
    def __init__(self) -> None:
        self.now = CREATED

    def __call__(self) -> datetime:
        return self.now


def pod(name: str = "p", containers: tuple[str, ...] = ("app",)) -> Pod:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": "u"},
        "spec": {"containers": [{"name": c} for c in containers]},
    }


async def make(logs: MockLogs | None = None) -> tuple[MockProvider, WallClock]:
    clock = WallClock()
    config = MockConfig(logs=logs or MockLogs())
    mock = MockProvider(node_name="vk", config=config, wall_clock=clock)
    await mock.create_pod(pod(containers=("app", "side")))
    return mock, clock


async def read_all(stream: trio.abc.ReceiveStream, max_bytes: int | None = None) -> bytes:
    data = b""
    while chunk := await stream.receive_some(max_bytes):
        data += chunk
    return data


async def logs(mock: MockProvider, container: str = "app", **options: Any) -> str:
    stream = await mock.get_container_logs("ns", "p", container, ContainerLogOptions(**options))
    async with stream:
        return (await read_all(stream)).decode()


async def test_default_history_is_three_lines_per_container() -> None:
    mock, _ = await make()
    assert await logs(mock) == (
        "mock log line 1 of ns/p/app\nmock log line 2 of ns/p/app\nmock log line 3 of ns/p/app\n"
    )
    assert (await logs(mock, "side")).splitlines()[0] == "mock log line 1 of ns/p/side"


async def test_configured_lines_per_container_and_count() -> None:
    mock, _ = await make(MockLogs(lines=1, containers={"side": ("hello", "world")}))
    assert await logs(mock) == "mock log line 1 of ns/p/app\n"
    assert await logs(mock, "side") == "hello\nworld\n"


async def test_timestamps_are_a_minute_apart_ending_at_creation() -> None:
    mock, _ = await make()
    lines = (await logs(mock, timestamps=True)).splitlines()
    stamps = [line.split(" ", 1)[0] for line in lines]
    assert stamps == [
        "2024-05-01T11:58:00.000000000Z",
        "2024-05-01T11:59:00.000000000Z",
        "2024-05-01T12:00:00.000000000Z",
    ]
    assert lines[2].endswith(" mock log line 3 of ns/p/app")


async def test_tail_lines() -> None:
    mock, _ = await make()
    assert await logs(mock, tail_lines=2) == (
        "mock log line 2 of ns/p/app\nmock log line 3 of ns/p/app\n"
    )
    assert await logs(mock, tail_lines=0) == ""
    assert (await logs(mock, tail_lines=10)).count("\n") == 3


async def test_since_seconds_and_since_time() -> None:
    mock, clock = await make()
    clock.now = CREATED + timedelta(seconds=30)
    assert await logs(mock, since_seconds=45) == "mock log line 3 of ns/p/app\n"
    assert (await logs(mock, since_seconds=100)).count("\n") == 2
    since = CREATED - timedelta(minutes=1)
    assert (await logs(mock, since_time=since)).count("\n") == 2


async def test_limit_bytes_cuts_mid_line() -> None:
    mock, _ = await make()
    assert await logs(mock, limit_bytes=10) == "mock log l"


async def test_previous_is_refused_as_upstream() -> None:
    mock, _ = await make()
    with pytest.raises(InvalidInputError) as info:
        await mock.get_container_logs("ns", "p", "app", ContainerLogOptions(previous=True))
    assert str(info.value) == 'previous terminated container "app" in pod "p" not found'


async def test_small_reads_split_lines() -> None:
    mock, _ = await make()
    stream = await mock.get_container_logs("ns", "p", "app", ContainerLogOptions(tail_lines=1))
    assert await stream.receive_some(4) == b"mock"
    assert await read_all(stream) == b" log line 3 of ns/p/app\n"


async def test_follow_emits_a_line_per_interval_until_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    mock, clock = await make(MockLogs(lines=1, interval=2.0))
    stream = await mock.get_container_logs(
        "ns", "p", "app", ContainerLogOptions(follow=True, timestamps=True)
    )
    start = trio.current_time()
    first = await stream.receive_some()
    assert first.endswith(b" mock log line 1 of ns/p/app\n")
    assert trio.current_time() == start
    clock.now = CREATED + timedelta(seconds=2)
    second = await stream.receive_some()
    assert trio.current_time() == start + 2
    assert second == f"{format_timestamp(clock.now)} mock log line 2 of ns/p/app\n".encode()
    assert (await stream.receive_some()).endswith(b"line 3 of ns/p/app\n")
    assert trio.current_time() == start + 4
    await stream.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some()


async def test_follow_stops_at_the_byte_limit(autojump_clock: trio.testing.MockClock) -> None:
    mock, _ = await make(MockLogs(lines=0))
    stream = await mock.get_container_logs(
        "ns", "p", "app", ContainerLogOptions(follow=True, limit_bytes=40)
    )
    data = await read_all(stream)
    assert data == b"mock log line 1 of ns/p/app\nmock log lin"


async def test_close_while_following_is_seen_by_a_sleeping_reader(
    autojump_clock: trio.testing.MockClock,
) -> None:
    mock, _ = await make(MockLogs(lines=0, interval=10))
    stream = await mock.get_container_logs("ns", "p", "app", ContainerLogOptions(follow=True))
    async with trio.open_nursery() as nursery:

        async def reader() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await stream.receive_some()

        nursery.start_soon(reader)
        await trio.sleep(1)
        await stream.aclose()
