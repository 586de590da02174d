"""The relying party's registration, attested for wallets (OpenID4VP 1.0 §5.1
``verifier_info``, §5.11): which purposes it is registered for, in the citizen's
languages, and which claims of which credential types each purpose covers (an SD-JWT VC
by its ``vct_values``, an mdoc by its ``doctype_value`` with the elements the counter
keeps as ``intent_to_retain``).

The deployment is the registrar of its counters: the attestation is a JWT signed by the
registrar (the deployment's trust anchor key, where this deployment holds it), bound to
the relying party by ``sub`` = its full client identifier, which the wallet has already
authenticated through the request object's certificate (a claim-bound attestation,
§5.11.1). A wallet that trusts the anchor can then show the registered purpose as fact
and warn when a request asks for more than the registration covers.

A purpose that serves an issuer's issuance carries ``issuance``: the full credential
issuer identifier (an agency id of the catalog resolved under this deployment's public
URL here, where the registrar signs) and the credential configurations issued after the
check, so the wallet can say, as the registrar's word, on whose behalf and for what the
counter asks.
"""

from __future__ import annotations

from typing import Any

from verifiers.domain import RelyingParty
from verifiers.services.context import VerifierContext

REGISTRATION_FORMAT = "urn:idwallet:verifier-registration"
REGISTRATION_LIFETIME = 24 * 3600


def registration_claims(
    context: VerifierContext, party: RelyingParty, client_id: str, now: int
) -> dict[str, Any]:
    purposes = []
    for name, purpose in party.purposes.items():
        credentials = []
        for credential in context.templates[name].credentials:
            entry: dict[str, Any] = {
                "format": credential.format,
                **credential.meta(),
                "claims": [list(p) for p in purpose.claims_for(credential)],
            }
            if credential.intent_to_retain:
                entry["intent_to_retain"] = sorted(
                    (list(p) for p in credential.intent_to_retain), key=str
                )
            credentials.append(entry)
        registered: dict[str, Any] = {
            "id": name,
            "description": [{"locale": d.locale, "text": d.text} for d in purpose.description],
            "credentials": credentials,
        }
        if purpose.issuance is not None:
            registered["issuance"] = {
                "credential_issuer": purpose.issuance.issuer_identifier(context.public_base_url),
                "credential_configuration_ids": list(purpose.issuance.credential_configuration_ids),
            }
        purposes.append(registered)
    return {
        "iss": context.public_base_url,
        "sub": client_id,
        "iat": now,
        "exp": now + REGISTRATION_LIFETIME,
        "name": [{"locale": d.locale, "text": d.text} for d in party.display],
        "organization": party.organization,
        "purposes": purposes,
    }


async def verifier_info(
    context: VerifierContext, party: RelyingParty, client_id: str
) -> list[dict[str, Any]] | None:
    """The ``verifier_info`` of a request object, or None where no registrar signs."""
    if context.registrar is None:
        return None
    attestation = await context.registrar.attest(
        party.verifier_id,
        client_id,
        lambda now: registration_claims(context, party, client_id, now),
    )
    if attestation is None:
        return None
    return [{"format": REGISTRATION_FORMAT, "data": attestation}]
