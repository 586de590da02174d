"""Presenting an mdoc (OpenID4VP 1.0 Appendix B.2): the ``DeviceResponse`` for one DCQL
``mso_mdoc`` credential query, with only the elements agreed, its DeviceAuth signed by
the holder key the MSO names.

- The claim paths are ``[namespace, element]`` (B.2.4); the document is cut down to those
  items (``IssuerSigned.select``: their bytes and ``issuerAuth`` as issued).
- The ``SessionTranscript`` is built here from the request the wallet answers, never taken
  from the verifier (B.2.6.1): the full ``client_id`` with its prefix, the ``nonce``, the
  ``response_uri``, and for an encrypted response (``direct_post.jwt``) the RFC 7638
  thumbprint of the verifier's key the response is encrypted to (``null`` otherwise).
- The device key signs the COSE ``Sig_structure`` of ``deviceSignature``
  (``core.mdoc.present``): a server-held key here at once, a phone's key from a signing
  request whose ``signing_input`` is those bytes, base64url (``encoding: base64url``).
- The ``vp_token`` element is the base64url ``DeviceResponse`` (B.2.5), one document each
  (HAIP 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.encoding import EncodingError, b64url_decode, b64url_encode
from core.errors import InvalidRequest
from core.mdoc.errors import MdocError
from core.mdoc.issuer_signed import decode_issuer_signed
from core.mdoc.present import (
    PreparedDocument,
    assemble_device_response,
    prepare_document,
    to_vp_token_element,
)
from core.mdoc.session_transcript import openid4vp_session_transcript
from wallet.services.request_object import CheckedRequest


def session_transcript(request: CheckedRequest) -> bytes:
    """B.2.6.1: the ``SessionTranscript`` of the request being answered."""
    encryption = request.encryption
    return openid4vp_session_transcript(
        client_id=request.client_id,
        nonce=request.nonce,
        response_uri=request.response_uri,
        encryption_jwk=None if encryption is None else encryption.jwk,
    )


def disclosure(paths: Sequence[Sequence[object]]) -> dict[str, list[str]]:
    """B.2.4: claim paths ``[namespace, element]`` as name space → element identifiers."""
    chosen: dict[str, list[str]] = {}
    for path in paths:
        if len(path) != 2 or not all(isinstance(part, str) for part in path):
            raise InvalidRequest("an mdoc claim path is [namespace, element identifier]")
        namespace, element = str(path[0]), str(path[1])
        if element not in chosen.setdefault(namespace, []):
            chosen[namespace].append(element)
    return chosen


@dataclass(frozen=True, slots=True)
class MdocToSign:
    """One document waiting for its DeviceAuth signature."""

    #: The ``IssuerSigned`` with only the agreed items, base64url (kept until signed).
    issuer_signed: str
    #: The bytes the device key signs (RFC 9052 §4.4 ``ToBeSigned``).
    to_be_signed: bytes


def _prepared(issuer_signed: str, request: CheckedRequest) -> PreparedDocument:
    selected = decode_issuer_signed(issuer_signed)
    everything = {
        namespace: [item.element_identifier for item in items]
        for namespace, items in selected.name_spaces.items()
    }
    return prepare_document(
        selected, disclose=everything, session_transcript=session_transcript(request)
    )


def prepare_mdoc(
    credential: str, paths: Sequence[Sequence[object]], request: CheckedRequest
) -> MdocToSign:
    """The stored mdoc (base64url ``IssuerSigned``) cut down to ``paths``, and what its
    device key signs for ``request``."""
    try:
        selected = decode_issuer_signed(credential).select(disclosure(paths))
    except LookupError as exc:
        raise InvalidRequest(f"the mdoc lacks a requested element: {exc}") from exc
    except MdocError as exc:  # verified on receipt; a stored record that no longer reads
        raise InvalidRequest("the stored mdoc cannot be read") from exc
    kept = selected.to_credential()
    return MdocToSign(kept, _prepared(kept, request).to_be_signed)


def device_response(
    issuer_signed: str, signing_input: str, request: CheckedRequest, signature: bytes
) -> str:
    """The ``vp_token`` element: the ``DeviceResponse`` of the prepared document with the
    device key's raw signature (``r || s``) over ``signing_input`` (base64url, as
    prepared). The document is prepared again from what was kept; it must give the same
    bytes that were signed."""
    prepared = _prepared(issuer_signed, request)
    try:
        signed = b64url_decode(signing_input)
    except EncodingError as exc:
        raise ValueError("a kept mdoc signing input is not base64url") from exc
    if prepared.to_be_signed != signed:
        raise ValueError("the mdoc's DeviceAuthentication changed since it was signed")
    return to_vp_token_element(assemble_device_response([(prepared, signature)]))


def signing_input_text(to_be_signed: bytes) -> str:
    """How an mdoc signing input travels and is kept: base64url."""
    return b64url_encode(to_be_signed)
