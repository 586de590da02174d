"""What verifiers and wallets fetch from issuers, through the deployment's outbound client (SSRF
guard, size caps, no redirects): status list tokens, cached for their ``ttl`` (Token Status
List §8.2, §13.7), and JWT VC Issuer Metadata with its JWK Set, cached for a few minutes.
Concurrent requests for the same document share one fetch."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from core.encoding import EncodingError, b64url_decode, strict_json_loads, strict_json_object
from core.http.client import OutboundClient, OutboundFailed
from core.status_list.token import MAX_STATUS_LIST_TOKEN_BYTES

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
DEFAULT_TTL = 60.0
MAX_TTL = 3600.0
METADATA_TTL = 300.0
MAX_METADATA_BYTES = 256 * 1024


class _ExpiringCache:
    def __init__(self, size: int = 256) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._size = size

    async def get(self, key: str, load: Callable[[], Awaitable[tuple[Any, float]]]) -> Any:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value, lifetime = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it twice
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(value)
        self._entries[key] = (time.monotonic() + lifetime, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value


def _ttl_of(token: str) -> float:
    """The ``ttl`` claim of a status list token, read unverified only to time the cache
    (the token is verified by whoever uses it)."""
    try:
        payload = strict_json_object(b64url_decode(token.split(".")[1]), max_bytes=len(token))
    except (EncodingError, IndexError):
        return DEFAULT_TTL
    ttl = payload.get("ttl")
    if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl > 0:
        return min(float(ttl), MAX_TTL)
    return DEFAULT_TTL


class PublishedDocuments:
    """Status list tokens (the verifier's ``StatusListSource``, the wallet's live status) and
    ``fetch_json`` for issuer metadata, each cached."""

    def __init__(self, client: OutboundClient) -> None:
        self._client = client
        self._status_lists = _ExpiringCache()
        self._json = _ExpiringCache()

    async def fetch(self, uri: str) -> str:
        async def load() -> tuple[str, float]:
            document = await self._client.fetch(
                uri, accept=STATUS_LIST_MEDIA_TYPE, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES
            )
            if document.content_type != STATUS_LIST_MEDIA_TYPE:
                raise OutboundFailed(f"{uri} is not a status list token")
            try:
                token = document.body.decode("ascii").strip()
            except UnicodeDecodeError as exc:
                raise OutboundFailed(f"{uri} is not a compact JWT") from exc
            return token, _ttl_of(token)

        token: str = await self._status_lists.get(uri, load)
        return token

    async def fetch_json(self, uri: str) -> Any:
        async def load() -> tuple[Any, float]:
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
