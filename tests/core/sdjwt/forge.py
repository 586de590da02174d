"""Hand-built SD-JWTs for negative tests: any payload and disclosures, properly signed."""

from __future__ import annotations

import json
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from core.encoding import b64url_encode
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.sdjwt.disclosures import digest
from core.sdjwt.key_binding import KeyBindingRequest, bind

ISSUER = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
HOLDER = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
AUDIENCE = "x509_hash:verifier-hash"
NONCE = "n-0S6_WzA2Mj-0123456789"


def issuer_public_key() -> ec.EllipticCurvePublicKey:
    key = ISSUER._key.public_key()  # test-only access
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def encode_disclosure(*content: Any, raw: str | None = None) -> str:
    text = raw if raw is not None else json.dumps(list(content))
    return b64url_encode(text.encode())


def signed(
    payload: dict[str, Any], *, typ: str = "dc+sd-jwt", signer: SoftwareSigner = ISSUER
) -> str:
    body = {"cnf": {"jwk": HOLDER.public_jwk()}, **payload}
    return sign_compact(body, signer, typ=typ)


def sd_jwt(payload: dict[str, Any], disclosures: list[str], **options: Any) -> str:
    return signed(payload, **options) + "~" + "".join(d + "~" for d in disclosures)


def with_key_binding(
    sd_jwt_text: str, *, audience: str = AUDIENCE, nonce: str = NONCE, iat: int | None = None
) -> str:
    request = KeyBindingRequest(audience, nonce, int(time.time()) if iat is None else iat)
    return bind(sd_jwt_text, request, HOLDER)


def d(encoded: str) -> str:
    return digest(encoded)
