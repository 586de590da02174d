"""Keys in a PKCS#11 token (SoftHSM2): made inside it and never out of it, signing in JOSE
form, rotated single-winner, destroyed after the overlap, and failing closed when the
token goes away, with service resuming by itself when it is back."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.jose.algorithms import SIGNATURE_ALGORITHMS
from core.jose.errors import JoseError
from core.jose.jwe import decrypt_compact, decrypt_compact_agreed, encrypt_compact
from core.jose.jwk import public_jwk, public_key_from_jwk
from core.jose.jws import sign_compact, verify_compact
from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token
from core.keys.pkcs11_vault import Pkcs11Vault
from core.keys.provider import DeploymentKeyProvider, InMemoryKeyRecords, KeyRecords
from core.keys.software_vault import SoftwareVault
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.wrapping import KeyWrapper
from core.storage.engine import create_engine, session_factory
from core.storage.key_records import SqlKeyRecords
from tests.conftest import fresh_engine
from tests.support.softhsm import SoftHsm


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


class Events:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def unavailable(self, reason: str) -> None:
        self.seen.append(f"unavailable: {reason}")

    def resumed(self) -> None:
        self.seen.append("resumed")


def token_of(softhsm: SoftHsm, label: str, events: Events | None = None) -> Pkcs11Token:
    return Pkcs11Token(
        Pkcs11Config(softhsm.module, label, pin=softhsm.pin), retry_interval=0, events=events
    )


def provider_of(
    records: KeyRecords, token: Pkcs11Token, kek: bytes, alg: str = "ES256"
) -> DeploymentKeyProvider:
    return DeploymentKeyProvider(
        records,
        {"software": SoftwareVault(KeyWrapper(kek)), "pkcs11": Pkcs11Vault(token)},
        placement=lambda owner: "pkcs11" if owner.startswith("issuer:") else "software",
        alg=alg,
    )


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
async def test_a_key_made_in_the_token_signs_jws_and_never_leaves_it(
    softhsm: SoftHsm, hsm_token: str, kek: bytes, alg: str
) -> None:
    records = InMemoryKeyRecords()
    token = token_of(softhsm, hsm_token)
    provider = provider_of(records, token, kek, alg)
    signer = await provider.signer("issuer:civil-registry")
    assert signer.alg == alg
    record = await records.by_kid(signer.kid)
    assert record is not None and record.location == "pkcs11"
    assert record.wrapped_private_key == b"" and len(record.key_reference) == 32
    attributes = token.private_key_attributes(bytes.fromhex(record.key_reference))
    assert attributes == {
        "sensitive": True,
        "extractable": False,
        "token": True,
        "never_extractable": True,
    }
    jws = sign_compact({"iss": "https://agency.example"}, signer)
    key = public_key_from_jwk(signer.public_jwk())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    verified = verify_compact(jws, key, algorithms={alg}, typ=None)
    assert verified.payload == {"iss": "https://agency.example"}
    # every signature is a fresh ECDSA signature of the right size
    data = b"the same data"
    first, second = signer.sign(data), signer.sign(data)
    assert first != second and len(first) == 2 * SIGNATURE_ALGORITHMS[alg].size
    # owners the placement leaves in software keep their keys there
    counter = await provider.signer("verifier:bank")
    assert (await records.by_kid(counter.kid)).location == "software"  # type: ignore[union-attr]


async def test_rotation_in_the_token_and_destruction_after_the_overlap(
    softhsm: SoftHsm, hsm_token: str, kek: bytes
) -> None:
    records = InMemoryKeyRecords()
    token = token_of(softhsm, hsm_token)
    provider = provider_of(records, token, kek)
    old = await provider.signer("issuer:transport")
    jws = sign_compact({"n": 1}, old)
    new = await provider.rotate("issuer:transport")
    assert new.kid != old.kid and (await provider.signer("issuer:transport")).kid == new.kid
    assert token.count_objects() == 4  # two key pairs
    # what the retired key signed keeps verifying by its kid
    verify_compact(jws, await provider.resolve(old.kid), algorithms={"ES256"}, typ=None)
    assert await provider.destroy_retired(overlap=3600) == []  # still within the overlap
    assert await provider.destroy_retired(overlap=0) == [old.kid]
    assert token.count_objects() == 2
    retired = await records.by_kid(old.kid)
    assert retired is not None and retired.destroyed_at is not None
    verify_compact(jws, await provider.resolve(old.kid), algorithms={"ES256"}, typ=None)
    assert await provider.destroy_retired(overlap=0) == []  # once only


async def test_concurrent_rotations_make_one_key_and_leave_no_orphans_in_the_token(
    database_url: str, softhsm: SoftHsm, hsm_token: str, kek: bytes
) -> None:
    async with fresh_engine(database_url) as engine:
        engines = [create_engine(database_url) for _ in range(4)]
        try:
            token = token_of(softhsm, hsm_token)
            providers = [
                provider_of(SqlKeyRecords(session_factory(e)), token, kek) for e in engines
            ]
            first = await asyncio.gather(*(p.signer("issuer:race") for p in providers))
            assert len({s.kid for s in first}) == 1
            rotated = await asyncio.gather(
                *(p.rotate("issuer:race", replacing=first[0].kid) for p in providers)
            )
            assert len({s.kid for s in rotated}) == 1 and rotated[0].kid != first[0].kid
            owned = await SqlKeyRecords(session_factory(engine)).for_owner("issuer:race")
            assert len(owned) == 2 and [r.retired_at is None for r in owned] == [False, True]
            assert all(r.wrapped_private_key == b"" for r in owned)
            # the keys that lost were destroyed in the token: two key pairs remain
            assert token.count_objects() == 4
            rotated[0].sign(b"x")
        finally:
            for e in engines:
                await e.dispose()


async def test_software_keys_move_into_the_token_when_the_placement_says_so(
    softhsm: SoftHsm, hsm_token: str, kek: bytes
) -> None:
    records = InMemoryKeyRecords()
    software = DeploymentKeyProvider(records, {"software": SoftwareVault(KeyWrapper(kek))})
    before = await software.signer("issuer:civil-registry")
    provider = provider_of(records, token_of(softhsm, hsm_token), kek)
    after = await provider.signer("issuer:civil-registry")
    assert after.kid != before.kid
    moved = await records.by_kid(after.kid)
    assert moved is not None and moved.location == "pkcs11"
    old = await records.by_kid(before.kid)
    assert old is not None and old.retired_at is not None


async def test_a_token_taken_away_fails_closed_and_service_resumes_when_it_is_back(
    softhsm: SoftHsm, hsm_token: str, kek: bytes
) -> None:
    events = Events()
    records = InMemoryKeyRecords()
    provider = provider_of(records, token_of(softhsm, hsm_token, events), kek)
    signer = await provider.signer("issuer:civil-registry")
    signer.sign(b"before")
    softhsm.remove(hsm_token)
    for _ in range(3):
        with pytest.raises(KeyStoreUnavailable) as refused:
            signer.sign(b"while away")
    assert refused.value.status_code == 503 and refused.value.retry_after
    assert refused.value.error == "temporarily_unavailable"
    with pytest.raises(KeyStoreUnavailable):
        await provider.rotate("issuer:civil-registry")  # no key can be made either
    assert len(await records.for_owner("issuer:civil-registry")) == 1
    softhsm.restore(hsm_token)
    signature = signer.sign(b"after")
    SIGNATURE_ALGORITHMS["ES256"].verify(
        public_key_from_jwk(signer.public_jwk()), signature, b"after"
    )
    assert len(events.seen) == 2 and events.seen[0].startswith("unavailable: ")
    assert events.seen[1] == "resumed"


async def test_another_token_in_the_slot_signs_nothing(
    softhsm: SoftHsm, hsm_token: str, kek: bytes
) -> None:
    """A token with the same label but other keys (a swapped slot) cannot sign for the
    deployment: the key on record is not in it, and nothing else is used."""
    records = InMemoryKeyRecords()
    provider = provider_of(records, token_of(softhsm, hsm_token), kek)
    signer = await provider.signer("issuer:civil-registry")
    softhsm.remove(hsm_token)
    impostor = softhsm.new_token(hsm_token)
    other = provider_of(InMemoryKeyRecords(), token_of(softhsm, impostor), kek)
    await other.signer("issuer:civil-registry")  # the impostor token has keys of its own
    with pytest.raises(KeyStoreUnavailable) as refused:
        signer.sign(b"x")
    assert "missing" in refused.value.reason or "broke" in refused.value.reason


async def test_a_wrong_pin_fails_closed_and_a_corrected_pin_file_resumes(
    softhsm: SoftHsm, hsm_token: str, tmp_path: Path
) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("not-the-pin\n", encoding="utf-8")
    events = Events()
    token = Pkcs11Token(
        Pkcs11Config(softhsm.module, hsm_token, pin_file=str(pin_file)),
        retry_interval=0,
        events=events,
    )
    with pytest.raises(KeyStoreUnavailable) as refused:
        token.check()
    assert refused.value.reason == "the token refused the PIN"
    assert "not-the-pin" not in repr(token.config) and softhsm.pin not in str(refused.value)
    pin_file.write_text(softhsm.pin + "\n", encoding="utf-8")
    token.check()
    assert events.seen == ["unavailable: the token refused the PIN", "resumed"]


async def test_wrapped_keys_sign_in_the_token_and_only_under_their_wrapping_key(
    softhsm: SoftHsm, hsm_token: str
) -> None:
    token = token_of(softhsm, hsm_token)
    point, blob = token.generate_wrapped_key("holder-keys", "P-256")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    algorithm = SIGNATURE_ALGORITHMS["ES256"]

    def verifies(data: bytes) -> bool:
        return True

    signature = token.sign_with_wrapped_key(
        "holder-keys", blob, hashlib.sha256(b"data").digest(), verifies
    )
    algorithm.verify(public, signature, b"data")
    assert token.count_objects() == 1  # the wrapping key; the holder key is not kept
    with pytest.raises(KeyStoreUnavailable):  # no wrapping key of that label
        token.sign_with_wrapped_key("other-wrapping-key", blob, b"\0" * 32, verifies)
    with pytest.raises(KeyStoreUnavailable):  # a signature by another key is refused
        token.sign_with_wrapped_key("holder-keys", blob, b"\0" * 32, lambda s: False)
    damaged = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(KeyStoreUnavailable):  # one unusable blob ...
        token.sign_with_wrapped_key("holder-keys", damaged, b"\0" * 32, verifies)
    assert token.failure is None  # ... is not a token that failed

    # Two workers making the first wrapping key at once may make two of one label: keys
    # wrapped under either keep signing, in this process and in a fresh one
    second = Pkcs11Token(Pkcs11Config(softhsm.module, hsm_token, pin=softhsm.pin), retry_interval=0)
    second.call(
        lambda session: session.generate_key(
            pkcs11.KeyType.AES,
            256,
            store=True,
            label="holder-keys",
            id=b"\xff" * 16,
            capabilities=pkcs11.MechanismFlag.WRAP | pkcs11.MechanismFlag.UNWRAP,
            template={pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False},
        )
    )
    assert token.count_objects() == 2
    for signing in (token, second):
        signature = signing.sign_with_wrapped_key(
            "holder-keys", blob, hashlib.sha256(b"data").digest(), verifies
        )
        algorithm.verify(public, signature, b"data")
    point, later = second.generate_wrapped_key("holder-keys", "P-256")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    algorithm.verify(
        public,
        token.sign_with_wrapped_key(
            "holder-keys", later, hashlib.sha256(b"data").digest(), verifies
        ),
        b"data",
    )


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
async def test_a_decryption_key_in_the_token_opens_what_jwcrypto_encrypted_to_it(
    softhsm: SoftHsm, hsm_token: str, kek: bytes, enc: str
) -> None:
    """ECDH-ES in the token, the Concat KDF and AES-GCM here: a JWE made by jwcrypto (with
    ``apu``/``apv``) opens; a tampered one, one to another key and one whose ``epk`` is
    not a point of P-256 do not."""
    records = InMemoryKeyRecords()
    token = token_of(softhsm, hsm_token)
    provider = provider_of(records, token, kek)
    decrypter = await provider.decrypter("issuer:civil-registry:request-encryption")
    record = await records.by_kid(decrypter.kid)
    assert record is not None and record.location == "pkcs11" and record.alg == "ECDH-ES"
    assert token.private_key_attributes(bytes.fromhex(record.key_reference))["extractable"] is False
    jwe = encrypt_compact(
        b'{"proof": "yes"}',
        decrypter.public_jwk(),
        enc=enc,
        kid=decrypter.kid,
        extra_header={"apu": "YWxpY2U", "apv": "Ym9i"},
    )
    header, plaintext = decrypter.decrypt(jwe)
    assert plaintext == b'{"proof": "yes"}' and header["kid"] == decrypter.kid
    parts = jwe.split(".")
    tampered = ".".join(
        [*parts[:3], parts[3][:-2] + ("AA" if parts[3][-2:] != "AA" else "BB"), parts[4]]
    )
    with pytest.raises(JoseError):
        decrypter.decrypt(tampered)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(JoseError):
        decrypter.decrypt(encrypt_compact(b"x", public_jwk(other), enc=enc))
    with pytest.raises(JoseError):
        decrypter.decrypt(jwe, encryptions={"A256GCM" if enc == "A128GCM" else "A128GCM"})
    # the same token opened by a software key gives the same answer (the KDF is RFC 7518's)
    software = ec.generate_private_key(ec.SECP256R1())
    to_software = encrypt_compact(
        b"same", public_jwk(software), enc=enc, extra_header={"apv": "eA"}
    )
    agreed = decrypt_compact_agreed(to_software, lambda peer: software.exchange(ec.ECDH(), peer))
    assert agreed == decrypt_compact(to_software, software)
    rotated = await provider.rotate_decrypter("issuer:civil-registry:request-encryption")
    assert rotated.kid != decrypter.kid
    assert (await records.by_kid(rotated.kid)).location == "pkcs11"  # type: ignore[union-attr]
