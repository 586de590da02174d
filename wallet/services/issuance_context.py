"""Presentation during issuance, as the consent view says it: when the verified
registration's purpose covering the request states that it serves an issuer's issuance
(``registration.IssuanceStatement``), the citizen reads which issuer asks in order to
issue which credentials, in the names the wallet knows them by, and whether an issuance
the citizen started at that issuer waits for its authorization (a flow in
``authorization_required``, OpenID4VCI 1.0 §5): then this request is most likely that
issuer's authorization page asking.

What the wallet knows of the issuer comes from those waiting flows (the issuer's metadata
as read when the issuance started) or from the issuer listing it keeps
(``list_issuers``); nothing is fetched for the consent view. Else the registered
organization of the verifier names the issuer, and the configuration ids the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from wallet.domain import FlowState
from wallet.services.context import WalletContext
from wallet.services.display import pick
from wallet.services.holding_messages import KnownIssuer
from wallet.services.interaction_messages import IssuanceContext, IssuanceCredential
from wallet.services.offer_flow import OfferFlow
from wallet.services.registration import IssuanceStatement
from wallet.services.sealing import AccountBox

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class WaitingIssuance:
    """An issuance of this citizen waiting for an issuer's authorization: the issuer, its
    name and the names of the credentials asked for, in the citizen's language."""

    issuer: str
    issuer_name: str | None
    credentials: Mapping[str, str] = field(default_factory=dict)


async def waiting_issuances(
    context: WalletContext, account_id: str, box: AccountBox, preferred: Sequence[str]
) -> list[WaitingIssuance]:
    """The citizen's unexpired issuances in ``authorization_required``."""
    flows = await context.store.flows.in_state(
        account_id, FlowState.AUTHORIZATION_REQUIRED, context.clock.now()
    )
    waiting = []
    for flow in flows:
        try:
            offer = OfferFlow.opened(box.open("flow", flow.flow_id, flow.sealed))
        except msgspec.ValidationError:
            continue  # a flow kept in another shape tells nothing here
        issuer_display = pick(offer.issuer_display, preferred) or {}
        name = issuer_display.get("name")
        waiting.append(
            WaitingIssuance(
                offer.issuer,
                name if isinstance(name, str) and name else None,
                {
                    config_id: str((pick(config.display, preferred) or {}).get("name", config_id))
                    for config_id, config in offer.configurations.items()
                },
            )
        )
    return waiting


def _listed(context: WalletContext, issuer: str, preferred: Sequence[str]) -> KnownIssuer | None:
    """The issuer listing the wallet keeps for this issuer in the citizen's language."""
    language = preferred[0] if preferred else ""
    kept = context.issuer_listings.get((issuer, language))
    if kept is None or kept[0] <= context.clock.now() or not isinstance(kept[1], KnownIssuer):
        return None
    return kept[1] if kept[1].available else None


def issuance_context(
    context: WalletContext,
    statement: IssuanceStatement,
    organization: str | None,
    waiting: Sequence[WaitingIssuance],
    preferred: Sequence[str],
) -> IssuanceContext:
    issuer = statement.credential_issuer
    here = [w for w in waiting if w.issuer == issuer]
    listed = _listed(context, issuer, preferred)
    names: dict[str, str] = {}
    if listed is not None:
        names.update({c.credential_configuration_id: c.name for c in listed.credentials})
    for issuance in here:
        names.update(issuance.credentials)
    awaited = {config_id for w in here for config_id in w.credentials}
    credentials = [
        IssuanceCredential(
            credential_configuration_id=config_id,
            name=names.get(config_id, config_id)[:MAX_NAME],
            awaiting_authorization=config_id in awaited,
        )
        for config_id in statement.credential_configuration_ids
    ]
    issuer_name = next((w.issuer_name for w in here if w.issuer_name), None)
    if issuer_name is None and listed is not None and listed.name != issuer:
        issuer_name = listed.name
    issuer_name = (issuer_name or organization or issuer)[:MAX_NAME]
    awaiting = any(c.awaiting_authorization for c in credentials)
    return IssuanceContext(
        credential_issuer=issuer,
        issuer_name=issuer_name,
        credentials=credentials,
        awaiting_authorization=awaiting,
        statement=_statement(issuer_name, credentials, awaiting),
    )


def _statement(issuer_name: str, credentials: Sequence[IssuanceCredential], awaiting: bool) -> str:
    named = [c.name for c in credentials if c.awaiting_authorization or not awaiting]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    line = f"{issuer_name} asks for this in order to issue you {listed}"
    if awaiting:
        line += ", which you asked it for and which waits for this step"
    return line
