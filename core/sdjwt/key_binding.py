"""The Key Binding JWT (RFC 9901 §4.3): ``typ: kb+jwt``; ``iat``, ``aud``, ``nonce`` and
``sd_hash`` (§4.3.1), plus ``transaction_data_hashes`` where OpenID4VP 1.0 §8.4 asks.

Signing is split in two so that a phone can hold the holder key: ``prepare`` returns
the exact bytes to sign, ``assemble`` attaches the signature the phone returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.encoding import b64url_encode, json_dumps_bytes
from core.keys.signer import Signer
from core.sdjwt.disclosures import DEFAULT_HASH_ALGORITHM, hash_function

KB_JWT_TYP = "kb+jwt"


def sd_hash(sd_jwt: str, alg: str = DEFAULT_HASH_ALGORITHM) -> str:
    """§4.3.1: hash over the ASCII of ``<Issuer-signed JWT>~<D1>~…~<DN>~``."""
    return b64url_encode(hash_function(alg)(sd_jwt.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class KeyBindingRequest:
    """What the verifier asked for: its audience (the client identifier) and nonce."""

    audience: str
    nonce: str
    issued_at: int
    transaction_data_hashes: Sequence[str] | None = None
    transaction_data_hashes_alg: str | None = None


@dataclass(frozen=True, slots=True)
class PreparedKeyBinding:
    """An unsigned KB-JWT: sign ``signing_input`` with the holder key, then ``assemble``."""

    sd_jwt: str
    alg: str
    signing_input: bytes

    def assemble(self, signature: bytes) -> str:
        """The SD-JWT+KB: the SD-JWT followed by the signed KB-JWT."""
        return self.sd_jwt + self.signing_input.decode("ascii") + "." + b64url_encode(signature)


def key_binding_payload(
    sd_jwt: str, request: KeyBindingRequest, hash_alg: str = DEFAULT_HASH_ALGORITHM
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iat": request.issued_at,
        "aud": request.audience,
        "nonce": request.nonce,
        "sd_hash": sd_hash(sd_jwt, hash_alg),
    }
    if request.transaction_data_hashes is not None:
        payload["transaction_data_hashes"] = list(request.transaction_data_hashes)
        if request.transaction_data_hashes_alg is not None:
            payload["transaction_data_hashes_alg"] = request.transaction_data_hashes_alg
    return payload


def prepare_key_binding(
    sd_jwt: str,
    request: KeyBindingRequest,
    *,
    alg: str,
    hash_alg: str = DEFAULT_HASH_ALGORITHM,
) -> PreparedKeyBinding:
    if not sd_jwt.endswith("~"):
        raise ValueError("key binding is over an SD-JWT ending in '~'")
    header = {"alg": alg, "typ": KB_JWT_TYP}
    payload = key_binding_payload(sd_jwt, request, hash_alg)
    signing_input = (
        b64url_encode(json_dumps_bytes(header)) + "." + b64url_encode(json_dumps_bytes(payload))
    ).encode("ascii")
    return PreparedKeyBinding(sd_jwt, alg, signing_input)


def bind(
    sd_jwt: str,
    request: KeyBindingRequest,
    signer: Signer,
    *,
    hash_alg: str = DEFAULT_HASH_ALGORITHM,
) -> str:
    """Sign the KB-JWT with a held signer and return the SD-JWT+KB."""
    prepared = prepare_key_binding(sd_jwt, request, alg=signer.alg, hash_alg=hash_alg)
    return prepared.assemble(signer.sign(prepared.signing_input))
