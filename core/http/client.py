"""Outbound HTTP for fetching what others publish (status lists, issuer metadata).

Every request is guarded the same way, whoever asks:

- only ``https`` URLs, except the deployment's own origin (served in process) and exact
  ``host:port`` exceptions a development set-up names (``IDWALLET_OUTBOUND_ALLOW``);
- the host name is resolved once and every address must be public (no loopback, private,
  link-local, multicast, reserved or unspecified ranges), and the connection goes to the
  address that was checked, so a DNS answer that changes between check and connect
  (rebinding) cannot point it inward; TLS still verifies the certificate for the name;
- redirects only where the caller allows them, each target checked like the first URL;
  the body is read up to a cap and no further;
- time is bounded three ways, so a slow peer cannot hold a caller open: each connect and
  read has its own timeout; the whole exchange (resolving, connecting, sending, the answer's
  headers and every byte of its body, and every redirect followed) has one deadline
  (``IDWALLET_OUTBOUND_DEADLINE``); and once the answer's headers are in, its body must
  arrive at a minimum rate (``IDWALLET_OUTBOUND_MIN_RATE`` bytes per second, after a short
  grace period), so a peer that trickles a byte now and then is dropped long before the
  deadline. A peer's think time before its headers counts against the deadline only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

DEFAULT_TIMEOUT = 5.0
DEFAULT_DEADLINE = 10.0
DEFAULT_MIN_RATE = 1024.0
DEFAULT_RATE_GRACE = 2.0
DEFAULT_MAX_BYTES = 1024 * 1024


class OutboundRefused(Exception):
    """The URL or the address behind it is not one we fetch from."""


class OutboundFailed(Exception):
    """The fetch was attempted and did not give a usable answer; ``status`` is the HTTP
    status when the peer answered with one that was not accepted."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse_exception(entry: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) of an exact outbound exception."""
    host, sep, port = entry.strip().rpartition(":")
    host = host.strip("[]").lower()
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{entry!r} is not host:port")
    return host, int(port)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address."""

    def __init__(
        self, inner: httpcore.AsyncNetworkBackend, exceptions: frozenset[tuple[str, int]]
    ) -> None:
        self._inner = inner
        self._exceptions = exceptions

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if (host.lower().strip("[]"), port) in self._exceptions:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses or not all(_public(a) for a in addresses):
            raise OutboundRefused(f"{host} does not resolve to public addresses only")
        return await self._inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are not fetched from")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    url: str
    content_type: str
    body: bytes
    headers: Mapping[str, str]
    status: int = 200


REDIRECTS = frozenset({301, 302, 303, 307, 308})


class OutboundClient:
    """Outbound HTTP through the guard. ``local`` maps origins this deployment serves
    itself (``http://127.0.0.1:8000``) to a transport that reaches them without the network
    guard (the application's own routes, in process). ``exceptions`` names exact
    ``host:port`` pairs that may be reached on private addresses and over plain ``http``
    (development peers); there is no way to open a whole range.

    ``timeout`` bounds each connect and each read, ``deadline`` the whole exchange;
    ``min_rate`` (bytes per second, 0 for none) is what an answer's body must keep up once
    ``rate_grace`` seconds have passed since its headers arrived."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        min_rate: float = DEFAULT_MIN_RATE,
        rate_grace: float = DEFAULT_RATE_GRACE,
        local: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        exceptions: Iterable[str] = (),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the TLS context of every connection over the network (a client
        certificate and the peer's CA, for mutual TLS); the system's defaults if None."""
        if deadline <= 0 or min_rate < 0 or rate_grace < 0:
            raise ValueError("the deadline must be positive, the rate and its grace not negative")
        self._timeout = timeout
        self._deadline = deadline
        self._min_rate = min_rate
        self._rate_grace = rate_grace
        self._local = {origin.rstrip("/").lower(): t for origin, t in (local or {}).items()}
        self._exceptions = frozenset(parse_exception(e) for e in exceptions)
        transport = (
            httpx.AsyncHTTPTransport(retries=0)
            if tls is None
            else httpx.AsyncHTTPTransport(retries=0, verify=tls)
        )
        pool = transport._pool  # the connection pool whose network backend we guard
        pool._network_backend = _GuardedBackend(pool._network_backend, self._exceptions)
        self._network = httpx.AsyncClient(
            transport=transport, follow_redirects=False, timeout=timeout, trust_env=False
        )
        self._locals = {
            origin: httpx.AsyncClient(
                transport=t, base_url=origin, follow_redirects=False, timeout=timeout
            )
            for origin, t in self._local.items()
        }

    def serves_locally(self, url: str) -> bool:
        """Whether ``url`` is on an origin this deployment serves itself, in process."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        return f"{parts.scheme}://{parts.netloc}".lower() in self._locals

    def check_url(self, url: str) -> None:
        """Raise :class:`OutboundRefused` for a URL this client would never reach (before
        any DNS lookup: scheme, credentials, host); the address is checked on connect."""
        self._client_for(url)

    async def vet(self, url: str) -> None:
        """Everything :meth:`check_url` does, and the host resolved now to public addresses
        only, so a URL that will be used later (a ``response_uri``) is refused up front;
        the connection itself is checked again when it is made."""
        client = self._client_for(url)
        if client is not self._network:
            return
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or _default_port(parts.scheme)
        if (host, port) in self._exceptions:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), self._timeout
            )
        except (OSError, TimeoutError) as exc:
            raise OutboundFailed(f"cannot resolve {host}") from exc
        if not infos or not all(_public(str(info[4][0])) for info in infos):
            raise OutboundRefused(f"{host} does not resolve to public addresses only")

    def _client_for(self, url: str) -> httpx.AsyncClient:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise OutboundRefused("the URL is malformed") from exc
        if parts.username or parts.password:
            raise OutboundRefused("URLs with credentials are not fetched")
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if origin in self._locals:
            return self._locals[origin]
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http"):
            raise OutboundRefused("only https URLs are fetched")
        if not host:
            raise OutboundRefused("the URL has no host")
        excepted = (host, port or _default_port(parts.scheme)) in self._exceptions
        if parts.scheme == "https" or excepted:
            return self._network
        raise OutboundRefused("only https URLs are fetched")

    async def fetch(
        self,
        url: str,
        *,
        accept: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 0,
    ) -> FetchedDocument:
        """GET ``url``; anything but 200 fails. Up to ``max_redirects`` redirects are
        followed, each target checked like the first URL, all within one deadline."""
        deadline_at = asyncio.get_running_loop().time() + self._deadline
        for _ in range(max_redirects + 1):
            answer = await self._exchange(
                "GET", url, accept=accept, max_bytes=max_bytes, deadline_at=deadline_at
            )
            location = answer.headers.get("location")
            if answer.status in REDIRECTS and location and max_redirects:
                url = urljoin(url, location)
                continue
            if answer.status != 200:
                raise OutboundFailed(f"{url} answered {answer.status}", status=answer.status)
            return answer
        raise OutboundFailed(f"{url} redirected too often")

    async def send(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        form: Mapping[str, str] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> FetchedDocument:
        """One request through the guard, whatever the status; the body (a form, JSON, or
        ``content`` as given, its type in ``headers``) is sent as it is, the answer's body is
        capped and the exchange bounded by the deadline and the minimum rate."""
        return await self._exchange(
            method,
            url,
            accept=accept,
            form=form,
            json_body=json_body,
            content=content,
            headers=headers,
            max_bytes=max_bytes,
            deadline_at=asyncio.get_running_loop().time() + self._deadline,
        )

    def _body_due(self, headers_at: float, received: int, deadline_at: float) -> float:
        """When the body must be complete unless more of it arrives: the grace period, or
        as long as what arrived so far buys at the minimum rate; never past the deadline."""
        if not self._min_rate:
            return deadline_at
        return min(deadline_at, headers_at + max(self._rate_grace, received / self._min_rate))

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        deadline_at: float,
        form: Mapping[str, str] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> FetchedDocument:
        client = self._client_for(url)
        request_headers = {"Accept": accept, "Accept-Encoding": "identity", **(headers or {})}
        loop = asyncio.get_running_loop()
        window = asyncio.timeout_at(deadline_at)
        try:
            async with (
                window,
                client.stream(
                    method,
                    url,
                    headers=request_headers,
                    data=dict(form) if form is not None else None,
                    json=json_body,
                    content=content,
                ) as response,
            ):
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise OutboundFailed(f"{url} is larger than {max_bytes} bytes")
                headers_at = loop.time()
                window.reschedule(self._body_due(headers_at, 0, deadline_at))
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():  # decoded incrementally, capped
                    size += len(chunk)
                    if size > max_bytes:
                        raise OutboundFailed(f"{url} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                    window.reschedule(self._body_due(headers_at, size, deadline_at))
                window.reschedule(deadline_at)
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return FetchedDocument(
                    url,
                    content_type.lower(),
                    b"".join(chunks),
                    response.headers,
                    response.status_code,
                )
        except OutboundRefused:
            raise
        except TimeoutError as exc:
            if not window.expired():
                raise OutboundFailed(f"{url} could not be reached: timeout") from exc
            when = window.when()
            if when is not None and when < deadline_at:
                raise OutboundFailed(
                    f"{url} sent its answer slower than {self._min_rate:g} bytes per second"
                ) from exc
            raise OutboundFailed(f"{url} did not answer within {self._deadline:g} s") from exc
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, OutboundRefused):
                raise exc.__cause__ from None
            raise OutboundFailed(f"{url} could not be reached: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._network.aclose()
        for client in self._locals.values():
            await client.aclose()
