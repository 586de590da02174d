"""Encrypted Authorization Responses (OpenID4VP 1.0 §8.3, response mode ``direct_post.jwt``
§8.3.1; HAIP 1.0 §5.1: "Response encryption MUST be used by utilizing response mode
direct_post.jwt"): which of the verifier's keys and which content encryption the wallet
uses, decided when the request is scanned (a request whose parameters the wallet cannot
meet is refused before the citizen sees it, ``invalid_request``), and the response itself
as a compact JWE (``core.jose.jwe``).

The verifier's encryption keys are the ``jwks`` of its ``client_metadata`` (§5.1: at most
``MAX_RESPONSE_KEYS`` here, each with a ``kid`` unique in the set). Of those meant for
encryption (``use`` absent or ``enc``, §8.3 as errata 1 reads it), the wallet takes the
first it supports: an EC key on P-256 whose ``alg``, which §8.3 requires, is ``ECDH-ES``
(the one key agreement HAIP 1.0 §5 asks for); the JWE's ``alg`` is the key's, its ``kid``
the key's (§8.3). Such a key that is no valid public key (private members, a point off the
curve) refuses the request: it is a verifier's fault, never skipped over. The ``enc`` is
one of ``encrypted_response_enc_values_supported`` (``A128GCM`` when absent, §5.1), of
this wallet's two, ``A256GCM`` first (HAIP 1.0 §5: "If both are supported, the Wallet
SHOULD use A256GCM"). The payload is the response parameters as top-level members of a
JSON object (§8.3): ``vp_token`` and ``state``, or ``error``, ``error_description`` and
``state`` (§8.5).

What a refusal says comes from a closed vocabulary: nothing the verifier wrote (a ``kid``,
an algorithm name) is repeated to the citizen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msgspec import UnsetType

from core.encoding import json_dumps_bytes
from core.jose.errors import AlgorithmNotAllowed, JoseError
from core.jose.jwe import DEFAULT_MAX_JWE_BYTES, encrypt_compact, encryption_public_key
from core.oid4vp import ClientMetadata
from wallet.domain import Refused

#: The JWE ``alg`` this wallet encrypts with (RFC 7518 §4.6; HAIP 1.0 §5).
KEY_AGREEMENT = "ECDH-ES"
#: The JWE ``enc`` values this wallet encrypts with, in the order it prefers them (HAIP 1.0 §5).
CONTENT_ENCRYPTIONS = ("A256GCM", "A128GCM")
#: §5.1: the ``enc`` when ``encrypted_response_enc_values_supported`` is absent.
DEFAULT_CONTENT_ENCRYPTION = "A128GCM"
#: More keys than this in ``client_metadata.jwks`` refuse the request (a verifier passes
#: one ephemeral key per request, HAIP 1.0 §5; a few are plenty for choice).
MAX_RESPONSE_KEYS = 8
#: More values than this in ``encrypted_response_enc_values_supported`` refuse it too.
MAX_ENC_VALUES = 16
#: The longest ``kid`` taken (RFC 7517 §4.5 sets none; the JWE header repeats it, §8.3).
MAX_KID_CHARS = 256
#: The longest encrypted response the wallet sends.
MAX_RESPONSE_JWE_BYTES = DEFAULT_MAX_JWE_BYTES


class EncryptionUnmet(Refused):
    """The verifier asks for an encrypted response (``direct_post.jwt``) with parameters
    the wallet cannot meet (§8.3): ``invalid_request``, before the citizen consents."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the encrypted response this verifier asks for cannot be made: {why}")


@dataclass(frozen=True, slots=True)
class PresentationEncryption:
    """What ``chosen_encryption`` decided: the verifier's key (only the members the key
    agreement uses), its ``kid`` and the content encryption."""

    jwk: dict[str, str]
    kid: str
    enc: str
    alg: str = KEY_AGREEMENT


