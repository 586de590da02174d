"""Compact JWE (RFC 7516) with ECDH-ES key agreement on P-256 (RFC 7518 §4.6) and
A128GCM/A256GCM content encryption, as OpenID4VP 1.0 §8.3 uses for encrypted responses.

Built on jwcrypto, with our own bounds around it: the size limit is checked and the header
parsed under strict JSON before jwcrypto sees the token; ``zip`` is refused (no
decompression of attacker-controlled data); ``alg``/``enc`` come from explicit allow-lists.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwe as _jwe
from jwcrypto import jwk as _jwk
from jwcrypto.common import JWException

from core.encoding import EncodingError, b64url_decode, json_dumps, strict_json_object
from core.jose.errors import AlgorithmNotAllowed, DecryptionFailed, MalformedJose
from core.jose.jwk import public_key_from_jwk

KEY_AGREEMENT_ALGORITHMS = frozenset({"ECDH-ES"})
CONTENT_ENCRYPTION_ALGORITHMS = frozenset({"A128GCM", "A256GCM"})
DEFAULT_MAX_JWE_BYTES = 256 * 1024


def encrypt_compact(
    plaintext: bytes,
    recipient_jwk: Mapping[str, Any],
    *,
    enc: str = "A128GCM",
    alg: str = "ECDH-ES",
    kid: str | None = None,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    if alg not in KEY_AGREEMENT_ALGORITHMS:
        raise AlgorithmNotAllowed(f"key agreement {alg!r} is not supported")
    if enc not in CONTENT_ENCRYPTION_ALGORITHMS:
        raise AlgorithmNotAllowed(f"content encryption {enc!r} is not supported")
    key = public_key_from_jwk({k: v for k, v in recipient_jwk.items() if k != "use"})
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise AlgorithmNotAllowed("ECDH-ES needs a P-256 recipient key")
    header: dict[str, Any] = {"alg": alg, "enc": enc}
    if kid is not None:
        header["kid"] = kid
    if extra_header:
        header.update(extra_header)
    token = _jwe.JWE(plaintext, protected=json_dumps(header))
    token.add_recipient(_jwk.JWK.from_pyca(key))
    result: str = token.serialize(compact=True)
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


def decrypt_compact(
    token: str,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    algorithms: Collection[str] = KEY_AGREEMENT_ALGORITHMS,
    encryptions: Collection[str] = CONTENT_ENCRYPTION_ALGORITHMS,
    max_bytes: int = DEFAULT_MAX_JWE_BYTES,
) -> tuple[dict[str, Any], bytes]:
    """Decrypt; returns the protected header and the plaintext."""
    header = read_header(token, max_bytes=max_bytes)
    alg, enc = header.get("alg"), header.get("enc")
    if alg not in set(algorithms) & KEY_AGREEMENT_ALGORITHMS:
        raise AlgorithmNotAllowed(f"key agreement {alg!r} is not allowed")
    if enc not in set(encryptions) & CONTENT_ENCRYPTION_ALGORITHMS:
        raise AlgorithmNotAllowed(f"content encryption {enc!r} is not allowed")
    if "zip" in header or "crit" in header:
        raise MalformedJose("compressed or critical-extension JWEs are not accepted")
    epk = header.get("epk")
    try:
        public_key_from_jwk(epk)  # on-curve check of the sender's ephemeral key
    except ValueError as exc:
        raise MalformedJose("JWE epk is not a valid public key") from exc
    try:
        decoder = _jwe.JWE()
        decoder.allowed_algs = [str(alg), str(enc)]
        decoder.deserialize(token, key=_jwk.JWK.from_pyca(private_key))
        plaintext: bytes = decoder.payload
    except (JWException, ValueError, TypeError, KeyError) as exc:
        raise DecryptionFailed("JWE does not decrypt") from exc
    return header, plaintext
