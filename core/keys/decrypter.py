"""The ``Decrypter`` protocol: code opens what was encrypted to one of our keys through this,
and never holds the private key (the counterpart of ``Signer``).

A decryption key here is a key-agreement key: ECDH-ES on P-256 (RFC 7518 §4.6), the
algorithm HAIP 1.0 asks for, published as a public JWK with its ``kid``, ``use: enc`` and
``alg: ECDH-ES``. A hardware module (PKCS#11, a cloud KMS) is one more class implementing it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from core.jose.jwe import CONTENT_ENCRYPTION_ALGORITHMS, DEFAULT_MAX_JWE_BYTES, decrypt_compact
from core.jose.jwk import jwk_thumbprint, public_jwk

#: The key agreement of every decryption key (RFC 7518 §4.6: ECDH-ES, direct key agreement).
KEY_AGREEMENT_ALG = "ECDH-ES"
#: Its curve (HAIP 1.0: key agreement on P-256).
KEY_AGREEMENT_CURVE = ec.SECP256R1()


class Decrypter(Protocol):
    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str:
        """The key agreement algorithm (``ECDH-ES``)."""
        ...

    def public_jwk(self) -> dict[str, str]:
        """The public key as published: ``kty``, ``crv``, ``x``, ``y`` with ``kid``,
        ``use: enc`` and ``alg``."""
        ...

    def decrypt(
        self,
        token: str,
        *,
        encryptions: Collection[str] = CONTENT_ENCRYPTION_ALGORITHMS,
        max_bytes: int = DEFAULT_MAX_JWE_BYTES,
    ) -> tuple[dict[str, Any], bytes]:
        """The protected header and the plaintext of a compact JWE to this key; a
        ``core.jose.errors.JoseError`` for anything else."""
        ...


class SoftwareDecrypter:
    """A decrypter over an in-memory P-256 private key (the software key provider's
    unwrapped keys)."""

    __slots__ = ("_key", "_kid", "_public_jwk")

    def __init__(self, key: ec.EllipticCurvePrivateKey, *, kid: str | None = None) -> None:
        if key.curve.name != KEY_AGREEMENT_CURVE.name:
            raise ValueError("a decryption key is an EC key on P-256")
        self._key = key
        jwk = public_jwk(key)
        self._kid = kid or jwk_thumbprint(jwk)
        self._public_jwk = {**jwk, "kid": self._kid, "use": "enc", "alg": KEY_AGREEMENT_ALG}

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def alg(self) -> str:
        return KEY_AGREEMENT_ALG

    def public_jwk(self) -> dict[str, str]:
        return dict(self._public_jwk)

    def decrypt(
        self,
        token: str,
        *,
        encryptions: Collection[str] = CONTENT_ENCRYPTION_ALGORITHMS,
        max_bytes: int = DEFAULT_MAX_JWE_BYTES,
    ) -> tuple[dict[str, Any], bytes]:
        return decrypt_compact(
            token,
            self._key,
            algorithms=(KEY_AGREEMENT_ALG,),
            encryptions=encryptions,
            max_bytes=max_bytes,
        )
