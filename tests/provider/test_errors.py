"""Error classification (upstream errdefs semantics: the class survives explicit chaining)."""

import pytest

from vk_trio.provider import (
    ContainerExitError,
    InvalidInputError,
    NotFoundError,
    is_invalid_input,
    is_not_found,
)


class WrappedError(Exception):
    pass


def test_direct_classes_are_recognised() -> None:
    assert is_not_found(NotFoundError("pod not found"))
    assert not is_not_found(InvalidInputError("bad"))
    assert is_invalid_input(InvalidInputError("bad"))
    assert not is_invalid_input(NotFoundError("x"))


def test_none_and_plain_errors_are_not_classified() -> None:
    assert not is_not_found(None)
    assert not is_invalid_input(None)
    assert not is_not_found(RuntimeError("boom"))


def test_class_survives_explicit_chaining() -> None:
    try:
        try:
            raise NotFoundError("gone")
        except NotFoundError as inner:
            raise WrappedError("while deleting") from inner
    except WrappedError as outer:
        assert is_not_found(outer)
        assert not is_invalid_input(outer)


def test_implicit_context_does_not_classify() -> None:
    # An error raised *while handling* a NotFoundError is a new failure, not a NotFound.
    with pytest.raises(WrappedError) as info:
        try:
            raise NotFoundError("gone")
        except NotFoundError:
            raise WrappedError("cleanup failed")  # noqa: B904
    assert not is_not_found(info.value)


def test_cyclic_cause_chain_terminates() -> None:
    a = WrappedError("a")
    b = WrappedError("b")
    a.__cause__ = b
    b.__cause__ = a
    assert not is_not_found(a)


def test_container_exit_error_carries_the_code() -> None:
    err = ContainerExitError(3)
    assert err.exit_code == 3
    assert str(err) == "command exited with code 3"
    assert str(ContainerExitError(1, "false failed")) == "false failed"
