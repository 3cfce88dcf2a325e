"""Who is calling, and may they: the kubelet API's authentication and authorization.

Three modes, chosen once at start-up (:class:`AuthMode`):

``locked`` (no client CA, anonymous auth off - the default without a CA)
    Every request is 401.  The Go Virtual Kubelet lets
    everybody in here; we do not, because a kubelet port open to anyone is remote code
    execution on every pod of the node.
``anonymous`` (no client CA, ``--anonymous-auth``)
    Everybody is ``system:anonymous`` and everything is allowed (the Go behaviour, opt-in).
``webhook`` (a client CA)
    Client certificates verified against the CA by the TLS layer give the user (CN) and groups
    (O); otherwise an ``Authorization: Bearer`` token is checked with a ``TokenReview`` (a client
    without a certificate may still connect, unlike Go, which requires one when a CA is set);
    with neither, the request is 401 unless anonymous auth is on.  Every request is then
    authorized with a ``SubjectAccessReview`` on ``nodes/<subresource>`` of this node, the verb
    from the HTTP method and the subresource from the path, as the kubelet maps them.

Reviews are what an unauthenticated caller can make us do (one per request with a new bearer
token), so they are bounded three ways: they run on an API client of their own (its own rate
budget and connection pool, see :func:`~vk_trio.api.open_review_client`), so a flood cannot
delay the controllers' or the heartbeats' requests; at most ``max_reviews_in_flight`` run at
once and a request that would need one more is answered 429 with ``Retry-After: 1`` at once
(never queued); and concurrent requests that need the same review (one token, one decision)
share one call to the API server.

Decisions are cached with the upstream TTLs: token reviews 2 minutes, allowed 5 minutes, denied
30 seconds; API failures are retried (500 ms, x1.5, jitter 0.2, 5 tries) and never cached.
Failures answer as upstream: 401 ``Unauthorized``, 403 ``Forbidden``, 500 with the error text.
``/healthz`` is authenticated and authorized like every other path (``nodes/proxy``), as the
kubelet does on its secure port: probes use the metrics port's ``/healthz``, which says nothing
about pods.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Any, Generic, Protocol, TypeVar, final

import attrs
import orjson
import trio

from vk_trio import tracing
from vk_trio.kube import (
    ApiConnectionError,
    ApiError,
    InternalError,
    ServerTimeout,
    TooManyRequests,
)

from ..util import Backoff, retry
from ._cache import CacheStatistics, TtlCache
from ._http import HttpError, PeerIdentity, RequestHead

__all__ = [
    "ANONYMOUS",
    "AuthMode",
    "AuthStatistics",
    "KubeletAuth",
    "ReviewClient",
    "User",
    "request_attributes",
]

logger = logging.getLogger(__name__)

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"

T = TypeVar("T")

_VERBS = {"POST": "create", "GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@final
@attrs.frozen
class User:
    """An authenticated (or anonymous) caller."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, hash=False)

    def cache_key(self) -> bytes:
        return orjson.dumps(
            [self.name, self.uid, list(self.groups), sorted(self.extra.items())],
        )


ANONYMOUS = User("system:anonymous", (UNAUTHENTICATED_GROUP,))


class AuthMode(enum.Enum):
    LOCKED = "locked"
    ANONYMOUS = "anonymous"
    WEBHOOK = "webhook"


class ReviewClient(Protocol):
    """What the auth layer needs from the API client (``vk_trio.kube.KubeClient`` fits)."""

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]: ...


@final
@attrs.frozen
class AuthStatistics:
    token_reviews: int
    access_reviews: int
    review_errors: int
    token_cache: CacheStatistics
    decision_cache: CacheStatistics
    #: Reviews running now, and requests refused (429) because the bound was reached.
    reviews_in_flight: int = 0
    reviews_refused: int = 0
    #: Requests that waited for a concurrent identical review instead of making their own.
    reviews_shared: int = 0


def too_many_reviews() -> HttpError:
    return HttpError(
        429,
        "Too many requests, please try again later.",
        headers=[("Retry-After", "1")],
    )


