"""Server-held holder keys in the deployment's HSM (``IDWALLET_KEY_PROVIDER_HOLDER=pkcs11``,
SoftHSM2 here), through the mobile API on SQLite and PostgreSQL: a citizen receives
credentials whose keys were made in the token and are stored only wrapped by it (sealed
under the account's data key as well; no PKCS#8 in the database, no object per key in the
token), and shows them at our counters, which verify them; the keys' attestations claim
the HSM's levels; keys made in software before the switch keep presenting; with the token
away, presenting answers 503 with ``Retry-After`` and works again once it is back. The
authorization code flow's instance keys (wallet attestation PoP, DPoP) and the fresh
batches of one-time credentials are made and sign in the HSM too."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_der_private_key
from litestar.testing import TestClient
from sqlalchemy import text

from app import create_app
from app.key_store_settings import KEY_CLASSES, KeyStoreSettings
from app.settings import Settings
from issuers.domain import KeyAttestationRequirement
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.support.softhsm import SoftHsm
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone
from tests.wallet.test_authorization_code import CIVIL, _browse, _start
from tests.wallet.test_wallet_provider import _requiring
from wallet.services.renew_credential import renew_due_credentials
from wallet.services.server_held_keys import SEALED_KIND

PKCS8 = 0x30
IN_HSM = 0x01


def holder_keys_in_hsm(softhsm: SoftHsm, label: str, **settings: Any) -> KeyStoreSettings:
    """Holder keys in the token ``label``; every other class of keys in software."""
    return KeyStoreSettings(
        providers={**dict.fromkeys(KEY_CLASSES, "software"), "holder": "pkcs11"},
        pkcs11_module=softhsm.module,
        pkcs11_token=label,
        pkcs11_pin=softhsm.pin,
        **settings,
    )


@pytest.fixture
def hsm_settings(settings: Settings, softhsm: SoftHsm, hsm_token: str) -> Settings:
    return dataclasses.replace(settings, key_store=holder_keys_in_hsm(softhsm, hsm_token))


@pytest.fixture
def client(hsm_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(hsm_settings), base_url=PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture
def client_signed_in(hsm_settings: Settings) -> Iterator[TestClient[Any]]:
    """With the test authenticator: every citizen is demo-citizen at the agencies."""
    settings = dataclasses.replace(hsm_settings, test_citizen="demo-citizen")
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        yield client


def _kinds(client: TestClient[Any], phone: Phone) -> dict[str, int]:
    """The first byte of each of the citizen's sealed server-held keys, as opened with the
    account's data key; each sealed row checked to be no private key by itself."""
    engine = client.app.state.deployment.engine
    context = client.app.state.wallet

    async def read() -> dict[str, int]:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT holder_key_id, sealed_private_key FROM wallet_holder_keys"
                        " WHERE account_id = :account AND custody = 'server'"
                    ),
                    {"account": phone.account_id},
                )
            ).all()
        box = await context.box(phone.account_id)
        kinds = {}
        for key_id, sealed in rows:
            with pytest.raises(ValueError):
                load_der_private_key(bytes(sealed), password=None)
            opened = box.open_bytes(SEALED_KIND, key_id, bytes(sealed))
            if opened[0] == IN_HSM:
                with pytest.raises(ValueError):  # what the HSM wrapped is no PKCS#8
                    load_der_private_key(opened[1:], password=None)
            kinds[key_id] = opened[0]
        return kinds

    kinds: dict[str, int] = client.blocking_portal.call(read)
    return kinds


def _present(client: TestClient[Any], phone: Phone, approve: Callable[[str], Any]) -> Any:
    """The bar asks for ``age_over_18``; ``approve`` answers for the citizen; the bar's
    verdict."""
    created = create_request(client, "bar-age-check", template="age_over_18")
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert consent["satisfiable"] is True, consent
    approve(consent["presentation_id"])
    return transaction_status(client, "bar-age-check", created["transaction_id"]).json()


def _approved(phone: Phone) -> Callable[[str], Any]:
    def approve(presentation_id: str) -> Any:
        result = phone.approve(presentation_id)
        assert result["outcome"] == "accepted", result
        return result

    return approve


@pytest.mark.parametrize(
    ("configuration", "device_check"),
    [("national_id", "key_binding"), ("national_id_mdoc", "device_auth")],
)
def test_credentials_with_keys_in_the_hsm_are_received_and_verified_at_the_counter(
    client: TestClient[Any], configuration: str, device_check: str
) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", configuration, CITIZEN)
    received = phone.receive(offer["offer_uri"], custody="server")
    assert received["credentials"][0]["instances"] == 3
    kinds = _kinds(client, phone)
    assert len(kinds) == 3 and set(kinds.values()) == {IN_HSM}
    # one object in the token, its wrapping key: the holder keys are not kept there
    assert client.app.state.deployment.token.count_objects() == 1

    verdict = _present(client, phone, _approved(phone))
    assert verdict["status"] == "verified", verdict
    passed = {c["check"] for c in verdict["result"]["checks"] if c["passed"]}
    assert any(check.endswith(device_check) for check in passed), passed


