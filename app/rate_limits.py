"""Rate limits: an ASGI middleware that counts each request of a limited endpoint against
its class's budget (``app.rate_limit_policy``) and refuses it with 429 once the budget
of the current window is spent.

Headers (draft-ietf-httpapi-ratelimit-headers-11): every answer of a limited endpoint
carries ``RateLimit-Policy`` (§3, ``"token";q=60;w=60``: the class, its quota and its
window in seconds) and ``RateLimit`` (§4, ``"token";r=59``: what is left); a refusal
also carries the effective window ``t`` (§4.1.2) and ``Retry-After`` (RFC 9110 §10.2.3)
with the same number of seconds, never earlier than the window's end (§6). The body is
OAuth error JSON (``rate_limited``) like every protocol error, or problem details
(RFC 9457, the draft's ``quota-exceeded`` problem type of §5.1) on the operator and
counter APIs.

Counting is ``limits``' fixed window: one atomic increment per request in the process's
memory (the embedded default); on Redis, so the budget holds across workers and nodes,
the same atomic increment (``limits``' Lua script), one per request for quiet budgets and
by quota leases for busy ones (``app.rate_limit_leases``). The request's number in the
window is also the ``r`` of the answer. A window opens at its
key's first request and lasts the class's period; a client can at most double its quota
across a window's edge.

When the limit store (Redis) fails, requests are served unchecked for a few seconds
(fail open: a broken Redis must not stop issuance), with a warning in the log and every
unchecked request counted in ``idwallet_rate_limit_unchecked_total``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, cast

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.errors import StorageError
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

from app.observability import RATE_LIMIT_UNCHECKED, RATE_LIMITED
from app.rate_limit_leases import QuotaLeases
from app.rate_limit_policy import CLASSES, OPT_KEY, PROBLEM_DETAILS_KEY, Budget, EndpointClass
from app.settings import Settings
from core.encoding import json_dumps_bytes
from core.errors import Problem, RateLimited
from wallet.services.sessions import account_of_access_token

log = logging.getLogger("idwallet.rate_limits")

#: how long requests go unchecked after the limit store failed, before it is tried again
FAIL_OPEN_SECONDS = 5.0
#: a request waits at most this long for Redis before it is served unchecked
REDIS_TIMEOUT_SECONDS = 0.5
#: the in-process store looks for expired counters at most this often
MEMORY_SWEEP_SECONDS = 10.0
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"
#: The client of the deployment's requests to itself (the citizens' wallet fetching this
#: deployment's offers, tokens and request objects in process): never counted, since the
#: citizen's request that made them was. Recognised by identity, which no request from the
#: network can forge (the server makes a new tuple for each connection).
IN_PROCESS_CLIENT = ("127.0.0.1", 0)


def in_process_storage() -> MemoryStorage:
    """``limits``' in-process storage, sweeping expired counters at most every
    ``MEMORY_SWEEP_SECONDS`` instead of after every hit: a sweep visits every counter, so
    at every hit it would cost each request time in proportion to the number of clients
    seen (3 ms at 10,000 addresses on this project's machines). An expired counter is
    still never counted: ``limits`` checks its expiry when it is read. (The instance's
    hook is replaced rather than the class subclassed: ``limits`` wraps the storage
    methods of every subclass once more, which each request would pay for.)"""
    storage = MemoryStorage()
    sweep = storage._MemoryStorage__schedule_expiry  # type: ignore[attr-defined]
    last_sweep = -MEMORY_SWEEP_SECONDS

    async def sweep_now_and_then() -> None:
        nonlocal last_sweep
        now = time.monotonic()
        if now - last_sweep >= MEMORY_SWEEP_SECONDS:
            last_sweep = now
            await sweep()

    storage._MemoryStorage__schedule_expiry = sweep_now_and_then  # type: ignore[attr-defined]
    return storage


class PipelinedIncrements:
    """The increments of every request that reaches the limiter in one turn of the event
    loop go to Redis together: one pipeline of ``limits``' own increment script (the same
    Lua on the same keys, each still atomic) instead of one round trip each. The Redis
    client's CPU time is what limiting on Redis costs a worker; on the nonce bench
    (docs/benchmarks.md) pipelining brought it from about 250 to about 150 µs a request."""

    def __init__(self, storage: RedisStorage, client: Redis) -> None:
        self._bridge = cast(RedispyBridge, storage.bridge)
        self._client = client
        self._pending: list[tuple[str, int, int, asyncio.Future[int]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append((key, expiry, amount, future))
        if len(self._pending) == 1:  # the first of this turn: send them all on the next
            self._flushing = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            counts = await self._send(batch)
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(StorageError(exc))
            return
        except BaseException:
            for *_, future in batch:
                future.cancel()
            raise
        for (*_, future), count in zip(batch, counts, strict=True):
            if not future.done():
                future.set_result(int(count))

    async def _send(self, batch: list[tuple[str, int, int, asyncio.Future[int]]]) -> list[Any]:
        """The pipeline names the script by its digest alone; where Redis does not know it
        (its first use, a restart) the script is loaded and the batch sent again."""
        script = self._bridge.lua_incr_expire
        for attempt in (1, 2):
            pipeline = self._client.pipeline(transaction=False)
            for key, expiry, amount, _ in batch:
                pipeline.evalsha(script.sha, 1, self._bridge.prefixed_key(key), expiry, amount)
            try:
                return await pipeline.execute()
            except NoScriptError:
                if attempt == 2:
                    raise
                await self._client.script_load(script.script)
        raise AssertionError("unreachable")


def limit_storage(settings: Settings) -> tuple[Storage, ConnectionPool | None]:
    """Redis where ``IDWALLET_REDIS_URL`` names one (shared by every worker and node),
    else this process's memory."""
    if settings.redis_url is None:
        return in_process_storage(), None
    pool = ConnectionPool.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),  # fail open at once rather than hold the request
    )
    scheme = "async+redis+unix://" if settings.redis_url.startswith("unix://") else "async+"
    uri = scheme + settings.redis_url.removeprefix("unix://")
    storage = RedisStorage(
        uri,
        implementation="redispy",
        key_prefix=settings.redis_key_prefix,
        connection_pool=pool,  # type: ignore[arg-type]
    )
    return storage, pool


