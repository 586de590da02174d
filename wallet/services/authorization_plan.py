"""The wallet's side of the authorization code flow's first half (OpenID4VCI 1.0 §5, HAIP
1.0 §4): what it will ask an issuer's authorization server for, and the URL the citizen's
browser opens.

- ``plan_authorization``: from the discovered issuer, the parameters the redirect is later
  checked against (``state``: the flow id and a secret; the PKCE S256 verifier, RFC 7636)
  and fresh instance keys for this issuer (``instance_keys``);
- ``authorization_url``: the request pushed to the server's PAR endpoint (RFC 9126 §2)
  with the wallet attestation and its proof of possession where the server takes them,
  ``dpop_jkt`` binding the code to the DPoP key (RFC 9449 §10), ``issuer_state`` from the
  offer, and the credential asked for by ``authorization_details`` (§5.1.1) or by its
  ``scope`` (§5.1.2); the URL carries only ``client_id`` and the ``request_uri`` it got
  (RFC 9126 §4). A server without a PAR endpoint gets the parameters in the URL.

The authorization endpoint must be ``https`` outside development (the outbound client's
rules, which also refuse every address the wallet never connects to).
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode, urlsplit

from msgspec import UnsetType

from core.errors import ProtocolError
from core.messages import convert_message
from core.oauth import OPENID_CREDENTIAL, PKCE_METHOD, PushedAuthorizationResponse
from core.oauth import pkce_s256_challenge as s256
from wallet.domain import Refused
from wallet.services.context import WalletContext
from wallet.services.instance_keys import InstanceKeys
from wallet.services.issuer_client import IssuerClient
from wallet.services.issuer_discovery import DiscoveredIssuer
from wallet.services.offer_flow import AuthorizationPlan, OfferFlow
from wallet.services.sealing import AccountBox
from wallet.services.sender_constrained import client_attestation, remember_nonce

#: Where the issuer sends the citizen back: a page of this deployment that a phone app
#: claims as a universal link, and the web wallet shows.
CALLBACK_PATH = "/wallet/callback"
#: The client authentication method of wallet attestations (HAIP 1.0 §4.3).
ATTESTATION_METHOD = "attest_jwt_client_auth"
MAX_REQUEST_URI = 2048


def redirect_uri(context: WalletContext) -> str:
    return f"{context.public_base_url}{CALLBACK_PATH}"


def client_id(context: WalletContext) -> str:
    """The client id every instance of this wallet shares: the wallet provider's
    identifier (the ``sub`` of its attestations), or the wallet's API without one."""
    provider = context.wallet_provider
    return context.audience if provider is None else provider.identifier


def plan_authorization(
    context: WalletContext,
    box: AccountBox,
    discovered: DiscoveredIssuer,
    *,
    issuer_state: str | None,
    scope: str | None,
) -> AuthorizationPlan:
    server = discovered.server
    if isinstance(server.authorization_endpoint, UnsetType):
        raise Refused("the issuer's authorization server has no authorization endpoint")
    methods = server.code_challenge_methods_supported
    if not isinstance(methods, UnsetType) and PKCE_METHOD not in methods:
        raise Refused("the issuer's authorization server does not take PKCE with S256")
    auth_methods = server.token_endpoint_auth_methods_supported
    attested = not isinstance(auth_methods, UnsetType) and ATTESTATION_METHOD in auth_methods
    if attested and context.wallet_provider is None:
        raise Refused(
            "this issuer wants a wallet attestation, and this deployment has no wallet provider"
        )
    dpop_algorithms = server.dpop_signing_alg_values_supported
    details = server.authorization_details_types_supported
    use_scope = scope is not None and (
        isinstance(details, UnsetType) or OPENID_CREDENTIAL not in details
    )
    par = server.pushed_authorization_request_endpoint
    return AuthorizationPlan(
        authorization_server=discovered.authorization_server,
        authorization_endpoint=server.authorization_endpoint,
        par_endpoint=None if isinstance(par, UnsetType) else par,
        issuer_state=issuer_state,
        scope=scope if use_scope else None,
        redirect_uri=redirect_uri(context),
        client_id=client_id(context),
        state_secret=secrets.token_urlsafe(24),
        code_verifier=secrets.token_urlsafe(48),
        attested=attested,
        dpop=not isinstance(dpop_algorithms, UnsetType) and "ES256" in dpop_algorithms,
        keys=InstanceKeys.new(context.server_keys, box, context.clock.now()),
        token_endpoint=discovered.token_endpoint,
    )


