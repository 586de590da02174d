"""Access certificates: an owner's active signing key certified under the deployment
trust anchor (or another authority of the deployment, such as its wallet-provider CA), so
that wallets, verifiers and issuers can validate its ``x5c`` chain."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from app.bootstrap import TrustAnchor
from app.deployment import Deployment
from core.jose.jwk import public_key_from_jwk
from core.keys.provider import DeploymentKeyProvider
from core.keys.signer import Signer
from core.keys.x509 import (
    AccessCertificateRequest,
    issue_access_certificate,
    parse_x5c,
    san_dns_names,
    san_uris,
    to_x5c,
)

#: A certificate this close to its end is renewed rather than reused.
RENEW_BEFORE = dt.timedelta(days=30)


class CannotCertify(RuntimeError):
    """This deployment has no anchor private key to issue access certificates with."""


def _still_good(
    signer: Signer,
    request: AccessCertificateRequest,
    issued_by: x509.Certificate | None,
    now: dt.datetime,
) -> bool:
    """``issued_by``: the authority the certificate must come from directly (None: any,
    as for access certificates an outside CA may have issued under the anchor)."""
    if not signer.x5c:
        return False
    leaf: x509.Certificate = parse_x5c(list(signer.x5c))[0]
    if issued_by is not None:
        try:
            leaf.verify_directly_issued_by(issued_by)
        except (ValueError, TypeError, InvalidSignature):
            return False  # certified under another authority (one replaced since)
    return (
        sorted(san_dns_names(leaf)) == sorted(request.dns_names)
        and sorted(san_uris(leaf)) == sorted(request.uris)
        and leaf.not_valid_after_utc - RENEW_BEFORE > now
    )


async def ensure_access_certificate(
    deployment: Deployment,
    owner: str,
    request: AccessCertificateRequest,
    *,
    authority: TrustAnchor | None = None,
    now: dt.datetime | None = None,
) -> Signer:
    """The owner's active signer, carrying a current access certificate for ``request``
    issued by ``authority`` (the deployment trust anchor unless given)."""
    now = now or dt.datetime.now(dt.UTC)
    keys: DeploymentKeyProvider = deployment.keys
    signer = await keys.signer(owner)
    # Workers starting together may each create the owner's first key: the active one is
    # then whichever sorts last, possibly another worker's not yet certified. Certify
    # whatever is active until the active one carries a good certificate.
    anchor = authority or deployment.trust_anchor
    issued_by = None if authority is None else authority.certificate
    for _ in range(4):
        if _still_good(signer, request, issued_by, now):
            return signer
        if anchor.signer is None:
            raise CannotCertify("set IDWALLET_TRUST_ANCHOR_KEY to issue access certificates here")
        certificate = issue_access_certificate(
            request,
            public_key_from_jwk(signer.public_jwk()),
            anchor_signer=anchor.signer,
            anchor=anchor.certificate,
            now=now,
        )
        await keys.attach_certificate_chain(signer.kid, to_x5c([certificate]))
        signer = await keys.signer(owner)
    raise CannotCertify(f"the active key of {owner} kept changing while it was certified")
