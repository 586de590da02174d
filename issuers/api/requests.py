"""Reading protocol requests safely: bounded bodies, strict JSON, form encoding, bearer
tokens (RFC 6750 §2.1 header only; a token in the query is refused, §2.3 is not offered)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from litestar import Request

from core.encoding import StrictJsonError, strict_json_object
from core.errors import InvalidRequest, InvalidToken, PayloadTooLarge, ProtocolError

MAX_FORM_BYTES = 8 * 1024
MAX_JSON_BYTES = 128 * 1024


def _media_type(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body(request: Request[Any, Any, Any], limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    return body


async def form_body(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")
    body = await _body(request, MAX_FORM_BYTES)
    try:
        return parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=32
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the form body is malformed") from exc


async def json_body(
    request: Request[Any, Any, Any], error: type[ProtocolError] = InvalidRequest
) -> dict[str, Any]:
    if _media_type(request) != "application/json":
        raise error("the body must be application/json")
    body = await _body(request, MAX_JSON_BYTES)
    try:
        return strict_json_object(body, max_bytes=MAX_JSON_BYTES)
    except StrictJsonError as exc:
        raise error(f"the body is not acceptable JSON: {exc}") from exc


def etag_matches(request: Request[Any, Any, Any], etag: str) -> bool:
    """RFC 9110 §13.1.2 ``If-None-Match``: ``*`` or a list of entity tags, compared weakly."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def bearer_token(request: Request[Any, Any, Any]) -> str:
    if "access_token" in request.query_params:
        raise InvalidToken("send the access token in the Authorization header")
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise InvalidToken("a bearer access token is required")
    return token
