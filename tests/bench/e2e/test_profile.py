"""Summaries of py-spy's collapsed stacks."""

from __future__ import annotations

from bench.e2e import _profile


def test_summarise_counts_own_and_total_time() -> None:
    collapsed = "\n".join(
        [
            "main (a.py:1);loop (a.py:5);parse (b.py:9) 6",
            "main (a.py:1);loop (a.py:5);send (c.py:3) 3",
            "main (a.py:1);idle (a.py:8) 1",
            "garbage line",
        ]
    )
    s = _profile.summarise(collapsed, top=2)
    assert s["samples"] == 10
    assert s["top_own"] == [["parse (b.py:9)", 0.6], ["send (c.py:3)", 0.3]]
    assert s["top_total"] == [["main (a.py:1)", 1.0], ["loop (a.py:5)", 0.9]]


def test_summarise_empty() -> None:
    assert _profile.summarise("") == {"samples": 0, "top_own": [], "top_total": []}
