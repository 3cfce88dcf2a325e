"""Quantity syntax accepted for the mock's capacity values."""

import pytest

from vk_trio_mock._quantity import is_quantity


@pytest.mark.parametrize(
    "text",
    ["20", "100Gi", "500m", "0.5", "1.", ".5", "+1", "-1", "1e3", "1E-2", "2k", "3M", "1Ei", "7n"],
)
def test_valid_quantities(text: str) -> None:
    assert is_quantity(text)


@pytest.mark.parametrize(
    "text", ["", "abc", "1 Gi", " 1", "1GiB", "Gi", "1.2.3", "1e", "1ki", "1Ki2", "--1", "1e1.5"]
)
def test_invalid_quantities(text: str) -> None:
    assert not is_quantity(text)
