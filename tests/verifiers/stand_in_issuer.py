"""An independent stand-in issuer for the verifier tests: its own trust anchor (configured
at the verifier as an extra issuer anchor), credentials built by the reference ``sd-jwt``
package; and, for negative vectors, hand-built SD-JWTs signed with the same key."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto import jwk as jwcrypto_jwk
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from core.encoding import b64url_encode, json_dumps
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)

ISSUER_ID = "https://stand-in.example/issuer"
NOW = dt.datetime.now(dt.UTC)
_ANCHOR_KEY = ec.generate_private_key(ec.SECP256R1())
ANCHOR = create_trust_anchor(SoftwareSigner(_ANCHOR_KEY), common_name="Stand-in Root CA", now=NOW)
_LEAF_KEY = ec.generate_private_key(ec.SECP256R1())
LEAF = issue_access_certificate(
    AccessCertificateRequest(
        common_name="Stand-in Issuer",
        organization="Stand-in",
        dns_names=("stand-in.example",),
        uris=(ISSUER_ID,),
    ),
    _LEAF_KEY.public_key(),
    anchor_signer=SoftwareSigner(_ANCHOR_KEY),
    anchor=ANCHOR,
    now=NOW,
)
X5C = list(to_x5c([LEAF]))
SIGNER = SoftwareSigner(_LEAF_KEY, x5c=tuple(X5C))


def write_anchor(directory: Path) -> Path:
    path = directory / "stand-in-anchor.pem"
    path.write_bytes(ANCHOR.public_bytes(Encoding.PEM))
    return path


def reference_credential(
    vct: str, claims: dict[str, Any], holder: SoftwareSigner, *, lifetime: int = 3600
) -> str:
    """An SD-JWT VC made entirely by the reference implementation."""
    now = int(time.time())
    user_claims: dict[Any, Any] = {
        "iss": ISSUER_ID,
        "vct": vct,
        "iat": now,
        "exp": now + lifetime,
        **{SDObj(name): value for name, value in claims.items()},
    }
    issuer = SDJWTIssuer(
        user_claims,
        jwcrypto_jwk.JWK.from_pyca(_LEAF_KEY),
        jwcrypto_jwk.JWK.from_pyca(holder._key.public_key()),  # type: ignore[attr-defined]
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "x5c": X5C},
    )
    issued: str = issuer.sd_jwt_issuance
    return issued


def disclosure(*content: Any) -> str:
    return b64url_encode(json_dumps(list(content)).encode())


def forged(
    payload: dict[str, Any],
    disclosures: list[str],
    *,
    header: dict[str, Any] | None = None,
    signer: SoftwareSigner = SIGNER,
    typ: str = "dc+sd-jwt",
) -> str:
    """A hand-built issuer-signed SD-JWT (no KB-JWT yet) for negative vectors."""
    jws = sign_compact(
        payload, signer, typ=typ, header={"x5c": X5C, **(header or {})}, include_kid=False
    )
    return jws + "~" + "".join(d + "~" for d in disclosures)
