"""Secrets of the pre-authorized code flow (OpenID4VCI 1.0 §3.5, §13.6).

- The pre-authorized code is derived from the offer id with an HMAC under the deployment
  secret, so it can be served again by reference while only its hash is stored.
- Transaction codes are stored as HMACs too: a copy of the database alone does not let
  anyone try the million six-digit codes offline.
- Access tokens and ``c_nonce`` values are 256 random bits, stored as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from core.encoding import b64url_encode

TOKEN_BYTES = 32


def random_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def pre_authorized_code(secret: bytes, offer_id: str) -> str:
    mac = hmac.new(secret, b"idwallet pre-authorized code\x00" + offer_id.encode(), hashlib.sha256)
    return b64url_encode(mac.digest())


def tx_code_hash(secret: bytes, offer_id: str, tx_code: str) -> str:
    message = b"idwallet tx_code\x00" + offer_id.encode() + b"\x00" + tx_code.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def new_tx_code(length: int = 6) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def issuer_state(secret: bytes, offer_id: str) -> str:
    """The ``issuer_state`` of an offer's authorization code grant (OpenID4VCI 1.0 §4.1.1):
    the offer's id with a MAC under the deployment secret, so the agency finds the offer
    again from the state alone and nobody can make one up."""
    mac = hmac.new(secret, b"idwallet issuer_state\x00" + offer_id.encode(), hashlib.sha256)
    return f"{offer_id}.{b64url_encode(mac.digest())}"


def offer_of_issuer_state(secret: bytes, state: str) -> str | None:
    """The offer id an ``issuer_state`` names, or None when it is not one of ours."""
    offer_id, _, _ = state.rpartition(".")
    if not offer_id or len(state) > 200:
        return None
    return offer_id if hmac.compare_digest(issuer_state(secret, offer_id), state) else None