def _unusable(key: Mapping[str, Any]) -> str | None:
    """Why a key meant for encryption is none this wallet encrypts to, in words of its own;
    None for a P-256 ECDH-ES key (which still has to be a valid one)."""
    kty, crv, alg = key.get("kty"), key.get("crv"), key.get("alg")
    if alg is None:
        return "a key without alg"  # §8.3: "The alg parameter MUST be present in the JWKs."
    if kty == "RSA":
        return "an RSA key"
    if kty == "OKP":
        return "an OKP key (X25519 or X448)"
    if kty != "EC":
        return "a key of another type"
    if crv != "P-256":
        return "an EC key on another curve than P-256"
    if alg != KEY_AGREEMENT:
        return "a P-256 key for another algorithm than ECDH-ES"
    return None


def _kids(keys: list[dict[str, Any]]) -> None:
    """§5.1: "Each JWK in the set MUST have a kid (Key ID) parameter that uniquely
    identifies the key within the context of the request."""
    kids = [key.get("kid") for key in keys]
    if any(not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS for kid in kids):
        raise EncryptionUnmet("each key in client_metadata.jwks needs a kid (section 5.1)")
    if any(count > 1 for count in Counter(kids).values()):
        raise EncryptionUnmet("two keys in client_metadata.jwks share a kid (section 5.1)")


def _key(metadata: ClientMetadata) -> tuple[dict[str, str], str]:
    if isinstance(metadata.jwks, UnsetType):
        raise EncryptionUnmet("client_metadata has no jwks with the verifier's key (section 8.3)")
    keys = metadata.jwks.keys
    if not keys:
        raise EncryptionUnmet("client_metadata.jwks holds no key")
    if len(keys) > MAX_RESPONSE_KEYS:
        raise EncryptionUnmet(f"client_metadata.jwks holds more than {MAX_RESPONSE_KEYS} keys")
    _kids(keys)
    # §8.3 (errata 1): a key without use, or with use "enc", is for encrypting the response
    meant = [key for key in keys if key.get("use", "enc") == "enc"]
    reasons = []
    for key in meant:
        reason = _unusable(key)
        if reason is not None:
            reasons.append(reason)
            continue
        try:
            encryption_public_key(key)
        except JoseError:
            raise EncryptionUnmet("its P-256 key is not a valid public key") from None
        return {name: str(key[name]) for name in ("kty", "crv", "x", "y")}, str(key["kid"])
    offered = "; offered: " + ", ".join(sorted(set(reasons))) if reasons else ""
    raise EncryptionUnmet(
        f"it offers no key for encryption on P-256 with alg {KEY_AGREEMENT}{offered}"
    )


def _enc(metadata: ClientMetadata) -> str:
    listed = metadata.encrypted_response_enc_values_supported
    if isinstance(listed, UnsetType):
        return DEFAULT_CONTENT_ENCRYPTION
    if len(listed) > MAX_ENC_VALUES:
        raise EncryptionUnmet(
            f"encrypted_response_enc_values_supported lists more than {MAX_ENC_VALUES} values"
        )
    enc = next((e for e in CONTENT_ENCRYPTIONS if e in listed), None)
    if enc is None:
        raise EncryptionUnmet(
            "encrypted_response_enc_values_supported names neither "
            + " nor ".join(CONTENT_ENCRYPTIONS)
        )
    return enc


def chosen_encryption(metadata: ClientMetadata) -> PresentationEncryption:
    """§8.3: the key and ``enc`` the wallet encrypts the response with, or
    ``EncryptionUnmet``."""
    jwk, kid = _key(metadata)
    return PresentationEncryption(jwk=jwk, kid=kid, enc=_enc(metadata))


def encrypted_response(encryption: PresentationEncryption, parameters: Mapping[str, Any]) -> str:
    """§8.3: the response ``parameters`` as the top-level members of the JWE's JSON
    payload, encrypted to the verifier's key."""
    try:
        return encrypt_compact(
            json_dumps_bytes(dict(parameters)),
            encryption.jwk,
            alg=encryption.alg,
            enc=encryption.enc,
            kid=encryption.kid,
            max_bytes=MAX_RESPONSE_JWE_BYTES,
        )
    except AlgorithmNotAllowed as exc:  # what chosen_encryption chose, so never
        raise EncryptionUnmet(str(exc)) from exc
    except JoseError as exc:
        raise Refused(f"the response cannot be encrypted: {exc}") from exc
