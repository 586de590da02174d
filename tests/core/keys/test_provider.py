"""The software key provider and the ``KeyRecords`` port: one contract, three stores
(memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FixedClock
from core.jose.jws import sign_compact, verify_compact
from core.keys.provider import (
    InMemoryKeyRecords,
    KeyRecord,
    KeyRecords,
    SoftwareKeyProvider,
    UnknownKey,
)
from core.keys.wrapping import KeyUnwrapError, KeyWrapper
from core.storage.engine import create_engine, session_factory
from core.storage.key_records import SqlKeyRecords
from tests.conftest import backend_url, fresh_engine


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyRecords]:
    if request.param == "memory":
        yield InMemoryKeyRecords()
        return
    async with fresh_engine(backend_url(request.param, tmp_path)) as engine:
        yield SqlKeyRecords(session_factory(engine))


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


async def test_signer_is_created_once_and_signs(records: KeyRecords, kek: bytes) -> None:
    provider = SoftwareKeyProvider(records, KeyWrapper(kek), clock=FixedClock(1000))
    signer = await provider.signer("issuer:civil-registry")
    again = await provider.signer("issuer:civil-registry")
    assert signer.kid == again.kid
    token = sign_compact({"a": 1}, signer, typ="x")
    key = await provider.resolve(signer.kid)
    assert verify_compact(token, key, algorithms={"ES256"}, typ="x").payload == {"a": 1}


async def test_rotation_keeps_old_keys_resolvable(records: KeyRecords, kek: bytes) -> None:
    clock = FixedClock(1000)
    provider = SoftwareKeyProvider(records, KeyWrapper(kek), clock=clock)
    old = await provider.signer("verifier:bank-kyc")
    token = sign_compact({"v": 1}, old, typ="x")
    clock.advance(10)
    new = await provider.rotate("verifier:bank-kyc")
    assert new.kid != old.kid
    assert (await provider.signer("verifier:bank-kyc")).kid == new.kid
    verify_compact(token, await provider.resolve(old.kid), algorithms={"ES256"}, typ="x")
    jwks = await provider.public_jwks("verifier:bank-kyc")
    assert {j["kid"] for j in jwks} == {old.kid, new.kid}
    assert all("d" not in j for j in jwks)
    owned = await records.for_owner("verifier:bank-kyc")
    assert [r.retired_at is not None for r in owned] == [True, False]


async def test_unknown_kid(records: KeyRecords, kek: bytes) -> None:
    provider = SoftwareKeyProvider(records, KeyWrapper(kek))
    with pytest.raises(UnknownKey):
        await provider.resolve("' OR 1=1 --")


async def test_certificate_chain_travels_with_the_signer(records: KeyRecords, kek: bytes) -> None:
    provider = SoftwareKeyProvider(records, KeyWrapper(kek))
    signer = await provider.signer("issuer:transport-agency")
    await provider.attach_certificate_chain(signer.kid, ("MIIB", "MIIC"))
    assert (await provider.signer("issuer:transport-agency")).x5c == ("MIIB", "MIIC")
    with pytest.raises(UnknownKey):
        await provider.attach_certificate_chain("nope", ("MIIB",))


async def test_keys_do_not_open_with_another_kek(records: KeyRecords, kek: bytes) -> None:
    provider = SoftwareKeyProvider(records, KeyWrapper(kek))
    signer = await provider.signer("issuer:a")
    other = SoftwareKeyProvider(records, KeyWrapper(os.urandom(32)))
    with pytest.raises(KeyUnwrapError):
        await other.signer("issuer:a")
    assert signer.kid


async def test_sql_rows_hold_no_plaintext_private_key(engine: AsyncEngine, kek: bytes) -> None:
    provider = SoftwareKeyProvider(SqlKeyRecords(session_factory(engine)), KeyWrapper(kek))
    await provider.signer("issuer:a")
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT wrapped_private_key, public_jwk FROM signing_keys")
            )
        ).all()
    assert len(rows) == 1
    wrapped, public = rows[0]
    assert b"PRIVATE" not in bytes(wrapped) and '"d"' not in public


def test_a_moved_wrapped_key_does_not_open() -> None:
    wrapper = KeyWrapper(os.urandom(32))
    blob = wrapper.wrap(ec.generate_private_key(ec.SECP256R1()), context="a")
    with pytest.raises(KeyUnwrapError):
        wrapper.unwrap(blob, context="b")
    with pytest.raises(KeyUnwrapError):
        wrapper.unwrap(b"\x02" + blob[1:], context="a")
    with pytest.raises(ValueError):
        KeyWrapper(b"short")


async def test_duplicate_kid_and_second_active_key_are_refused(records: KeyRecords) -> None:
    record = KeyRecord("k", "o", "ES256", {"kty": "EC"}, b"x" * 40, 1.0)
    assert await records.add_active(record)
    assert not await records.add_active(record)
    assert not await records.add_active(KeyRecord("k", "p", "ES256", {}, b"y" * 40, 2.0))
    assert not await records.add_active(KeyRecord("k2", "o", "ES256", {}, b"y" * 40, 2.0))
    assert [r.kid for r in await records.for_owner("o")] == ["k"]
    assert await records.for_owner("p") == []


async def test_first_key_is_single_winner_across_workers(database_url: str, kek: bytes) -> None:
    """Eight workers (each its own engine and provider) ask for an owner's signer at once
    on an empty database: one key is created and every worker signs with it; four
    rotating it at once make one rotation, whose key every one of them gets."""
    async with fresh_engine(database_url) as engine:
        engines = [create_engine(database_url) for _ in range(8)]
        try:
            providers = [
                SoftwareKeyProvider(SqlKeyRecords(session_factory(e)), KeyWrapper(kek))
                for e in engines
            ]
            signers = await asyncio.gather(*(p.signer("issuer:race") for p in providers))
            assert len({s.kid for s in signers}) == 1
            first = signers[0].kid
            rotated = await asyncio.gather(
                *(p.rotate("issuer:race", replacing=first) for p in providers[:4])
            )
            assert len({s.kid for s in rotated}) == 1
            assert rotated[0].kid != signers[0].kid
            owned = await SqlKeyRecords(session_factory(engine)).for_owner("issuer:race")
            assert len(owned) == 2 and sum(r.retired_at is None for r in owned) == 1
            active = next(r for r in owned if r.retired_at is None)
            assert active.kid in {s.kid for s in rotated}
            for provider in providers:
                assert (await provider.signer("issuer:race")).kid == active.kid
        finally:
            for e in engines:
                await e.dispose()