@final
class _Flight(Generic[T]):
    """One review in progress that concurrent identical requests wait for."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: tuple[T] | None = None
        self.error: Exception | None = None


def request_attributes(method: str, path: str) -> tuple[str, str]:
    """``(verb, subresource)`` of ``nodes/<subresource>`` for a request, as the kubelet maps
    them: POST create, GET get, PUT update, PATCH patch, DELETE delete (else ``""``);
    ``/stats[/...]`` stats, ``/metrics[/...]`` metrics, ``/logs[/...]`` log, anything else
    (``/healthz`` included) proxy.  The prefixes match whole path segments: ``/metricsX`` is
    ``proxy``, not ``metrics`` - a grant of the weaker subresource must not open a route that
    merely shares its first letters."""
    verb = _VERBS.get(method.upper(), "")
    if _is_subpath(path, "/stats"):
        subresource = "stats"
    elif _is_subpath(path, "/metrics"):
        subresource = "metrics"
    elif _is_subpath(path, "/logs"):
        subresource = "log"
    else:
        subresource = "proxy"
    return verb, subresource


def _is_subpath(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _bearer_token(head: RequestHead) -> str | None:
    value = head.header("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _with_authenticated_group(user: User) -> User:
    if AUTHENTICATED_GROUP in user.groups:
        return user
    return attrs.evolve(user, groups=(*user.groups, AUTHENTICATED_GROUP))


def _retriable(error: BaseException) -> bool:
    if isinstance(error, ApiConnectionError | TooManyRequests | ServerTimeout | InternalError):
        return True
    return isinstance(error, ApiError) and error.status_code >= 500


@final
class KubeletAuth:
    """Authentication and authorization for one kubelet server (see the module docstring)."""

    def __init__(
        self,
        *,
        node_name: str,
        client_ca: bool,
        anonymous: bool,
        client: ReviewClient | None = None,
        token_ttl: float = 120.0,
        allowed_ttl: float = 300.0,
        denied_ttl: float = 30.0,
        cache_size: int = 4096,
        retry_steps: int = 5,
        retry_delay: float = 0.5,
        retry_factor: float = 1.5,
        retry_jitter: float = 0.2,
        max_reviews_in_flight: int = 64,
    ) -> None:
        if client_ca and client is None:
            raise ValueError("a client CA needs an API client for TokenReview/SubjectAccessReview")
        self.node_name = node_name
        self.anonymous = anonymous
        if client_ca:
            self.mode = AuthMode.WEBHOOK
        elif anonymous:
            self.mode = AuthMode.ANONYMOUS
        else:
            self.mode = AuthMode.LOCKED
        self._client = client
        self._token_ttl = token_ttl
        self._allowed_ttl = allowed_ttl
        self._denied_ttl = denied_ttl
        self._tokens: TtlCache[bytes, tuple[User | None]] = TtlCache(cache_size)
        self._decisions: TtlCache[bytes, bool] = TtlCache(cache_size)
        self._retry_steps = retry_steps
        self._backoff = Backoff(retry_delay, factor=retry_factor, jitter=retry_jitter)
        self._token_reviews = self._access_reviews = self._review_errors = 0
        self._max_in_flight = max_reviews_in_flight
        self._in_flight = self._refused = self._shared = 0
        self._token_flights: dict[bytes, _Flight[User | None]] = {}
        self._decision_flights: dict[bytes, _Flight[bool]] = {}

    def describe(self) -> str:
        """One line for the start-up log saying who gets in."""
        if self.mode is AuthMode.LOCKED:
            return (
                "kubelet API auth: LOCKED - no client CA and anonymous auth off: every request "
                "gets 401 (set --client-ca-file or "
                "APISERVER_CA_CERT_LOCATION, or --anonymous-auth)"
            )
        if self.mode is AuthMode.ANONYMOUS:
            return (
                "kubelet API auth: ANONYMOUS - no client CA and --anonymous-auth: every request "
                "is allowed as system:anonymous"
            )
        anonymous = "allowed (then authorized)" if self.anonymous else "refused (401)"
        return (
            "kubelet API auth: WEBHOOK - client certificates verified against the client CA, "
            "bearer tokens via TokenReview, every request authorized with SubjectAccessReview "
            f"on nodes/{self.node_name}; anonymous requests {anonymous}"
        )

    def statistics(self) -> AuthStatistics:
        return AuthStatistics(
            token_reviews=self._token_reviews,
            access_reviews=self._access_reviews,
            review_errors=self._review_errors,
            token_cache=self._tokens.statistics(),
            decision_cache=self._decisions.statistics(),
            reviews_in_flight=self._in_flight,
            reviews_refused=self._refused,
            reviews_shared=self._shared,
        )

    async def check(self, head: RequestHead) -> User:
        """Authenticate and authorize ``head``; raise :class:`HttpError` 401/403/500."""
        if self.mode is AuthMode.LOCKED:
            await trio.lowlevel.checkpoint()
            raise HttpError(401, "Unauthorized")
        if self.mode is AuthMode.ANONYMOUS:
            await trio.lowlevel.checkpoint()
            return ANONYMOUS
        user = await self.authenticate(head.peer, _bearer_token(head))
        if user is None:
            if not self.anonymous:
                raise HttpError(401, "Unauthorized")
            user = ANONYMOUS
        verb, subresource = request_attributes(head.method, head.path)
        try:
            allowed = await self.authorize(user, verb, subresource)
        except (ApiError, ValueError) as exc:
            logger.warning("authorization of %s failed: %s", user.name, exc)
            raise HttpError(500, str(exc)) from exc
        if not allowed:
            logger.info(
                "forbidden: user=%s verb=%s resource=nodes subresource=%s",
                user.name,
                verb,
                subresource,
            )
            raise HttpError(403, "Forbidden")
        return user

    async def authenticate(self, peer: PeerIdentity | None, token: str | None) -> User | None:
        """The caller, from its verified certificate or else its token; ``None`` if neither
        identifies it (or the token review failed - logged, answered 401)."""
        if peer is not None and peer.user:
            await trio.lowlevel.checkpoint()
            return _with_authenticated_group(User(peer.user, tuple(peer.groups)))
        if token is None:
            await trio.lowlevel.checkpoint()
            return None
        key = hashlib.sha256(token.encode()).digest()
        cached = self._tokens.get(key)
        if cached is not None:
            await trio.lowlevel.checkpoint()
            return cached[0]

        async def review() -> User | None:
            user = await self._bounded(self._review_token(token))
            # Rejections are cached like successes (upstream uses one TTL for both); errors
            # are not.
            self._tokens.put(key, (user,), self._token_ttl)
            return user

        try:
            return await self._shared_flight(self._token_flights, key, review)
        except (ApiError, ValueError) as exc:
            logger.warning("token review failed: %s", exc)
            return None

    async def authorize(self, user: User, verb: str, subresource: str) -> bool:
        """Ask the API server whether ``user`` may ``verb`` ``nodes/<subresource>`` of this
        node; cached (allowed 5 min, denied 30 s)."""
        key = orjson.dumps([user.cache_key().decode(), verb, subresource])
        cached = self._decisions.get(key)
        if cached is not None:
            await trio.lowlevel.checkpoint()
            return cached

        async def review() -> bool:
            allowed = await self._bounded(self._review_access(user, verb, subresource))
            self._decisions.put(key, allowed, self._allowed_ttl if allowed else self._denied_ttl)
            return allowed

        return await self._shared_flight(self._decision_flights, key, review)

    async def _bounded(self, review: Coroutine[Any, Any, T]) -> T:
        """Run ``review`` if fewer than ``max_reviews_in_flight`` run; else 429 at once."""
        if self._in_flight >= self._max_in_flight:
            self._refused += 1
            review.close()  # never started
            await trio.lowlevel.checkpoint()
            raise too_many_reviews()
        self._in_flight += 1
        try:
            return await review
        finally:
            self._in_flight -= 1

    async def _shared_flight(
        self, flights: dict[bytes, _Flight[T]], key: bytes, work: Callable[[], Awaitable[T]]
    ) -> T:
        """``work()``, unless the same review is already running: then wait for its result
        (or its error).  A follower whose leader was cancelled runs the review itself."""
        while (flight := flights.get(key)) is not None:
            self._shared += 1
            await flight.done.wait()
            if flight.value is not None:
                return flight.value[0]
            if flight.error is not None:
                raise flight.error
        flight = _Flight[T]()
        flights[key] = flight
        try:
            value = await work()
        except Exception as exc:
            flight.error = exc
            raise
        else:
            flight.value = (value,)
            return value
        finally:
            del flights[key]
            flight.done.set()

    async def _create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        assert self._client is not None

        def log_retry(error: Exception, _attempt: int, delay: float) -> None:
            self._review_errors += 1
            logger.info("%s failed (%s); retrying in %.2fs", path, error, delay)

        try:
            return await retry(
                partial(self._client.create, path, body),
                backoff=self._backoff,
                retryable=_retriable,
                max_attempts=self._retry_steps,
                on_retry=log_retry,
            )
        except ApiError:
            self._review_errors += 1
            raise

    async def _review_token(self, token: str) -> User | None:
        with tracing.span("kubelet_api.token_review", kind="client"):
            return await self._review_token_once(token)

    async def _review_token_once(self, token: str) -> User | None:
        self._token_reviews += 1
        review = await self._create(
            TOKEN_REVIEW_PATH,
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            },
        )
        status = review.get("status") or {}
        if not status.get("authenticated"):
            return None
        info = status.get("user") or {}
        name = info.get("username") or ""
        if not name:
            return None
        extra = {
            str(k): tuple(str(v) for v in vs or ()) for k, vs in (info.get("extra") or {}).items()
        }
        user = User(
            name, tuple(str(g) for g in info.get("groups") or ()), str(info.get("uid") or ""), extra
        )
        return _with_authenticated_group(user)

    async def _review_access(self, user: User, verb: str, subresource: str) -> bool:
        attributes = {"user.name": user.name, "verb": verb, "subresource": subresource}
        with tracing.span("kubelet_api.subject_access_review", attributes, kind="client") as span:
            allowed = await self._review_access_once(user, verb, subresource)
            if span is not None:
                span.set_attribute("allowed", allowed)
            return allowed

    async def _review_access_once(self, user: User, verb: str, subresource: str) -> bool:
        self._access_reviews += 1
        spec: dict[str, Any] = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": {
                "namespace": "",
                "verb": verb,
                "group": "",
                "version": "v1",
                "resource": "nodes",
                "subresource": subresource,
                "name": self.node_name,
            },
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        review = await self._create(
            ACCESS_REVIEW_PATH,
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
        )
        status = review.get("status") or {}
        return bool(status.get("allowed")) and not status.get("denied")
