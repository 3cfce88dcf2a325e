"""Credentials that stay fresh: static tokens, rotating token files, exec plugins.

The official ``kubernetes`` package knows how to *obtain* credentials from a
kubeconfig or a pod's service account (token, token file, exec plugin,
auth-provider, client certificates).  It does not keep them fresh the way a
long-running daemon needs: a ``tokenFile`` is read once, and exec-plugin
tokens are only re-fetched within 5 minutes of expiry on *every* call (a
plugin issuing 2-minute tokens would be run per request).  So the loader is
used as a function ("give me the credentials now", run in a worker thread
because it reads files and may spawn a plugin) and this module decides
*when* to call it again:

* token files (kubeconfig ``tokenFile``, the in-cluster service-account
  token): re-read every ``FILE_REFRESH_PERIOD`` (60 s, as client-go does), so a
  rotated projected token is picked up without a restart;
* credentials with an expiry (exec plugins, auth providers): refreshed once
  90 % of their remaining lifetime has passed (at most 5 minutes early);
* any credentials: refreshed at once when the server answers 401 to a
  request that carried them (the request is then sent once more).

A refresh runs under a lock so that concurrent callers share one plugin run.
The fast path (credentials still fresh) neither awaits nor takes the lock.

A load is bounded by ``load_timeout`` (:data:`LOAD_TIMEOUT`, 60 s): an exec plugin that hangs
(waiting for a browser login, a dead metadata server) would otherwise hold the lock, and with it
every API call, for ever. On timeout the load fails with :class:`CredentialsTimeout` (the old
credentials stay in use and the load is tried again later, as after any failed refresh); the
worker thread is abandoned (the loader gives no handle on the plugin's process), and no second
load starts while the abandoned one is still running, so a hung plugin never piles up copies.
"""

from __future__ import annotations

import datetime
import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol, TypeVar, final

import trio

__all__ = [
    "FILE_REFRESH_PERIOD",
    "LOAD_TIMEOUT",
    "Credentials",
    "CredentialsTimeout",
    "LoaderCredentials",
    "StaticCredentials",
    "load_in_thread",
]

#: How often a token file is re-read, in seconds.
FILE_REFRESH_PERIOD: Final = 60.0
_MAX_EARLY: Final = 300.0
_MIN_INTERVAL: Final = 1.0
_RETRY_FAILED: Final = 10.0

#: Longest a credentials load (which may run an exec plugin) may take, in seconds.
LOAD_TIMEOUT: Final = 60.0

logger = logging.getLogger("vk_trio.kube")


class CredentialsTimeout(Exception):
    """Loading credentials (usually: running the exec credential plugin) took too long."""


_T = TypeVar("_T")


async def load_in_thread(
    load: Callable[[], _T], *, timeout: float = LOAD_TIMEOUT, busy: list[threading.Event]
) -> _T:
    """Run the blocking ``load`` in a worker thread, for at most ``timeout`` seconds.

    ``busy`` holds the completion flag of a load abandoned earlier (at most one): while that one
    still runs, this raises at once instead of starting another. Cancellation (a shutdown)
    abandons the thread too, so a hung plugin never blocks the process's exit.
    """
    if busy and not busy[0].is_set():
        raise CredentialsTimeout(
            "the previous credentials load (exec credential plugin) has still not finished"
        )
    busy.clear()
    done = threading.Event()

    def run() -> _T:
        try:
            return load()
        finally:
            done.set()

    with trio.move_on_after(timeout):
        try:
            return await trio.to_thread.run_sync(run, abandon_on_cancel=True)
        except trio.Cancelled:
            if not done.is_set():
                busy.append(done)
            raise
    busy.append(done)
    raise CredentialsTimeout(
        f"loading credentials took longer than {timeout:g}s"
        " (is the exec credential plugin waiting for input?)"
    )


class Credentials(Protocol):
    """What :class:`~vk_trio.kube.KubeClient` needs from an authentication source."""

    async def authorization(self) -> str | None:
        """The ``Authorization`` header value to send now (``None``: send none)."""
        ...

    async def refresh(self, rejected: str | None) -> bool:
        """The server answered 401 to ``rejected``: renew; True if there is something new to try."""
        ...


@final
class StaticCredentials:
    """A fixed ``Authorization`` header (or none), e.g. for tests and local servers."""

    def __init__(self, authorization: str | None = None) -> None:
        self._authorization = authorization

    async def authorization(self) -> str | None:
        return self._authorization

    async def refresh(self, rejected: str | None) -> bool:
        await trio.lowlevel.checkpoint()
        return False


class _Snapshot:
    """What one run of the loader produced."""

    __slots__ = ("authorization", "cert_file", "expiry", "key_file")

    def __init__(
        self,
        authorization: str | None,
        cert_file: str | None,
        key_file: str | None,
        expiry: datetime.datetime | None,
    ) -> None:
        self.authorization = authorization
        self.cert_file = cert_file
        self.key_file = key_file
        self.expiry = expiry


