"""Compact JWE (RFC 7516) with ECDH-ES key agreement on P-256 (RFC 7518 §4.6) and
A128GCM/A256GCM content encryption, as OpenID4VP 1.0 §8.3 uses for encrypted responses.

Built on jwcrypto, with our own bounds around it: the size limit is checked and the header
parsed under strict JSON before jwcrypto sees the token; ``zip`` is refused (no
decompression of attacker-controlled data); ``alg``/``enc`` come from explicit allow-lists.
A recipient key is checked before anything is encrypted to it (``encryption_public_key``):
a public EC key on P-256 whose point lies on the curve and whose ``alg`` and ``use``, where
it names them, are ECDH-ES and ``enc``; a caller that passes ``max_bytes`` bounds the token.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from jwcrypto import jwe as _jwe
from jwcrypto import jwk as _jwk
from jwcrypto.common import JWException

from core.encoding import EncodingError, b64url_decode, json_dumps, strict_json_object
from core.jose.errors import AlgorithmNotAllowed, DecryptionFailed, InvalidJwk, MalformedJose
from core.jose.jwk import PRIVATE_MEMBERS, public_key_from_jwk

KEY_AGREEMENT_ALGORITHMS = frozenset({"ECDH-ES"})
CONTENT_ENCRYPTION_ALGORITHMS = frozenset({"A128GCM", "A256GCM"})
_CONTENT_KEY_BYTES = {"A128GCM": 16, "A256GCM": 32}
DEFAULT_MAX_JWE_BYTES = 256 * 1024
#: Header members the caller of ``encrypt_compact`` cannot set through ``extra_header``:
#: the algorithms and key come from the arguments, ``epk`` from the key agreement, and
#: nothing is compressed or marked critical.
_RESERVED_HEADER = frozenset({"alg", "enc", "kid", "epk", "zip", "crit", "jku", "jwk", "x5u"})
#: Of the members of a recipient JWK, those that make the key (RFC 7518 §6.2.1).
_EC_MEMBERS = ("kty", "crv", "x", "y")


def encryption_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The recipient's public key for ECDH-ES on P-256 (RFC 7518 §4.6, §6.2.1), checked:
    no private member (a key whose private part travels is no key to encrypt to), ``kty``
    EC on ``P-256`` (else ``AlgorithmNotAllowed``), the point on the curve, and ``alg`` /
    ``use``, when present, ``ECDH-ES`` / ``enc`` (RFC 7517 §4.2, §4.4)."""
    if not isinstance(jwk, Mapping):
        raise InvalidJwk("the recipient JWK is not an object")
    if PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidJwk("the recipient JWK holds private key material")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise AlgorithmNotAllowed("ECDH-ES needs a P-256 recipient key")
    alg = jwk.get("alg", "ECDH-ES")
    if not isinstance(alg, str) or alg not in KEY_AGREEMENT_ALGORITHMS:
        raise AlgorithmNotAllowed("the recipient JWK is for another algorithm")
    if jwk.get("use", "enc") != "enc":
        raise InvalidJwk("the recipient JWK is not an encryption key")
    key = public_key_from_jwk({name: jwk.get(name) for name in _EC_MEMBERS})
    if not isinstance(key, ec.EllipticCurvePublicKey):  # kty EC makes it one
        raise AlgorithmNotAllowed("ECDH-ES needs a P-256 recipient key")
    return key


def encrypt_compact(
    plaintext: bytes,
    recipient_jwk: Mapping[str, Any],
    *,
    enc: str = "A128GCM",
    alg: str = "ECDH-ES",
    kid: str | None = None,
    extra_header: Mapping[str, Any] | None = None,
    max_bytes: int | None = None,
) -> str:
    """``plaintext`` as a compact JWE to ``recipient_jwk`` (``encryption_public_key``),
    with ``kid`` in the protected header where given; with ``max_bytes``, ``MalformedJose``
    when the token would be longer, checked on the plaintext before encrypting."""
    if alg not in KEY_AGREEMENT_ALGORITHMS:
        raise AlgorithmNotAllowed(f"key agreement {alg!r} is not supported")
    if enc not in CONTENT_ENCRYPTION_ALGORITHMS:
        raise AlgorithmNotAllowed(f"content encryption {enc!r} is not supported")
    if kid is not None and not isinstance(kid, str):
        raise MalformedJose("kid must be a string (RFC 7517 §4.5)")
    if extra_header and _RESERVED_HEADER.intersection(extra_header):
        raise MalformedJose("extra_header cannot set what the encryption itself decides")
    # the ciphertext is the plaintext's length, base64url (4/3) among the token's parts
    if max_bytes is not None and len(plaintext) * 4 // 3 > max_bytes:
        raise MalformedJose(f"the plaintext is too large for a JWE of {max_bytes} bytes")
    key = encryption_public_key(recipient_jwk)
    header: dict[str, Any] = {"alg": alg, "enc": enc}
    if kid is not None:
        header["kid"] = kid
    if extra_header:
        header.update(extra_header)
    token = _jwe.JWE(plaintext, protected=json_dumps(header))
    token.add_recipient(_jwk.JWK.from_pyca(key))
    result: str = token.serialize(compact=True)
    if max_bytes is not None and len(result) > max_bytes:
        raise MalformedJose(f"the JWE would be longer than {max_bytes} bytes")
    return result


