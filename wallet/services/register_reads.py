"""The register reads an issuer names in its credential response (the ``register_reads``
extension, ``core.oid4vci.RegisterRead``), kept in the citizen's activity log beside the
credential received: which agency read their data from which register to issue which
credential, or to renew it or to find out who the citizen is (the once-only principle made
visible). An issuer that names none adds nothing; what an issuer names is its own
statement, shown as it said it.

One read is listed once per issuance: an offer of several formats (the national ID as
SD-JWT VC and as mdoc) names the same read in each format's response, by the same ``id``
(``unseen``; a read without an ``id`` is the same read when all it says is the same)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from core.oid4vci import RegisterRead
from wallet.domain import CredentialRecord
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import RegisterReadEntry
from wallet.services.context import WalletContext
from wallet.services.display import pick
from wallet.services.offer_flow import OfferFlow
from wallet.services.sealing import AccountBox


def unseen(reads: Sequence[RegisterRead], seen: set[Hashable]) -> list[RegisterRead]:
    """The reads not named before in this issuance (``seen``, updated)."""
    fresh = []
    for read in reads:
        key: Hashable = (
            read.id
            if isinstance(read.id, str)
            else (
                read.purpose,
                read.read_at,
                tuple((name.locale, name.name) for name in read.register),
            )
        )
        if key not in seen:
            seen.add(key)
            fresh.append(read)
    return fresh


async def record_register_reads(
    context: WalletContext,
    box: AccountBox,
    credential_id: str,
    record_: CredentialRecord,
    reads: Sequence[RegisterRead],
) -> None:
    """The reads behind a credential received."""
    display = pick(record_.credential_display, []) or {}
    issuer_name = (pick(record_.issuer_display, []) or {}).get("name", record_.issuer)
    for read in reads:
        await record(
            context,
            box,
            RegisterReadEntry(
                **stamp(context),
                credential_id=credential_id,
                issuer=record_.issuer,
                issuer_name=issuer_name,
                credential=display.get("name", record_.configuration_id),
                register=read.register,
                purpose=read.purpose,
                read_at=read.read_at,
            ),
        )


async def record_deferred_register_reads(
    context: WalletContext,
    box: AccountBox,
    flow: OfferFlow,
    configuration_id: str,
    reads: Sequence[RegisterRead],
) -> None:
    """The reads behind a credential the issuer deferred (its response said so already;
    the credential comes later)."""
    display = pick(flow.configurations[configuration_id].display, []) or {}
    issuer_name = (pick(flow.issuer_display, []) or {}).get("name", flow.issuer)
    for read in reads:
        await record(
            context,
            box,
            RegisterReadEntry(
                **stamp(context),
                issuer=flow.issuer,
                issuer_name=issuer_name,
                credential=display.get("name", configuration_id),
                register=read.register,
                purpose=read.purpose,
                read_at=read.read_at,
            ),
        )
