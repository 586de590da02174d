"""IDWALLET_STATUS_LIST_SIZE: new status lists have the configured number of indices, the
published list decodes to that capacity, and a list takes credentials only until half
of its indices are used before the next one opens."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit

from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode
from core.status_list.bits import StatusList
from issuers.storage.grant_work import PLACE_BLOCK
from tests.issuers.conftest import PUBLIC_BASE_URL, without_rate_limits
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet

SIZE = 256  # below the operators' floor of 1,024, to fill a list quickly


def _status(credential: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(b64url_decode(credential.split(".")[1]))["status"][
        "status_list"
    ]
    return status


def test_new_lists_have_the_configured_size(settings: Settings) -> None:
    # 129 issuances from one client: more than the token endpoint's limit allows a minute
    sized = dataclasses.replace(without_rate_limits(settings), status_list_size=SIZE)
    with TestClient(app=create_app(sized), base_url=PUBLIC_BASE_URL) as client:
        lists: set[str] = set()
        # half of the list in blocks of PLACE_BLOCK, then one more block opens the next list
        for n in range(SIZE // 2 // PLACE_BLOCK + 1):
            for _ in range(PLACE_BLOCK if n < SIZE // 2 // PLACE_BLOCK else 1):
                _, issued, _ = Wallet(client).receive(
                    create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"]
                )
                status = _status(issued[0])
                lists.add(status["uri"])
                assert 0 <= status["idx"] < SIZE
            if n == 0:
                token = client.get(urlsplit(status["uri"]).path).text
                payload = json.loads(b64url_decode(token.split(".")[1]))
                assert StatusList.from_json(payload["status_list"]).capacity == SIZE
        assert len(lists) == 2
