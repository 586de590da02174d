"""Presenting mdocs: the ``DeviceResponse`` a wallet returns as an OpenID4VP ``vp_token``
element (OpenID4VP 1.0 Appendix B.2.5: base64url of the CBOR ``DeviceResponse``;
ISO/IEC 18013-5 §8.3.2.1.2.2, §9.1.3).

```
DeviceResponse = {"version": "1.0", "documents": [+ Document], "status": 0}
Document = {"docType": tstr, "issuerSigned": IssuerSigned, "deviceSigned": DeviceSigned}
DeviceSigned = {"nameSpaces": DeviceNameSpacesBytes, "deviceAuth": {"deviceSignature": COSE_Sign1}}
DeviceNameSpacesBytes = #6.24(bstr .cbor {})         ; nothing device-signed here
DeviceAuthentication = ["DeviceAuthentication", SessionTranscript, DocType,
                        DeviceNameSpacesBytes]
DeviceAuthenticationBytes = #6.24(bstr .cbor DeviceAuthentication)
```

``issuerSigned`` carries only the items chosen for disclosure, their bytes and
``issuerAuth`` exactly as issued. ``deviceSignature`` is a COSE_Sign1 with a detached
payload, ``DeviceAuthenticationBytes`` (§9.1.3.4, §9.1.3.6), signed by the device key the
MSO names. The device key may live on the phone, so presenting is split:

1. :func:`prepare_document` gives :attr:`PreparedDocument.to_be_signed`, the COSE
   ``ToBeSigned`` bytes (RFC 9052 §4.4) for the device key;
2. :func:`assemble_device_response` takes each prepared document with its raw signature
   (ES256: ``r || s``, 64 bytes) and gives the encoded ``DeviceResponse``.

:func:`present_mdoc` does both with a :class:`core.keys.signer.Signer`. HAIP 1.0 (its
OpenID4VP rules for ISO mdocs) wants each mdoc in its own ``DeviceResponse``;
:func:`assemble_device_response` takes several for other profiles.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.encoding import b64url_encode
from core.keys.signer import Signer
from core.mdoc.cbor import CborLimits, EncodedCbor, array_header, decode, encode
from core.mdoc.cose_sign1 import (
    COSE_ALGORITHMS,
    ES256_ID,
    assemble_sign1,
    cose_id_for,
    protected_header_bytes,
    sig_structure,
)
from core.mdoc.errors import MalformedCbor
from core.mdoc.issuer_signed import IssuerSigned

DEVICE_RESPONSE_VERSION = "1.0"
#: ISO/IEC 18013-5 §8.3.2.1.2.3: status 0, OK.
STATUS_OK = 0
#: ``DeviceNameSpacesBytes`` with no device-signed elements.
EMPTY_DEVICE_NAME_SPACES = EncodedCbor(encode({}))
_TRANSCRIPT_LIMITS = CborLimits(max_bytes=64 * 1024, max_depth=8, max_items=256)


def device_authentication_bytes(
    session_transcript: bytes,
    doc_type: str,
    device_name_spaces: EncodedCbor = EMPTY_DEVICE_NAME_SPACES,
) -> bytes:
    """ISO/IEC 18013-5 §9.1.3.4 ``DeviceAuthenticationBytes``, the detached payload of
    ``deviceSignature``. ``session_transcript`` is the encoded ``SessionTranscript``
    (:mod:`core.mdoc.session_transcript`); it is spliced in as it is, not re-encoded."""
    try:
        decode(session_transcript, limits=_TRANSCRIPT_LIMITS)
    except MalformedCbor as exc:
        raise ValueError(f"the SessionTranscript is not one CBOR item: {exc}") from exc
    device_authentication = b"".join(
        (
            array_header(4),
            encode("DeviceAuthentication"),
            session_transcript,
            encode(doc_type),
            encode(device_name_spaces),
        )
    )
    return EncodedCbor(device_authentication).tagged()


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """One document of a ``DeviceResponse``, waiting for the device key's signature."""

    doc_type: str
    #: Only the items chosen for disclosure, with the issuer's ``issuerAuth``.
    issuer_signed: IssuerSigned
    device_name_spaces: EncodedCbor
    #: The COSE ``alg`` the device key signs with.
    device_algorithm: int
    #: The serialized protected header of ``deviceSignature``.
    protected: bytes
    #: RFC 9052 §4.4 ``ToBeSigned``: the bytes the device key signs.
    to_be_signed: bytes


