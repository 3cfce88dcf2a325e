"""Kubernetes resource quantities: parse to exact values, add them up, write them back.

The capacity of the virtual node is a sum over the remote cluster's nodes minus the requests of
pods that are not ours, so unlike the mock (which only checks syntax) this provider needs the
values.  They are kept as :class:`fractions.Fraction` so that ``100m`` + ``900m`` is exactly 1.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["format_quantity", "is_quantity", "parse_quantity"]

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


def is_quantity(text: str) -> bool:
    """True if ``text`` is a Kubernetes quantity (``"2"``, ``"100Gi"``, ``"500m"``, ``"1e3"``)."""
    return _QUANTITY.fullmatch(text) is not None


def parse_quantity(text: str | int | float) -> Fraction:
    """The exact value of a quantity; ``ValueError`` if it is not one."""
    if isinstance(text, bool):
        raise ValueError(f"invalid quantity {text!r}")
    if isinstance(text, int | float):
        if isinstance(text, float) and not math.isfinite(text):
            raise ValueError(f"invalid quantity {text!r}")
        return Fraction(text)
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid quantity {text!r}")
    number = Fraction(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * Fraction(10) ** int(suffix[1:])


def format_quantity(value: Fraction, resource: str) -> str:
    """Write ``value`` back: CPU in whole millicores when fractional, others as whole units."""
    value = max(value, Fraction(0))
    if value.denominator == 1:
        return str(value.numerator)
    if resource == "cpu":
        return f"{math.floor(value * 1000)}m"
    return str(math.floor(value))
