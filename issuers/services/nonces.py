"""The Nonce Endpoint (OpenID4VCI 1.0 §7): single-use ``c_nonce`` values with a lifetime.

A ``c_nonce`` carries its own expiry and a MAC under the deployment secret, bound to the
agency, so handing one out touches no database and any worker can check one. That it is
used only once is recorded in the same transaction that issues the credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from core.encoding import EncodingError, b64url_decode, b64url_encode
from core.errors import InvalidNonce
from issuers.services.context import IssuerContext

_VERSION = b"\x01"
_RANDOM_BYTES = 16
_MAC_BYTES = 16
_LENGTH = 1 + 8 + _RANDOM_BYTES + _MAC_BYTES


def _mac(secret: bytes, issuer_id: str, body: bytes) -> bytes:
    message = b"idwallet c_nonce\x00" + issuer_id.encode() + b"\x00" + body
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


async def new_c_nonce(context: IssuerContext, issuer_id: str) -> str:
    context.agency(issuer_id)
    expires_at = int(context.clock.now() + context.policy.nonce_lifetime)
    body = _VERSION + expires_at.to_bytes(8, "big", signed=True) + os.urandom(_RANDOM_BYTES)
    return b64url_encode(body + _mac(context.secret, issuer_id, body))


def check_c_nonce(context: IssuerContext, issuer_id: str, nonce: str) -> float:
    """The nonce's expiry if it is this agency's and still fresh; ``InvalidNonce`` if not.
    (Whether it was used before is settled when the credentials are recorded.)"""
    try:
        raw = b64url_decode(nonce) if len(nonce) < 128 else b""
    except EncodingError:
        raw = b""
    if len(raw) != _LENGTH or raw[:1] != _VERSION:
        raise InvalidNonce("the c_nonce is not valid; fetch a fresh one from the nonce endpoint")
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(context.secret, issuer_id, body)):
        raise InvalidNonce("the c_nonce is not valid; fetch a fresh one from the nonce endpoint")
    expires_at = int.from_bytes(body[1:9], "big", signed=True)
    if expires_at <= context.clock.now():
        raise InvalidNonce("the c_nonce has expired; fetch a fresh one from the nonce endpoint")
    return float(expires_at)
