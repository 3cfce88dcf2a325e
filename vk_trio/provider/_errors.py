"""Error classes a provider raises so the controllers know what a failure *means*.

The controllers treat most provider errors alike (log, event, retry with backoff), but two classes
change the decision: "the provider does not know this pod" (a delete becomes a no-op, a status poll
marks the pod lost) and "the request itself is wrong" (retrying cannot help; the kubelet API answers
400).  Classification follows explicit chaining (``raise X from err``), so a provider may wrap a
:class:`NotFoundError` in its own exception type and keep the meaning.
"""

from __future__ import annotations

from typing import final

__all__ = [
    "ContainerExitError",
    "InvalidInputError",
    "NotFoundError",
    "is_invalid_input",
    "is_not_found",
]


class NotFoundError(Exception):
    """The object (usually a pod) is not known to the provider.

    The one way a provider says so: ``get_pod``, ``get_pod_status``, ``update_pod`` and the
    kubelet-API methods raise it for an unknown pod (none returns ``None`` instead).
    ``delete_pod`` may raise it for a pod it has never seen or already forgot (or just return),
    and the controllers take that as "already deleted".
    """


class InvalidInputError(Exception):
    """The request cannot succeed as given (bad pod spec, bad provider configuration, bad options).

    A provider factory raises it for a configuration problem; the ``vk-trio`` command prints the
    message on one line and exits non-zero.  The kubelet API maps it to HTTP 400.
    """


@final
class ContainerExitError(Exception):
    """``run_in_container`` raises this when the command ran and exited with a non-zero code.

    The kubelet API reports it to ``kubectl exec`` as ``NonZeroExitCode`` with the code, which is
    what makes ``kubectl exec`` itself exit with that code.  Any *other* exception from
    ``run_in_container`` is reported as an internal error of the exec machinery.
    """

    def __init__(self, exit_code: int, message: str | None = None) -> None:
        self.exit_code = exit_code
        self.message = message if message is not None else f"command exited with code {exit_code}"
        super().__init__(self.message)


def _chain(err: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while err is not None and all(err is not e for e in seen):
        seen.append(err)
        err = err.__cause__
    return seen


def is_not_found(err: BaseException | None) -> bool:
    """True if ``err`` or anything it was explicitly raised from is a :class:`NotFoundError`."""
    return any(isinstance(e, NotFoundError) for e in _chain(err))


def is_invalid_input(err: BaseException | None) -> bool:
    """True if ``err`` or anything it was explicitly raised from is :class:`InvalidInputError`."""
    return any(isinstance(e, InvalidInputError) for e in _chain(err))