def prepare_document(
    issuer_signed: IssuerSigned,
    *,
    disclose: Mapping[str, Collection[str]],
    session_transcript: bytes,
    device_algorithm: int = ES256_ID,
    doc_type: str | None = None,
) -> PreparedDocument:
    """Choose the items to disclose (name space → element identifiers) and compute what
    the device key signs. ``LookupError`` for an element the mdoc does not have.
    ``doc_type``: the mdoc's, as verified when it was received (read from its MSO when
    not given)."""
    if device_algorithm not in COSE_ALGORITHMS:
        raise ValueError(f"COSE algorithm {device_algorithm} is not supported")
    if doc_type is None:
        doc_type = issuer_signed.unverified_mso().doc_type
    selected = issuer_signed.select(disclose)
    payload = device_authentication_bytes(session_transcript, doc_type, EMPTY_DEVICE_NAME_SPACES)
    protected = protected_header_bytes(device_algorithm)
    return PreparedDocument(
        doc_type=doc_type,
        issuer_signed=selected,
        device_name_spaces=EMPTY_DEVICE_NAME_SPACES,
        device_algorithm=device_algorithm,
        protected=protected,
        to_be_signed=sig_structure(protected, payload),
    )


def _document(prepared: PreparedDocument, signature: bytes) -> dict[str, Any]:
    algorithm = COSE_ALGORITHMS[prepared.device_algorithm]
    expected = algorithm.size if algorithm.hash is None else 2 * algorithm.size
    if len(signature) != expected:
        raise ValueError(
            f"a {algorithm.name} signature is {expected} bytes (raw, r || s for ECDSA), "
            f"not {len(signature)}"
        )
    device_signature = assemble_sign1(prepared.protected, signature, payload=None)
    return {
        "docType": prepared.doc_type,
        "issuerSigned": prepared.issuer_signed.to_cbor(),
        "deviceSigned": {
            "nameSpaces": prepared.device_name_spaces,
            "deviceAuth": {"deviceSignature": device_signature.to_cbor()},
        },
    }


def assemble_device_response(signed: Sequence[tuple[PreparedDocument, bytes]]) -> bytes:
    """The encoded ``DeviceResponse`` of prepared documents and their raw signatures over
    :attr:`PreparedDocument.to_be_signed`."""
    if not signed:
        raise ValueError("a DeviceResponse needs at least one document")
    response = {
        "version": DEVICE_RESPONSE_VERSION,
        "documents": [_document(prepared, signature) for prepared, signature in signed],
        "status": STATUS_OK,
    }
    return encode(response)


def present_mdoc(
    issuer_signed: IssuerSigned,
    *,
    disclose: Mapping[str, Collection[str]],
    session_transcript: bytes,
    device_signer: Signer,
    doc_type: str | None = None,
) -> bytes:
    """A ``DeviceResponse`` with one document, signed by ``device_signer`` (the key the
    MSO names); ``doc_type`` as in :func:`prepare_document`."""
    prepared = prepare_document(
        issuer_signed,
        disclose=disclose,
        session_transcript=session_transcript,
        device_algorithm=cose_id_for(device_signer.alg),
        doc_type=doc_type,
    )
    return assemble_device_response([(prepared, device_signer.sign(prepared.to_be_signed))])


def to_vp_token_element(device_response: bytes) -> str:
    """OpenID4VP 1.0 Appendix B.2.5: a ``vp_token`` element is the base64url of the
    CBOR ``DeviceResponse``."""
    return b64url_encode(device_response)
