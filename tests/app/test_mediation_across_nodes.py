"""Assisted access (docs/mediators.md) on two ``idwallet serve`` nodes sharing one
PostgreSQL database: a mediator registered with ``idwallet mediator add`` on the shared
database; one help code taken by citizens on both nodes at once starts one mediation; the
citizen ends it on one node and the mediator's next action is refused on the other."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import backend_url, migrated_database
from tests.support.server import RunningServer, free_port, running_server
from tests.wallet.phone import Phone

pytestmark = pytest.mark.postgres


def _mediator(server: RunningServer) -> dict[str, str]:
    def idwallet(*args: str) -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "mediator", *args],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, str] = json.loads(done.stdout)
        return answer

    idwallet(
        "add-space",
        "--space",
        "france-services-lyon",
        "--name",
        "France Services Lyon",
        "--languages",
        "fr,en",
    )
    key = idwallet(
        "add",
        "--mediator",
        "claire-martin",
        "--space",
        "france-services-lyon",
        "--name",
        "Claire Martin",
        "--languages",
        "fr",
    )["mediator_key"]
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "mediator", "list"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [space] = [s for s in json.loads(done.stdout) if s["space"] == "france-services-lyon"]
    assert space["mediators"] == [
        {"mediator": "claire-martin", "name": "Claire Martin", "languages": ["fr"]}
    ]
    assert key not in done.stdout  # the key is shown once, when made
    return {"Authorization": f"Bearer {key}"}


def test_one_code_one_mediation_and_the_end_reaches_every_node(
    var_dir: Path, tmp_path: Path
) -> None:
    url = migrated_database(backend_url("postgresql", tmp_path))
    port_a, port_b = free_port(), free_port()
    shared = {
        "IDWALLET_DATABASE_URL": url,
        "IDWALLET_PUBLIC_BASE_URL": f"http://127.0.0.1:{port_a}",
    }
    with (
        running_server(var_dir, IDWALLET_PORT=str(port_a), **shared) as a,
        running_server(var_dir, IDWALLET_PORT=str(port_b), **shared) as b,
        httpx.Client(base_url=a.base_url, timeout=30) as node_a,
        httpx.Client(base_url=b.base_url, timeout=30) as node_b,
    ):
        mediator = _mediator(a)
        citizens = [Phone(node_a) for _ in range(8)]
        for citizen in citizens:
            citizen.register()  # device proofs name the public origin, node A's
        for citizen in citizens[::2]:
            citizen.client = node_b  # half of them consent on node B
        request = node_a.post("/mediator/api/help-requests", headers=mediator).json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda c: c.post("/wallet/mediations", {"code": request["code"]}).status_code,
                    citizens,
                )
            )
        assert sorted(answers) == [201] + [404] * 7
        winner = citizens[answers.index(201)]
        token = {"Authorization": f"Bearer {request['mediation_token']}"}
        assert node_a.get("/wallet/credentials", headers=token).status_code == 200
        assert node_b.get("/wallet/credentials", headers=token).status_code == 200
        status = node_b.get(
            f"/mediator/api/help-requests/{request['request_id']}", headers=mediator
        )
        assert status.json()["status"] == "consented"

        [live] = winner.get("/wallet/mediations").json()["mediations"]
        assert winner.delete(f"/wallet/mediations/{live['mediation_id']}").status_code == 204
        for node in (node_a, node_b, node_a, node_b):
            refused = node.get("/wallet/activity", headers=token)
            assert refused.status_code == 401, refused.text
