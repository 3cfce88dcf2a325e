"""The public surface of vk_trio.util is pinned: adding or removing a name is a conscious act."""

from __future__ import annotations

from vk_trio import util

EXPECTED = {
    "RFC3339_LAYOUT",
    "Backoff",
    "Now",
    "RetryHook",
    "format_go_float",
    "format_micro_time",
    "format_time",
    "go_is_print",
    "go_quote",
    "parse_go_bool",
    "parse_go_int",
    "parse_rfc3339",
    "parse_time",
    "retry",
    "utc_now",
}


def test_exports_are_pinned() -> None:
    assert set(util.__all__) == EXPECTED
    public = {name for name in dir(util) if not name.startswith("_")}
    assert public - EXPECTED <= {"annotations"}
    for name in EXPECTED:
        assert getattr(util, name) is not None