def client_partition(scope: Scope) -> str:
    """The client's address as the socket (or a trusted proxy, see ``idwallet serve``)
    gave it; an IPv6 client by its /64, the network one subscriber is handed."""
    client = scope.get("client")
    host = client[0] if client else "unknown"
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host[:64]
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _bearer(authorization: str | None) -> str | None:
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def principal(endpoint_class: EndpointClass, scope: Scope) -> str:
    """Whose budget the request spends: the citizen's account, the agency or relying
    party whose key it presents, or else the client's address."""
    budget = endpoint_class.budget
    if budget is not Budget.ADDRESS:
        state = scope["app"].state
        authorization = _header(scope, b"authorization")
        if budget is Budget.ACCOUNT:
            account = account_of_access_token(state.wallet, authorization)
            if account is not None:
                return f"account:{account}"
        else:
            credential = _bearer(authorization)
            name = "issuer_id" if budget is Budget.AGENCY else "verifier_id"
            access = state.operator_access if budget is Budget.AGENCY else state.counter_access
            tenant = scope["path_params"].get(name)
            if credential and isinstance(tenant, str) and access.allows(tenant, credential):
                return f"{budget.value}:{tenant}"
    return f"address:{client_partition(scope)}"


@dataclass(frozen=True, slots=True)
class _Limit:
    endpoint_class: EndpointClass
    item: RateLimitItem
    policy_header: bytes
    #: the counters' keys: the class and its rate, then whose budget
    key_prefix: str


