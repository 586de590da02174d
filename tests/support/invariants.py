"""The invariants every crash, restart and race scenario ends by checking, in SQL against
the database itself: nothing issued twice, nothing lost from the status lists, single-use
things used at most once, no row reachable from another citizen's."""

from __future__ import annotations

from sqlalchemy import text

from core.storage.engine import create_engine
from tests.support.postgres import run_in_thread

#: Each query lists the rows that break its invariant; every one must come back empty.
VIOLATIONS = {
    "two credentials share a status index": (
        "SELECT status_list_id, status_index FROM issuer_credentials"
        " GROUP BY status_list_id, status_index HAVING count(*) > 1"
    ),
    "a credential without its status list row, or outside it": (
        "SELECT c.credential_id FROM issuer_credentials c"
        " LEFT JOIN issuer_status_lists l ON l.list_id = c.status_list_id"
        " WHERE l.list_id IS NULL OR l.issuer_id <> c.issuer_id"
        " OR c.status_index < 0 OR c.status_index >= l.size"
    ),
    "a status list counts fewer places than its credentials hold": (
        "SELECT l.list_id FROM issuer_status_lists l WHERE l.allocated <"
        " (SELECT count(*) FROM issuer_credentials c WHERE c.status_list_id = l.list_id)"
    ),
    "a pre-authorized code with more than one token": (
        "SELECT offer_id FROM issuer_access_grants GROUP BY offer_id HAVING count(*) > 1"
    ),
    "a token for an offer that was never redeemed": (
        "SELECT g.offer_id FROM issuer_access_grants g"
        " JOIN issuer_offers o ON o.offer_id = g.offer_id WHERE o.state <> 'redeemed'"
    ),
    # Housekeeping deletes access tokens once expired: a credential's token may be gone,
    # but never unused, and its offer is always redeemed.
    "a credential whose offer's token is unused": (
        "SELECT c.credential_id FROM issuer_credentials c"
        " JOIN issuer_access_grants g ON g.offer_id = c.offer_id WHERE NOT g.used"
    ),
    "a credential of an offer that is missing or not redeemed": (
        "SELECT c.credential_id FROM issuer_credentials c"
        " LEFT JOIN issuer_offers o ON o.offer_id = c.offer_id"
        " WHERE o.offer_id IS NULL OR o.state <> 'redeemed'"
    ),
    "one token answered by more than one credential response": (
        "SELECT offer_id FROM issuer_credentials"
        " GROUP BY offer_id HAVING count(DISTINCT notification_id) > 1"
    ),
    "a credential for another subject or agency than its offer's": (
        "SELECT c.credential_id FROM issuer_credentials c"
        " JOIN issuer_offers o ON o.offer_id = c.offer_id"
        " WHERE o.subject_id <> c.subject_id OR o.issuer_id <> c.issuer_id"
        " OR o.configuration_id <> c.configuration_id"
    ),
    "a verifier transaction whose result and completion disagree": (
        "SELECT transaction_id FROM verifier_transactions"
        " WHERE (status IN ('verified', 'failed')) <> (result IS NOT NULL)"
        " OR (result IS NOT NULL AND completed_at IS NULL)"
    ),
    "a wallet refresh token of a device of another account": (
        "SELECT r.token_hash FROM wallet_refresh_tokens r"
        " JOIN wallet_devices d ON d.device_id = r.device_id WHERE d.account_id <> r.account_id"
    ),
    **{
        f"a {table} row of no account": (
            f"SELECT t.account_id FROM {table} t"
            " LEFT JOIN wallet_accounts a ON a.account_id = t.account_id"
            " WHERE a.account_id IS NULL"
        )
        for table in (
            "wallet_devices",
            "wallet_refresh_tokens",
            "wallet_holder_keys",
            "wallet_credentials",
            "wallet_flows",
            "wallet_activity",
        )
    },
}


async def _violations(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url)
    found: dict[str, list[tuple[object, ...]]] = {}
    try:
        async with engine.connect() as connection:
            for name, query in VIOLATIONS.items():
                rows = [tuple(row) for row in (await connection.execute(text(query))).all()]
                if rows:
                    found[name] = rows[:5]
    finally:
        await engine.dispose()
    return found


def assert_invariants(url: str) -> None:
    violations = run_in_thread(_violations(url))
    assert not violations, violations


def count_rows(url: str, query: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return int((await connection.execute(text(query))).scalar_one())
        finally:
            await engine.dispose()

    return run_in_thread(count())
