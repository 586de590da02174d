"""Presenting mdocs to our verifier as an independent wallet would: the mdocs are issued
by our agencies over OpenID4VCI (or by the independent oracle under a test PKI), the
DeviceResponses are built by the oracle (``tests.interop.mdoc_oracle``, ``@owf/mdoc``)
from what the signed request object says (OpenID4VP 1.0 B.2.6.1: ``client_id`` with its
prefix, ``nonce``, ``response_uri``, and for ``direct_post.jwt`` the key it advertises)."""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from tests.interop import mdoc_oracle
from tests.interop.mdoc_oracle import Tamper, Transcript
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet
from tests.verifiers.presenter import FetchedRequest, create_request, fetch_request, respond

PID = "eu.europa.ec.eudi.pid.1"
MDL = "org.iso.18013.5.1.mDL"
MDL_NS = "org.iso.18013.5.1"


@dataclasses.dataclass(frozen=True)
class HeldMdoc:
    """An mdoc as the wallet keeps it: the IssuerSigned (base64url) and its device key."""

    issuer_signed: str
    device_key: ec.EllipticCurvePrivateKey


def issued_mdoc(
    client: TestClient[Any],
    issuer_id: str,
    configuration: str,
    claims: dict[str, Any],
    *,
    subject: str = "citizen-42",
) -> HeldMdoc:
    """An mdoc our agency issues over OpenID4VCI (the issuer tests' wallet asking)."""
    created = create_offer(client, issuer_id, configuration, claims, subject=subject)
    _, [credential], [holder] = Wallet(client).receive(created["offer_uri"])
    return HeldMdoc(credential, holder._key)  # type: ignore[attr-defined]


def transcript_of(request: FetchedRequest, **changes: Any) -> Transcript:
    """What the wallet puts in the SessionTranscript for this request (B.2.6.1)."""
    payload = request.payload
    encryption = None
    if payload["response_mode"] == "direct_post.jwt":
        encryption = payload["client_metadata"]["jwks"]["keys"][0]
    transcript = Transcript(
        client_id=request.client_id,
        nonce=payload["nonce"],
        response_uri=payload["response_uri"],
        verifier_jwk=encryption,
    )
    return dataclasses.replace(transcript, **changes)


def requested_elements(request: FetchedRequest, query_id: str) -> dict[str, list[str]]:
    """The ``[namespace, element]`` claims of one mdoc Credential Query, by name space."""
    [query] = [q for q in request.payload["dcql_query"]["credentials"] if q["id"] == query_id]
    assert query["format"] == "mso_mdoc"
    elements: dict[str, list[str]] = {}
    for claim in query["claims"]:
        namespace, element = claim["path"]
        elements.setdefault(namespace, []).append(element)
    return elements


def device_response(
    held: HeldMdoc,
    request: FetchedRequest,
    query_id: str,
    *,
    disclose: dict[str, list[str]] | None = None,
    tamper: Tamper | None = None,
    **transcript_changes: Any,
) -> str:
    """The oracle's DeviceResponse for this request (base64url, a ``vp_token`` value)."""
    presentation = mdoc_oracle.device_response(
        held.issuer_signed,
        device_key=held.device_key,
        disclose=disclose if disclose is not None else requested_elements(request, query_id),
        transcript=transcript_of(request, **transcript_changes),
        tamper=tamper,
    )
    return presentation.device_response


def open_request(
    client: TestClient[Any], verifier_id: str, template: str, response_mode: str = "direct_post"
) -> tuple[str, FetchedRequest]:
    """A counter's request, read by the wallet: its transaction id and request object."""
    created = create_request(client, verifier_id, template=template, response_mode=response_mode)
    return created["transaction_id"], fetch_request(client, created["uri"])


def answer(
    client: TestClient[Any], request: FetchedRequest, query_id: str, device_response: str
) -> Any:
    return respond(client, request, {query_id: [device_response]})
