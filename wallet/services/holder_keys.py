"""Holder keys: one fresh key per credential instance, so presentations of the same
credential to different verifiers cannot be linked by its ``cnf`` key.

*Server-held*: a P-256 key made by the deployment's key store (in software, or in its
hardware security module), sealed under the account's data key and opened only inside an
authenticated request of that account (``server_held_keys``). *Device-bound*: the phone
made the key and sends its public JWK; what needs signing is handed to the phone
(``signing_input``), and the signature it returns is checked here before anything is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from msgspec import UNSET, UnsetType

from core.encoding import EncodingError, b64url_decode, b64url_encode, json_dumps_bytes
from core.errors import InvalidRequest
from core.jose.algorithms import allowed_algorithm
from core.jose.errors import JoseError
from core.jose.jwk import public_jwk, public_key_from_jwk
from wallet.domain import Custody, HolderKey
from wallet.services.interaction_messages import MAX_DEVICE_KEYS, SigningRequest
from wallet.services.sealing import AccountBox

HOLDER_ALGORITHM = "ES256"


class KeptHolderKey(msgspec.Struct, kw_only=True):
    """A holder key made for this offer; stored with the credential once received."""

    holder_key_id: str
    custody: Custody
    public_jwk: dict[str, str]
    sealed_private_key: str | None

    @classmethod
    def of(cls, key: HolderKey) -> KeptHolderKey:
        sealed = key.sealed_private_key
        return cls(
            holder_key_id=key.holder_key_id,
            custody=key.custody,
            public_jwk=key.public_jwk,
            sealed_private_key=None if sealed is None else b64url_encode(sealed),
        )

    def holder_key(self, account_id: str, now: float) -> HolderKey:
        sealed = self.sealed_private_key
        return HolderKey(
            self.holder_key_id,
            account_id,
            self.custody,
            self.public_jwk,
            None if sealed is None else b64url_decode(sealed),
            now,
        )


def device_keys(box: AccountBox, jwks: Sequence[dict[str, Any]], now: float) -> list[HolderKey]:
    """The phone's fresh public keys (P-256 JWKs), one per credential instance."""
    if not 0 < len(jwks) <= MAX_DEVICE_KEYS:
        raise InvalidRequest(f"holder_keys must be a list of 1 to {MAX_DEVICE_KEYS} public JWKs")
    keys = []
    for jwk in jwks:
        if "d" in jwk:
            raise InvalidRequest("holder_keys must be public JWKs")
        try:
            key = public_key_from_jwk(jwk)
        except JoseError as exc:
            raise InvalidRequest(f"holder key is not usable: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise InvalidRequest("holder keys must be P-256 (ES256)")
        keys.append(
            HolderKey(str(uuid.uuid4()), box.account_id, Custody.DEVICE, public_jwk(key), None, now)
        )
    if len({(k.public_jwk["x"], k.public_jwk["y"]) for k in keys}) != len(keys):
        raise InvalidRequest("each credential instance needs its own holder key")
    return keys


def jws_signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """The JWS signing input (RFC 7515 §5.1) of a protected header and JSON claims: what a
    key here or on the phone signs."""
    return b64url_encode(json_dumps_bytes(header)) + "." + b64url_encode(json_dumps_bytes(payload))


def keys_of(keys: Sequence[HolderKey], ids: Sequence[str]) -> list[HolderKey]:
    """The keys of ``ids``, in that order."""
    by_id = {k.holder_key_id: k for k in keys}
    return [by_id[i] for i in ids]


def device_signatures(
    keys: Sequence[HolderKey], signing_inputs: Sequence[str | bytes], signatures: Sequence[str]
) -> list[bytes]:
    """The phone's signatures, one per signing input, each checked against its key. A
    signing input is a JWS signing input (text, signed as its ASCII bytes) or the bytes
    themselves (an mdoc's DeviceAuth ``Sig_structure``)."""
    if len(signatures) != len(signing_inputs):
        raise InvalidRequest(f"signatures must be a list of {len(signing_inputs)} values")
    algorithm = allowed_algorithm(HOLDER_ALGORITHM, {HOLDER_ALGORITHM})
    result = []
    for key, signing_input, signature in zip(keys, signing_inputs, signatures, strict=True):
        try:
            raw = b64url_decode(signature)
            signed = (
                signing_input.encode("ascii") if isinstance(signing_input, str) else signing_input
            )
            algorithm.verify(public_key_from_jwk(key.public_jwk), raw, signed)
        except (EncodingError, JoseError) as exc:
            raise InvalidRequest("a signature does not verify with its holder key") from exc
        result.append(raw)
    return result


def signing_request(
    key: HolderKey, signing_input: bytes, query_id: str | UnsetType = UNSET
) -> SigningRequest:
    """What the phone signs: the JWS signing input, with the key to sign it with (and the
    DCQL query it answers, when presenting)."""
    return SigningRequest(
        holder_key=key.public_jwk,
        alg=HOLDER_ALGORITHM,
        signing_input=signing_input.decode("ascii"),
        query_id=query_id,
    )


def mdoc_signing_request(key: HolderKey, to_be_signed: bytes, query_id: str) -> SigningRequest:
    """What the phone signs for an mdoc presentation: the COSE ``Sig_structure`` of its
    DeviceAuth (RFC 9052 §4.4), as base64url, ``encoding`` saying so; ES256 over the
    decoded bytes, the raw ``r || s`` returned as for a JWS."""
    return SigningRequest(
        holder_key=key.public_jwk,
        alg=HOLDER_ALGORITHM,
        signing_input=b64url_encode(to_be_signed),
        query_id=query_id,
        encoding="base64url",
        format="mso_mdoc",
    )
