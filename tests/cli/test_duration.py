"""Go duration syntax."""

import pytest

from vk_trio.cli import DurationError, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("-0", 0.0),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("2h45m", 9900.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("+5s", 5.0),
        ("-1.5s", -1.5),
        ("1h0m0s", 3600.0),
        ("10us", 1e-5),
        ("10\u00b5s", 1e-5),
        ("7ns", 7e-9),
        (".5s", 0.5),
        ("1.s", 1.0),
        # whole nanoseconds, as Go counts them: below one is zero
        ("0.5ns", 0.0),
        ("0.0000000009s", 0.0),
        ("1.9ns", 1e-9),
        ("2562047h47m16.854775807s", 9223372036.854775807),
    ],
)
def test_valid(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'invalid duration "" (use e.g. 30s, 1m30s, 500ms)'),
        ("-", 'invalid duration "-" (use e.g. 30s, 1m30s, 500ms)'),
        ("abc", 'invalid duration "abc" (use e.g. 30s, 1m30s, 500ms)'),
        (".s", 'invalid duration ".s" (use e.g. 30s, 1m30s, 500ms)'),
        ("10", 'missing unit in duration "10" (use e.g. 10s)'),
        ("1m30", 'missing unit in duration "1m30" (use e.g. 30s)'),
        ("1d", 'unknown unit "d" in duration "1d" (units: ns, us, ms, s, m, h)'),
        ("5 s", 'unknown unit " s" in duration "5 s" (units: ns, us, ms, s, m, h)'),
        ("2562048h", 'duration "2562048h" is too long (at most about 292 years)'),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert str(info.value) == message
