"""An offer of one credential in several formats (the national ID as SD-JWT VC and as
mdoc): its access grant is used once for each configuration, on SQLite and PostgreSQL.
The grant stays open until every configuration was asked for; one asked for twice finds
nothing to use (the retry of a lost response is answered from what was kept); of racing
requests for one configuration exactly one gets it, and each configuration is given once
however the requests for them race."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidDpopProofAtResource
from core.replay import SingleUse
from core.storage.engine import create_engine, session_factory
from issuers.storage.sql import SqlGrantStore
from tests.conftest import fresh_engine
from tests.issuers.test_grant_single_use import JKT, NOW, _ledger
from tests.issuers.test_grant_single_use import _granted as granted

FORMATS = ("national_id", "national_id_mdoc")


async def _granted(engine: AsyncEngine) -> str:
    """A live grant of an offer of the national ID in both formats (the offer's other
    configurations read back with it: ``_use`` checks them)."""
    return await granted(engine, *FORMATS[1:])


def _jti(value: str) -> SingleUse:
    return SingleUse("dpop", f"{JKT} {value}", NOW + 65, InvalidDpopProofAtResource("used"))


async def _use(engine: AsyncEngine, token_hash: str, configuration_id: str) -> bool | None:
    """True: the grant was used for the configuration; False: it was before; None: no
    grant to use (used up)."""
    async with _ledger(engine).open_grant(
        token_hash, NOW + 1, JKT, spend=(_jti(uuid.uuid4().hex),)
    ) as work:
        if work is None:
            return None
        assert work.offer.configuration_ids == FORMATS
        return await work.use_for(configuration_id)


async def test_the_grant_is_used_once_for_each_format(engine: AsyncEngine) -> None:
    token_hash = await _granted(engine)
    grants = SqlGrantStore(session_factory(engine))
    assert await _use(engine, token_hash, "national_id_mdoc") is True
    grant = await grants.get(token_hash)
    assert grant is not None and not grant.used  # the SD-JWT VC is still to be asked for
    assert await _use(engine, token_hash, "national_id_mdoc") is False
    assert await _use(engine, token_hash, "national_id") is True
    grant = await grants.get(token_hash)
    assert grant is not None and grant.used
    assert await _use(engine, token_hash, "national_id") is None


async def test_a_failed_request_gives_its_format_back(engine: AsyncEngine) -> None:
    token_hash = await _granted(engine)
    try:
        async with _ledger(engine).open_grant(
            token_hash, NOW + 1, JKT, spend=(_jti("failing"),)
        ) as work:
            assert work is not None and await work.use_for("national_id")
            raise RuntimeError("an invalid proof, say")
    except RuntimeError:
        pass
    assert await _use(engine, token_hash, "national_id") is True


async def test_racing_requests_get_each_format_once(database_url: str) -> None:
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            token_hash = await _granted(engine)
            engines = [engine, other]

            async def request(i: int) -> tuple[str, bool | None]:
                configuration_id = FORMATS[i % 2]
                return configuration_id, await _use(
                    engines[i // 2 % 2], token_hash, configuration_id
                )

            results = await asyncio.gather(*(request(i) for i in range(16)))
            won = sorted(c for c, outcome in results if outcome is True)
            assert won == sorted(FORMATS)
            grant = await SqlGrantStore(session_factory(engine)).get(token_hash)
            assert grant is not None and grant.used
        finally:
            await other.dispose()
