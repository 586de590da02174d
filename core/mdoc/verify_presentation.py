"""Verifying a ``DeviceResponse`` (OpenID4VP 1.0 Appendix B.2.5; ISO/IEC 18013-5
§8.3.2.1.2.2, §9.3.1 issuer data authentication, §9.1.3 mdoc authentication).

The checks, each named (:mod:`core.mdoc.checks`) in :attr:`VerifiedDocument.checks`:

- ``cbor``: the ``vp_token`` element is base64url of CBOR decoded strictly within
  ``limits`` (size first, then depth, items, string sizes, tags, duplicate keys).
- ``structure``: a ``DeviceResponse`` of major version 1, ``status`` 0 (§8.3.2.1.2.3),
  one to ``max_documents`` documents, each with ``docType``, ``issuerSigned`` and
  ``deviceSigned`` in the shape of the CDDL.
- per document, the checks of :mod:`core.mdoc.verify_issuer_signed`: ``trust_chain``,
  ``issuer_signature``, ``doc_type`` (the document's ``docType`` is the MSO's and one the
  caller expects), ``digests`` (every disclosed item in the MSO, an allowed digest
  algorithm), ``validity``;
- ``device_auth``: ``deviceSignature`` (a ``deviceMac`` is refused, see
  :class:`core.mdoc.errors.DeviceMacNotSupported`) verifies with the MSO's device key, an
  allowed ``alg``, over ``DeviceAuthenticationBytes`` built here from the caller's own
  ``SessionTranscript`` (§9.1.3.4): a response made for another ``client_id``, ``nonce``,
  ``response_uri`` or encryption key does not verify. Device-signed elements, if any, must
  be authorized by the MSO's ``keyAuthorizations`` (§9.1.2.4).

The status list reference of each document is returned, not checked: fetching the Status
List Token is the caller's (Token Status List §8.3).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from core.clock import SYSTEM_CLOCK, Clock
from core.encoding import EncodingError, b64url_decode
from core.jose.jwk import public_key_from_jwk
from core.mdoc import checks
from core.mdoc.cbor import DEFAULT_LIMITS, CborLimits, EncodedCbor, decode
from core.mdoc.checks import CheckLog
from core.mdoc.cose_sign1 import (
    DEFAULT_COSE_ALGORITHMS,
    CoseSign1,
    parse_cose_sign1,
    verify_sign1,
)
from core.mdoc.decoded import as_list, as_map, encoded, member, text, unsigned
from core.mdoc.errors import (
    DeviceAuthInvalid,
    DeviceMacNotSupported,
    MalformedCbor,
    MalformedMdoc,
    MdocError,
)
from core.mdoc.issuer_signed import IssuerSigned, parse_issuer_signed
from core.mdoc.mso import ValidityInfo, check_version
from core.mdoc.present import STATUS_OK, device_authentication_bytes
from core.mdoc.verify_issuer_signed import IssuerTrust, VerifiedIssuerSigned, verify_issuer_signed
from core.status_list.token import StatusReference

#: HAIP 1.0 returns one mdoc per ``DeviceResponse``; a few more are accepted.
DEFAULT_MAX_DOCUMENTS = 16


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    """One document of a ``DeviceResponse`` whose every check passed."""

    issuer_signed: VerifiedIssuerSigned
    #: The COSE ``alg`` of ``deviceSignature``.
    device_algorithm: int
    #: Device-signed elements (name space → identifier → value), authorized by the MSO.
    device_signed_claims: dict[str, dict[str, Any]]
    #: The named checks that passed, in order.
    checks: tuple[str, ...]

    @property
    def doc_type(self) -> str:
        return self.issuer_signed.doc_type

    @property
    def claims(self) -> dict[str, dict[str, Any]]:
        """The disclosed issuer-signed elements: name space → identifier → value."""
        return self.issuer_signed.claims

    @property
    def status(self) -> StatusReference | None:
        return self.issuer_signed.status

    @property
    def validity(self) -> ValidityInfo:
        return self.issuer_signed.validity

    @property
    def device_key_jwk(self) -> dict[str, str]:
        return self.issuer_signed.device_key_jwk


@dataclass(frozen=True, slots=True)
class VerifiedDeviceResponse:
    version: str
    status: int
    documents: tuple[VerifiedDocument, ...]
    #: ``documentErrors``: docType → error code, for documents the wallet did not return.
    document_errors: tuple[dict[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class _Document:
    doc_type: str
    issuer_signed: IssuerSigned
    device_name_spaces: EncodedCbor
    device_signature: CoseSign1 | None
    has_device_mac: bool


def verify_device_response(
    device_response: str | bytes,
    *,
    session_transcript: bytes,
    trust: IssuerTrust | Sequence[x509.Certificate],
    device_algorithms: Collection[int] = DEFAULT_COSE_ALGORITHMS,
    expected_doc_types: Collection[str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    limits: CborLimits = DEFAULT_LIMITS,
    max_documents: int = DEFAULT_MAX_DOCUMENTS,
) -> VerifiedDeviceResponse:
    """Verify a ``DeviceResponse`` (a ``vp_token`` element as text, or its CBOR bytes)
    against the ``SessionTranscript`` the verifier built for its own request
    (:mod:`core.mdoc.session_transcript`); raise an :class:`core.mdoc.errors.MdocError`
    whose ``check`` names the failing step and whose ``passed_checks`` the ones before it.
    """
    policy = trust if isinstance(trust, IssuerTrust) else IssuerTrust(tuple(trust))
    log = CheckLog()
    try:
        value = _decode(device_response, limits)
        log.done(checks.CBOR)
        version, status, documents, errors = _parse(value, limits, max_documents)
        log.done(checks.STRUCTURE)
    except MdocError as exc:
        raise log.failed(exc) from None
    now = clock.now()
    verified = tuple(
        _verify_document(
            document,
            policy,
            CheckLog(tuple(log.passed), document_index=index),
            now=now,
            session_transcript=session_transcript,
            device_algorithms=device_algorithms,
            expected_doc_types=expected_doc_types,
            limits=limits,
        )
        for index, document in enumerate(documents)
    )
    return VerifiedDeviceResponse(version, status, verified, errors)


def _decode(device_response: str | bytes, limits: CborLimits) -> Any:
    if isinstance(device_response, str):
        if len(device_response) > limits.max_bytes * 4 // 3 + 4:
            raise MalformedCbor(f"the DeviceResponse is larger than {limits.max_bytes} bytes")
        try:
            device_response = b64url_decode(device_response)
        except EncodingError as exc:
            raise MalformedCbor("the DeviceResponse is not base64url") from exc
    return decode(device_response, limits=limits)


def _parse(
    value: object, limits: CborLimits, max_documents: int
) -> tuple[str, int, list[_Document], tuple[dict[str, int], ...]]:
    where = "DeviceResponse"
    response = as_map(value, where)
    version = check_version(member(response, "version", where), f"{where}.version")
    status = unsigned(member(response, "status", where), f"{where}.status")
    if status != STATUS_OK:
        raise MalformedMdoc(f"{where}.status is {status}: the wallet reports an error")
    listed = as_list(member(response, "documents", where), f"{where}.documents", non_empty=True)
    if len(listed) > max_documents:
        raise MalformedMdoc(f"{where} has more than {max_documents} documents")
    documents = [
        _parse_document(document, f"{where}.documents[{index}]", limits)
        for index, document in enumerate(listed)
    ]
    errors = tuple(
        {
            text(doc_type, f"{where}.documentErrors key"): unsigned(
                code, f"{where}.documentErrors value"
            )
            for doc_type, code in as_map(entry, f"{where}.documentErrors[]").items()
        }
        for entry in as_list(response.get("documentErrors", []), f"{where}.documentErrors")
    )
    return version, status, documents, errors


def _parse_document(value: object, where: str, limits: CborLimits) -> _Document:
    document = as_map(value, where)
    doc_type = text(member(document, "docType", where), f"{where}.docType")
    issuer_signed = parse_issuer_signed(
        member(document, "issuerSigned", where), f"{where}.issuerSigned", limits
    )
    signed_where = f"{where}.deviceSigned"
    device_signed = as_map(member(document, "deviceSigned", where), signed_where)
    name_spaces = encoded(
        member(device_signed, "nameSpaces", signed_where), f"{signed_where}.nameSpaces"
    )
    auth_where = f"{signed_where}.deviceAuth"
    device_auth = as_map(member(device_signed, "deviceAuth", signed_where), auth_where)
    signature = device_auth.get("deviceSignature")
    if signature is not None and "deviceMac" in device_auth:
        raise MalformedMdoc(f"{auth_where} must hold deviceSignature or deviceMac, not both")
    return _Document(
        doc_type=doc_type,
        issuer_signed=issuer_signed,
        device_name_spaces=name_spaces,
        device_signature=None
        if signature is None
        else parse_cose_sign1(signature, f"{auth_where}.deviceSignature"),
        has_device_mac="deviceMac" in device_auth,
    )


def _verify_document(
    document: _Document,
    trust: IssuerTrust,
    log: CheckLog,
    *,
    now: float,
    session_transcript: bytes,
    device_algorithms: Collection[int],
    expected_doc_types: Collection[str] | None,
    limits: CborLimits,
) -> VerifiedDocument:
    issuer = verify_issuer_signed(
        document.issuer_signed,
        trust,
        now=now,
        log=log,
        document_doc_type=document.doc_type,
        expected_doc_types=expected_doc_types,
        limits=limits,
    )
    try:
        device_claims = _device_signed_claims(document.device_name_spaces, issuer, limits)
        algorithm = _check_device_signature(document, issuer, session_transcript, device_algorithms)
    except MdocError as exc:
        raise log.failed(exc) from None
    log.done(checks.DEVICE_AUTH)
    return VerifiedDocument(issuer, algorithm, device_claims, tuple(log.passed))


def _device_signed_claims(
    name_spaces: EncodedCbor, issuer: VerifiedIssuerSigned, limits: CborLimits
) -> dict[str, dict[str, Any]]:
    where = "deviceSigned.nameSpaces"
    try:
        decoded = as_map(name_spaces.decode(limits), where)
    except MalformedCbor as exc:
        raise DeviceAuthInvalid(f"{where} is not CBOR: {exc}") from exc
    claims: dict[str, dict[str, Any]] = {}
    authorizations = issuer.mso.key_authorizations
    for name_space, elements in decoded.items():
        ns = text(name_space, f"{where} key")
        claims[ns] = {}
        for element, value in as_map(elements, f"{where}[{ns!r}]").items():
            identifier = text(element, f"{where}[{ns!r}] key")
            if not authorizations.allows(ns, identifier):
                raise DeviceAuthInvalid(
                    f"the device signed {ns}/{identifier}, which the MSO does not authorize"
                )
            claims[ns][identifier] = value
    return claims


def _check_device_signature(
    document: _Document,
    issuer: VerifiedIssuerSigned,
    session_transcript: bytes,
    device_algorithms: Collection[int],
) -> int:
    if document.device_signature is None:
        if document.has_device_mac:
            raise DeviceMacNotSupported(
                "deviceMac is not accepted: OpenID4VP has no reader key to agree a MAC key "
                "with (EReaderKeyBytes is null), only deviceSignature is"
            )
        raise DeviceAuthInvalid("deviceAuth has no deviceSignature")
    try:
        payload = device_authentication_bytes(
            session_transcript, document.doc_type, document.device_name_spaces
        )
    except ValueError as exc:
        raise DeviceAuthInvalid(f"the expected SessionTranscript is unusable: {exc}") from exc
    return verify_sign1(
        document.device_signature,
        public_key_from_jwk(issuer.device_key_jwk),
        algorithms=device_algorithms,
        error=DeviceAuthInvalid,
        detached_payload=payload,
    )