def state_of(flow_id: str, plan: AuthorizationPlan) -> str:
    """The ``state`` of the request: which flow, and a secret only the issuer learns."""
    return f"{flow_id}.{plan.state_secret}"


def _parameters(flow_id: str, flow: OfferFlow, plan: AuthorizationPlan) -> dict[str, str]:
    parameters = {
        "response_type": "code",
        "client_id": plan.client_id,
        "redirect_uri": plan.redirect_uri,
        "state": state_of(flow_id, plan),
        "code_challenge": s256(plan.code_verifier),
        "code_challenge_method": PKCE_METHOD,
    }
    if plan.scope is not None:
        parameters["scope"] = plan.scope
    else:
        parameters["authorization_details"] = json.dumps(
            [
                {"type": OPENID_CREDENTIAL, "credential_configuration_id": config_id}
                for config_id in flow.configurations
            ],
            separators=(",", ":"),
        )
    if plan.issuer_state is not None:
        parameters["issuer_state"] = plan.issuer_state
    if plan.dpop:
        parameters["dpop_jkt"] = plan.keys.dpop_jkt
    return parameters


async def authorization_url(
    context: WalletContext, box: AccountBox, flow_id: str, flow: OfferFlow
) -> str:
    """The URL the citizen's browser opens, after the request was pushed (where the
    server takes pushed requests)."""
    plan = flow.authorization
    if plan is None:
        raise RuntimeError("an authorization asked for a flow without a plan")
    parameters = _parameters(flow_id, flow, plan)
    if plan.par_endpoint is not None:
        headers = client_attestation(context, box, plan) if plan.attested else None
        answer = await IssuerClient(context.outbound).exchange(
            plan.par_endpoint,
            "pushed authorization request endpoint",
            form=parameters,
            headers=headers,
        )
        if answer.dpop_nonce is not None and plan.dpop:
            # the server's nonce for the token request's proof (RFC 9449 §8.2)
            remember_nonce(context, plan, plan.par_endpoint, answer.dpop_nonce)
        pushed = _pushed(answer.body, plan)
        parameters = {"client_id": plan.client_id, "request_uri": pushed.request_uri}
    joiner = "&" if "?" in plan.authorization_endpoint else "?"
    return f"{plan.authorization_endpoint}{joiner}{urlencode(parameters)}"


def _pushed(body: object, plan: AuthorizationPlan) -> PushedAuthorizationResponse:
    """RFC 9126 §2.2: a ``request_uri`` (a URN, or a URL of the server itself)."""
    try:
        pushed = convert_message(body, PushedAuthorizationResponse)
    except ProtocolError as exc:
        raise Refused(
            f"the pushed authorization response is malformed: {exc.description}"
        ) from None
    request_uri = pushed.request_uri
    if not 0 < len(request_uri) <= MAX_REQUEST_URI:
        raise Refused("the pushed authorization response's request_uri is not acceptable")
    parts = urlsplit(request_uri)
    if parts.scheme in ("http", "https"):
        server = urlsplit(plan.authorization_server)
        if (parts.scheme, parts.netloc) != (server.scheme, server.netloc):
            raise Refused("the pushed authorization response points to another server")
    elif parts.scheme != "urn":
        raise Refused("the pushed authorization response's request_uri is not a URN or URL")
    return pushed
