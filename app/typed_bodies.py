"""Request bodies declared as message structs (``data: CredentialRequest``) are read under
the strict JSON profile and converted with strict types before the handler runs, and a
body that is not the declared message is refused in its own family's words: the struct's
``rejection`` (``invalid_credential_request`` at the Credential Endpoint,
``invalid_request`` at the token endpoint, problem details on the operator API).

Litestar asks the request for its JSON; ``TypedBodyRequest.json()`` answers with the
declared message itself, so the framework's own conversion has nothing left to loosen.
Form bodies (the token endpoint) are parsed by the framework and refused through
``body_rejection`` when they do not convert.

A handler that also takes its message encrypted, as a compact JWE (``application/jwt``,
OpenID4VCI 1.0 §10), names in ``opt["encrypted_body"]`` the async function that opens
such a body (given the request and the body, it answers with the plaintext JSON or raises
the protocol's error); the plaintext is then read like a JSON body. Without one, any body
but ``application/json`` is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, get_args

from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.types import Empty

from core.encoding import StrictJsonError, strict_json_loads
from core.errors import InvalidRequest
from core.messages import MAX_MESSAGE_BYTES, Message, decode_message

JSON_MEDIA_TYPE = "application/json"
JWT_MEDIA_TYPE = "application/jwt"
#: The ``opt`` member naming a handler's opener of encrypted bodies.
ENCRYPTED_BODY = "encrypted_body"

EncryptedBodyOpener = Callable[[Request[Any, Any, Any], bytes], Awaitable[bytes]]


def declared_message(handler: Any) -> type[Message] | None:
    """The message struct a handler declares as its body, if it declares one."""
    if not isinstance(handler, HTTPRouteHandler):
        return None
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    for candidate in (data.annotation, *get_args(data.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Message):
            return candidate
    return None


def accepts_null(handler: Any) -> bool:
    """Whether the handler's body is optional (``JSONBody[Message | None] = None``): a JSON
    ``null`` is then the same as no body, as the document describes it."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and type(None) in get_args(data.annotation)


def encrypted_body_opener(handler: Any) -> EncryptedBodyOpener | None:
    """The handler's opener of ``application/jwt`` bodies, if it takes its message so."""
    if declared_message(handler) is None:
        return None
    opener: EncryptedBodyOpener | None = handler.opt.get(ENCRYPTED_BODY)
    return opener if callable(opener) else None


def body_rejection(handler: Any, description: str) -> Exception | None:
    """The error for a body the handler's message refuses; None for handlers without one."""
    message_type = declared_message(handler)
    return None if message_type is None else message_type.rejection(description)


class TypedBodyRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        message_type = declared_message(self.route_handler)
        media_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        opener = encrypted_body_opener(self.route_handler)
        if opener is not None and media_type == JWT_MEDIA_TYPE:
            body = await opener(self, await self.body())
        elif media_type != JSON_MEDIA_TYPE:
            description = "the body must be application/json"
            if opener is not None:
                description += " or application/jwt"
            if message_type is None:
                raise InvalidRequest(description)
            raise message_type.rejection(description)
        else:
            body = await self.body()
        limit = self.route_handler.resolve_request_max_body_size() or MAX_MESSAGE_BYTES
        if (
            message_type is not None
            and body.strip() == b"null"
            and accepts_null(self.route_handler)
        ):
            value: Any = None
        elif message_type is not None:
            value = decode_message(body, message_type, max_bytes=limit)
        else:
            try:
                value = strict_json_loads(body, max_bytes=limit)
            except StrictJsonError as exc:
                raise InvalidRequest(f"the body is not acceptable JSON: {exc}") from None
        self._json = value
        return value
