"""What verifiers and wallets fetch from issuers, through the deployment's outbound client (SSRF
guard, size caps, deadline, no redirects): status list tokens (Token Status List §8) and JWT
VC Issuer Metadata with its JWK Set, cached for a few minutes. Concurrent requests for the
same document share one fetch.

How long a status list token is used before asking for it again (§13.7, "Status List Update
Interval and Caching"): the token's ``ttl`` says when a new version may be available, its
``exp`` when it must no longer be relied upon; §8.2 gives both precedence over HTTP caching
headers. The Relying Party decides how often to check for updates within them (§13.7), so:

- Lists of other issuers are used for their ``ttl`` after they were fetched, as §13.7
  recommends to spread the load on their Status Provider, then asked for again; when the
  issuer sent an ``ETag``, that question is conditional (``If-None-Match``) and a ``304``
  keeps the token for another ``ttl``. A foreign issuer hears from each worker of this
  deployment once per ``ttl`` per list (sooner only when the token's ``exp`` comes first,
  and never more than once a second), however many presentations use it.
- Lists of this deployment's own agencies (an origin the outbound client serves in process,
  so asking costs one local request) are asked for again once ``revalidate`` seconds have
  passed (``IDWALLET_STATUS_LIST_REVALIDATE``; 0 asks on every use), never later than
  their ``ttl``: a clerk's revocation reaches every counter and wallet of the deployment
  within seconds, at the cost of one ``304`` per list per interval while nothing changed.
  The issuer's ``ETag`` names the list's version, which a status change increments in the
  same transaction, so a ``304`` never hides a revocation.
- Either way a token is never kept past its ``exp``: one about to expire is fetched
  afresh, unconditionally, and a ``304`` cannot extend it. When an issuer asked early
  cannot answer (an error, a timeout), the token it last confirmed stays in use until its
  ``ttl`` since then runs out, as it would have without the early question; after that the
  failure is the caller's.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from core.clock import SYSTEM_CLOCK, Clock
from core.encoding import EncodingError, b64url_decode, strict_json_loads, strict_json_object
from core.http.client import FetchedDocument, OutboundClient, OutboundFailed
from core.status_list.token import MAX_STATUS_LIST_TOKEN_BYTES

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
DEFAULT_TTL = 60.0
MAX_TTL = 3600.0
DEFAULT_REVALIDATE = 10.0
EXPIRY_MARGIN = 5.0  # a token this close to its exp is fetched afresh, not revalidated
MIN_LIFETIME = 1.0  # however odd a token's claims, its issuer is asked at most once a second
METADATA_TTL = 300.0
MAX_METADATA_BYTES = 256 * 1024

T = TypeVar("T")


class _SharedCache(Generic[T]):
    """Entries used until their lifetime ends, then reloaded by one caller while the others
    wait for that same load; ``load`` receives the stale entry (or None) to revalidate."""

    def __init__(self, clock: Clock, size: int = 256) -> None:
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[T]] = {}
        self._clock = clock
        self._size = size

    async def get(self, key: str, load: Callable[[T | None], Awaitable[tuple[T, float]]]) -> T:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock.now():
            return entry[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value, lifetime = await load(entry[1] if entry is not None else None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it twice
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(value)
        self._entries[key] = (self._clock.now() + lifetime, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value


@dataclass(frozen=True, slots=True)
class _CachedStatusList:
    token: str
    etag: str | None
    ttl: float
    expires_at: float | None  # the token's exp (seconds since the epoch)
    validated_at: float  # when its issuer last answered with it (200) or for it (304)

    def expiring(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= EXPIRY_MARGIN

    def revalidatable(self, now: float) -> bool:
        """Whether a ``304`` may keep this token for a while yet."""
        return self.etag is not None and not self.expiring(now)

    def within_ttl(self, now: float) -> bool:
        """Whether the token may still be used though its issuer cannot be asked now."""
        return now - self.validated_at < self.ttl and not self.expiring(now)


def _timing_of(token: str) -> tuple[float, float | None]:
    """The ``ttl`` and ``exp`` claims of a status list token, read unverified only to time
    the cache (the token is verified by whoever uses it)."""
    try:
        payload = strict_json_object(b64url_decode(token.split(".")[1]), max_bytes=len(token))
    except (EncodingError, IndexError):
        return DEFAULT_TTL, None
    ttl, exp = payload.get("ttl"), payload.get("exp")
    usable_ttl = (
        min(float(ttl), MAX_TTL)
        if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl > 0
        else DEFAULT_TTL
    )
    usable_exp = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
    return usable_ttl, usable_exp


def _status_list_from(uri: str, document: FetchedDocument, now: float) -> _CachedStatusList:
    if document.content_type != STATUS_LIST_MEDIA_TYPE:
        raise OutboundFailed(f"{uri} is not a status list token")
    try:
        token = document.body.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise OutboundFailed(f"{uri} is not a compact JWT") from exc
    ttl, expires_at = _timing_of(token)
    return _CachedStatusList(token, document.headers.get("etag"), ttl, expires_at, now)


class PublishedDocuments:
    """Status list tokens (the verifier's ``StatusListSource``, the wallet's live status) and
    ``fetch_json`` for issuer metadata, each cached. ``revalidate``: seconds a status list
    of an origin the client serves in process is used before it is asked for again."""

    def __init__(
        self,
        client: OutboundClient,
        *,
        revalidate: float = DEFAULT_REVALIDATE,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if revalidate < 0:
            raise ValueError("revalidate must not be negative")
        self._client = client
        self._revalidate = revalidate
        self._clock = clock
        self._status_lists: _SharedCache[_CachedStatusList] = _SharedCache(clock)
        self._json: _SharedCache[Any] = _SharedCache(clock)

    def _lifetime(self, uri: str, cached: _CachedStatusList, now: float) -> float:
        """Seconds the token is used before it is asked for again (see the module's text)."""
        own = self._client.serves_locally(uri)
        period = min(cached.ttl, self._revalidate) if own else cached.ttl
        if cached.expires_at is not None:
            period = min(period, cached.expires_at - now - EXPIRY_MARGIN)
        # another issuer is not asked more than once a second, whatever its claims say
        return max(period, 0.0 if own else MIN_LIFETIME)

    async def fetch(self, uri: str) -> str:
        async def load(stale: _CachedStatusList | None) -> tuple[_CachedStatusList, float]:
            now = self._clock.now()
            try:
                current = await self._ask(uri, stale, now)
            except OutboundFailed:
                # an issuer asked before its ttl ran out that cannot answer now: the token
                # it last confirmed stays usable for the rest of its ttl, as without asking
                if stale is None or not stale.within_ttl(now):
                    raise
                current = stale
            return current, self._lifetime(uri, current, now)

        cached = await self._status_lists.get(uri, load)
        return cached.token

    async def _ask(
        self, uri: str, stale: _CachedStatusList | None, now: float
    ) -> _CachedStatusList:
        """The token as its issuer has it now: conditionally when there is one to keep."""
        if stale is not None and stale.etag is not None and stale.revalidatable(now):
            answer = await self._client.send(
                "GET",
                uri,
                accept=STATUS_LIST_MEDIA_TYPE,
                headers={"If-None-Match": stale.etag},
                max_bytes=MAX_STATUS_LIST_TOKEN_BYTES,
            )
            if answer.status == 304:
                return replace(stale, validated_at=now)
            if answer.status != 200:
                raise OutboundFailed(f"{uri} answered {answer.status}")
        else:
            answer = await self._client.fetch(
                uri, accept=STATUS_LIST_MEDIA_TYPE, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES
            )
        return _status_list_from(uri, answer, now)

    async def fetch_json(self, uri: str) -> Any:
        async def load(_: Any) -> tuple[Any, float]:
            document = await self._client.fetch(
                uri, accept="application/json", max_bytes=MAX_METADATA_BYTES
            )
            if document.content_type not in ("application/json", "application/jwk-set+json"):
                raise OutboundFailed(f"{uri} is not JSON")
            try:
                return strict_json_loads(document.body, max_bytes=MAX_METADATA_BYTES), METADATA_TTL
            except EncodingError as exc:
                raise OutboundFailed(f"{uri} is not acceptable JSON") from exc

        return await self._json.get(uri, load)
