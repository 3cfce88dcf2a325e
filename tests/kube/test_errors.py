"""Status responses -> typed exceptions."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from vk_trio.kube import (
    AlreadyExists,
    ApiConnectionError,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    ServerTimeout,
    TooManyRequests,
    Unauthorized,
)
from vk_trio.kube._errors import error_from_response, error_from_status


def status(code: int, reason: str, message: str = "msg", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        **extra,
    }


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", BadRequest),
        (401, "Unauthorized", Unauthorized),
        (403, "Forbidden", Forbidden),
        (404, "NotFound", NotFound),
        (405, "MethodNotAllowed", MethodNotAllowed),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (410, "Gone", Gone),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (504, "Timeout", ServerTimeout),
        (500, "ServerTimeout", ServerTimeout),
        (500, "InternalError", InternalError),
        (503, "ServiceUnavailable", InternalError),
        (418, "Teapot", ApiError),
    ],
)
def test_reason_and_code_pick_the_class(code: int, reason: str, cls: type[ApiError]) -> None:
    error = error_from_response(code, orjson.dumps(status(code, reason, "it failed")))
    assert type(error) is cls
    assert error.status_code == code
    assert error.reason == reason
    assert error.message == "it failed"
    assert error.status is not None and error.status["reason"] == reason
    assert str(error) == f"{code} {reason}: it failed"


def test_reason_wins_over_code() -> None:
    # 409 is shared by AlreadyExists and Conflict: the reason decides.
    assert isinstance(
        error_from_response(409, orjson.dumps(status(409, "AlreadyExists"))), AlreadyExists
    )
    assert type(error_from_response(409, orjson.dumps(status(409, "Conflict")))) is Conflict
    # An unknown reason falls back to the code.
    assert type(error_from_response(404, orjson.dumps(status(404, "Whatever")))) is NotFound


def test_invalid_exposes_causes() -> None:
    causes = [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"},
        {"reason": "FieldValueInvalid", "message": "bad", "field": "metadata.name"},
    ]
    error = error_from_response(
        422,
        orjson.dumps(
            status(422, "Invalid", details={"name": "x", "kind": "pods", "causes": causes})
        ),
    )
    assert isinstance(error, Invalid)
    assert error.causes == causes


def test_invalid_without_details_has_no_causes() -> None:
    error = error_from_response(422, orjson.dumps(status(422, "Invalid")))
    assert isinstance(error, Invalid)
    assert error.causes == []


def test_retry_after_from_header_then_details() -> None:
    body = orjson.dumps(status(429, "TooManyRequests", details={"retryAfterSeconds": 7}))
    from_header = error_from_response(429, body, retry_after="3")
    assert isinstance(from_header, TooManyRequests)
    assert from_header.retry_after == 3.0
    from_details = error_from_response(429, body)
    assert isinstance(from_details, TooManyRequests)
    assert from_details.retry_after == 7.0
    neither = error_from_response(
        429, orjson.dumps(status(429, "TooManyRequests")), retry_after="soon"
    )
    assert isinstance(neither, TooManyRequests)
    assert neither.retry_after is None
    negative = error_from_response(429, b"", retry_after="-1")
    assert isinstance(negative, TooManyRequests)
    assert negative.retry_after is None


def test_non_status_bodies_still_map_by_code() -> None:
    error = error_from_response(503, b"<html>upstream down</html>")
    assert type(error) is InternalError
    assert error.message == "<html>upstream down</html>"
    assert error.status is None
    empty = error_from_response(404, b"")
    assert type(empty) is NotFound
    assert empty.message == "HTTP 404"
    not_status = error_from_response(400, b'{"kind": "Pod"}')
    assert type(not_status) is BadRequest


def test_watch_error_event_status_uses_its_code() -> None:
    error = error_from_status(status(410, "Expired", "too old resource version: 1 (5)"))
    assert isinstance(error, Gone)
    assert error.status_code == 410
    assert "too old" in error.message


def test_connection_error_has_no_code() -> None:
    error = ApiConnectionError("connection refused")
    assert error.status_code == 0
    assert error.reason == "ConnectionError"
    assert str(error) == "ConnectionError: connection refused"
    assert "ApiConnectionError" in repr(error)
