"""The citizen's list of credentials opens only each credential's sealed listing, never
its record; a record stored before listings were sealed beside it is listed the same,
and its listing is kept by that first listing, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import text

from app.settings import Settings
from core.storage.engine import create_engine
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.wallet.phone import Phone
from tests.wallet.test_flow_store import NOW, _account, store
from wallet.domain import StoredCredential
from wallet.services.context import WalletContext
from wallet.storage.sql import SqlWalletStore

__all__ = ["store"]  # the stores' fixture, shared with the flows' tests


async def test_a_listing_read_carries_no_record_where_a_listing_is_kept(
    store: SqlWalletStore,
) -> None:
    account_id = await _account(store)
    await store.credentials.add(
        StoredCredential("new", account_id, b"record", 0, NOW, None, b"listing")
    )
    await store.credentials.add(StoredCredential("old", account_id, b"old record", 2, NOW + 1))
    new, old = await store.credentials.listings(account_id)
    assert (new.credential_id, new.sealed, new.sealed_listing) == ("new", b"", b"listing")
    assert (old.credential_id, old.sealed, old.sealed_listing) == ("old", b"old record", None)
    assert old.presentations == 2


async def test_a_listing_is_kept_once_and_never_over_a_newer_one(store: SqlWalletStore) -> None:
    account_id = await _account(store)
    await store.credentials.add(StoredCredential("old", account_id, b"old record", 0, NOW))
    # a fresh batch sealed its own listing between the listing's read and its keeping
    assert await store.credentials.replace(
        account_id,
        "old",
        b"fresh record",
        sealed_listing=b"fresh listing",
        expected_presentations=0,
        renew_from=None,
    )
    await store.credentials.keep_listing(account_id, "old", b"stale listing")
    [kept] = await store.credentials.listings(account_id)
    assert (kept.sealed, kept.sealed_listing) == (b"", b"fresh listing")
    # another account's credential is not touched
    other = await _account(store)
    await store.credentials.keep_listing(other, "old", b"foreign listing")
    [kept] = await store.credentials.listings(account_id)
    assert kept.sealed_listing == b"fresh listing"


def _forget_listings(settings: Settings) -> None:
    """The rows as a version before listings were sealed left them."""

    async def forget() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE wallet_credentials SET sealed_listing = NULL")
                )
        finally:
            await engine.dispose()

    asyncio.run(forget())


def test_credentials_stored_before_listings_are_listed_alike_and_kept(
    client: TestClient[Any], settings: Settings
) -> None:
    phone = Phone(client)
    phone.register()
    for custody in ("server", "device"):
        phone.receive(
            create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"],
            custody=custody,
        )
    listed = phone.get("/wallet/credentials")
    assert listed.status_code == 200, listed.text
    before = listed.json()["credentials"]
    assert [c["name"] for c in before] == [before[0]["name"]] * 2
    assert all(c["status"] == "valid" and c["instances"] >= 1 for c in before)

    _forget_listings(settings)
    context: WalletContext = client.app.state.wallet
    account_id = phone.account_id
    assert account_id is not None
    rows = client.blocking_portal.call(context.store.credentials.listings, account_id)
    assert all(row.sealed_listing is None and row.sealed for row in rows)

    assert phone.get("/wallet/credentials").json()["credentials"] == before
    rows = client.blocking_portal.call(context.store.credentials.listings, account_id)
    assert all(row.sealed_listing and row.sealed == b"" for row in rows)
    assert phone.get("/wallet/credentials").json()["credentials"] == before
    # the details, read from the whole record, agree with the list
    details = phone.get(f"/wallet/credentials/{before[0]['credential_id']}").json()
    assert {k: details[k] for k in before[0]} == before[0]
