"""A wallet pushes its authorization request (RFC 9126 §2), the first step of the
authorization code flow (OpenID4VCI 1.0 §5; HAIP 1.0 §4: PAR, PKCE with S256).

The request names the credentials by ``scope`` (each configuration's scope is its id, as
the metadata publishes) or by ``openid_credential`` authorization details (§5.1.1); an
``issuer_state`` (§5.1.3) ties it to the offer a clerk made, whose configuration it must
ask for. The agency keeps what was asked and answers a single-use ``request_uri`` that
lives ``pushed_request_lifetime`` seconds (at most a minute); only its hash is stored.
The client was authenticated before this step runs (its wallet attestation), and a
client that attested must push under the ``client_id`` it attested. The single-use values
of the request (its attestation PoP's and DPoP proof's ``jti``) are used up as the request
is stored, in the same statement: a replayed one stores nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from msgspec import UnsetType

from core.errors import InvalidAuthorizationDetails, InvalidClient, InvalidRequest, InvalidScope
from core.oauth import PushedAuthorizationRequest, PushedAuthorizationResponse
from core.replay import SingleUse, UsedBefore
from issuers.domain import Agency, Authorization, AuthorizationState, OfferState
from issuers.services.codes import offer_of_issuer_state, random_token, sha256_hex
from issuers.services.context import IssuerContext

#: RFC 9126 §2.2: what a request_uri issued here starts with.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
#: Credentials one authorization may ask for: each is issued from its own offer.
MAX_CONFIGURATIONS_PER_AUTHORIZATION = 1
#: RFC 8252 §7.3 and §8.3: loopback redirects name the address, not ``localhost``.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


def _checked_redirect_uri(redirect_uri: str) -> str:
    """An ``https`` URL, a private-use scheme of a native app (RFC 8252 §7.1: a reverse
    domain name, so with a dot), or ``http`` on a loopback address (§7.3, as a wallet
    running on this machine has), absolute, without a fragment (RFC 6749 §3.1.2)."""
    parts = urlsplit(redirect_uri)
    if parts.fragment or "#" in redirect_uri:
        raise InvalidRequest("redirect_uri must not have a fragment")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return redirect_uri
    if parts.scheme == "https":
        if not parts.netloc:
            raise InvalidRequest("redirect_uri must be an absolute https URL")
        return redirect_uri
    if "." in parts.scheme and parts.scheme.replace(".", "").replace("-", "").isalnum():
        return redirect_uri
    raise InvalidRequest("redirect_uri must be https or an app's reverse-domain scheme")


def _asked_configurations(agency: Agency, request: PushedAuthorizationRequest) -> list[str]:
    asked: list[str] = []
    for scope in request.scopes():
        if scope not in agency.configurations:
            raise InvalidScope(f"this agency issues no credential of scope {scope!r}")
        asked.append(scope)
    for detail in request.details():
        if detail.credential_configuration_id not in agency.configurations:
            raise InvalidAuthorizationDetails(
                f"this agency has no credential configuration "
                f"{detail.credential_configuration_id!r}"
            )
        asked.append(detail.credential_configuration_id)
    unique = list(dict.fromkeys(asked))
    if not unique:
        raise InvalidScope("ask for at least one credential of this agency")
    if len(unique) > MAX_CONFIGURATIONS_PER_AUTHORIZATION:
        raise InvalidRequest("ask for one credential per authorization")
    return unique


async def _offer_of(context: IssuerContext, issuer_id: str, state: str, asked: list[str]) -> str:
    offer_id = offer_of_issuer_state(context.secret, state)
    offer = None if offer_id is None else await context.offers.get(issuer_id, offer_id)
    now = context.clock.now()
    if offer is None or offer.issuer_id != issuer_id:
        raise InvalidRequest("issuer_state is not one of this agency's offers")
    if offer.effective_state(now) is not OfferState.OFFERED:
        raise InvalidRequest("the offer of this issuer_state was used already or has expired")
    if offer.configuration_id not in asked:
        raise InvalidRequest("ask for the credential the offer is for")
    return offer.offer_id


async def push_authorization_request(
    context: IssuerContext,
    issuer_id: str,
    request: PushedAuthorizationRequest,
    *,
    attested_client_id: str | None,
    client_key: str | None = None,
    dpop_jkt: str | None = None,
    spend: Sequence[SingleUse] = (),
) -> PushedAuthorizationResponse:
    """``attested_client_id``: the ``client_id`` the wallet attestation was made for (None
    when the agency does not require one for this flow); ``spend``: the request's
    single-use values, each answered with its own refusal when it was used before."""
    agency = context.agency(issuer_id)
    if attested_client_id is not None and attested_client_id != request.client_id:
        raise InvalidClient("the client_id is not the one the wallet attestation names")
    redirect_uri = _checked_redirect_uri(request.redirect_uri)
    asked = _asked_configurations(agency, request)
    offer_id = (
        None
        if isinstance(request.issuer_state, UnsetType)
        else await _offer_of(context, issuer_id, request.issuer_state, asked)
    )
    if isinstance(request.code_challenge, UnsetType):  # checked with the message; for mypy
        raise InvalidRequest("PKCE is required: send code_challenge with S256")
    request_uri = REQUEST_URI_PREFIX + random_token()
    now = context.clock.now()
    lifetime = context.policy.pushed_request_lifetime
    authorization = Authorization(
        authorization_id=str(uuid.uuid4()),
        issuer_id=issuer_id,
        request_uri_hash=sha256_hex(request_uri),
        client_id=request.client_id,
        redirect_uri=redirect_uri,
        code_challenge=request.code_challenge,
        configuration_ids=tuple(asked),
        state=AuthorizationState.PUSHED,
        created_at=now,
        expires_at=now + lifetime,
        wallet_state=None if isinstance(request.state, UnsetType) else request.state,
        offer_id=offer_id,
        dpop_jkt=dpop_jkt,
        client_key=client_key,
    )
    try:
        await context.authorizations.add(authorization, spend=spend)
    except UsedBefore as used:
        raise used.refusal from None
    return PushedAuthorizationResponse(request_uri=request_uri, expires_in=int(lifetime))
