"""JOSE for credentials: compact JWS (RFC 7515) and JWE (RFC 7516) with explicit
algorithm allow-lists, size limits checked before parsing, and strict JSON headers.

Only asymmetric signature algorithms exist here (ES256 mandatory, ES384, ES512, EdDSA):
``none``, HMAC and RSA cannot be named in an allow-list at all (RFC 8725 §3.1).
"""

from core.jose.algorithms import ES256, SIGNATURE_ALGORITHMS, SignatureAlgorithm
from core.jose.errors import (
    AlgorithmNotAllowed,
    InvalidJwk,
    InvalidSignature,
    JoseError,
    MalformedJose,
    UnexpectedType,
)
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk
from core.jose.jws import VerifiedJws, decode_unverified, sign_compact, verify_compact

__all__ = [
    "ES256",
    "SIGNATURE_ALGORITHMS",
    "AlgorithmNotAllowed",
    "InvalidJwk",
    "InvalidSignature",
    "JoseError",
    "MalformedJose",
    "SignatureAlgorithm",
    "UnexpectedType",
    "VerifiedJws",
    "decode_unverified",
    "jwk_thumbprint",
    "public_jwk",
    "public_key_from_jwk",
    "sign_compact",
    "verify_compact",
]
