"""metav1.Status objects for the error stream."""

from __future__ import annotations

import orjson

from vk_trio.api.streams import (
    encode_status,
    status_exit_code,
    status_for_error,
    status_internal_error,
    status_non_zero_exit,
    status_success,
)
from vk_trio.provider import ContainerExitError


def test_exit_code_status_is_the_json_kubectl_parses() -> None:
    status = status_non_zero_exit(3, "command exited with code 3")
    assert encode_status(status, json_status=True) == (
        b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit '
        b'code: command exited with code 3","reason":"NonZeroExitCode","details":{"causes":'
        b'[{"reason":"ExitCode","message":"3"}]}}'
    )
    assert status_exit_code(status) == 3


def test_success_and_internal_error() -> None:
    assert encode_status(status_success(), json_status=True) == (
        b'{"metadata":{},"status":"Success"}'
    )
    assert status_exit_code(status_success()) == 0
    internal = status_internal_error("error executing command in container: boom")
    assert orjson.loads(encode_status(internal, json_status=True) or b"") == {
        "metadata": {},
        "status": "Failure",
        "message": "Internal error occurred: error executing command in container: boom",
        "reason": "InternalError",
        "details": {"causes": [{"message": "error executing command in container: boom"}]},
        "code": 500,
    }
    assert status_exit_code(internal) is None


def test_v1_to_v3_send_only_failure_text() -> None:
    assert encode_status(status_success(), json_status=False) is None
    assert encode_status(status_non_zero_exit(2, "x"), json_status=False) == (
        b"command terminated with non-zero exit code: x"
    )


def test_status_for_provider_outcomes() -> None:
    assert status_for_error(None) == status_success()
    assert status_exit_code(status_for_error(ContainerExitError(42))) == 42
    assert status_for_error(RuntimeError("no such container"))["message"] == (
        "Internal error occurred: error executing command in container: no such container"
    )
    assert status_for_error(RuntimeError("gone"), attach=True)["message"] == (
        "Internal error occurred: error attaching to container: gone"
    )


def test_exit_code_reader_tolerates_junk() -> None:
    assert status_exit_code({"status": "Failure", "reason": "NonZeroExitCode"}) is None
    assert (
        status_exit_code(
            {
                "status": "Failure",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "x"}]},
            }
        )
        is None
    )
