"""Two ``idwallet serve`` processes on different ports sharing one PostgreSQL database and
one deployment (the same var/: key-encryption key, trust anchor, operator keys), as two
nodes behind a load balancer: every flow works when its steps land on different nodes.
No protocol state lives in one process's memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import backend_url, migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.invariants import assert_invariants
from tests.support.server import free_port, running_server
from tests.verifiers.presenter import fetch_request, present, respond
from tests.wallet.phone import Phone

pytestmark = pytest.mark.postgres


def _keys(var_dir: Path) -> dict[str, str]:
    keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
    return keys


def test_every_flow_across_two_nodes(var_dir: Path, tmp_path: Path) -> None:
    url = migrated_database(backend_url("postgresql", tmp_path))
    port_a, port_b = free_port(), free_port()
    public = f"http://127.0.0.1:{port_a}"  # what wallets see, whichever node answers
    shared = {"IDWALLET_DATABASE_URL": url, "IDWALLET_PUBLIC_BASE_URL": public}
    with (
        running_server(var_dir, IDWALLET_PORT=str(port_a), **shared) as a,
        running_server(var_dir, IDWALLET_PORT=str(port_b), **shared) as b,
        httpx.Client(base_url=a.base_url, timeout=30) as node_a,
        httpx.Client(base_url=b.base_url, timeout=30) as node_b,
    ):
        keys = _keys(var_dir)
        issuer = {"Authorization": f"Bearer {keys['civil-registry']}"}

        # issuance: the offer made and redeemed on A, the nonce and the credential on B
        created = node_a.post(
            "/issuers/civil-registry/offers",
            json={
                "subject_id": "two-nodes",
                "credential_configuration_id": "national_id",
                "claims": CITIZEN,
            },
            headers=issuer,
        ).json()
        on_a, on_b = Wallet(node_a), Wallet(node_b)  # type: ignore[arg-type]
        offer = read_offer(node_b, created["offer_uri"])  # type: ignore[arg-type]
        token = on_a.token(offer)
        assert token.status_code == 200, token.text
        metadata = on_b.metadata(offer["credential_issuer"])
        holder = on_b.new_holder()
        response = on_b.credential(
            metadata,
            token.json()["access_token"],
            {
                "credential_configuration_id": "national_id",
                "proofs": {
                    "jwt": [proof(holder, offer["credential_issuer"], on_b.nonce(metadata))]
                },
            },
        )
        assert response.status_code == 200, response.text
        credential = response.json()["credentials"][0]["credential"]
        again = on_a.token(offer)  # the code was used on A: B's use of it stands alone
        assert again.status_code == 400

        # verification: the request made on A, its request object fetched from B, the
        # answer posted to A, the result read on B
        counter = {"Authorization": f"Bearer {keys['bar-age-check']}"}
        asked = node_a.post(
            "/verifiers/bar-age-check/presentations",
            json={"template": "age_over_18"},
            headers=counter,
        ).json()
        anchor_client: Any = node_b
        request = fetch_request(anchor_client, asked["uri"], anchor=_anchor(var_dir))
        answer = present(credential, holder, request, {"age_over_18": True})
        posted = respond(node_a, request, {"national_id": [answer]})  # type: ignore[arg-type]
        assert posted.status_code == 200, posted.text
        result = node_b.get(
            f"/verifiers/bar-age-check/presentations/{asked['transaction_id']}", headers=counter
        ).json()
        assert result["status"] == "verified"

        # the citizen: registered and logged in on A, presenting through B, the activity on A
        phone_a, phone_b = Phone(node_a), Phone(node_b)
        phone_a.register()
        created = node_b.post(
            "/issuers/civil-registry/offers",
            json={
                "subject_id": "two-nodes-2",
                "credential_configuration_id": "national_id",
                "claims": CITIZEN,
            },
            headers=issuer,
        ).json()
        phone_a.receive(created["offer_uri"])
        phone_b.access_token = phone_a.access_token
        asked = node_b.post(
            "/verifiers/bar-age-check/presentations",
            json={"template": "age_over_18"},
            headers=counter,
        ).json()
        consent = phone_b.scan(asked["uri"]).json()["presentation"]
        assert phone_a.approve(consent["presentation_id"])["outcome"] == "accepted"
        result = node_a.get(
            f"/verifiers/bar-age-check/presentations/{asked['transaction_id']}", headers=counter
        ).json()
        assert result["status"] == "verified"
        kinds = [e["kind"] for e in phone_b.get("/wallet/activity").json()["activity"]]
        assert kinds[0] == "presentation_sent"
        refreshed = node_b.post(
            "/wallet/sessions/refresh", json={"refresh_token": phone_a.refresh_token}
        )
        assert refreshed.status_code == 200
        replayed = node_a.post(
            "/wallet/sessions/refresh", json={"refresh_token": phone_a.refresh_token}
        )
        assert replayed.status_code == 400  # rotation is shared state, not one node's memory
    assert_invariants(url)


def _anchor(var_dir: Path) -> Any:
    from cryptography import x509

    from app.bootstrap import ANCHOR_CERT_FILE

    return x509.load_pem_x509_certificate((var_dir / ANCHOR_CERT_FILE).read_bytes())
