"""Label selectors evaluated against cached objects (the listers' ``label_selector=``).

The string syntax is the one ``kubectl -l`` and the API's ``labelSelector`` parameter accept, so a
selector can be used for a watch and for a lister query alike:
``app=web,tier!=db,env in (prod,staging),!canary,release``. Requirements are ANDed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias, final

import attrs

Operator: TypeAlias = Literal["=", "!=", "in", "notin", "exists", "!", "gt", "lt"]


class LabelSelectorError(ValueError):
    """A label selector string (or API LabelSelector) could not be parsed."""


@final
@attrs.frozen
class Requirement:
    """One ANDed term of a selector."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfies this term (absent keys satisfy ``!=`` and ``notin``)."""
        op = self.operator
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        value = labels.get(self.key)
        if op in ("=", "in"):
            return value is not None and value in self.values
        if op in ("!=", "notin"):
            return value is None or value not in self.values
        # gt / lt: integer comparison, as the API server does; non-integers never match.
        if value is None:
            return False
        try:
            have = int(value)
        except ValueError:
            return False
        (bound,) = self.values
        return have > int(bound) if op == "gt" else have < int(bound)


@final
@attrs.frozen
class LabelSelector:
    """A parsed selector; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds for ``labels``."""
        return all(req.matches(labels) for req in self.requirements)

    @property
    def empty(self) -> bool:
        """True when the selector has no requirement (selects everything)."""
        return not self.requirements

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse the ``kubectl -l`` syntax; raises :class:`LabelSelectorError`."""
        return cls(tuple(_Parser(text).parse()))

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> LabelSelector:
        """Equality on every pair (``{"app": "web"}`` ≡ ``"app=web"``)."""
        return cls(tuple(Requirement(k, "=", frozenset((v,))) for k, v in sorted(labels.items())))

    @classmethod
    def from_api(cls, selector: Mapping[str, Any]) -> LabelSelector:
        """Convert a ``metav1.LabelSelector`` dict (``matchLabels`` + ``matchExpressions``)."""
        reqs = list(cls.from_labels(selector.get("matchLabels") or {}).requirements)
        ops: dict[str, Operator] = {
            "In": "in",
            "NotIn": "notin",
            "Exists": "exists",
            "DoesNotExist": "!",
        }
        for expr in selector.get("matchExpressions") or ():
            op = ops.get(expr.get("operator", ""))
            if op is None:
                raise LabelSelectorError(f"unknown operator {expr.get('operator')!r}")
            values = frozenset(expr.get("values") or ())
            if op in ("in", "notin") and not values:
                raise LabelSelectorError(f"operator {op} needs values (key {expr.get('key')!r})")
            reqs.append(Requirement(str(expr.get("key", "")), op, values))
        return cls(tuple(reqs))

    def __str__(self) -> str:
        parts: list[str] = []
        for req in self.requirements:
            vals = sorted(req.values)
            if req.operator == "exists":
                parts.append(req.key)
            elif req.operator == "!":
                parts.append(f"!{req.key}")
            elif req.operator in ("=", "!="):
                parts.append(f"{req.key}{req.operator}{vals[0]}")
            elif req.operator in ("in", "notin"):
                parts.append(f"{req.key} {req.operator} ({','.join(vals)})")
            else:
                parts.append(f"{req.key}{'>' if req.operator == 'gt' else '<'}{vals[0]}")
        return ",".join(parts)


SelectorLike: TypeAlias = LabelSelector | str | Mapping[str, str] | None


def as_label_selector(selector: SelectorLike) -> LabelSelector:
    """Accept a parsed selector, its string form, a ``{key: value}`` mapping, or None (= all)."""
    if selector is None:
        return LabelSelector()
    if isinstance(selector, LabelSelector):
        return selector
    if isinstance(selector, str):
        return LabelSelector.parse(selector)
    return LabelSelector.from_labels(selector)


_TOKEN = re.compile(r"\s*(?:(?P<op>==|!=|=|>|<|\(|\)|,|!)|(?P<word>[A-Za-z0-9_./-]+)|(?P<bad>\S))")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            if m.group("bad"):
                raise LabelSelectorError(f"unexpected {m.group('bad')!r} in selector {text!r}")
            if m.group("op"):
                self.tokens.append(("op", m.group("op")))
            elif m.group("word"):
                self.tokens.append(("word", m.group("word")))
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise LabelSelectorError(f"selector {self.text!r} ends too early")
        self.pos += 1
        return tok

    def _word(self) -> str:
        kind, value = self._next()
        if kind != "word":
            raise LabelSelectorError(f"expected a name, got {value!r} in {self.text!r}")
        return value

    def parse(self) -> Iterable[Requirement]:
        reqs: list[Requirement] = []
        if self._peek() is None:
            return reqs
        while True:
            reqs.append(self._requirement())
            tok = self._peek()
            if tok is None:
                return reqs
            if tok != ("op", ","):
                raise LabelSelectorError(f"expected ',' got {tok[1]!r} in {self.text!r}")
            self.pos += 1

    def _requirement(self) -> Requirement:
        if self._peek() == ("op", "!"):
            self.pos += 1
            return Requirement(self._word(), "!")
        key = self._word()
        tok = self._peek()
        if tok is None or tok == ("op", ","):
            return Requirement(key, "exists")
        kind, value = self._next()
        if kind == "op" and value in ("=", "==", "!="):
            op: Operator = "!=" if value == "!=" else "="
            return Requirement(key, op, frozenset((self._value(),)))
        if kind == "op" and value in (">", "<"):
            bound = self._word()
            try:
                int(bound)
            except ValueError:
                raise LabelSelectorError(f"{key}{value} needs an integer, got {bound!r}") from None
            return Requirement(key, "gt" if value == ">" else "lt", frozenset((bound,)))
        if kind == "word" and value in ("in", "notin"):
            return Requirement(key, "in" if value == "in" else "notin", self._set())
        raise LabelSelectorError(f"unexpected {value!r} after {key!r} in {self.text!r}")

    def _value(self) -> str:
        tok = self._peek()
        if tok is None or tok[0] == "op":  # `key=` selects the empty value
            return ""
        self.pos += 1
        return tok[1]

    def _set(self) -> frozenset[str]:
        if self._next() != ("op", "("):
            raise LabelSelectorError(f"expected '(' in {self.text!r}")
        values: set[str] = set()
        while True:
            tok = self._next()
            if tok == ("op", ")"):
                break
            if tok == ("op", ","):
                continue
            if tok[0] != "word":
                raise LabelSelectorError(f"unexpected {tok[1]!r} in a value set in {self.text!r}")
            values.add(tok[1])
        if not values:
            raise LabelSelectorError(f"empty value set in {self.text!r}")
        return frozenset(values)
