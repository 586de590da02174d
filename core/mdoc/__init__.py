"""ISO/IEC 18013-5 mdoc (``mso_mdoc``): strict CBOR, COSE_Sign1, issuing, presenting and
verifying, framework-free.

Specifications: ISO/IEC 18013-5 §8.3 and §9.1 structures as OpenID4VP 1.0 Appendix B.2
and OpenID4VCI 1.0 Appendix A.2 use them, HAIP 1.0's mdoc rules, and the Token Status
List's mdoc binding (draft -14 §6.3.2). Each module's docstring cites what it implements.

Modules, by what they do:

- ``cbor``: strict decoding within limits, deterministic encoding, tag 24 (:class:`EncodedCbor`).
- ``cose_sign1`` and ``cose_key``: COSE_Sign1 with an algorithm allow-list and
  ``x5chain``; COSE_Key to and from JWK.
- ``mso``, ``issuer_signed``, ``elements``: the Mobile Security Object, ``IssuerSigned``
  and its items, data element values.
- ``issue``: :func:`issue_mdoc` (issuer).
- ``verify_issuer_signed`` and ``verify_issued``: :func:`verify_issued_mdoc` (wallet, on
  receipt); ``present``: :func:`prepare_document` + :func:`assemble_device_response`, or
  :func:`present_mdoc` (wallet); ``session_transcript``: OpenID4VP's ``SessionTranscript``.
- ``verify_presentation``: :func:`verify_device_response` (verifier).
- ``checks`` and ``errors``: the named checks and the narrow errors that carry them.

May import: the standard library, ``cbor2``, ``cryptography``, and ``core.jose``,
``core.keys``, ``core.status_list``, ``core.encoding``, ``core.clock``.
Tests: ``tests/core/mdoc``.
"""

from core.mdoc.cbor import CborLimits, EncodedCbor
from core.mdoc.cose_sign1 import DEFAULT_COSE_ALGORITHMS
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE, claims_to_json
from core.mdoc.errors import MdocError
from core.mdoc.issue import IssuedMdoc, issue_mdoc
from core.mdoc.issuer_signed import IssuerSigned, decode_issuer_signed
from core.mdoc.mso import DEFAULT_DIGEST_ALGORITHMS, ValidityInfo
from core.mdoc.present import (
    PreparedDocument,
    assemble_device_response,
    prepare_document,
    present_mdoc,
    to_vp_token_element,
)
from core.mdoc.session_transcript import (
    openid4vp_dc_api_session_transcript,
    openid4vp_session_transcript,
)
from core.mdoc.verify_issued import verify_issued_mdoc
from core.mdoc.verify_issuer_signed import IssuerTrust, VerifiedIssuerSigned
from core.mdoc.verify_presentation import (
    VerifiedDeviceResponse,
    VerifiedDocument,
    verify_device_response,
)

__all__ = [
    "DEFAULT_COSE_ALGORITHMS",
    "DEFAULT_DIGEST_ALGORITHMS",
    "MDL_DOC_TYPE",
    "MDL_NAMESPACE",
    "CborLimits",
    "EncodedCbor",
    "IssuedMdoc",
    "IssuerSigned",
    "IssuerTrust",
    "MdocError",
    "PreparedDocument",
    "ValidityInfo",
    "VerifiedDeviceResponse",
    "VerifiedDocument",
    "VerifiedIssuerSigned",
    "assemble_device_response",
    "claims_to_json",
    "decode_issuer_signed",
    "issue_mdoc",
    "openid4vp_dc_api_session_transcript",
    "openid4vp_session_transcript",
    "prepare_document",
    "present_mdoc",
    "to_vp_token_element",
    "verify_device_response",
    "verify_issued_mdoc",
]
