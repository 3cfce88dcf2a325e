"""LoaderCredentials: refresh scheduling, shared refreshes, 401 handling, client cert changes."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
import trustme

from vk_trio.kube import StaticCredentials
from vk_trio.kube._credentials import FILE_REFRESH_PERIOD, LoaderCredentials


class FakeConfig:
    def __init__(self, token: str | None, cert: tuple[str, str] | None = None) -> None:
        self.api_key = {"BearerToken": token} if token else {}
        self.cert_file: str | None = cert[0] if cert else None
        self.key_file: str | None = cert[1] if cert else None


class Loader:
    """Counts runs; returns the next token from a list."""

    def __init__(self, *tokens: str, expiry_in: float | None = None) -> None:
        self.tokens = list(tokens)
        self.runs = 0
        self.expiry_in = expiry_in
        self.cert: tuple[str, str] | None = None

    def __call__(self) -> tuple[Any, datetime.datetime | None]:
        self.runs += 1
        token = self.tokens[min(self.runs - 1, len(self.tokens) - 1)]
        if " " not in token.strip():
            token = f"Bearer {token}"  # as the kubernetes loaders spell it
        expiry = None
        if self.expiry_in is not None:
            expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
                seconds=self.expiry_in
            )
        return FakeConfig(token, self.cert), expiry


async def test_static_credentials() -> None:
    creds = StaticCredentials("Bearer x")
    assert await creds.authorization() == "Bearer x"
    assert await creds.refresh("Bearer x") is False
    assert await StaticCredentials().authorization() is None


async def test_token_normalisation(mock_clock: trio.testing.MockClock) -> None:
    for raw, expected in [
        ("bearer abc\n", "Bearer abc"),
        ("Basic dXNlcjpwdw==", "Basic dXNlcjpwdw=="),
        ("Bearer ", None),
        ("  ", None),
    ]:

        def load(raw: str = raw) -> tuple[Any, datetime.datetime | None]:
            return FakeConfig(raw), None

        creds = LoaderCredentials(load, file_based=False)
        assert await creds.authorization() == expected


async def test_file_based_credentials_refresh_every_period(
    mock_clock: trio.testing.MockClock,
) -> None:
    loader = Loader("a", "b", "c")
    creds = LoaderCredentials(loader, file_based=True)
    assert await creds.authorization() == "Bearer a"
    mock_clock.jump(FILE_REFRESH_PERIOD - 1)
    assert await creds.authorization() == "Bearer a"
    mock_clock.jump(2)
    assert await creds.authorization() == "Bearer b"
    assert loader.runs == 2


async def test_static_tokens_are_never_reloaded_on_their_own(
    mock_clock: trio.testing.MockClock,
) -> None:
    loader = Loader("a", "b")
    creds = LoaderCredentials(loader, file_based=False)
    await creds.authorization()
    mock_clock.jump(10 * 3600)
    assert await creds.authorization() == "Bearer a"
    assert loader.runs == 1


async def test_expiring_credentials_refresh_at_ninety_percent(
    mock_clock: trio.testing.MockClock,
) -> None:
    loader = Loader("a", "b", expiry_in=1000.0)
    creds = LoaderCredentials(loader, file_based=False)
    assert await creds.authorization() == "Bearer a"
    mock_clock.jump(850)
    assert await creds.authorization() == "Bearer a"
    mock_clock.jump(60)  # 910 s of 1000
    assert await creds.authorization() == "Bearer b"
    # long-lived credentials are refreshed at most 5 minutes early
    long = LoaderCredentials(Loader("x", "y", expiry_in=7200.0), file_based=False)
    await long.authorization()
    mock_clock.jump(7200 - 310)
    assert await long.authorization() == "Bearer x"
    mock_clock.jump(20)
    assert await long.authorization() == "Bearer y"


async def test_concurrent_callers_share_one_refresh(mock_clock: trio.testing.MockClock) -> None:
    loader = Loader("a")
    creds = LoaderCredentials(loader, file_based=True)
    results: list[str | None] = []

    async def ask() -> None:
        results.append(await creds.authorization())

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(ask)
    assert results == ["Bearer a"] * 20
    assert loader.runs == 1


async def test_refresh_after_401(mock_clock: trio.testing.MockClock) -> None:
    loader = Loader("old", "new", "new")
    creds = LoaderCredentials(loader, file_based=False)
    rejected = await creds.authorization()
    assert await creds.refresh(rejected) is True
    assert await creds.authorization() == "Bearer new"
    # a second task that was rejected with the old value does not reload again
    assert await creds.refresh(rejected) is True
    assert loader.runs == 2
    # nothing new to offer
    assert await creds.refresh("Bearer new") is False
    assert loader.runs == 3


async def test_first_load_failure_propagates(mock_clock: trio.testing.MockClock) -> None:
    def broken() -> tuple[Any, datetime.datetime | None]:
        raise RuntimeError("no token file")

    creds = LoaderCredentials(broken, file_based=True)
    with pytest.raises(RuntimeError):
        await creds.authorization()


async def test_changed_client_certificate_is_loaded_and_announced(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    ca = trustme.CA()
    paths = []
    for name in ("one", "two"):
        cert = ca.issue_cert(f"{name}.example")
        cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        paths.append((str(cert_file), str(key_file)))
    loader = Loader("t", expiry_in=100.0)
    loader.cert = paths[0]
    context = ssl.create_default_context()
    creds = LoaderCredentials(loader, file_based=False, ssl_context=context, initial=loader())
    creds.prime()
    announced: list[int] = []
    creds.on_tls_change(lambda: announced.append(1))
    assert creds.client_certificate == paths[0]
    loader.cert = paths[1]
    mock_clock.jump(95)
    await creds.authorization()
    assert creds.client_certificate == paths[1]
    assert announced == [1]
