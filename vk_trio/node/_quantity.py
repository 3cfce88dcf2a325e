"""Kubernetes resource quantities, just enough to resolve ``resourceFieldRef``.

The kubelet turns ``limits.cpu`` and friends into environment values with integer arithmetic that
always rounds *up* (a quantity's milli-value and value are ceilings), so this module parses the
quantity grammar into an exact :class:`fractions.Fraction` instead of a float: ``0.1`` CPU divided
by a ``1m`` divisor must give exactly ``100``, not ``101``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["QuantityError", "ceil_milli_value", "ceil_value", "parse_quantity"]

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

_QUANTITY = re.compile(
    r"""
    (?P<sign>[+-]?)
    (?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
    (?:
        (?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)
      | [eE](?P<exponent>[+-]?[0-9]+)
      | (?P<decimal>[numkMGTPE]?)
    )
    """,
    re.VERBOSE,
)


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(text: str) -> Fraction:
    """Parse ``text`` (``"100m"``, ``"1.5Gi"``, ``"2e3"``) into its exact value."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise QuantityError(f"quantities must match the regular expression of Kubernetes: {text!r}")
    value = Fraction(match["number"])
    if match["binary"] is not None:
        value *= 1024 ** _BINARY[match["binary"]]
    elif match["exponent"] is not None:
        value *= Fraction(10) ** int(match["exponent"])
    else:
        value *= Fraction(10) ** _DECIMAL[match["decimal"] or ""]
    return -value if match["sign"] == "-" else value


def ceil_milli_value(quantity: Fraction) -> int:
    """The quantity in thousandths, rounded up (Go's ``Quantity.MilliValue``)."""
    return math.ceil(quantity * 1000)


def ceil_value(quantity: Fraction) -> int:
    """The quantity as an integer, rounded up (Go's ``Quantity.Value``)."""
    return math.ceil(quantity)
