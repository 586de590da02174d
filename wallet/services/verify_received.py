"""The holder's checks on a credential it receives (RFC 9901 §7.2; SD-JWT VC §2.4, §2.5;
SECURITY-CASES W05), before anything is stored:

- the issuer's signature, by a key whose ``x5c`` chain validates to the wallet's trust
  anchors (never a self-signed certificate or the anchor itself) and whose certificate
  names the ``iss`` of the credential; ``iss`` equal to the issuer the offer came from;
- every RFC 9901 processing rule; ``typ: dc+sd-jwt``; ``exp``/``nbf``; no KB-JWT attached;
- the ``vct`` the issuer's metadata promised for the configuration;
- ``cnf.jwk`` is one of the holder keys the wallet proved possession of, each used once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint
from core.sdjwt.errors import SdJwtError
from core.sdjwt_vc.issuer_keys import IssuerKeyError, IssuerKeyResolver
from core.sdjwt_vc.profile import SdJwtVcError, VerifiedCredential, verify_sd_jwt_vc
from wallet.domain import HolderKey, RefusedCredential

log = logging.getLogger("idwallet.wallet")


async def verify_issued(
    credential: object,
    *,
    trust: IssuerKeyResolver,
    issuer: str,
    vct: str | None,
    keys: Sequence[HolderKey],
    taken: set[str],
) -> tuple[VerifiedCredential, HolderKey]:
    """The verified credential and the holder key its ``cnf`` names (added to ``taken``)."""
    if not isinstance(credential, str):
        raise RefusedCredential("the issuer returned no SD-JWT")
    try:
        verified = await verify_sd_jwt_vc(
            credential, issuer_keys=trust, key_binding=None, issued=True
        )
    except (SdJwtError, SdJwtVcError, IssuerKeyError) as exc:
        log.info("refused a credential: %s", type(exc).__name__)
        raise RefusedCredential(f"the credential does not verify: {exc}") from exc
    if verified.issuer != issuer:
        raise RefusedCredential("the credential names another issuer than the offer")
    if vct is not None and verified.vct != vct:
        raise RefusedCredential("the credential is not of the offered type")
    cnf = verified.claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise RefusedCredential("the credential is not bound to a holder key")
    try:
        thumbprint = jwk_thumbprint(jwk)
    except (JoseError, ValueError) as exc:
        raise RefusedCredential("the credential's cnf key is malformed") from exc
    for key in keys:
        if key.holder_key_id not in taken and jwk_thumbprint(key.public_jwk) == thumbprint:
            taken.add(key.holder_key_id)
            return verified, key
    raise RefusedCredential("the credential is not bound to a key of this wallet")
