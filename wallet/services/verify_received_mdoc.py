"""The holder's checks on an mdoc it receives (OpenID4VCI 1.0 Appendix A.2.4: the
``credential`` is the base64url ``IssuerSigned``; ISO/IEC 18013-5 §9.3.1), before anything
is stored, by ``core.mdoc.verify_issued_mdoc``:

- the ``x5chain`` of ``issuerAuth`` validates to the wallet's trust anchors for issuers
  (the same anchors as an SD-JWT VC's ``x5c``), the issuer signature (ES256), every
  digest, the MSO's validity window;
- the MSO's ``docType`` is the ``doctype`` the issuer's metadata promised for the
  configuration;
- its ``deviceKeyInfo`` is one of the holder keys the wallet proved possession of, each
  used once;
- where the document signer certificate names parties (SAN URIs or DNS names, as our
  agencies' certificates do), one of them is the issuer the offer came from. An mdoc has
  no ``iss`` to compare, and an ISO document signer certificate (under an IACA) usually
  names no URL, so a certificate without names is accepted by its chain alone.

What is kept for display: the elements by name space as JSON
(``core.mdoc.elements.claims_to_json``), the ``validUntil`` as the expiry, the MSO's
Token Status List reference.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from core.clock import Clock
from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint
from core.keys.x509 import san_dns_names, san_uris
from core.mdoc.elements import claims_to_json
from core.mdoc.errors import MdocError
from core.mdoc.verify_issued import verify_issued_mdoc
from core.mdoc.verify_issuer_signed import IssuerTrust, VerifiedIssuerSigned
from core.sdjwt_vc.issuer_keys import IssuerKeyError, check_certificate_names_issuer
from wallet.domain import HolderKey, RefusedCredential

log = logging.getLogger("idwallet.wallet")


@dataclass(frozen=True, slots=True)
class ReceivedMdoc:
    verified: VerifiedIssuerSigned
    holder_key: HolderKey
    #: Name space → element identifier → value as JSON.
    claims: dict[str, dict[str, Any]]
    #: ``validUntil``, seconds since the epoch.
    expires_at: int
    #: The Token Status List reference (``uri``, ``idx``), None without one.
    status: dict[str, Any] | None


def _names_issuer(certificate: x509.Certificate, issuer: str) -> None:
    if not san_uris(certificate) and not san_dns_names(certificate):
        return
    try:
        check_certificate_names_issuer(certificate, issuer)
    except IssuerKeyError as exc:
        raise RefusedCredential(
            "the mdoc's document signer certificate names another issuer than the offer"
        ) from exc


def verify_issued_mdoc_from(
    credential: object,
    *,
    anchors: Sequence[x509.Certificate],
    issuer: str,
    doctype: str | None,
    keys: Sequence[HolderKey],
    taken: set[str],
    clock: Clock,
) -> ReceivedMdoc:
    """The verified mdoc and the holder key its MSO names (added to ``taken``)."""
    if not isinstance(credential, str):
        raise RefusedCredential("the issuer returned no mdoc (base64url IssuerSigned)")
    try:
        verified = verify_issued_mdoc(
            credential, trust=IssuerTrust(tuple(anchors)), expected_doc_type=doctype, clock=clock
        )
    except MdocError as exc:
        log.info("refused an mdoc: %s (%s)", type(exc).__name__, exc.check)
        raise RefusedCredential(f"the mdoc does not verify ({exc.check}): {exc}") from exc
    _names_issuer(verified.issuer_certificate, issuer)
    try:
        thumbprint = jwk_thumbprint(verified.device_key_jwk)
    except (JoseError, ValueError) as exc:
        raise RefusedCredential("the mdoc's device key is malformed") from exc
    key = next(
        (
            k
            for k in keys
            if k.holder_key_id not in taken and jwk_thumbprint(k.public_jwk) == thumbprint
        ),
        None,
    )
    if key is None:
        raise RefusedCredential("the mdoc is not bound to a key of this wallet")
    taken.add(key.holder_key_id)
    status = verified.status
    return ReceivedMdoc(
        verified=verified,
        holder_key=key,
        claims=claims_to_json(verified.claims),
        expires_at=int(verified.validity.valid_until.timestamp()),
        status=None if status is None else {"uri": status.uri, "idx": status.index},
    )
