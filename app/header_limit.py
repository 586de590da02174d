"""Oversized request headers: a request whose header section is larger than 32 KiB is
answered 431 Request Header Fields Too Large (RFC 6585 §5) before routing, so no handler,
middleware or log line ever parses it. The HTTP server reads header sections of any size;
this is where the line is drawn.

The size counted is the header section as it travels in HTTP/1.1 (RFC 9112 §5): each
field line ``name: value`` with its CRLF.
"""

from __future__ import annotations

import logging

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

from core.encoding import json_dumps_bytes
from core.errors import InvalidRequest

MAX_HEADER_SECTION_BYTES = 32 * 1024
log = logging.getLogger("idwallet.access")


def header_section_bytes(scope: Scope) -> int:
    return sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


def refuse_oversized_headers(app: ASGIApp, limit: int = MAX_HEADER_SECTION_BYTES) -> ASGIApp:
    """The outermost ASGI layer: 431 with an OAuth error body above ``limit`` bytes."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            size = header_section_bytes(scope)
            if size > limit:
                log.info("refused a header section of %d bytes (431)", size)
                body = json_dumps_bytes(
                    InvalidRequest(
                        f"the request's header section is larger than {limit} bytes"
                    ).to_body()
                )
                start: HTTPResponseStartEvent = {
                    "type": "http.response.start",
                    "status": 431,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode("ascii")),
                        (b"cache-control", b"no-store"),
                        (b"connection", b"close"),
                    ],
                }
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
        await app(scope, receive, send)

    return guard
