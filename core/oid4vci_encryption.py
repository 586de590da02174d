"""Encrypted Credential Requests and Responses (OpenID4VCI 1.0 §10), without a framework:
the checks on the ``credential_response_encryption`` a wallet sends (§8.2), a response as a
compact JWE to the wallet's key, and a request that arrived as a compact JWE to ours.

The algorithms are the ones HAIP 1.0 asks of encrypted responses: ECDH-ES key agreement on
P-256 (RFC 7518 §4.6) with A128GCM or A256GCM content encryption. Nothing is compressed:
no ``zip_values_supported`` is published (§12.2.4: "If absent then compression is not
supported"), a ``credential_response_encryption`` naming a ``zip`` is refused, and so is a
request JWE with a ``zip`` header, before anything is decrypted.

What is refused is refused with the codes of §8.3.1.2: encryption this issuer cannot do or
undo (an algorithm it does not list, a key that is not a public P-256 key for ECDH-ES, a
JWE to another key or one that does not decrypt) is ``invalid_encryption_parameters``; a
body that is not a compact JWE at all is ``invalid_credential_request``.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from msgspec import UNSET

from core.errors import InvalidCredentialRequest, InvalidEncryptionParameters
from core.jose.errors import InvalidJwk, JoseError, MalformedJose
from core.jose.jwe import encrypt_compact, read_header
from core.jose.jwk import PRIVATE_MEMBERS, public_key_from_jwk
from core.keys.decrypter import KEY_AGREEMENT_ALG, Decrypter
from core.oid4vci import CredentialResponseEncryption

#: §12.2.4 ``alg_values_supported`` of encrypted responses.
ALG_VALUES_SUPPORTED = (KEY_AGREEMENT_ALG,)
#: §12.2.4 ``enc_values_supported`` of encrypted requests and responses (HAIP 1.0 lists both).
ENC_VALUES_SUPPORTED = ("A128GCM", "A256GCM")
#: §10: "The media type MUST be set to ``application/jwt``."
JWT_MEDIA_TYPE = "application/jwt"
#: The curve of the keys agreed with (HAIP 1.0: P-256).
CURVE = "P-256"
MAX_KID_CHARS = 256


class EncryptedToAnotherKey(InvalidEncryptionParameters):
    """A request JWE whose ``kid`` names a key other than the one it was opened with (a key
    retired since the wallet read the metadata, or one that was never ours)."""


@dataclass(frozen=True, slots=True)
class ResponseEncryption:
    """A ``credential_response_encryption`` that passed every check: the wallet's public
    key (only the members the key agreement uses), its ``kid`` (which the JWE header
    repeats, §10) and the ``enc`` asked for."""

    jwk: dict[str, str]
    enc: str
    kid: str | None = None


def checked_response_encryption(parameters: CredentialResponseEncryption) -> ResponseEncryption:
    """§8.2 ``credential_response_encryption``, checked strictly: ``jwk`` a public EC key
    on P-256 whose ``alg`` (which §10 requires) is ECDH-ES and whose ``use``, if given, is
    ``enc``; ``enc`` one of ``ENC_VALUES_SUPPORTED``; no ``zip``. Anything else is
    ``invalid_encryption_parameters``."""
    jwk = parameters.jwk
    if PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidEncryptionParameters("the jwk holds private key material: send the public key")
    if jwk.get("kty") != "EC":
        raise InvalidEncryptionParameters("the jwk must be an EC key (kty EC)")
    if jwk.get("crv") != CURVE:
        raise InvalidEncryptionParameters(f"the jwk must be a key on {CURVE}")
    alg = jwk.get("alg")
    if alg is None:
        raise InvalidEncryptionParameters("the jwk must carry its alg (OpenID4VCI 1.0 section 10)")
    if alg not in ALG_VALUES_SUPPORTED:
        raise InvalidEncryptionParameters(
            f"the jwk's alg must be {' or '.join(ALG_VALUES_SUPPORTED)}"
        )
    if jwk.get("use", "enc") != "enc":
        raise InvalidEncryptionParameters("the jwk's use must be enc")
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS):
        raise InvalidEncryptionParameters(
            f"the jwk's kid must be a string of 1 to {MAX_KID_CHARS} characters"
        )
    members = {name: jwk.get(name) for name in ("kty", "crv", "x", "y")}
    try:
        public_key_from_jwk(members)  # the coordinates, and the point on the curve
    except InvalidJwk:
        raise InvalidEncryptionParameters(f"the jwk is not a valid {CURVE} public key") from None
    if parameters.enc not in ENC_VALUES_SUPPORTED:
        raise InvalidEncryptionParameters(f"enc must be {' or '.join(ENC_VALUES_SUPPORTED)}")
    if parameters.zip is not UNSET:
        raise InvalidEncryptionParameters("this issuer does not compress responses: send no zip")
    return ResponseEncryption(
        jwk={name: str(value) for name, value in members.items()}, enc=parameters.enc, kid=kid
    )


def encrypt_message(message: msgspec.Struct, encryption: ResponseEncryption) -> str:
    """§10: the message as the claims of a JWT (its JSON members, absent ones left out),
    encrypted to the wallet's key: a compact JWE with ``alg`` ECDH-ES, the ``enc`` asked
    for, and the key's ``kid`` where it has one."""
    return encrypt_compact(
        msgspec.json.encode(message),
        encryption.jwk,
        alg=KEY_AGREEMENT_ALG,
        enc=encryption.enc,
        kid=encryption.kid,
    )


def open_encrypted_request(body: bytes, decrypter: Decrypter, *, max_bytes: int) -> bytes:
    """The plaintext of a request that arrived as a compact JWE to ``decrypter``'s key
    (§10): its size is checked first and its header read strictly before anything is
    decrypted; only ECDH-ES, the ``enc`` values of ``ENC_VALUES_SUPPORTED``, no ``zip``,
    and the ``kid`` of the key (§10: the JWE "MUST include the same value")."""
    if len(body) > max_bytes:
        raise InvalidCredentialRequest(f"an encrypted request is at most {max_bytes} bytes")
    try:
        token = body.decode("ascii")
        header = read_header(token, max_bytes=max_bytes)
    except (UnicodeDecodeError, MalformedJose):
        raise InvalidCredentialRequest("the body is not a compact JWE") from None
    if header.get("alg") not in ALG_VALUES_SUPPORTED:
        raise InvalidEncryptionParameters(
            f"the request must be encrypted with alg {' or '.join(ALG_VALUES_SUPPORTED)}"
        )
    if header.get("enc") not in ENC_VALUES_SUPPORTED:
        raise InvalidEncryptionParameters(
            f"the request must be encrypted with enc {' or '.join(ENC_VALUES_SUPPORTED)}"
        )
    if "zip" in header:
        raise InvalidEncryptionParameters("this issuer takes no compressed requests")
    if header.get("kid") != decrypter.kid:
        raise EncryptedToAnotherKey(
            "encrypt the request to the key of credential_request_encryption in the "
            "issuer's metadata, with its kid in the JWE header"
        )
    try:
        _, plaintext = decrypter.decrypt(
            token, encryptions=ENC_VALUES_SUPPORTED, max_bytes=max_bytes
        )
    except JoseError:
        raise InvalidEncryptionParameters(
            "the request does not decrypt with the issuer's key"
        ) from None
    return plaintext
