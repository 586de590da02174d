"""Owners' keys in software: generated here and kept wrapped under the key-encryption key
(AES-GCM, ``core.keys.wrapping``) in the key records, unwrapped on first use."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.jose.algorithms import SIGNATURE_ALGORITHMS, PrivateKey, ec_curve
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.keys.decrypter import KEY_AGREEMENT_ALG, KEY_AGREEMENT_CURVE, SoftwareDecrypter
from core.keys.records import KeyRecord, WrongKeyKind
from core.keys.signer import SoftwareSigner
from core.keys.wrapping import KeyWrapper

LOCATION = "software"


def _generate(alg: str) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == KEY_AGREEMENT_ALG:
        return ec.generate_private_key(KEY_AGREEMENT_CURVE)
    return ec.generate_private_key(ec_curve(SIGNATURE_ALGORITHMS[alg].curve))


class SoftwareVault:
    location = LOCATION

    def __init__(self, wrapper: KeyWrapper) -> None:
        self._wrapper = wrapper

    @staticmethod
    def _context(kid: str, owner: str, alg: str) -> str:
        kind = "decryption" if alg == KEY_AGREEMENT_ALG else "signing"
        return f"idwallet-{kind}-key:{owner}:{kid}"

    def new_key(self, owner: str, alg: str, at: float) -> KeyRecord:
        key = _generate(alg)
        jwk = public_jwk(key)
        kid = jwk_thumbprint(jwk)
        return KeyRecord(
            kid=kid,
            owner=owner,
            alg=alg,
            public_jwk=jwk,
            wrapped_private_key=self._wrapper.wrap(key, context=self._context(kid, owner, alg)),
            created_at=at,
        )

    def _unwrap(self, record: KeyRecord) -> PrivateKey:
        if not record.wrapped_private_key:
            raise WrongKeyKind(f"the private part of {record.kid} was destroyed")
        return self._wrapper.unwrap(
            record.wrapped_private_key, context=self._context(record.kid, record.owner, record.alg)
        )

    def signer(self, record: KeyRecord) -> SoftwareSigner:
        return SoftwareSigner(
            self._unwrap(record), kid=record.kid, x5c=record.certificate_chain or None
        )

    def decrypter(self, record: KeyRecord) -> SoftwareDecrypter:
        key = self._unwrap(record)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise WrongKeyKind(f"the key {record.kid} is not a key-agreement key")
        return SoftwareDecrypter(key, kid=record.kid)

    def destroy(self, record: KeyRecord) -> None:
        """Nothing outside the record: marking it destroyed erases the wrapped key."""
        return None
