"""Access certificates: an owner's active signing key certified under the deployment
trust anchor, so that wallets and verifiers can validate its ``x5c`` chain."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from app.deployment import Deployment
from core.jose.jwk import public_key_from_jwk
from core.keys.provider import SoftwareKeyProvider
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


def _still_good(signer: Signer, request: AccessCertificateRequest, now: dt.datetime) -> bool:
    if not signer.x5c:
        return False
    leaf: x509.Certificate = parse_x5c(list(signer.x5c))[0]
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
    now: dt.datetime | None = None,
) -> Signer:
    """The owner's active signer, carrying a current access certificate for ``request``."""
    now = now or dt.datetime.now(dt.UTC)
    keys: SoftwareKeyProvider = deployment.keys
    signer = await keys.signer(owner)
    # Workers starting together may each create the owner's first key: the active one is
    # then whichever sorts last, possibly another worker's not yet certified. Certify
    # whatever is active until the active one carries a good certificate.
    for _ in range(4):
        if _still_good(signer, request, now):
            return signer
        anchor = deployment.trust_anchor
        if anchor.private_key is None:
            raise CannotCertify("set IDWALLET_TRUST_ANCHOR_KEY to issue access certificates here")
        certificate = issue_access_certificate(
            request,
            public_key_from_jwk(signer.public_jwk()),
            anchor_key=anchor.private_key,
            anchor=anchor.certificate,
            now=now,
        )
        await keys.attach_certificate_chain(signer.kid, to_x5c([certificate]))
        signer = await keys.signer(owner)
    raise CannotCertify(f"the active key of {owner} kept changing while it was certified")
