"""Who the wallet at the pushed authorization request and the token endpoint is: a wallet
instance whose wallet provider attests it (OAuth 2.0 Attestation-Based Client
Authentication, as OpenID4VCI 1.0 Appendix E and HAIP 1.0 "Wallet Attestation" profile
it, ``core.client_attestation``), for the agency as the attestation PoP's audience. HAIP
1.0 §4: issuers MUST require client authentication at these endpoints in the
authorization code flow.

The PoP's ``jti`` comes back unused (``CheckedClientAttestation.pop_jti``): the endpoint
uses it up in the statement that stores what the authentication allows, or on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.client_attestation import (
    CheckedClientAttestation,
    ClientAttestationPolicy,
    ClientAttestationVerifier,
    read_client_attestation_headers,
)
from core.errors import InvalidClient
from issuers.services.context import IssuerContext


def carries_client_attestation(headers: Iterable[tuple[str | bytes, str | bytes]]) -> bool:
    """Whether the request has the attestation headers at all (checked before anything
    single-use of the request is spent; ``checked_client`` verifies them)."""
    return read_client_attestation_headers(headers) is not None


def checked_client(
    context: IssuerContext,
    issuer_id: str,
    headers: Iterable[tuple[str | bytes, str | bytes]],
    *,
    client_id: str | None,
) -> CheckedClientAttestation:
    """The attested wallet, its PoP's ``jti`` still to be used up (a replayed PoP is
    refused then); ``invalid_client`` (401) without a wallet attestation, or with one
    that does not verify (a wallet provider this deployment does not trust, a stale PoP,
    another ``client_id``)."""
    agency = context.agency(issuer_id)
    presentation = read_client_attestation_headers(headers)
    if presentation is None:
        raise InvalidClient("a wallet attestation (attest_jwt_client_auth) is required")
    if context.seen_once is None:
        raise InvalidClient("this agency does not take wallet attestations")
    verifier = ClientAttestationVerifier(
        ClientAttestationPolicy(
            issuer=agency.identifier(context.public_base_url),
            wallet_provider_anchors=context.wallet_provider_anchors,
        ),
        seen_once=context.seen_once,
        clock=context.clock,
        chains=context.wallet_provider_chains,
    )
    return verifier.check(presentation, client_id=client_id)
