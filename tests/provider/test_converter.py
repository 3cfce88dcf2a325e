"""Naming and time rules of the converter."""

from datetime import UTC, datetime

import pytest

from vk_trio.provider import format_time, parse_time
from vk_trio.provider._converter import camel_case


@pytest.mark.parametrize(
    ("snake", "camel"),
    [
        ("phase", "phase"),
        ("host_ip", "hostIP"),
        ("pod_ips", "podIPs"),
        ("image_id", "imageID"),
        ("container_id", "containerID"),
        ("restart_count", "restartCount"),
        ("last_transition_time", "lastTransitionTime"),
        ("usage_nano_cores", "usageNanoCores"),
        ("qos_class", "qosClass"),
    ],
)
def test_camel_case_uses_kubernetes_initialisms(snake: str, camel: str) -> None:
    assert camel_case(snake) == camel


def test_format_time_truncates_to_seconds_in_utc() -> None:
    assert format_time(datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)) == "2024-01-02T03:04:05Z"


def test_parse_time_accepts_z_fractions_and_datetimes() -> None:
    expected = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_time("2024-01-02T03:04:05Z") == expected
    assert parse_time("2024-01-02T03:04:05.000000Z") == expected
    assert parse_time(expected) is expected
    assert parse_time(datetime(2024, 1, 2, 3, 4, 5)) == expected


def test_parse_time_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="invalid time 'soon'"):
        parse_time("soon")
    with pytest.raises(TypeError, match="invalid time 5"):
        parse_time(5)
