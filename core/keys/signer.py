"""The ``Signer`` protocol: code signs through this, and never holds private keys.

A hardware module (PKCS#11, a cloud KMS) is one more class implementing it.
"""

from __future__ import annotations

from typing import Protocol

from core.jose.algorithms import PrivateKey, algorithm_for_key
from core.jose.jwk import jwk_thumbprint, public_jwk


class Signer(Protocol):
    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str: ...

    @property
    def x5c(self) -> tuple[str, ...] | None:
        """Certificate chain (standard base64 DER, leaf first, never the anchor)."""
        ...

    def public_jwk(self) -> dict[str, str]: ...

    def sign(self, data: bytes) -> bytes:
        """The JWS signature value over ``data`` (raw r||s for ECDSA)."""
        ...


class SoftwareSigner:
    """A signer over an in-memory private key (the software key provider's unwrapped keys)."""

    __slots__ = ("_alg", "_key", "_kid", "_public_jwk", "_x5c")

    def __init__(
        self,
        key: PrivateKey,
        *,
        kid: str | None = None,
        x5c: tuple[str, ...] | None = None,
    ) -> None:
        self._key = key
        self._alg = algorithm_for_key(key)
        self._public_jwk = public_jwk(key)
        self._kid = kid or jwk_thumbprint(self._public_jwk)
        self._x5c = x5c

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def alg(self) -> str:
        return self._alg.name

    @property
    def x5c(self) -> tuple[str, ...] | None:
        return self._x5c

    def public_jwk(self) -> dict[str, str]:
        return dict(self._public_jwk)

    def sign(self, data: bytes) -> bytes:
        return self._alg.sign(self._key, data)
