"""vk_trio.util's Go-compatibility helpers against Go itself.

``tests/util/goref`` is a small Go program (standard library only) that answers a batch of cases
with ``strconv.Quote``, ``strconv.Atoi``, ``strconv.ParseBool``, ``strconv.FormatFloat(v, 'g', -1,
64)``, ``time.Parse(time.RFC3339, ...)`` and the ``metav1.Time``/``MicroTime`` layouts, and prints
the rune table behind ``strconv.IsPrint``. The binary is built once and cached under
``~/.cache/vk-trio/goref/<hash of its source>``.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from vk_trio.util import (
    _goprint,
    format_go_float,
    format_micro_time,
    format_time,
    go_quote,
    parse_go_bool,
    parse_go_int,
    parse_rfc3339,
)

SOURCE = Path(__file__).parent / "goref"
TABLE = Path(_goprint.__file__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def goref() -> Path:
    go = shutil.which("go")
    assert go is not None, "the Go toolchain is required (make test builds the control plane)"
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vk-trio" / "goref"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / f"goref-{digest.hexdigest()[:16]}"
    with (cache / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time across test processes
        if not binary.exists():
            partial = binary.with_suffix(".partial")
            env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
            subprocess.run([go, "build", "-o", str(partial), "."], cwd=SOURCE, env=env, check=True)
            partial.rename(binary)
    return binary


def ask(binary: Path, cases: list[dict[str, Any]]) -> list[dict[str, str]]:
    proc = subprocess.run(
        [str(binary), "cases"],
        input=json.dumps(cases).encode(),
        capture_output=True,
        check=True,
        timeout=600,
    )
    answers: list[dict[str, str]] = json.loads(proc.stdout)
    assert len(answers) == len(cases)
    return answers


def text_case(op: str, text: bytes) -> dict[str, Any]:
    return {"op": op, "text": base64.b64encode(text).decode()}


def test_printable_table_is_what_go_generates(goref: Path) -> None:
    generated = subprocess.run(
        [str(goref), "printable"], capture_output=True, check=True, timeout=600
    ).stdout.decode()
    assert generated == TABLE.read_text(), (
        "vk_trio/util/_goprint.py is stale: regenerate it with "
        "`(cd tests/util/goref && go run . printable) > vk_trio/util/_goprint.py`"
    )


def quote_inputs() -> list[bytes]:
    rng = random.Random(20)
    inputs: list[bytes] = [b"", b"plain", b'q"b\\', b"\a\b\f\n\r\t\v", "héllo ☃".encode()]
    inputs += [bytes([byte]) for byte in range(256)]  # every byte alone, valid or not
    notable = [
        0x85,
        0xA0,
        0xAD,
        0x34F,
        0x378,
        0x600,
        0x200B,
        0x2028,
        0x2029,
        0x202E,
        0x3000,
        0xD7FF,
        0xE000,
        0xF8FF,
        0xFEFF,
        0xFFFD,
        0xFFFE,
        0xFFFF,
        0x10000,
        0x1F600,
        0x1F6DC,
        0x11F00,
        0x1E030,
        0xE0001,
        0xE0100,
        0xF0000,
        0x10FFFF,
    ]
    inputs += [chr(code).encode() for code in notable]
    # malformed UTF-8: truncated, overlong, surrogates, beyond U+10FFFF, stray continuations
    inputs += [
        b"\xe2\x82",
        b"\xe2\x82A",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf0\x9f\x98",
        b"\x80\x80",
        b"a\xffb",
        b"\xf8\x88\x80\x80\x80",
    ]
    for _ in range(400):  # random code points, all planes
        inputs.append("".join(chr(rng.choice(_valid_scalar(rng))) for _ in range(4)).encode())
    for _ in range(400):  # random bytes
        inputs.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9))))
    return inputs


def _valid_scalar(rng: random.Random) -> list[int]:
    while True:
        code = rng.choice((rng.randrange(0x80), rng.randrange(0x800), rng.randrange(0x110000)))
        if not 0xD800 <= code <= 0xDFFF:
            return [code]


def test_go_quote_matches_strconv_quote(goref: Path) -> None:
    inputs = quote_inputs()
    answers = ask(goref, [text_case("quote", text) for text in inputs])
    mismatches = [
        (text, answer["out"], go_quote(text))
        for text, answer in zip(inputs, answers, strict=True)
        if go_quote(text) != answer["out"]
    ]
    assert not mismatches, mismatches[:10]
    for text, answer in zip(inputs, answers, strict=True):
        # the same text as a Python string (undecodable bytes as surrogateescape) quotes alike
        assert go_quote(text.decode("utf-8", "surrogateescape")) == answer["out"]


def test_every_rune_quotes_as_in_go(goref: Path) -> None:
    # One string per block of 4096 code points, so the whole range is compared in one batch.
    codes = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chunks = [codes[i : i + 4096] for i in range(0, len(codes), 4096)]
    texts = ["".join(map(chr, chunk)).encode() for chunk in chunks]
    answers = ask(goref, [text_case("quote", text) for text in texts])
    for text, answer in zip(texts, answers, strict=True):
        assert go_quote(text) == answer["out"]


def go_result(answer: dict[str, str]) -> tuple[str, str]:
    return answer["out"], answer["error"]


def py_result(function: Any, text: str) -> tuple[str, str]:
    try:
        value = function(text)
    except ValueError as exc:
        return "", str(exc)
    return str(value).lower() if isinstance(value, bool) else str(value), ""


def test_atoi_and_parse_bool_match_go(goref: Path) -> None:
    ints = [
        "0",
        "+7",
        "-12",
        "007",
        "",
        "+",
        "-",
        " 1",
        "1 ",
        "1_000",
        "0x10",
        "\uff11",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
        "12a",
        'say "hi"',
        "\x01",
    ]
    bools = [
        "1",
        "t",
        "T",
        "TRUE",
        "true",
        "True",
        "0",
        "f",
        "F",
        "FALSE",
        "false",
        "False",
        "tRUE",
        "yes",
        "",
        " true",
        "\a",
    ]
    cases = [text_case("atoi", t.encode()) for t in ints]
    cases += [text_case("parsebool", t.encode()) for t in bools]
    answers = ask(goref, cases)
    for text, answer in zip(ints, answers[: len(ints)], strict=True):
        assert py_result(parse_go_int, text) == go_result(answer), text
    for text, answer in zip(bools, answers[len(ints) :], strict=True):
        assert py_result(parse_go_bool, text) == go_result(answer), text


def test_format_go_float_matches_go(goref: Path) -> None:
    rng = random.Random(7)
    values = [
        0.0,
        -0.0,
        1.0,
        100.0,
        123456.0,
        1234567.0,
        1e6,
        1e21,
        1e-4,
        1e-5,
        0.1,
        1 / 3,
        5e-324,
        1.7976931348623157e308,
        float("inf"),
        float("-inf"),
        float("nan"),
        -2.5,
        999999.9,
        0.00012345,
    ]
    values += [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(500)]
    values += [rng.uniform(-1e7, 1e7) for _ in range(200)]
    cases = [
        {"op": "formatfloat", "bits": struct.unpack("<Q", struct.pack("<d", v))[0]} for v in values
    ]
    for value, answer in zip(values, ask(goref, cases), strict=True):
        assert format_go_float(value) == answer["out"], value


def test_parse_rfc3339_matches_go(goref: Path) -> None:
    texts = [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.123456789Z",
        "2024-01-02T03:04:05,5Z",
        "2024-01-02T03:04:05-07:30",
        "2024-01-02T03:04:05+00:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "x",
        "",
        "2024-1-02T00:00:00Z",
        "2024-01-02 00:00:00Z",
        "2024-01-02T00:00:00.Z",
        "2024-01-02T00:00:00+0100",
        "2024-01-02T00:00:00Zjunk",
        "2024-01-02T24:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-32T00:00:00Z",
        "2024-01-02T00:60:00Z",
        "2024-01-02T00:00:60Z",
        "2024-01-02T00:00:00+25:00",
        "2024-01-02T00:00:00+01:61",
        "2024-01-02T00:00:00",
        "2024-01-02T00:00:00z",
        "2024-01-02t00:00:00Z",
        "2024-01-02T00:00:00.1234567891Z",
        "2024-01-02T00:00:00+01",
        "2024-01-02T00:00:00+1:00",
        "\uff12\uff10\uff12\uff14-01-02T00:00:00Z",
        "\x7f2024",
        "\t2024",
        '"\\2024',
        "é",
        "2024-01-02T00:00:00+24:00",
        "2024-01-02T00:00:00+24:01",
        "2024-01-02T00:00:00+01:60",
        "2024-01-02T00:00:00-24:00",
        "2024-01-02T00:00:00+99:99",
        "2024-01-02T00:00:00Z\t",
        "2024-01-02T00:00:00Z\x7f",
        "2024-01-02T00:00:00+24:60",
    ]
    answers = ask(goref, [text_case("parsetime", t.encode()) for t in texts])
    mismatches = []
    for text, answer in zip(texts, answers, strict=True):
        try:
            parsed = parse_rfc3339(text)
        except ValueError as exc:
            if answer["error"] != str(exc):
                mismatches.append((text, str(exc), answer))
            continue
        if answer["error"]:
            mismatches.append((text, parsed.isoformat(), answer))
            continue
        unix, nanos, offset = (int(part) for part in answer["out"].split())
        go_offset = timedelta(seconds=offset)
        if abs(go_offset) >= timedelta(days=1):
            go_offset = timedelta(0)  # beyond Python's timezone: the instant is kept, in UTC
        ours = (
            (parsed - EPOCH) // timedelta(seconds=1),
            parsed.microsecond,
            parsed.utcoffset(),
        )
        if ours != (unix, nanos // 1000, go_offset):
            mismatches.append((text, parsed.isoformat(), answer))
    assert not mismatches, mismatches


def test_kubernetes_time_formats_match_go(goref: Path) -> None:
    moments = [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ]
    cases = []
    for moment in moments:
        offset = moment.utcoffset()
        assert offset is not None
        seconds = (moment - EPOCH) // timedelta(seconds=1)
        cases.append(
            {
                "op": "formattime",
                "unix": seconds,
                "nanos": moment.microsecond * 1000,
                "offset": int(offset.total_seconds()),
            }
        )
    for moment, answer in zip(moments, ask(goref, cases), strict=True):
        assert f"{format_time(moment)} {format_micro_time(moment)}" == answer["out"], moment
        # a naive datetime is UTC: the same wall-clock reading, without the zone, in UTC
        naive = moment.astimezone(UTC).replace(tzinfo=None)
        assert f"{format_time(naive)} {format_micro_time(naive)}" == answer["out"], moment
