"""Kubernetes resource quantities: the syntax check the mock applies to its capacity values.

A quantity is a signed decimal number followed by a suffix: a binary SI one (``Ki`` .. ``Ei``), a
decimal SI one (``n``, ``u``, ``m``, none, ``k``, ``M``, ``G``, ``T``, ``P``, ``E``) or a decimal
exponent (``e3``, ``E-2``).  The API server canonicalises the text itself, so the mock only needs
to know whether it is valid, not its value.
"""

from __future__ import annotations

import re

__all__ = ["is_quantity"]

_QUANTITY = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)


def is_quantity(text: str) -> bool:
    """True if ``text`` parses as a Kubernetes quantity (``"2"``, ``"100Gi"``, ``"500m"``...)."""
    return _QUANTITY.fullmatch(text) is not None