def _normalise(header: Any) -> str | None:
    """The loaders spell the scheme ``Bearer``/``bearer`` and may keep a trailing newline."""
    if not isinstance(header, str) or not header.strip():
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        value = value.strip()
        return f"Bearer {value}" if value else None
    return header.strip()


@final
class LoaderCredentials:
    """Credentials produced by a ``kubernetes.config`` loader, refreshed per the module rules.

    ``load`` is a blocking function returning the loader's current view as a
    ``kubernetes.client.Configuration``-like object (``api_key``,
    ``cert_file``, ``key_file``) plus the expiry; it is run in a worker thread.
    ``ssl_context`` is re-loaded with the new client certificate when a
    refresh changes it, and ``on_tls_change`` callbacks run after that (the
    client drops idle connections so that new ones present the new cert).
    """

    def __init__(
        self,
        load: Callable[[], tuple[Any, datetime.datetime | None]],
        *,
        file_based: bool,
        ssl_context: ssl.SSLContext | None = None,
        initial: tuple[Any, datetime.datetime | None] | None = None,
        load_timeout: float = LOAD_TIMEOUT,
    ) -> None:
        self._load = load
        self._load_timeout = load_timeout
        self._abandoned: list[threading.Event] = []
        self._file_based = file_based
        self._ssl_context = ssl_context
        self._lock = trio.Lock()
        self._current: _Snapshot | None = None
        self._due = float("-inf")
        self._listeners: list[Callable[[], None]] = []
        self.refreshes = 0
        if initial is not None:
            self._current = self._snapshot(*initial)

    @staticmethod
    def _snapshot(config: Any, expiry: datetime.datetime | None) -> _Snapshot:
        api_key = getattr(config, "api_key", None) or {}
        return _Snapshot(
            _normalise(api_key.get("BearerToken")),
            getattr(config, "cert_file", None) or None,
            getattr(config, "key_file", None) or None,
            expiry,
        )

    def on_tls_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a refresh changed the client certificate."""
        self._listeners.append(callback)

    @property
    def client_certificate(self) -> tuple[str, str] | None:
        """The (cert file, key file) in use, if any."""
        snap = self._current
        if snap is None or snap.cert_file is None or snap.key_file is None:
            return None
        return snap.cert_file, snap.key_file

    def _schedule(self, snap: _Snapshot) -> None:
        now = trio.current_time()
        due = float("inf")
        if self._file_based:
            due = now + FILE_REFRESH_PERIOD
        if snap.expiry is not None:
            remaining = (snap.expiry - datetime.datetime.now(datetime.UTC)).total_seconds()
            early = min(_MAX_EARLY, max(remaining, 0.0) * 0.1)
            due = min(due, now + max(remaining - early, _MIN_INTERVAL))
        self._due = due

    async def _reload(self) -> None:
        config, expiry = await load_in_thread(
            self._load, timeout=self._load_timeout, busy=self._abandoned
        )
        snap = self._snapshot(config, expiry)
        previous = self._current
        self._current = snap
        self.refreshes += 1
        self._schedule(snap)
        cert_changed = previous is not None and (
            (previous.cert_file, previous.key_file) != (snap.cert_file, snap.key_file)
        )
        if cert_changed and self._ssl_context is not None and snap.cert_file and snap.key_file:
            self._ssl_context.load_cert_chain(snap.cert_file, snap.key_file)
            for callback in self._listeners:
                callback()

    async def authorization(self) -> str | None:
        if trio.current_time() < self._due and self._current is not None:
            return self._current.authorization
        async with self._lock:
            # Another task may have refreshed while we waited for the lock.
            if trio.current_time() >= self._due or self._current is None:
                try:
                    await self._reload()
                except Exception as exc:
                    if self._current is None:
                        raise
                    # Keep using what we have (it may well still be valid) and try again soon,
                    # as client-go does with a token file that is briefly missing mid-rotation.
                    logger.warning("refreshing credentials failed, keeping the old ones: %s", exc)
                    self._due = trio.current_time() + _RETRY_FAILED
        assert self._current is not None
        return self._current.authorization

    async def refresh(self, rejected: str | None) -> bool:
        async with self._lock:
            current = self._current.authorization if self._current is not None else None
            if current != rejected:
                return True  # somebody refreshed since the rejected request was sent
            previous_cert = self.client_certificate
            await self._reload()
            assert self._current is not None
            return (
                self._current.authorization != rejected or self.client_certificate != previous_cert
            )

    def prime(self) -> None:
        """Schedule the next refresh for the initial credentials (called once, in trio)."""
        if self._current is not None and self._due == float("-inf"):
            self._schedule(self._current)
