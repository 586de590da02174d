"""The statements of the issuance path, built once with bound parameters: building a
statement and computing its cache key on every call cost more than running it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from issuers.domain import OfferState
from issuers.storage.tables import GRANTS, OFFERS, STATUS_LISTS


def _redeem(*, without_tx_code: bool) -> Any:
    conditions = [
        OFFERS.c.code_hash == bindparam("code"),
        OFFERS.c.issuer_id == bindparam("issuer"),
        OFFERS.c.state == OfferState.OFFERED.value,
        OFFERS.c.expires_at > bindparam("now"),
    ]
    if without_tx_code:
        conditions.append(OFFERS.c.tx_code_hash.is_(None))
    return (
        update(OFFERS)
        .where(*conditions)
        .values(state=OfferState.REDEEMED.value, redeemed_at=bindparam("now"))
        .returning(*OFFERS.c)
    )


REDEEM = _redeem(without_tx_code=False)
REDEEM_WITHOUT_TX_CODE = _redeem(without_tx_code=True)
INSERT_OFFER = insert(OFFERS)
INSERT_GRANT = insert(GRANTS)
USE_GRANT = (
    update(GRANTS)
    .where(
        GRANTS.c.token_hash == bindparam("hash"),
        GRANTS.c.used.is_(False),
        GRANTS.c.expires_at > bindparam("now"),
        # a bound token only with a proof of its key, a bearer token only without
        GRANTS.c.dpop_jkt.is_not_distinct_from(bindparam("jkt")),
    )
    .values(used=True)
    .returning(GRANTS.c.offer_id, GRANTS.c.issuer_id, GRANTS.c.expires_at, GRANTS.c.dpop_jkt)
)
OFFER_BY_ID = select(OFFERS).where(OFFERS.c.offer_id == bindparam("id"))
RESERVE_PLACES = (
    update(STATUS_LISTS)
    .where(
        STATUS_LISTS.c.list_id == bindparam("list"),
        STATUS_LISTS.c.allocated + bindparam("places") <= bindparam("limit"),
    )
    .values(allocated=STATUS_LISTS.c.allocated + bindparam("places"))
)

_INSERT_NEW: dict[tuple[str, str], Any] = {}


def insert_new(dialect: str, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for SQLite or PostgreSQL, built once per table."""
    key = (dialect, table.name)
    statement = _INSERT_NEW.get(key)
    if statement is None:
        builder = sqlite_insert if dialect == "sqlite" else postgresql_insert
        statement = builder(table).on_conflict_do_nothing()
        _INSERT_NEW[key] = statement
    return statement
