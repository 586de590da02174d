"""A lean HTTP/1.1 client for the load generator: one keep-alive connection per virtual
wallet, requests written and responses read with asyncio streams. It does only what the
benchmark needs (Content-Length bodies, no TLS, no redirects), so that at 64 wallets the
figures measure the server rather than the client library."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        reader, writer = await self._connect()
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self._host}:{self._port}",
            f"Content-Length: {len(body)}",
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body)
        await writer.drain()
        status_line = await reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        response_headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        length = int(response_headers.get("content-length", "0"))
        payload = await reader.readexactly(length) if length else b""
        if response_headers.get("connection", "").lower() == "close":
            writer.close()
        return Response(status, response_headers, payload)

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post_json(
        self, path: str, document: Any, headers: dict[str, str] | None = None
    ) -> Response:
        return await self.request(
            "POST",
            path,
            body=json.dumps(document).encode(),
            content_type="application/json",
            headers=headers,
        )

    async def post_form(
        self, path: str, form: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> Response:
        return await self.request(
            "POST",
            path,
            body=urlencode(form).encode(),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
