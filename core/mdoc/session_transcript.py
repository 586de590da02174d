"""The ``SessionTranscript`` of an OpenID4VP presentation (OpenID4VP 1.0 Appendix B.2.6;
ISO/IEC 18013-5 §9.1.5.1).

``SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover]``, both bytes
``null`` in OpenID4VP, and the ``Handover``:

- invoked by redirects (B.2.6.1): ``["OpenID4VPHandover", sha-256(OpenID4VPHandoverInfo)]``
  where ``OpenID4VPHandoverInfo = [client_id, nonce, jwkThumbprint, responseUri]``;
- over the Digital Credentials API (B.2.6.2): ``["OpenID4VPDCAPIHandover",
  sha-256(OpenID4VPDCAPIHandoverInfo)]`` where the info is ``[origin, nonce, jwkThumbprint]``.

``client_id`` is the request's, with its Client Identifier Prefix; ``responseUri`` the
``response_uri`` or, where the response mode uses one, the ``redirect_uri``; ``origin``
without the ``origin:`` prefix. ``jwkThumbprint`` is the RFC 7638 SHA-256 thumbprint, as
its 32 bytes, of the verifier's public key the response is encrypted to
(``direct_post.jwt``, ``dc_api.jwt``), and ``null`` when the response is not encrypted:
binding that key makes a response re-encrypted by someone else detectable.

The functions return the encoded ``SessionTranscript``: the wallet and the verifier each
build it from the request and never take it from the other side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from core.encoding import b64url_decode
from core.jose.jwk import jwk_thumbprint
from core.mdoc.cbor import encode

OPENID4VP_HANDOVER = "OpenID4VPHandover"
OPENID4VP_DC_API_HANDOVER = "OpenID4VPDCAPIHandover"


def jwk_thumbprint_bytes(jwk: Mapping[str, Any]) -> bytes:
    """RFC 7638 §3: the SHA-256 JWK Thumbprint as bytes (not base64url)."""
    return b64url_decode(jwk_thumbprint(jwk))


def _thumbprint_or_null(encryption_jwk: Mapping[str, Any] | None) -> bytes | None:
    return None if encryption_jwk is None else jwk_thumbprint_bytes(encryption_jwk)


def _session_transcript(handover_name: str, handover_info: list[Any]) -> bytes:
    info_hash = hashlib.sha256(encode(handover_info)).digest()
    return encode([None, None, [handover_name, info_hash]])


def openid4vp_handover_info(
    *,
    client_id: str,
    nonce: str,
    response_uri: str,
    encryption_jwk: Mapping[str, Any] | None = None,
) -> bytes:
    """B.2.6.1: the encoded ``OpenID4VPHandoverInfo`` (what the handover hashes)."""
    return encode([client_id, nonce, _thumbprint_or_null(encryption_jwk), response_uri])


def openid4vp_session_transcript(
    *,
    client_id: str,
    nonce: str,
    response_uri: str,
    encryption_jwk: Mapping[str, Any] | None = None,
) -> bytes:
    """B.2.6.1: the encoded ``SessionTranscript`` of a request invoked by redirects.

    ``encryption_jwk`` is the verifier's public key the response is encrypted to, or None
    for an unencrypted response (``direct_post``)."""
    info = [client_id, nonce, _thumbprint_or_null(encryption_jwk), response_uri]
    return _session_transcript(OPENID4VP_HANDOVER, info)


def openid4vp_dc_api_session_transcript(
    *,
    origin: str,
    nonce: str,
    encryption_jwk: Mapping[str, Any] | None = None,
) -> bytes:
    """B.2.6.2: the encoded ``SessionTranscript`` of a request over the Digital Credentials
    API; ``encryption_jwk`` for ``dc_api.jwt``, None for ``dc_api``."""
    if origin.startswith("origin:"):
        raise ValueError("the origin goes into the handover without its 'origin:' prefix")
    info = [origin, nonce, _thumbprint_or_null(encryption_jwk)]
    return _session_transcript(OPENID4VP_DC_API_HANDOVER, info)
