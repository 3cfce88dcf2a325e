"""Quantity parsing and the kubelet's round-up arithmetic."""

from fractions import Fraction

import pytest

from vk_trio.node._quantity import QuantityError, ceil_milli_value, ceil_value, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Fraction(1)),
        ("100m", Fraction(1, 10)),
        ("0.1", Fraction(1, 10)),
        ("1.5Gi", Fraction(3 * 1024**3, 2)),
        ("128Mi", Fraction(128 * 1024**2)),
        ("2k", Fraction(2000)),
        ("2e3", Fraction(2000)),
        ("5E-3", Fraction(5, 1000)),
        ("250n", Fraction(250, 10**9)),
        ("1u", Fraction(1, 10**6)),
        ("-1", Fraction(-1)),
        (".5", Fraction(1, 2)),
        ("3Ei", Fraction(3 * 1024**6)),
        ("1P", Fraction(10**15)),
    ],
)
def test_parse_quantity(text: str, expected: Fraction) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1Zi", "1.2.3", "1 Gi", "Gi", "1e"])
def test_parse_quantity_rejects_garbage(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_rounding_is_always_up() -> None:
    assert ceil_milli_value(parse_quantity("0.0001")) == 1
    assert ceil_milli_value(parse_quantity("250m")) == 250
    assert ceil_value(parse_quantity("1.1")) == 2
    assert ceil_value(parse_quantity("100m")) == 1
    assert ceil_value(parse_quantity("2")) == 2