def test_keys_in_the_hsm_are_attested_at_its_levels(client: TestClient[Any]) -> None:
    levels = client.get("/wallet/provider").json()["key_attestation_levels"]
    assert levels == {
        "server": {
            "key_storage": ["iso_18045_moderate"],  # IDWALLET_PKCS11_KEY_STORAGE's default
            "user_authentication": ["iso_18045_basic"],
        },
        "device": {},
    }
    # the agency accepts only keys kept at a moderate attack potential or better, and
    # checks each proof's attestation for it: the keys made in the HSM pass
    _requiring(client, KeyAttestationRequirement(key_storage=("iso_18045_moderate",)))
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    assert phone.receive(offer["offer_uri"], custody="server")["status"] == "received"
    assert set(_kinds(client, phone).values()) == {IN_HSM}
    # more than the module is stated to resist is refused before anything is sent
    _requiring(client, KeyAttestationRequirement(key_storage=("iso_18045_high",)))
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    scanned = phone.scan(offer["offer_uri"]).json()["offer"]
    refused = phone.post(f"/wallet/offers/{scanned['offer_id']}/accept", {"custody": "server"})
    assert refused.status_code == 422, refused.text
    assert "key_storage this wallet cannot attest" in refused.json()["error_description"]


def test_keys_made_in_software_before_the_switch_keep_presenting(
    settings: Settings, hsm_settings: Settings
) -> None:
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as before:
        phone = Phone(before)
        phone.register()
        offer = create_offer(before, "civil-registry", "national_id", CITIZEN)
        phone.receive(offer["offer_uri"], custody="server")
        made_in_software = _kinds(before, phone)
        assert set(made_in_software.values()) == {PKCS8}
    with TestClient(app=create_app(hsm_settings), base_url=PUBLIC_BASE_URL) as after:
        phone.client = after
        phone.login()
        for _ in range(2):  # two instances of the batch, each with its software key
            verdict = _present(after, phone, _approved(phone))
            assert verdict["status"] == "verified", verdict
        offer = create_offer(after, "civil-registry", "national_id", CITIZEN, subject="other")
        phone.receive(offer["offer_uri"], custody="server")
        kinds = _kinds(after, phone)
        assert {k: kinds[k] for k in made_in_software} == made_in_software  # unchanged
        assert sorted(kinds.values()) == [IN_HSM] * 3 + [PKCS8] * 3


def _until_back(attempt: Callable[[], Any]) -> Any:
    """``attempt`` again while it answers 503 (the token is retried after its interval)."""
    deadline = time.monotonic() + 15
    while True:
        answer = attempt()
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_with_the_token_away_presenting_answers_503_and_works_once_it_is_back(
    client: TestClient[Any], softhsm: SoftHsm, hsm_token: str
) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(offer["offer_uri"], custody="server")
    waiting = []

    def unavailable(presentation_id: str) -> None:
        answered = phone.post(f"/wallet/presentations/{presentation_id}/approve")
        assert answered.status_code == 503, answered.text
        assert answered.headers["retry-after"].isdigit()
        assert answered.json()["error"] == "temporarily_unavailable"
        waiting.append(presentation_id)

    softhsm.remove(hsm_token)
    try:
        verdict = _present(client, phone, unavailable)
        assert verdict["status"] != "verified"  # nothing was signed, nothing sent
        # a new credential cannot get keys either; the offer stays to be accepted
        offer = create_offer(client, "civil-registry", "national_id", CITIZEN, subject="later")
        scanned = phone.scan(offer["offer_uri"]).json()["offer"]
        accept = f"/wallet/offers/{scanned['offer_id']}/accept"
        refused = phone.post(accept, {"custody": "server"})
        assert refused.status_code == 503, refused.text
    finally:
        softhsm.restore(hsm_token)
    # the same request, approved again, goes through
    approved = _until_back(lambda: phone.post(f"/wallet/presentations/{waiting[0]}/approve"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == "accepted"
    accepted = _until_back(lambda: phone.post(accept, {"custody": "server"}))
    assert accepted.status_code == 200 and accepted.json()["status"] == "received"
    assert client.get("/ready").status_code == 200


def test_online_issuance_and_fresh_batches_use_keys_in_the_hsm(
    client_signed_in: TestClient[Any],
) -> None:
    """The national ID through the authorization code flow (wallet attestation, DPoP, key
    attestations the civil registry checks), shown one copy at a time, renewed by the
    housekeeping with the refresh token: every key of it made and used in the HSM."""
    client = client_signed_in
    phone = Phone(client)
    phone.register()
    outcome = _start(phone, CIVIL, "national_id", custody="server")
    received = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": _browse(client, outcome["authorization_url"])},
    )
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"
    for _ in range(2):
        verdict = _present(client, phone, _approved(phone))
        assert verdict["status"] == "verified", verdict
    with client.portal() as portal:
        assert portal.call(renew_due_credentials, client.app.state.wallet) == 1
    kinds = _kinds(client, phone)
    assert len(kinds) >= 6 and set(kinds.values()) == {IN_HSM}  # both batches
    assert client.app.state.deployment.token.count_objects() == 1
    verdict = _present(client, phone, _approved(phone))  # a copy of the fresh batch
    assert verdict["status"] == "verified", verdict
