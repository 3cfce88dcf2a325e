"""Structured logging: text and JSON, context fields, extras, levels."""

import io
import json
import logging

import pytest

from vk_trio.cli import TRACE, configure_logging, level_number
from vk_trio.provider import log_context

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_level_names_follow_the_go_command() -> None:
    assert level_number("trace") == TRACE < logging.DEBUG
    assert level_number("debug") == logging.DEBUG
    assert level_number("INFO") == logging.INFO
    assert level_number("warn") == level_number("warning") == logging.WARNING
    assert level_number("error") == logging.ERROR
    assert level_number("fatal") == level_number("panic") == logging.CRITICAL


def test_json_lines_carry_context_fields_and_extras() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out, fields={"node": "vk"})
    log = logging.getLogger("vk_trio.test")
    with log_context(namespace="ns", pod="p"):
        log.info("created %s", "it", extra={"attempt": 2})
    log.debug("not shown")
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "info"
    assert record["logger"] == "vk_trio.test"
    assert record["msg"] == "created it"
    assert (record["node"], record["namespace"], record["pod"]) == ("vk", "ns", "p")
    assert record["attempt"] == 2
    assert record["time"].endswith("Z")


def test_json_exception_and_unserialisable_values() -> None:
    out = io.StringIO()
    configure_logging("debug", "json", stream=out)
    log = logging.getLogger("vk_trio.test")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed", extra={"obj": object()})
    record = json.loads(out.getvalue())
    assert record["level"] == "error"
    assert "RuntimeError: boom" in record["error"]
    assert record["obj"].startswith("<object object")


def test_text_lines_are_logfmt_like() -> None:
    out = io.StringIO()
    configure_logging("debug", "text", stream=out, fields={"node": "vk"})
    with log_context(pod="p", namespace="my ns"):
        logging.getLogger("vk_trio.node").warning("slow", extra={"quote": 'say "hi"'})
    line = out.getvalue().rstrip("\n")
    timestamp, rest = line.split(" ", 1)
    assert timestamp.endswith("Z")
    assert rest == (
        'warning vk_trio.node: slow node=vk pod=p namespace="my ns" quote="say \\"hi\\""'
    )


def test_text_exception_follows_the_line() -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out)
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("x").error("oops", exc_info=True)
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("error   x: oops")
    assert rest[-1] == "ValueError: bad"


def test_trace_level_and_noisy_libraries() -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out)
    logging.getLogger("httpx").info("HTTP Request: GET /api")
    assert out.getvalue() == ""
    configure_logging("trace", "text", stream=out)
    logging.getLogger("vk_trio.x").log(TRACE, "fine detail")
    logging.getLogger("httpx").debug("HTTP Request: GET /api")
    lines = out.getvalue().splitlines()
    assert "trace   vk_trio.x: fine detail" in lines[0]
    assert "HTTP Request" in lines[1]


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "text", stream=first)
    configure_logging("info", "text", stream=second)
    logging.getLogger("vk_trio.x").info("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1
