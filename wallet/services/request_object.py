"""Fetching and checking a verifier's Authorization Request (OpenID4VP 1.0 §5, RFC 9101),
before the citizen sees anything (SECURITY-CASES W08–W13, W17).

- ``request_uri`` by GET, or by POST with a fresh ``wallet_nonce`` that the request object
  must echo (§5.10); ``request`` by value; or, for the ``redirect_uri`` prefix only, the
  parameters themselves (unsigned, §5.9.3).
- A signed request object must be ``typ: oauth-authz-req+jwt`` (RFC 9101 §10.8) with an
  allowed signature algorithm; its ``client_id`` equals the one in the URI (§5.10.1).
- Client Identifier Prefixes (§5.9.3): ``x509_san_dns`` (the DNS name is a dNSName SAN of
  the leaf, and the ``response_uri`` host is that name) and ``x509_hash`` (the SHA-256 of
  the leaf's DER), both with the ``x5c`` chain validated to the wallet's trust anchors
  (never self-signed, never the anchor itself); ``redirect_uri`` only unsigned, with the
  ``response_uri`` equal to the identifier: such a verifier is *unauthenticated*, which
  the consent view says. ``origin`` is refused (§5.9.3), as is every other prefix and a
  bare pre-registered identifier (this wallet has no registrations).
- The payload is read as ``core.oid4vp.AuthorizationRequest`` (the verifier signs its own
  requests with the same struct): ``response_type`` ``vp_token``; a URL-safe ``nonce``; a
  ``response_uri`` and no ``redirect_uri`` with ``direct_post`` (§8.2). This wallet then
  asks for ``response_mode`` ``direct_post`` or ``direct_post.jwt``; not expired; ``aud``
  the static ``https://self-issued.me/v2`` when present (§5.8); a valid DCQL query; no
  ``transaction_data`` (not supported, so refused rather than ignored, §5.1). For
  ``direct_post.jwt`` the wallet must be able to make the encrypted response the request
  asks for (§8.3, ``presentation_encryption``): a key and a content encryption it can use.
- The ``response_uri`` must resolve to public addresses now (W17); it is checked again
  when the response is posted.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import msgspec
from cryptography import x509
from msgspec import UnsetType

from core.dcql.parse import DcqlError, parse_dcql_query
from core.encoding import EncodingError, json_dumps, strict_json_loads, strict_json_object
from core.errors import InvalidRequestObject, ProtocolError
from core.http.client import OutboundFailed, OutboundRefused
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified, verify_decoded
from core.keys.x509 import san_dns_names, subject_display_name, x509_hash
from core.messages import convert_message, to_plain
from core.oid4vp import (
    DIRECT_POST_MODES,
    REQUEST_OBJECT_TYP,
    STATIC_AUDIENCE,
    AuthorizationRequest,
    ClientMetadata,
    WalletMetadata,
)
from core.sdjwt_vc.issuer_keys import IssuerKeyError
from wallet.domain import (
    CounterpartyFailed,
    Refused,
    RefusedClient,
    RefusedRequestObject,
    RefusedRequestUriMethod,
    RequestUnavailable,
)
from wallet.services.context import WalletContext
from wallet.services.presentation_encryption import PresentationEncryption, chosen_encryption
from wallet.services.registration import verified_registration

#: The credential formats this wallet presents.
PRESENTED_FORMATS = frozenset({"dc+sd-jwt", "mso_mdoc"})
REQUEST_OBJECT_MEDIA_TYPES = frozenset({"application/oauth-authz-req+jwt", "application/jwt"})
SIGNATURE_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "EdDSA"})
MAX_REQUEST_OBJECT_BYTES = 64 * 1024
LEEWAY = 60
# Refusals of the request object that may pass: the verifier was slow or busy.
_TRY_AGAIN = frozenset({408, 429})
# Parameters of an unsigned request that carry JSON (§5.1: objects and arrays travel as
# JSON-serialized strings in a URI).
_JSON_PARAMETERS = frozenset({"dcql_query", "client_metadata", "transaction_data", "verifier_info"})
#: What the wallet tells a verifier of itself when it fetches a request by POST (§5.10.1).
WALLET_METADATA = WalletMetadata(
    vp_formats_supported={
        "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]},
        # Appendix B.2.3: COSE ES256 (-7) and its fully specified name (-9)
        "mso_mdoc": {"issuerauth_alg_values": [-7, -9], "deviceauth_alg_values": [-7, -9]},
    },
    client_id_prefixes_supported=["x509_san_dns", "x509_hash", "redirect_uri"],
    request_object_signing_alg_values_supported=sorted(SIGNATURE_ALGORITHMS),
    response_modes_supported=sorted(DIRECT_POST_MODES),
)


class CheckedRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An Authorization Request the wallet may show the citizen: the request as the
    verifier sent it and who the verifier is, as far as the wallet could tell."""

    client_id: str
    prefix: str
    authenticated: bool
    certificate_name: str | None
    certificate: dict[str, str] | None
    request: AuthorizationRequest
    registration: dict[str, Any] | None = None
    registration_problem: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        """The request's members as plain JSON (what the consent view reads)."""
        plain: dict[str, Any] = to_plain(self.request)
        return plain

    # What checked_request has made sure of; a request without it is never kept.

    @property
    def response_uri(self) -> str:
        return _response_uri(self.request)

    @property
    def response_mode(self) -> str:
        return _response_mode(self.request)

    @property
    def dcql_query(self) -> dict[str, Any]:
        return _dcql_query(self.request)

    @property
    def client_metadata(self) -> dict[str, Any]:
        """As the verifier sent it (its name per language is read from here)."""
        metadata = self.request.client_metadata
        return {} if isinstance(metadata, UnsetType) else metadata

    @property
    def verifier_metadata(self) -> ClientMetadata:
        return read_client_metadata(self.client_metadata)

    @property
    def encryption(self) -> PresentationEncryption | None:
        """How the response is encrypted (``direct_post.jwt``, §8.3), None when it is not;
        ``checked_request`` has made sure it can be."""
        if self.response_mode != "direct_post.jwt":
            return None
        return chosen_encryption(self.verifier_metadata)

    @property
    def nonce(self) -> str:
        return self.request.nonce

    @property
    def state(self) -> str | None:
        return None if isinstance(self.request.state, UnsetType) else self.request.state


