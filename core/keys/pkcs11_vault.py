"""Owners' keys in a PKCS#11 token: each key a token object (``CKA_ID`` a random 16 bytes,
kept as ``key_reference`` of its record, ``CKA_LABEL`` the owner); nothing of the private
key is in the database. ``Pkcs11Signer`` signs through the token (its signature is the
JOSE form, r||s); ``Pkcs11Decrypter`` agrees keys there for ECDH-ES (RFC 7518 §4.6)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.encoding import b64url_decode
from core.jose.algorithms import SIGNATURE_ALGORITHMS, SignatureAlgorithm, ec_curve
from core.jose.errors import InvalidSignature
from core.jose.jwe import (
    CONTENT_ENCRYPTION_ALGORITHMS,
    DEFAULT_MAX_JWE_BYTES,
    decrypt_compact_agreed,
)
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.keys.decrypter import KEY_AGREEMENT_ALG
from core.keys.pkcs11_token import COORDINATE_BYTES, CURVE_PARAMETERS, Pkcs11Token
from core.keys.records import KeyRecord, WrongKeyKind

LOCATION = "pkcs11"


def public_key_of_point(point: bytes, curve: str) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec_curve(curve), point)


def public_key_of_jwk(jwk: Mapping[str, str], curve: str) -> ec.EllipticCurvePublicKey:
    """The EC public key on record (a JWK of the curve) as ``cryptography`` takes it."""
    return public_key_of_point(b"\x04" + b64url_decode(jwk["x"]) + b64url_decode(jwk["y"]), curve)


def signature_check(
    algorithm: SignatureAlgorithm, public: ec.EllipticCurvePublicKey, data: bytes
) -> Callable[[bytes], bool]:
    """Whether a signature the token made over ``data`` verifies under the key on record."""

    def verifies(signature: bytes) -> bool:
        try:
            algorithm.verify(public, signature, data)
        except InvalidSignature:
            return False
        return True

    return verifies


def digest_of(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    if algorithm.hash is None:
        raise WrongKeyKind(f"{algorithm.name} is not an ECDSA algorithm")
    hasher = hashes.Hash(algorithm.hash())
    hasher.update(data)
    return hasher.finalize()


class Pkcs11Signer:
    """A signer whose private key is an object of the token."""

    __slots__ = ("_algorithm", "_key_id", "_kid", "_public", "_public_jwk", "_token", "_x5c")

    def __init__(
        self,
        token: Pkcs11Token,
        key_id: bytes | Callable[[], bytes],
        *,
        kid: str,
        alg: str,
        jwk: dict[str, str],
        x5c: tuple[str, ...] | None = None,
    ) -> None:
        """``key_id``: the key's ``CKA_ID``, or how to find it in the token at first use."""
        self._token = token
        self._key_id = key_id
        self._kid = kid
        self._algorithm = SIGNATURE_ALGORITHMS[alg]
        self._public_jwk = dict(jwk)
        self._public = public_key_of_jwk(jwk, self._algorithm.curve)
        self._x5c = x5c

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def alg(self) -> str:
        return self._algorithm.name

    @property
    def x5c(self) -> tuple[str, ...] | None:
        return self._x5c

    def public_jwk(self) -> dict[str, str]:
        return dict(self._public_jwk)

    def sign(self, data: bytes) -> bytes:
        if callable(self._key_id):
            self._key_id = self._key_id()
        return self._token.sign_digest(
            self._key_id,
            digest_of(self._algorithm, data),
            verify=signature_check(self._algorithm, self._public, data),
        )


class Pkcs11Decrypter:
    """A decryption key (ECDH-ES on P-256) whose private key is an object of the token:
    the key agreement is done there, the rest of the JWE here
    (``core.jose.jwe.decrypt_compact_agreed``)."""

    __slots__ = ("_key_id", "_kid", "_public_jwk", "_token")

    def __init__(self, token: Pkcs11Token, key_id: bytes, *, kid: str, jwk: dict[str, str]) -> None:
        self._token = token
        self._key_id = key_id
        self._kid = kid
        self._public_jwk = {**jwk, "kid": kid, "use": "enc", "alg": KEY_AGREEMENT_ALG}

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
        def agree(sender: ec.EllipticCurvePublicKey) -> bytes:
            point = sender.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            return self._token.agree(self._key_id, point)

        return decrypt_compact_agreed(
            token,
            agree,
            algorithms=(KEY_AGREEMENT_ALG,),
            encryptions=encryptions,
            max_bytes=max_bytes,
        )


class Pkcs11Vault:
    """Owners' signing keys and decryption keys in one token."""

    location = LOCATION

    def __init__(self, token: Pkcs11Token) -> None:
        self.token = token

    def new_key(self, owner: str, alg: str, at: float) -> KeyRecord:
        key_id = self.token.new_key_id()
        if alg == KEY_AGREEMENT_ALG:
            curve = "P-256"
            point = self.token.generate_agreement_key(key_id, owner, curve)
        else:
            algorithm = SIGNATURE_ALGORITHMS.get(alg)
            if algorithm is None or algorithm.curve not in CURVE_PARAMETERS:
                raise WrongKeyKind(f"{alg} keys are not made in the token")
            curve = algorithm.curve
            point = self.token.generate_signing_key(key_id, owner, curve)
        if len(point) != 1 + 2 * COORDINATE_BYTES[curve]:
            raise WrongKeyKind("the token made a key of another curve")
        jwk = public_jwk(public_key_of_point(point, curve))
        return KeyRecord(
            kid=jwk_thumbprint(jwk),
            owner=owner,
            alg=alg,
            public_jwk=jwk,
            wrapped_private_key=b"",
            created_at=at,
            location=LOCATION,
            key_reference=key_id.hex(),
        )

    def signer(self, record: KeyRecord) -> Pkcs11Signer:
        return Pkcs11Signer(
            self.token,
            bytes.fromhex(record.key_reference),
            kid=record.kid,
            alg=record.alg,
            jwk=record.public_jwk,
            x5c=record.certificate_chain or None,
        )

    def decrypter(self, record: KeyRecord) -> Pkcs11Decrypter:
        if record.alg != KEY_AGREEMENT_ALG:
            raise WrongKeyKind(f"the key {record.kid} is not a key-agreement key")
        return Pkcs11Decrypter(
            self.token, bytes.fromhex(record.key_reference), kid=record.kid, jwk=record.public_jwk
        )

    def destroy(self, record: KeyRecord) -> None:
        if record.key_reference:
            self.token.destroy(bytes.fromhex(record.key_reference))
