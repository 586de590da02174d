"""Narrow mdoc errors, each named after the check it fails.

Every error carries ``check``: the name of the verification step that refused the input,
the same names the verified results list for the steps that passed (``cbor``,
``structure``, ``trust_chain``, ``issuer_signature``, ``doc_type``, ``digests``,
``validity``, ``device_key``, ``device_auth``; see :mod:`core.mdoc.checks`). A verifier
that raises one also records the checks that passed before it in ``passed_checks``, so a
caller can show every check that ran. The use case that calls ``core.mdoc`` translates
these into protocol errors (``core.errors``) once, as it does for ``core.sdjwt``.
"""

from __future__ import annotations

from typing import ClassVar


class MdocError(ValueError):
    """The CBOR, COSE structure or mdoc is not acceptable."""

    check: ClassVar[str] = "structure"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.passed_checks: tuple[str, ...] = ()
        #: Which document of a ``DeviceResponse`` failed (0-based), where that is known.
        self.document_index: int | None = None


class MalformedCbor(MdocError):
    """Not well-formed CBOR, or CBOR outside the strict profile (size, depth, indefinite
    lengths, duplicate map keys, tags outside the allow-list, oversized strings)."""

    check = "cbor"


class MalformedMdoc(MdocError):
    """Well-formed CBOR that is not the ISO/IEC 18013-5 structure expected there."""

    check = "structure"


class UnsupportedVersion(MalformedMdoc):
    """A ``version`` whose major version this implementation does not understand."""


class UntrustedCertificate(MdocError):
    """The ``x5chain`` does not validate to a trust anchor at the time of verification."""

    check = "trust_chain"


class IssuerSignatureInvalid(MdocError):
    """The ``issuerAuth`` COSE_Sign1 does not verify with the document signer's key, or
    its ``alg`` is outside the caller's allow-list or does not fit that key."""

    check = "issuer_signature"


class DigestAlgorithmNotAllowed(MdocError):
    """The MSO's ``digestAlgorithm`` is not in the caller's allow-list."""

    check = "digests"


class DigestMismatch(MdocError):
    """An ``IssuerSignedItemBytes`` whose digest is not the one the MSO holds."""

    check = "digests"


class ElementNotCovered(MdocError):
    """An issuer-signed item whose name space or ``digestID`` the MSO does not list."""

    check = "digests"


class DocTypeMismatch(MdocError):
    """The document's ``docType`` is not the MSO's, or not the one expected."""

    check = "doc_type"


class ExpiredOrNotYetValid(MdocError):
    """``validityInfo`` puts the mdoc outside its validity, or ``signed`` lies outside
    the document signer certificate's validity."""

    check = "validity"


class DeviceKeyMismatch(MdocError):
    """The MSO binds the mdoc to another device key than the one the wallet asked for."""

    check = "device_key"


class DeviceAuthInvalid(MdocError):
    """``deviceAuth`` is missing, uses an algorithm outside the allow-list, or does not
    verify with the MSO's device key over the expected ``DeviceAuthentication``; or the
    device signed data elements the MSO does not authorize it to."""

    check = "device_auth"


class DeviceMacNotSupported(DeviceAuthInvalid):
    """``deviceMac`` (ISO/IEC 18013-5 §9.1.3.5) needs a MAC key agreed with the reader's
    ephemeral key (``EReaderKey``), which an OpenID4VP ``SessionTranscript`` does not
    have (it is ``null`` there); only ``deviceSignature`` is accepted."""
