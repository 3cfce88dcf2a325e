"""``$(VAR)`` expansion as Kubernetes applies it to env values, commands and args.

The rules are small but users depend on their corners, so they are spelled out here:

* ``$(NAME)`` is replaced by the value of ``NAME`` when the mapping knows it; an unknown name is
  kept literally as ``$(NAME)`` (so a typo is visible in the container rather than silently empty);
* ``$$`` is an escaped ``$``: ``$$(NAME)`` yields the literal text ``$(NAME)``;
* ``$(`` with no closing ``)`` is kept literally and scanning continues after the ``(``;
* a ``$`` followed by anything else, or at the very end, is kept as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["expand", "mapping_for", "references"]


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str | None]:
    """A lookup that tries each mapping in turn (earlier ones win)."""

    def lookup(name: str) -> str | None:
        for context in contexts:
            value = context.get(name)
            if value is not None:
                return value
        return None

    return lookup


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand every ``$(NAME)`` in ``text`` through ``lookup`` (``None`` = unknown)."""
    if "$" not in text:
        return text
    out: list[str] = []
    start = 0
    cursor = 0
    length = len(text)
    while cursor < length:
        if text[cursor] == "$" and cursor + 1 < length:
            out.append(text[start:cursor])
            following = text[cursor + 1]
            if following == "$":
                out.append("$")
                cursor += 2
            elif following == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                    cursor += 2
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    out.append(f"$({name})" if value is None else value)
                    cursor = close + 1
            else:
                out.append("$" + following)
                cursor += 2
            start = cursor
        else:
            cursor += 1
    out.append(text[start:])
    return "".join(out)


def references(text: str) -> set[str]:
    """The names ``text`` refers to with ``$(NAME)`` (escaped ``$$(...)`` excluded)."""
    found: set[str] = set()

    def lookup(name: str) -> str | None:
        found.add(name)
        return None

    expand(text, lookup)
    return found
