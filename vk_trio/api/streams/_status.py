"""The ``metav1.Status`` objects a remote command reports on its error stream.

They are plain JSON dicts (the project keeps API objects as dicts), built with the fields, order
and texts the kubelet uses, because ``kubectl`` parses them: the exit code travels as a cause of
``type`` (JSON key ``reason``) ``ExitCode`` under reason ``NonZeroExitCode``.  Protocols v4 and v5
send the JSON; v1-v3 send only the ``message`` text, and nothing for success.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from vk_trio.provider import ContainerExitError

__all__ = [
    "Status",
    "encode_status",
    "status_exit_code",
    "status_for_error",
    "status_internal_error",
    "status_non_zero_exit",
    "status_success",
]

Status = dict[str, Any]


def status_success() -> Status:
    """``{"metadata": {}, "status": "Success"}``: the command exited with code 0."""
    return {"metadata": {}, "status": "Success"}


def status_non_zero_exit(exit_code: int, error: str) -> Status:
    """The command ran and exited with ``exit_code`` (1-255); ``error`` describes it."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {error}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def status_internal_error(error: str) -> Status:
    """Anything else went wrong (apimachinery's ``NewInternalError``)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {error}",
        "reason": "InternalError",
        "details": {"causes": [{"message": error}]},
        "code": 500,
    }


def status_for_error(error: BaseException | None, *, attach: bool = False) -> Status:
    """The Status for how a provider's exec/attach call ended.

    ``None`` is success; :class:`~vk_trio.provider.ContainerExitError` becomes
    ``NonZeroExitCode`` with its code; any other exception an internal error worded as the
    kubelet words it (``error executing command in container: ...`` or, for attach,
    ``error attaching to container: ...``).
    """
    if error is None:
        return status_success()
    if isinstance(error, ContainerExitError):
        return status_non_zero_exit(error.exit_code, str(error))
    action = "error attaching to container" if attach else "error executing command in container"
    return status_internal_error(f"{action}: {error}")


def encode_status(status: Mapping[str, Any], *, json_status: bool) -> bytes | None:
    """The error-stream payload for ``status``: JSON for v4/v5 (``json_status``), else the
    message text for failures and nothing (``None``) for success."""
    if json_status:
        return orjson.dumps(status)
    if status.get("status") == "Success":
        return None
    return str(status.get("message", "")).encode()


def status_exit_code(status: Mapping[str, Any]) -> int | None:
    """Read a Status the way ``kubectl`` does: 0 for success, the ``ExitCode`` cause for
    ``NonZeroExitCode``, ``None`` for any other failure."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") != "NonZeroExitCode":
        return None
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return None
