"""An issuance that ends without a credential is entered in the citizen's activity log
with the error that ended it: who refused (the issuer, or this wallet refusing what the
issuer sent) and the stable code, never the issuer's free text. ``fail_issuance`` ends a
claimed flow that way."""

from __future__ import annotations

from core.errors import ProtocolError
from wallet.domain import CounterpartyError, CounterpartyFailed, FlowState
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import IssuanceRefusedEntry
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.display import pick
from wallet.services.offer_flow import OfferFlow
from wallet.services.sealing import AccountBox


async def record_refused_issuance(
    context: WalletContext, box: AccountBox, flow: OfferFlow, error: ProtocolError
) -> None:
    by_issuer = isinstance(error, CounterpartyError | CounterpartyFailed)
    await record(
        context,
        box,
        IssuanceRefusedEntry(
            **stamp(context),
            issuer=flow.issuer,
            issuer_name=(pick(flow.issuer_display, []) or {}).get("name", flow.issuer),
            credentials=[
                (pick(config.display, []) or {}).get("name", config_id)
                for config_id, config in flow.configurations.items()
            ],
            error=error.remote_error if isinstance(error, CounterpartyError) else error.error,
            refused_by="issuer" if by_issuer else "wallet",
        ),
    )


async def fail_issuance(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, error: BaseException
) -> None:
    """The claimed flow ends ``failed``; a protocol error goes in the activity log (a bug
    or a cancelled request does not)."""
    await end_claim(context, claimed, FlowState.FAILED)
    if isinstance(error, ProtocolError):
        await record_refused_issuance(context, claimed.box, flow, error)
