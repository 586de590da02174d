"""An app in this process behind an ``httpx.AsyncClient``, for tests that send many
requests at once, and the agency's offer over that client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar

from app.settings import Settings
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT
from tests.support.write_load import operator_headers


@asynccontextmanager
async def concurrent_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` started (its lifespan) and a client whose requests may run concurrently."""
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE_URL
        ) as client,
    ):  # type: ignore[attr-defined]
        yield client


async def national_id_offer(
    client: httpx.AsyncClient, settings: Settings, *, subject_id: str, tx_code: bool
) -> tuple[str, str | None]:
    """The civil registry's offer of a national ID: its pre-authorized code and tx_code."""
    response = await client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": subject_id,
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "tx_code": tx_code,
        },
        headers=operator_headers(settings.var_dir, "civil-registry"),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    code: str = created["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    return code, created["tx_code"]
