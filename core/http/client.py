"""Outbound HTTP for fetching what others publish (status lists, issuer metadata).

Every request is guarded the same way, whoever asks:

- only ``https`` URLs, except origins the deployment names as its own or as trusted
  development peers;
- the host name is resolved once and every address must be public (no loopback, private,
  link-local, multicast, reserved or unspecified ranges), and the connection goes to the
  address that was checked, so a DNS answer that changes between check and connect
  (rebinding) cannot point it inward; TLS still verifies the certificate for the name;
- no redirects; a connect/read deadline; the body is read up to a cap and no further.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 1024 * 1024


class OutboundRefused(Exception):
    """The URL or the address behind it is not one we fetch from."""


class OutboundFailed(Exception):
    """The fetch was attempted and did not give a usable answer."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, exempt_hosts: frozenset[str]) -> None:
        self._inner = inner
        self._exempt = exempt_hosts

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.lower() in self._exempt:
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


class OutboundClient:
    """``fetch(url)``: a GET through the guard. ``local`` maps origins this deployment
    serves itself (``http://127.0.0.1:8000``) to a transport that reaches them without
    the network guard (the application's own routes, in process)."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        local: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        allow_http_hosts: Iterable[str] = (),
    ) -> None:
        self._timeout = timeout
        self._local = {origin.rstrip("/").lower(): t for origin, t in (local or {}).items()}
        self._allow_http = frozenset(h.lower() for h in allow_http_hosts)
        transport = httpx.AsyncHTTPTransport(retries=0)
        pool = transport._pool  # the connection pool whose network backend we guard
        pool._network_backend = _GuardedBackend(pool._network_backend, self._allow_http)
        self._network = httpx.AsyncClient(
            transport=transport, follow_redirects=False, timeout=timeout, trust_env=False
        )
        self._locals = {
            origin: httpx.AsyncClient(
                transport=t, base_url=origin, follow_redirects=False, timeout=timeout
            )
            for origin, t in self._local.items()
        }

    def _client_for(self, url: str) -> httpx.AsyncClient:
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise OutboundRefused("URLs with credentials are not fetched")
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if origin in self._locals:
            return self._locals[origin]
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" or (parts.scheme == "http" and host in self._allow_http):
            if not host:
                raise OutboundRefused("the URL has no host")
            return self._network
        raise OutboundRefused("only https URLs are fetched")

    async def fetch(
        self, url: str, *, accept: str, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> FetchedDocument:
        client = self._client_for(url)
        try:
            async with client.stream(
                "GET", url, headers={"Accept": accept, "Accept-Encoding": "identity"}
            ) as response:
                if response.status_code != 200:
                    raise OutboundFailed(f"{url} answered {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise OutboundFailed(f"{url} is larger than {max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():  # decoded incrementally, capped
                    size += len(chunk)
                    if size > max_bytes:
                        raise OutboundFailed(f"{url} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return FetchedDocument(
                    url, content_type.lower(), b"".join(chunks), response.headers
                )
        except OutboundRefused:
            raise
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, OutboundRefused):
                raise exc.__cause__ from None
            raise OutboundFailed(f"{url} could not be fetched: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._network.aclose()
        for client in self._locals.values():
            await client.aclose()