class RateLimiter:
    """The limits of one deployment and the store that counts them."""

    def __init__(self, settings: Settings) -> None:
        self._limits: dict[str, _Limit] = {}
        for endpoint_class in CLASSES:
            item = settings.rate_limits.limit(endpoint_class.name)
            if item is not None:
                header = f'"{endpoint_class.name}";q={item.amount};w={item.get_expiry()}'
                self._limits[endpoint_class.name] = _Limit(
                    endpoint_class,
                    item,
                    header.encode("ascii"),
                    f"{endpoint_class.name}/{item.amount}/{item.get_expiry()}/",
                )
        self.storage, self._pool = limit_storage(settings)
        self._leases: QuotaLeases | None = None
        if isinstance(self.storage, RedisStorage) and self._pool is not None:
            increments = PipelinedIncrements(self.storage, Redis(connection_pool=self._pool))
            self._leases = QuotaLeases(increments.incr)
        self._unchecked_until = 0.0
        self.store = "redis" if self._pool is not None else "memory"

    @property
    def enabled(self) -> bool:
        return bool(self._limits)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def _count(self, limit: _Limit, who: str) -> tuple[int, str] | None:
        """The request's number in its window and the counter's key; None when the
        store failed (the request is then served unchecked)."""
        if self._unchecked_until and time.monotonic() < self._unchecked_until:
            RATE_LIMIT_UNCHECKED.inc()
            return None
        key = limit.key_prefix + who
        expiry = limit.item.get_expiry()
        try:
            if self._leases is not None:
                count = await self._leases.number(key, expiry, limit.item.amount)
            else:
                count = await self.storage.incr(key, expiry)
        except Exception as exc:
            self._unchecked_until = time.monotonic() + FAIL_OPEN_SECONDS
            RATE_LIMIT_UNCHECKED.inc()
            log.warning(
                "rate limits NOT ENFORCED for %.0f s: the %s limit store failed (%s: %s)",
                FAIL_OPEN_SECONDS,
                self.store,
                type(exc).__name__,
                exc,
            )
            return None
        self._unchecked_until = 0.0
        return count, key

    async def _seconds_left(self, limit: _Limit, key: str) -> int:
        try:
            ends = await self.storage.get_expiry(key)
        except Exception:
            return limit.item.get_expiry()
        return max(1, math.ceil(ends - time.time()))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Litestar middleware (it runs after routing: the route handler says its class)."""
        limits = self._limits

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["method"] == "OPTIONS":
                await app(scope, receive, send)  # preflights are answered by the framework
                return
            name = scope["route_handler"].opt.get(OPT_KEY)
            limit = limits.get(name) if name else None
            if limit is None or scope.get("client") is IN_PROCESS_CLIENT:
                await app(scope, receive, send)
                return
            counted = await self._count(limit, principal(limit.endpoint_class, scope))
            if counted is None:
                await app(scope, receive, send)
                return
            count, key = counted
            amount = limit.item.amount
            if count > amount:
                RATE_LIMITED.labels(policy=limit.endpoint_class.name).inc()
                problem = bool(scope["route_handler"].opt.get(PROBLEM_DETAILS_KEY))
                await self._refuse(limit, await self._seconds_left(limit, key), problem, send)
                return
            remaining = f'"{limit.endpoint_class.name}";r={amount - count}'.encode("ascii")

            async def send_with_limits(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [
                        *message.get("headers", ()),
                        (b"ratelimit-policy", limit.policy_header),
                        (b"ratelimit", remaining),
                    ]
                await send(message)

            await app(scope, receive, send_with_limits)

        return middleware

    async def _refuse(self, limit: _Limit, seconds: int, problem: bool, send: Send) -> None:
        name = limit.endpoint_class.name
        description = f"too many requests; retry after {seconds} seconds"
        body: dict[str, Any]
        if problem:
            body = Problem(
                429,
                "Too Many Requests",
                description,
                **{"type": QUOTA_EXCEEDED, "violated-policies": [name]},
            ).to_body()
            media_type = b"application/problem+json"
        else:
            body = RateLimited(description).to_body()
            media_type = b"application/json"
        content = json_dumps_bytes(body)
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(content)).encode("ascii")),
                (b"cache-control", b"no-store"),
                (b"retry-after", str(seconds).encode("ascii")),
                (b"ratelimit-policy", limit.policy_header),
                (b"ratelimit", f'"{name}";r=0;t={seconds}'.encode("ascii")),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": content, "more_body": False})