def _response_uri(request: AuthorizationRequest) -> str:
    if isinstance(request.response_uri, UnsetType):
        raise Refused("response_uri is required")
    return request.response_uri


def _response_mode(request: AuthorizationRequest) -> str:
    if isinstance(request.response_mode, UnsetType) or (
        request.response_mode not in DIRECT_POST_MODES
    ):
        raise Refused("response_mode must be direct_post or direct_post.jwt")
    return request.response_mode


def _dcql_query(request: AuthorizationRequest) -> dict[str, Any]:
    if isinstance(request.dcql_query, UnsetType):
        raise Refused("the request has no dcql_query")  # a scope alias: none are defined
    return request.dcql_query


def _read(payload: dict[str, Any]) -> AuthorizationRequest:
    """The payload as an Authorization Request, refused with the code its checks name."""
    try:
        return convert_message(payload, AuthorizationRequest)
    except InvalidRequestObject as exc:
        raise RefusedRequestObject(exc.description) from None
    except ProtocolError as exc:
        raise Refused(exc.description) from None


def _json_parameter(text: str, name: str) -> Any:
    try:
        return strict_json_loads(text.encode("utf-8"), max_bytes=32 * 1024, max_depth=16)
    except (EncodingError, UnicodeEncodeError) as exc:
        raise Refused(f"{name} is not acceptable JSON") from exc


async def _fetch_request_object(
    context: WalletContext, request_uri: str, method: str
) -> tuple[str, str | None]:
    """The compact request object, and the ``wallet_nonce`` it must carry (POST only)."""
    wallet_nonce = None
    try:
        if method == "post":
            wallet_nonce = secrets.token_urlsafe(24)
            answer = await context.outbound.send(
                "POST",
                request_uri,
                accept="application/oauth-authz-req+jwt",
                form={
                    "wallet_nonce": wallet_nonce,
                    "wallet_metadata": json_dumps(to_plain(WALLET_METADATA)),
                },
                max_bytes=MAX_REQUEST_OBJECT_BYTES,
            )
        else:
            answer = await context.outbound.send(
                "GET",
                request_uri,
                accept="application/oauth-authz-req+jwt",
                max_bytes=MAX_REQUEST_OBJECT_BYTES,
            )
    except OutboundRefused as exc:
        raise Refused("the request_uri is not one the wallet connects to") from exc
    except OutboundFailed as exc:
        raise CounterpartyFailed("the request object could not be fetched") from exc
    if answer.status != 200:  # §5.10.2: any HTTP error ends the processing
        if 400 <= answer.status < 500 and answer.status not in _TRY_AGAIN:
            # the verifier is there and refuses: no retry will help, a new request will
            raise RequestUnavailable(
                "this request was answered already or has expired; the counter can show a new one"
            )
        raise CounterpartyFailed(f"the verifier answered {answer.status} for the request object")
    if answer.content_type not in REQUEST_OBJECT_MEDIA_TYPES:
        raise RefusedRequestObject("the request_uri did not return a request object")
    try:
        return answer.body.decode("ascii").strip(), wallet_nonce
    except UnicodeDecodeError as exc:
        raise RefusedRequestObject("the request object is not a compact JWS") from exc


