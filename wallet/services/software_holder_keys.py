"""Server-held holder keys in software: a P-256 key made in this process, kept as its
PKCS#8 DER (sealed under the account's data key by the wallet) and opened only inside a
request of that account. What every server-held key was before keys could be kept in the
deployment's hardware security module, and what ``IDWALLET_KEY_PROVIDER_HOLDER=software``
keeps making."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from core.jose.jwk import public_jwk
from core.keys.signer import SoftwareSigner


class SoftwareHolderKeys:
    """The ``HolderKeyVault`` of software keys: the kept bytes are the key's PKCS#8 DER."""

    def new_key(self) -> tuple[dict[str, str], bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        return public_jwk(key), key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())

    def signer(self, kept: bytes, public_jwk: Mapping[str, str], kid: str) -> SoftwareSigner:
        private = load_der_private_key(kept, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("a server-held holder key is not an EC key")
        return SoftwareSigner(private, kid=kid)
