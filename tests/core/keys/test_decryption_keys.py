"""Decryption keys on the software key provider (ECDH-ES on P-256): kept wrapped like the
signing keys, one active key per owner on every store, never usable as a signing key.
jwcrypto (someone else's JWE) encrypts to the published key."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jwcrypto import jwe, jwk

from core.clock import FixedClock
from core.keys.decrypter import Decrypter
from core.keys.provider import (
    InMemoryKeyRecords,
    KeyRecords,
    SoftwareKeyProvider,
    UnknownKey,
    WrongKeyKind,
)
from core.keys.wrapping import KeyWrapper
from core.storage.engine import session_factory
from core.storage.key_records import SqlKeyRecords
from tests.conftest import backend_url, fresh_engine

OWNER = "issuer:civil-registry:request-encryption"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyRecords]:
    if request.param == "memory":
        yield InMemoryKeyRecords()
        return
    async with fresh_engine(backend_url(request.param, tmp_path)) as engine:
        yield SqlKeyRecords(session_factory(engine))


@pytest.fixture
def provider(records: KeyRecords) -> SoftwareKeyProvider:
    return SoftwareKeyProvider(records, KeyWrapper(os.urandom(32)), clock=FixedClock(1000))


def _encrypted_to(decrypter: Decrypter, plaintext: bytes, enc: str = "A256GCM") -> str:
    public = decrypter.public_jwk()
    header = {"alg": "ECDH-ES", "enc": enc, "kid": public["kid"]}
    token = jwe.JWE(plaintext, protected=json.dumps(header))
    token.add_recipient(jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x", "y")}))
    result: str = token.serialize(compact=True)
    return result


async def test_a_decryption_key_is_created_once_and_decrypts(
    provider: SoftwareKeyProvider,
) -> None:
    decrypter = await provider.decrypter(OWNER)
    assert (await provider.decrypter(OWNER)).kid == decrypter.kid
    public = decrypter.public_jwk()
    assert public["kty"] == "EC" and public["crv"] == "P-256"
    assert public["alg"] == "ECDH-ES" and public["use"] == "enc" and public["kid"] == decrypter.kid
    assert "d" not in public
    for enc in ("A128GCM", "A256GCM"):
        header, plaintext = decrypter.decrypt(_encrypted_to(decrypter, b"{}", enc))
        assert plaintext == b"{}" and header["enc"] == enc
    (listed,) = await provider.public_jwks(OWNER)
    assert listed == public


async def test_keys_of_one_kind_never_serve_as_the_other(provider: SoftwareKeyProvider) -> None:
    decrypter = await provider.decrypter(OWNER)
    with pytest.raises(WrongKeyKind):
        await provider.signer(OWNER)
    with pytest.raises(WrongKeyKind):
        await provider.rotate(OWNER)
    with pytest.raises(UnknownKey):  # a decryption key verifies no signature
        await provider.resolve(decrypter.kid)
    signer = await provider.signer("issuer:civil-registry")
    with pytest.raises(WrongKeyKind):
        await provider.decrypter("issuer:civil-registry")
    with pytest.raises(WrongKeyKind):
        await provider.rotate_decrypter("issuer:civil-registry")
    assert (await provider.resolve(signer.kid)) is not None


async def test_rotation_retires_the_old_decryption_key(
    records: KeyRecords, provider: SoftwareKeyProvider
) -> None:
    old = await provider.decrypter(OWNER)
    new = await provider.rotate_decrypter(OWNER)
    assert new.kid != old.kid
    assert (await provider.decrypter(OWNER)).kid == new.kid
    kept = {r.kid: (r.retired_at is None, r.alg) for r in await records.for_owner(OWNER)}
    assert kept == {old.kid: (False, "ECDH-ES"), new.kid: (True, "ECDH-ES")}


async def test_the_wrapped_key_opens_only_with_its_kek(records: KeyRecords) -> None:
    first = SoftwareKeyProvider(records, KeyWrapper(os.urandom(32)))
    decrypter = await first.decrypter(OWNER)
    (record,) = await records.for_owner(OWNER)
    assert decrypter.public_jwk()["x"] == record.public_jwk["x"]
    assert b"PRIVATE" not in record.wrapped_private_key
    other = SoftwareKeyProvider(records, KeyWrapper(os.urandom(32)))
    with pytest.raises(ValueError, match="KEK"):
        await other.decrypter(OWNER)