def read_header(token: str, *, max_bytes: int = DEFAULT_MAX_JWE_BYTES) -> dict[str, Any]:
    """The protected header of a compact JWE, parsed strictly, before any decryption."""
    if not isinstance(token, str) or len(token) > max_bytes:
        raise MalformedJose("JWE missing or too large")
    parts = token.split(".")
    if len(parts) != 5:
        raise MalformedJose("compact JWE must have five parts")
    try:
        return strict_json_object(b64url_decode(parts[0]), max_bytes=16 * 1024)
    except EncodingError as exc:
        raise MalformedJose(f"malformed JWE header: {exc}") from exc


def _checked_header(
    token: str, algorithms: Collection[str], encryptions: Collection[str], max_bytes: int
) -> tuple[dict[str, Any], str, ec.EllipticCurvePublicKey]:
    """The protected header, its ``enc`` and the sender's ephemeral key, after the checks
    every decryption makes before any key is used."""
    header = read_header(token, max_bytes=max_bytes)
    alg, enc = header.get("alg"), header.get("enc")
    # a member of another JSON type (an array is unhashable) is refused like a wrong name
    if not isinstance(alg, str) or alg not in set(algorithms) & KEY_AGREEMENT_ALGORITHMS:
        raise AlgorithmNotAllowed(f"key agreement {alg!r} is not allowed")
    if not isinstance(enc, str) or enc not in set(encryptions) & CONTENT_ENCRYPTION_ALGORITHMS:
        raise AlgorithmNotAllowed(f"content encryption {enc!r} is not allowed")
    if "zip" in header or "crit" in header:
        raise MalformedJose("compressed or critical-extension JWEs are not accepted")
    epk = header.get("epk")
    try:
        sender = public_key_from_jwk(epk)  # on-curve check of the sender's ephemeral key
    except ValueError as exc:
        raise MalformedJose("JWE epk is not a valid public key") from exc
    if not isinstance(sender, ec.EllipticCurvePublicKey) or sender.curve.name != "secp256r1":
        raise MalformedJose("JWE epk is not a P-256 key")
    return header, enc, sender


def decrypt_compact(
    token: str,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    algorithms: Collection[str] = KEY_AGREEMENT_ALGORITHMS,
    encryptions: Collection[str] = CONTENT_ENCRYPTION_ALGORITHMS,
    max_bytes: int = DEFAULT_MAX_JWE_BYTES,
) -> tuple[dict[str, Any], bytes]:
    """Decrypt; returns the protected header and the plaintext."""
    header, enc, _ = _checked_header(token, algorithms, encryptions, max_bytes)
    try:
        decoder = _jwe.JWE()
        decoder.allowed_algs = [str(header["alg"]), enc]
        decoder.deserialize(token, key=_jwk.JWK.from_pyca(private_key))
        plaintext: bytes = decoder.payload
    except (JWException, ValueError, TypeError, KeyError) as exc:
        raise DecryptionFailed("JWE does not decrypt") from exc
    return header, plaintext


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _party_info(header: Mapping[str, Any], name: str) -> bytes:
    value = header.get(name, "")
    if not isinstance(value, str):
        raise MalformedJose(f"JWE {name} must be a base64url string")
    try:
        return b64url_decode(value)
    except EncodingError as exc:
        raise MalformedJose(f"JWE {name} is not base64url") from exc


def decrypt_compact_agreed(
    token: str,
    agree: Callable[[ec.EllipticCurvePublicKey], bytes],
    *,
    algorithms: Collection[str] = KEY_AGREEMENT_ALGORITHMS,
    encryptions: Collection[str] = CONTENT_ENCRYPTION_ALGORITHMS,
    max_bytes: int = DEFAULT_MAX_JWE_BYTES,
) -> tuple[dict[str, Any], bytes]:
    """Decrypt with a key agreement done elsewhere (a hardware token): ``agree`` gives the
    shared secret Z with the sender's ephemeral key. The content key is derived here by the
    Concat KDF of RFC 7518 §4.6.2 (direct key agreement: AlgorithmID is ``enc``), and the
    content decrypted with AES-GCM (§5.3) over the protected header as AAD."""
    header, enc, sender = _checked_header(token, algorithms, encryptions, max_bytes)
    parts = token.split(".")
    if parts[1] != "":
        raise MalformedJose("an ECDH-ES JWE has an empty encrypted key")
    try:
        iv, ciphertext, tag = (b64url_decode(p) for p in parts[2:])
    except EncodingError as exc:
        raise MalformedJose("JWE parts are not base64url") from exc
    if len(iv) != 12 or len(tag) != 16:
        raise MalformedJose("JWE iv or tag has the wrong length")
    size = _CONTENT_KEY_BYTES[enc]
    other_info = (
        _length_prefixed(enc.encode("ascii"))
        + _length_prefixed(_party_info(header, "apu"))
        + _length_prefixed(_party_info(header, "apv"))
        + (8 * size).to_bytes(4, "big")
    )
    content_key = ConcatKDFHash(hashes.SHA256(), size, other_info).derive(agree(sender))
    try:
        plaintext = AESGCM(content_key).decrypt(iv, ciphertext + tag, parts[0].encode("ascii"))
    except InvalidTag as exc:
        raise DecryptionFailed("JWE does not decrypt") from exc
    return header, plaintext
