"""Go-compatible parsing and formatting: strconv.Atoi/ParseBool/Quote, RFC 3339, 'g' floats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vk_trio.util import (
    format_go_float,
    go_quote,
    parse_go_bool,
    parse_go_int,
    parse_rfc3339,
)
from vk_trio.util._time import _quote as time_quote


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("+7", 7), ("-12", -12), ("007", 7)])
def test_atoi_accepts(text: str, value: int) -> None:
    assert parse_go_int(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'strconv.Atoi: parsing "": invalid syntax'),
        (" 1", 'strconv.Atoi: parsing " 1": invalid syntax'),
        ("1e3", 'strconv.Atoi: parsing "1e3": invalid syntax'),
        ("٣", 'strconv.Atoi: parsing "٣": invalid syntax'),
        ("9223372036854775808", 'strconv.Atoi: parsing "9223372036854775808": value out of range'),
        (
            "-9223372036854775809",
            'strconv.Atoi: parsing "-9223372036854775809": value out of range',
        ),
    ],
)
def test_atoi_rejects_with_go_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_go_int(text)
    assert str(info.value) == message


def test_atoi_bounds() -> None:
    assert parse_go_int("9223372036854775807") == 2**63 - 1
    assert parse_go_int("-9223372036854775808") == -(2**63)


def test_parse_bool() -> None:
    for text in ("1", "t", "T", "TRUE", "true", "True"):
        assert parse_go_bool(text) is True
    for text in ("0", "f", "F", "FALSE", "false", "False"):
        assert parse_go_bool(text) is False
    with pytest.raises(ValueError) as info:
        parse_go_bool("yes")
    assert str(info.value) == 'strconv.ParseBool: parsing "yes": invalid syntax'


def test_go_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\n\t\r\x01\x7f") == '"\\n\\t\\r\\x01\\x7f"'
    assert go_quote("héllo ☃") == '"héllo ☃"'
    assert go_quote("\u200b") == '"\\u200b"'
    assert go_quote("plain") == '"plain"'
    assert go_quote("é ü") == '"é ü"'
    assert go_quote("\U000e0001") == '"\\U000e0001"'
    assert go_quote("\a\b\f\v") == '"\\a\\b\\f\\v"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        (
            "2024-01-02T03:04:05-07:30",
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=7, minutes=30))),
        ),
    ],
)
def test_rfc3339_accepts(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x", 'parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"'),
        (
            "2024-1-02T00:00:00Z",
            'parsing time "2024-1-02T00:00:00Z" as "2006-01-02T15:04:05Z07:00": '
            'cannot parse "1-02T00:00:00Z" as "01"',
        ),
        (
            "2024-01-02 00:00:00Z",
            'parsing time "2024-01-02 00:00:00Z" as "2006-01-02T15:04:05Z07:00": '
            'cannot parse " 00:00:00Z" as "T"',
        ),
        (
            "2024-01-02T00:00:00.Z",
            'parsing time "2024-01-02T00:00:00.Z" as "2006-01-02T15:04:05Z07:00": '
            'cannot parse ".Z" as "Z07:00"',
        ),
        (
            "2024-01-02T00:00:00+0100",
            'parsing time "2024-01-02T00:00:00+0100" as "2006-01-02T15:04:05Z07:00": '
            'cannot parse "+0100" as "Z07:00"',
        ),
        (
            "2024-01-02T00:00:00Zjunk",
            'parsing time "2024-01-02T00:00:00Zjunk": extra text: "junk"',
        ),
        ("2024-01-02T24:00:00Z", 'parsing time "2024-01-02T24:00:00Z": hour out of range'),
        ("2023-02-29T00:00:00Z", 'parsing time "2023-02-29T00:00:00Z": day out of range'),
    ],
)
def test_rfc3339_rejects_with_go_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_rfc3339(text)
    assert str(info.value) == message


@given(st.text(max_size=40))
def test_rfc3339_never_raises_anything_but_value_error(text: str) -> None:
    try:
        value = parse_rfc3339(text)
    except ValueError as exc:
        assert str(exc).startswith(f"parsing time {time_quote(text)}")
    else:
        assert value.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (100.0, "100"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (1.5e9, "1.5e+09"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (1e21, "1e+21"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_go_float_format(value: float, text: str) -> None:
    assert format_go_float(value) == text


@given(st.floats(allow_nan=False))
def test_go_float_round_trips(value: float) -> None:
    text = format_go_float(value)
    if text in ("+Inf", "-Inf"):
        assert abs(value) == float("inf")
    else:
        assert float(text) == value
