"""An Alembic upgrade of a populated database from the previous schema (0004, before the
citizen wallet store), on SQLite and PostgreSQL: a node fills the database with issued,
revoked and pending things, the schema is taken back to 0004 (dropping only what 0005
added, leaving the issuer's and verifier's rows as the previous release wrote them),
and a node of this release starts on it. Its start-up upgrade keeps every row; earlier
credentials can still be revoked and show so on their status list, the counter's
earlier request still answers, and the new wallet tables work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from alembic.script import ScriptDirectory

from app.migrate import alembic_config, downgrade
from core.encoding import b64url_decode
from core.status_list.bits import StatusList
from tests.conftest import backend_url, migrated_database
from tests.issuers.wallet import Wallet
from tests.support.invariants import assert_invariants, count_rows
from tests.support.server import free_port, running_server
from tests.support.write_load import offer_national_id, operator_headers
from tests.wallet.phone import Phone

TABLES = ("issuer_offers", "issuer_credentials", "issuer_status_lists", "verifier_transactions")


def _counts(url: str) -> dict[str, int]:
    return {table: count_rows(url, f"SELECT count(*) FROM {table}") for table in TABLES}


def _issue(http: httpx.Client, var_dir: Path, subject: str) -> dict[str, Any]:
    created = offer_national_id(http, var_dir, subject)
    _, credentials, _ = Wallet(http).receive(created["offer_uri"])  # type: ignore[arg-type]
    status: dict[str, Any] = json.loads(b64url_decode(credentials[0].split(".")[1]))["status"][
        "status_list"
    ]
    return status


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_upgrade_from_0004_keeps_and_serves_the_data(
    backend: str, tmp_path: Path, var_dir: Path
) -> None:
    url = migrated_database(backend_url(backend, tmp_path))
    port = free_port()  # the same public URLs before and after
    env = {"IDWALLET_DATABASE_URL": url, "IDWALLET_PORT": str(port)}
    with (
        running_server(var_dir, **env) as node,
        httpx.Client(base_url=node.base_url, timeout=30) as http,
    ):
        kept = _issue(http, var_dir, "before-upgrade-1")
        later_revoked = _issue(http, var_dir, "before-upgrade-2")
        assert (
            http.post(
                "/issuers/civil-registry/credentials/revoke",
                json={"subject_id": "before-upgrade-1", "reason": "before the upgrade"},
                headers=operator_headers(var_dir, "civil-registry"),
            ).status_code
            == 200
        )
        asked = http.post(
            "/verifiers/bar-age-check/presentations",
            json={"template": "age_over_18"},
            headers=operator_headers(var_dir, "bar-age-check"),
        ).json()
    before = _counts(url)

    downgrade(url, "0004")
    assert count_rows(url, "SELECT count(*) FROM alembic_version WHERE version_num = '0004'") == 1
    assert _counts(url) == before

    with (
        running_server(var_dir, **env) as node,
        httpx.Client(base_url=node.base_url, timeout=30) as http,
    ):  # its start-up migrates to head
        assert _counts(url) == before
        assert (
            http.post(
                "/issuers/civil-registry/credentials/revoke",
                json={
                    "status_uri": later_revoked["uri"],
                    "status_idx": later_revoked["idx"],
                    "reason": "after the upgrade",
                },
                headers=operator_headers(var_dir, "civil-registry"),
            ).status_code
            == 200
        )
        token = http.get(urlsplit(kept["uri"]).path).text
        bits = StatusList.from_json(json.loads(b64url_decode(token.split(".")[1]))["status_list"])
        assert bits.get(kept["idx"]) == 1 and bits.get(later_revoked["idx"]) == 1
        view = http.get(
            "/issuers/civil-registry/subjects/before-upgrade-2",
            headers=operator_headers(var_dir, "civil-registry"),
        ).json()
        assert [c["status"] for c in view["credentials"]] == ["revoked"]
        pending = http.get(
            f"/verifiers/bar-age-check/presentations/{asked['transaction_id']}",
            headers=operator_headers(var_dir, "bar-age-check"),
        )
        assert pending.status_code == 200 and pending.json()["status"] in ("waiting", "expired")
        phone = Phone(http)
        phone.register()
        assert phone.get("/wallet/credentials").status_code == 200
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert (
        count_rows(url, f"SELECT count(*) FROM alembic_version WHERE version_num = '{head}'") == 1
    )
    assert_invariants(url)