def _verify_signed(
    context: WalletContext, token: str, client_id: str | None
) -> tuple[AuthorizationRequest, str, x509.Certificate]:
    try:
        parsed = decode_unverified(token, max_bytes=MAX_REQUEST_OBJECT_BYTES)
    except JoseError as exc:
        raise RefusedRequestObject(f"the request object is malformed: {exc}") from exc
    header = parsed.header
    if header.get("typ") not in (REQUEST_OBJECT_TYP, f"application/{REQUEST_OBJECT_TYP}"):
        raise RefusedRequestObject("the request object must be typed oauth-authz-req+jwt")
    try:
        payload = strict_json_object(parsed.payload_bytes, max_bytes=MAX_REQUEST_OBJECT_BYTES)
    except EncodingError as exc:
        raise RefusedRequestObject("the request object payload is not a JSON object") from exc
    request = _read(payload)
    if client_id is not None and request.client_id != client_id:
        raise RefusedRequestObject("client_id in the request object differs from the request")
    signed_client = request.client_id
    prefix = signed_client.split(":", 1)[0] if ":" in signed_client else ""
    if prefix not in ("x509_san_dns", "x509_hash"):
        _refuse_prefix(prefix, signed=True)
    if "x5c" not in header:
        raise RefusedClient(f"{prefix} requests must carry the certificate chain (x5c)")
    try:
        resolved = context.verifier_trust.resolve_now({"x5c": header["x5c"]}, {})
    except IssuerKeyError as exc:
        raise RefusedClient(f"the verifier's certificate is not trusted: {exc}") from exc
    leaf, key = resolved.certificate, resolved.key
    if leaf is None:
        raise RefusedClient("the verifier's request carries no certificate")
    try:
        verify_decoded(
            parsed,
            key,
            algorithms=SIGNATURE_ALGORITHMS,
            typ=REQUEST_OBJECT_TYP,
            payload=payload,
        )
    except JoseError as exc:
        raise RefusedRequestObject(f"the request object signature does not verify: {exc}") from exc
    identifier = signed_client.split(":", 1)[1]
    if prefix == "x509_san_dns":
        if identifier not in san_dns_names(leaf):
            raise RefusedClient("the client_id is not a DNS name of the verifier's certificate")
        response_uri = request.response_uri
        host = None if isinstance(response_uri, UnsetType) else urlsplit(response_uri).hostname
        if host != identifier:
            raise RefusedClient("the response_uri is not on the verifier's own host")
    elif identifier != x509_hash(leaf):
        raise RefusedClient("the client_id is not the hash of the verifier's certificate")
    return request, prefix, leaf


def _refuse_prefix(prefix: str, *, signed: bool) -> None:
    if prefix == "redirect_uri" and signed:
        raise RefusedClient("requests with the redirect_uri prefix cannot be signed")
    if prefix == "origin":
        raise RefusedClient("the origin prefix is reserved for the Digital Credentials API")
    if prefix == "":
        raise RefusedClient("this wallet has no pre-registered verifiers")
    raise RefusedClient(f"the client identifier prefix {prefix!r} is not supported")


