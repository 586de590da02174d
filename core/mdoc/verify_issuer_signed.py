"""Verifying ``IssuerSigned``: what a wallet checks on receipt and a verifier for each
document (ISO/IEC 18013-5 §9.3.1 "Inspection procedure for issuer data authentication").

In order, each a named check (:mod:`core.mdoc.checks`):

1. ``trust_chain``: the ``x5chain`` of ``issuerAuth`` (RFC 9360; §9.1.2.4 puts the document
   signer certificate there) validates to one of the caller's anchors at the time of
   verification, by :func:`core.keys.x509.validate_chain` (no anchor nor self-signed
   certificate in the chain, as HAIP 1.0 asks of ``x5c``), so the document signer
   certificate is within its validity now (§9.3.1 step 1).
2. ``issuer_signature``: the COSE_Sign1 verifies with the certificate's key, its ``alg``
   protected and in the allow-list (§9.3.1 step 2; HAIP 1.0 requires ``-7``/``-9``).
   Then the MSO is read from the signed payload, never before.
3. ``doc_type``: the MSO's ``docType`` is the document's and one the caller expects
   (§9.3.1 step 5).
4. ``digests``: the digest algorithm in the allow-list (§9.1.2.5: SHA-256/384/512), and
   every item's digest over its exact ``IssuerSignedItemBytes`` equal to the one the MSO
   holds under its name space and ``digestID`` (§9.3.1 step 3); an item the MSO does not
   list is refused, as are a ``digestID`` or an element identifier twice in a name space
   and a ``random`` shorter than 16 bytes (§9.1.2.5).
5. ``validity``: now within ``validFrom`` .. ``validUntil`` (§9.3.1 step 6), and
   ``signed`` within the document signer certificate's validity (§9.3.1 step 4) and not in
   the future; ``leeway`` seconds of clock skew either way.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from core.jose.algorithms import PublicKey
from core.keys.x509 import (
    MAX_CERTIFICATE_BYTES,
    MAX_CHAIN_LENGTH,
    CertificateError,
    ValidatedChains,
    leaf_public_key,
    validate_chain,
)
from core.mdoc import checks
from core.mdoc.cbor import DEFAULT_LIMITS, CborLimits
from core.mdoc.checks import CheckLog
from core.mdoc.cose_sign1 import (
    DEFAULT_COSE_ALGORITHMS,
    HEADER_X5CHAIN,
    CoseSign1,
    verify_sign1,
    x5chain_certificates,
)
from core.mdoc.errors import (
    DigestAlgorithmNotAllowed,
    DigestMismatch,
    DocTypeMismatch,
    ElementNotCovered,
    ExpiredOrNotYetValid,
    IssuerSignatureInvalid,
    MalformedMdoc,
    MdocError,
    UntrustedCertificate,
)
from core.mdoc.issuer_signed import MIN_RANDOM_BYTES, IssuerSigned, IssuerSignedItem, mso_payload
from core.mdoc.mso import (
    DEFAULT_DIGEST_ALGORITHMS,
    MobileSecurityObject,
    ValidityInfo,
    digest,
    parse_mso,
)
from core.status_list.token import StatusReference


@dataclass(frozen=True, slots=True)
class IssuerTrust:
    """What the caller trusts and accepts for ``issuerAuth``."""

    trust_anchors: Sequence[x509.Certificate]
    algorithms: Collection[int] = DEFAULT_COSE_ALGORITHMS
    digest_algorithms: Collection[str] = DEFAULT_DIGEST_ALGORITHMS
    #: Seconds of clock skew accepted on validity times.
    leeway: float = 60.0
    #: Document signer chains that validated, remembered (the same agency's chain comes
    #: with every mdoc); None: every chain is path-validated afresh.
    chains: ValidatedChains | None = None


@dataclass(frozen=True, slots=True)
class VerifiedIssuerSigned:
    """An ``IssuerSigned`` whose every check passed."""

    doc_type: str
    #: Name space → element identifier → value (``full-date`` a ``date``, ``tdate`` an
    #: aware ``datetime``, a portrait ``bytes``; see :mod:`core.mdoc.elements`).
    claims: dict[str, dict[str, Any]]
    #: The holder's device key from the MSO, as a public JWK.
    device_key_jwk: dict[str, str]
    #: Token Status List reference (``status.status_list``) for the caller to check.
    status: StatusReference | None
    validity: ValidityInfo
    #: The document signer certificate (leaf of ``x5chain``).
    issuer_certificate: x509.Certificate
    #: The COSE ``alg`` of ``issuerAuth``.
    issuer_algorithm: int
    mso: MobileSecurityObject
    #: What was verified, to keep (a wallet) or to read (its exact items).
    issuer_signed: IssuerSigned
    #: The named checks that passed, in order (:mod:`core.mdoc.checks`).
    checks: tuple[str, ...] = ()


def _at(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


def verify_issuer_signed(
    issuer_signed: IssuerSigned,
    trust: IssuerTrust,
    *,
    now: float,
    log: CheckLog,
    document_doc_type: str | None = None,
    expected_doc_types: Collection[str] | None = None,
    limits: CborLimits = DEFAULT_LIMITS,
) -> VerifiedIssuerSigned:
    """Every check of this module's docstring; the verified content, or an
    :class:`core.mdoc.errors.MdocError` carrying the checks that passed before it."""
    try:
        return _verify(
            issuer_signed,
            trust,
            now=now,
            log=log,
            document_doc_type=document_doc_type,
            expected_doc_types=expected_doc_types,
            limits=limits,
        )
    except MdocError as exc:
        raise log.failed(exc) from None


def _verify(
    issuer_signed: IssuerSigned,
    trust: IssuerTrust,
    *,
    now: float,
    log: CheckLog,
    document_doc_type: str | None,
    expected_doc_types: Collection[str] | None,
    limits: CborLimits,
) -> VerifiedIssuerSigned:
    issuer_auth = issuer_signed.issuer_auth
    at = _at(now)
    try:
        leaf, key = _document_signer(issuer_auth, trust, at)
    except (MalformedMdoc, CertificateError) as exc:
        raise UntrustedCertificate(f"the document signer is not trusted: {exc}") from exc
    except ValueError as exc:  # a certificate field cryptography could not parse
        raise UntrustedCertificate("the document signer certificate is malformed") from exc
    log.done(checks.TRUST_CHAIN)

    alg = verify_sign1(issuer_auth, key, algorithms=trust.algorithms, error=IssuerSignatureInvalid)
    log.done(checks.ISSUER_SIGNATURE)

    mso = parse_mso(mso_payload(issuer_auth, "issuerAuth", limits))
    if document_doc_type is not None and mso.doc_type != document_doc_type:
        raise DocTypeMismatch("the document's docType is not the one its MSO signs")
    if expected_doc_types is not None and mso.doc_type not in expected_doc_types:
        raise DocTypeMismatch(f"docType {mso.doc_type!r} is not the one expected")
    log.done(checks.DOC_TYPE)

    claims = _check_digests(issuer_signed.name_spaces, mso, trust.digest_algorithms)
    log.done(checks.DIGESTS)

    _check_validity(mso.validity, leaf, now=now, leeway=trust.leeway)
    log.done(checks.VALIDITY)
    return VerifiedIssuerSigned(
        doc_type=mso.doc_type,
        claims=claims,
        device_key_jwk=mso.device_key_jwk,
        status=mso.status,
        validity=mso.validity,
        issuer_certificate=leaf,
        issuer_algorithm=alg,
        mso=mso,
        issuer_signed=issuer_signed,
        checks=tuple(log.passed),
    )


def _document_signer(
    issuer_auth: CoseSign1, trust: IssuerTrust, at: dt.datetime
) -> tuple[x509.Certificate, PublicKey]:
    """The document signer certificate of ``x5chain``, validated to the anchors (or found
    among the chains that validated before), and its key."""
    if trust.chains is None:
        chain = x5chain_certificates(issuer_auth, "issuerAuth")
        leaf = validate_chain(chain, trust.trust_anchors, at=at)
        return leaf, leaf_public_key(leaf)
    value = issuer_auth.header(HEADER_X5CHAIN)
    ders = [value] if type(value) is bytes else value
    if (
        type(ders) is not list
        or not 1 <= len(ders) <= MAX_CHAIN_LENGTH
        or any(type(der) is not bytes or len(der) > MAX_CERTIFICATE_BYTES for der in ders)
    ):
        x5chain_certificates(issuer_auth, "issuerAuth")  # refused there, by name
    x5c = [base64.b64encode(der).decode("ascii") for der in ders]
    validated = trust.chains.validate(x5c, trust.trust_anchors, now=at.timestamp())
    return validated.leaf, validated.key


def _check_digests(
    name_spaces: Mapping[str, tuple[IssuerSignedItem, ...]],
    mso: MobileSecurityObject,
    allowed: Collection[str],
) -> dict[str, dict[str, Any]]:
    if mso.digest_algorithm not in allowed:
        raise DigestAlgorithmNotAllowed(f"digest algorithm {mso.digest_algorithm!r} is not allowed")
    claims: dict[str, dict[str, Any]] = {}
    for name_space, items in name_spaces.items():
        digests = mso.value_digests.get(name_space)
        if digests is None:
            raise ElementNotCovered(f"the MSO has no digests for name space {name_space!r}")
        elements: dict[str, Any] = {}
        seen_ids: set[int] = set()
        for item in items:
            where = f"{name_space}/{item.element_identifier}"
            if item.digest_id in seen_ids:
                raise MalformedMdoc(f"{where}: digestID {item.digest_id} appears twice")
            seen_ids.add(item.digest_id)
            if item.element_identifier in elements:
                raise MalformedMdoc(f"{where}: the element appears twice in its name space")
            if len(item.random) < MIN_RANDOM_BYTES:
                raise MalformedMdoc(f"{where}: random is shorter than {MIN_RANDOM_BYTES} bytes")
            expected = digests.get(item.digest_id)
            if expected is None:
                raise ElementNotCovered(f"{where}: the MSO has no digest {item.digest_id}")
            actual = digest(mso.digest_algorithm, item.encoded.tagged())
            if not hmac.compare_digest(actual, expected):
                raise DigestMismatch(f"{where}: the item's digest is not the MSO's")
            elements[item.element_identifier] = item.element_value
        claims[name_space] = elements
    return claims


def _check_validity(
    validity: ValidityInfo, leaf: x509.Certificate, *, now: float, leeway: float
) -> None:
    if validity.valid_from.timestamp() > now + leeway:
        raise ExpiredOrNotYetValid("the mdoc is not valid yet (validFrom)")
    if validity.valid_until.timestamp() < now - leeway:
        raise ExpiredOrNotYetValid("the mdoc has expired (validUntil)")
    signed = validity.signed
    if signed.timestamp() > now + leeway:
        raise ExpiredOrNotYetValid("the MSO was signed in the future")
    if not leaf.not_valid_before_utc <= signed <= leaf.not_valid_after_utc:
        raise ExpiredOrNotYetValid(
            "the MSO was signed outside the document signer certificate's validity"
        )
