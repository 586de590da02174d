"""Encrypted credential requests and responses, as the wallet makes and opens them
(OpenID4VCI 1.0 §8.2, §10, and the issuer metadata of §12.2.4).

- Where the issuer offers encrypted responses (``credential_response_encryption``), the
  wallet asks for them: a fresh P-256 key per request (ECDH-ES, RFC 7518 §4.6) and a
  content encryption both support (A128GCM or A256GCM, HAIP 1.0). Asking for it, the
  request itself MUST be encrypted (§8.2, against an attacker substituting the key), to a
  key of the issuer's ``credential_request_encryption.jwks``; an issuer that requires
  encrypted requests gets them whether or not responses are encrypted.
- An answer to a request that asked for encryption must be ``application/jwt``, a compact
  JWE with ``alg`` ECDH-ES and exactly the ``enc`` asked for, that opens with that
  request's key; anything else (a plain answer, another algorithm, another key) is
  refused before it is read.

What the issuer publishes is chosen from once, when the issuer is discovered
(``EncryptionPlan``); an issuer that requires what the wallet cannot do is refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from msgspec import UnsetType

from core.encoding import EncodingError, json_dumps_bytes, strict_json_loads
from core.jose.errors import JoseError
from core.jose.jwe import decrypt_compact, encrypt_compact, encryption_public_key
from core.jose.jwk import public_jwk
from core.messages import to_plain
from core.oid4vci import (
    CredentialRequest,
    CredentialResponseEncryption,
    DeferredCredentialRequest,
)
from core.oid4vci_metadata import CredentialIssuerMetadata
from wallet.domain import Refused
from wallet.services.issuer_client import MAX_CREDENTIAL_RESPONSE_BYTES

KEY_AGREEMENT = "ECDH-ES"
#: Content encryption the wallet uses, most preferred first.
CONTENT_ENCRYPTIONS = ("A128GCM", "A256GCM")
#: Keys of an issuer's JWK Set looked at, at most.
MAX_ISSUER_KEYS = 10


class RefusedEncryption(Refused):
    error = "invalid_encryption_parameters"


class EncryptionPlan(msgspec.Struct, kw_only=True):
    """How requests to this issuer are encrypted (None: not), and responses asked for."""

    #: The issuer's request-encryption key (a public P-256 JWK with its ``kid``).
    request_key: dict[str, Any] | None = None
    request_enc: str | None = None
    #: The content encryption asked for in responses (None: plain responses).
    response_enc: str | None = None


def _enc(supported: list[str]) -> str | None:
    return next((enc for enc in CONTENT_ENCRYPTIONS if enc in supported), None)


def _issuer_key(jwks: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any] | None:
    """A public P-256 key for ECDH-ES from the issuer's JWK Set, with a ``kid`` (§10)."""
    keys = jwks.get("keys", []) if isinstance(jwks, dict) else jwks
    if not isinstance(keys, list):
        return None
    for key in keys[:MAX_ISSUER_KEYS]:
        if not isinstance(key, dict) or not key.get("kid") or not isinstance(key["kid"], str):
            continue
        try:
            encryption_public_key(key)
        except (JoseError, ValueError):
            continue
        return dict(key)
    return None


def encryption_plan(metadata: CredentialIssuerMetadata) -> EncryptionPlan | None:
    """What the wallet will do for this issuer; ``invalid_encryption_parameters`` when
    the issuer requires encryption the wallet cannot do."""
    response = metadata.credential_response_encryption
    request = metadata.credential_request_encryption
    plan = EncryptionPlan()
    if not isinstance(response, UnsetType):
        enc = _enc(response.enc_values_supported)
        if KEY_AGREEMENT in response.alg_values_supported and enc is not None:
            plan.response_enc = enc
        elif response.encryption_required:
            raise RefusedEncryption(
                "the issuer requires encrypted responses by algorithms this wallet does not use"
            )
    required = (not isinstance(response, UnsetType) and response.encryption_required) or (
        not isinstance(request, UnsetType) and request.encryption_required
    )
    if plan.response_enc is not None or required:
        key = None if isinstance(request, UnsetType) else _issuer_key(request.jwks)
        enc = None if isinstance(request, UnsetType) else _enc(request.enc_values_supported)
        if key is None or enc is None:
            if not required:
                return None  # encrypted answers would need an encrypted request: plain
            raise RefusedEncryption(
                "the issuer requires encryption, and publishes no request key or algorithm "
                "this wallet can use"
            )
        plan.request_key, plan.request_enc = key, enc
    if plan.request_key is None and plan.response_enc is None:
        return None
    return plan


@dataclass(frozen=True, slots=True)
class SealedRequest:
    """A credential request ready to send, and how to open its answer."""

    content: bytes
    content_type: str
    response_key: ec.EllipticCurvePrivateKey | None
    response_enc: str | None

    def open(self, jwt: bytes | None, body: object) -> object:
        """The answer's JSON: opened when encryption was asked for (a plain answer then is
        refused), taken as it is otherwise (an encrypted one is refused)."""
        if self.response_key is None:
            if jwt is not None:
                raise RefusedEncryption("the issuer encrypted an answer no one asked it to")
            return body
        if jwt is None:
            raise RefusedEncryption("the issuer answered in the clear where encryption was asked")
        try:
            token = jwt.decode("ascii").strip()
            _, plaintext = decrypt_compact(
                token,
                self.response_key,
                algorithms={KEY_AGREEMENT},
                encryptions={self.response_enc or ""},
                max_bytes=MAX_CREDENTIAL_RESPONSE_BYTES,
            )
        except (UnicodeDecodeError, JoseError, ValueError) as exc:
            raise RefusedEncryption(
                "the encrypted answer is not for this request's key and algorithms"
            ) from exc
        try:
            return strict_json_loads(plaintext, max_bytes=MAX_CREDENTIAL_RESPONSE_BYTES)
        except EncodingError as exc:
            raise RefusedEncryption("the encrypted answer is not acceptable JSON") from exc


def seal_request(
    message: CredentialRequest | DeferredCredentialRequest, plan: EncryptionPlan | None
) -> SealedRequest:
    """A credential (or deferred credential) request with ``credential_response_encryption``
    added and encrypted to the issuer, as ``plan`` says."""
    if plan is None:
        return SealedRequest(json_dumps_bytes(to_plain(message)), "application/json", None, None)
    response_key = None
    if plan.response_enc is not None:
        response_key = ec.generate_private_key(ec.SECP256R1())
        message = msgspec.structs.replace(
            message,
            credential_response_encryption=CredentialResponseEncryption(
                jwk={**public_jwk(response_key), "alg": KEY_AGREEMENT, "use": "enc"},
                enc=plan.response_enc,
            ),
        )
    plain = json_dumps_bytes(to_plain(message))
    if plan.request_key is None or plan.request_enc is None:
        return SealedRequest(plain, "application/json", response_key, plan.response_enc)
    token = encrypt_compact(
        plain,
        plan.request_key,
        enc=plan.request_enc,
        kid=str(plan.request_key["kid"]),
    )
    return SealedRequest(token.encode("ascii"), "application/jwt", response_key, plan.response_enc)