def _unsigned(parameters: dict[str, str]) -> AuthorizationRequest:
    """§5.9.3 ``redirect_uri``: the request is the URI's own parameters, unsigned."""
    client_id = parameters.get("client_id", "")
    prefix = client_id.split(":", 1)[0] if ":" in client_id else ""
    if prefix != "redirect_uri":
        _refuse_prefix(prefix, signed=False)
        raise RefusedClient("only redirect_uri verifiers may send unsigned requests")
    payload: dict[str, Any] = {
        name: _json_parameter(value, name) if name in _JSON_PARAMETERS else value
        for name, value in parameters.items()
    }
    identifier = client_id.split(":", 1)[1]
    if payload.get("response_uri", identifier) != identifier:
        raise RefusedClient("the response_uri of a redirect_uri verifier must be its identifier")
    payload.setdefault("response_uri", identifier)  # §5.9.3: it may be left out
    return _read(payload)


def _check_parameters(
    context: WalletContext, request: AuthorizationRequest, wallet_nonce: str | None
) -> None:
    """What this wallet asks of a request beyond what §5 and §8.2 do (``check()``)."""
    _response_mode(request)
    _response_uri(request)
    now = context.clock.now()
    if not isinstance(request.exp, UnsetType) and request.exp < now - LEEWAY:
        raise RefusedRequestObject("the request has expired")
    if not isinstance(request.iat, UnsetType) and request.iat > now + LEEWAY:
        raise RefusedRequestObject("the request is issued in the future")
    audience = [request.aud] if isinstance(request.aud, str) else request.aud
    if not isinstance(audience, UnsetType) and STATIC_AUDIENCE not in audience:
        raise RefusedRequestObject("the request object is for another audience")
    if wallet_nonce is not None and request.wallet_nonce != wallet_nonce:
        raise RefusedRequestObject("the request object does not carry the wallet_nonce")
    if not isinstance(request.transaction_data, UnsetType):
        raise Refused("transaction data is not supported by this wallet")
    try:
        query = parse_dcql_query(_dcql_query(request))
    except DcqlError as exc:
        raise Refused(f"the DCQL query is invalid: {exc}") from exc
    metadata = read_client_metadata(
        {} if isinstance(request.client_metadata, UnsetType) else request.client_metadata
    )
    formats = metadata.vp_formats_supported
    wanted = {q.format for q in query.credentials} & PRESENTED_FORMATS
    if not isinstance(formats, UnsetType) and wanted and not wanted & set(formats):
        raise Refused(
            f"the verifier does not accept {' or '.join(sorted(wanted))} presentations, "
            "which it asks for"
        )
    if request.response_mode == "direct_post.jwt":
        chosen_encryption(metadata)


def read_client_metadata(value: dict[str, Any]) -> ClientMetadata:
    try:
        return convert_message(value, ClientMetadata)
    except ProtocolError as exc:
        raise Refused(f"client_metadata is malformed: {exc.description}") from None


async def checked_request(context: WalletContext, parameters: dict[str, str]) -> CheckedRequest:
    client_id = parameters.get("client_id")
    wallet_nonce = None
    certificate: x509.Certificate | None = None
    if "request_uri" in parameters:
        if client_id is None:
            raise Refused("client_id is required with request_uri")
        method = parameters.get("request_uri_method", "get")
        if method not in ("get", "post"):
            raise RefusedRequestUriMethod("request_uri_method must be get or post")
        token, wallet_nonce = await _fetch_request_object(
            context, parameters["request_uri"], method
        )
        request, prefix, certificate = _verify_signed(context, token, client_id)
    elif "request" in parameters:
        request, prefix, certificate = _verify_signed(context, parameters["request"], client_id)
    else:
        request, prefix = _unsigned(parameters), "redirect_uri"
    _check_parameters(context, request, wallet_nonce)
    try:
        await context.outbound.vet(_response_uri(request))
    except OutboundRefused as exc:
        raise Refused("the response_uri is not one the wallet sends to") from exc
    except OutboundFailed as exc:
        raise CounterpartyFailed("the response_uri cannot be resolved") from exc
    described = None
    if certificate is not None:
        described = {
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "not_after": certificate.not_valid_after_utc.isoformat(),
        }
    registration, problem = (
        verified_registration(context, to_plain(request), request.client_id)
        if certificate is not None  # the binding is to an authenticated client identifier
        else (None, None)
    )
    return CheckedRequest(
        client_id=request.client_id,
        prefix=prefix,
        authenticated=certificate is not None,
        certificate_name=None if certificate is None else subject_display_name(certificate),
        certificate=described,
        request=request,
        registration=registration,
        registration_problem=problem,
    )
