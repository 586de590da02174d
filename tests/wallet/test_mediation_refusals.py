"""The 403 a mediator's token gets (docs/mediators.md, ``not_allowed_in_mediation``), as the
OpenAPI document says and as the server answers, on SQLite and PostgreSQL: every citizen
mobile operation the document marks with it refuses a live mediation token with that
problem; the operations a mediation may do are not marked, save accepting an offer with
holder keys on the device and presenting to a verifier that identifies the citizen for an
issuance (or whose registration cannot be verified); each marked answer has an example that fits its schema."""

from __future__ import annotations

import json
import re
from typing import Any

from litestar.testing import TestClient

from tests.contract.fuzz import DOCUMENT
from tests.contract.test_document_examples import _problems
from tests.wallet.test_mediation import _as, _mediated
from wallet.services.mediation_messages import (
    DEVICE_CUSTODY_IN_MEDIATION,
    NOT_IN_MEDIATION,
    PRESENTATION_IN_MEDIATION,
)

_DOCUMENT: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
_PROBLEM = "application/problem+json"


def _refused_in_mediation() -> dict[tuple[str, str], dict[str, Any]]:
    """The mobile operations whose 403 is the mediation refusal: its content by operation."""
    return {
        (method.upper(), path): operation["responses"]["403"]["content"][_PROBLEM]
        for path, item in _DOCUMENT["paths"].items()
        if path.startswith("/wallet/")
        for method, operation in item.items()
        if isinstance(operation, dict)
        and _PROBLEM in operation.get("responses", {}).get("403", {}).get("content", {})
    }


def test_the_document_marks_what_a_mediation_may_not_do() -> None:
    refused = _refused_in_mediation()
    may = {
        ("POST", "/wallet/offers"),
        ("POST", "/wallet/presentations/{presentation_id}/decline"),
        ("GET", "/wallet/credentials"),
        ("GET", "/wallet/activity"),
    }
    assert not may & set(refused)
    for never in [
        ("DELETE", "/wallet/account"),
        ("POST", "/wallet/devices"),
        ("DELETE", "/wallet/credentials/{credential_id}"),
        ("GET", "/wallet/credentials/{credential_id}"),
        ("GET", "/wallet/activity/export"),
        ("POST", "/wallet/mediations"),
        ("DELETE", "/wallet/mediations/{mediation_id}"),
        ("POST", "/wallet/offers/{offer_id}/accept"),
    ]:
        assert never in refused, never
    for (method, path), content in refused.items():
        assert content["schema"] == {"$ref": "#/components/schemas/MediationRefusal"}
        examples = [shown["value"] for shown in content["examples"].values()]
        assert examples, f"{method} {path}"
        for example in examples:
            assert example["error"] == "not_allowed_in_mediation"
            assert not _problems("MediationRefusal", example), f"{method} {path}"
    accept = refused[("POST", "/wallet/offers/{offer_id}/accept")]
    [example] = accept["examples"].values()
    assert example["value"]["detail"] == DEVICE_CUSTODY_IN_MEDIATION
    # presenting is refused only for a request that serves an issuance or is unregistered
    for presenting in _REFUSED_FOR_THE_REQUEST:
        [example] = refused[("POST", presenting)]["examples"].values()
        assert example["value"]["detail"] == PRESENTATION_IN_MEDIATION


#: Where a mediation is refused for what the presentation request is (test_mediation_guard).
_REFUSED_FOR_THE_REQUEST = (
    "/wallet/scans",
    "/wallet/presentations",
    "/wallet/presentations/{presentation_id}/approve",
)


def test_every_marked_operation_refuses_a_mediation_token(client: TestClient[Any]) -> None:
    phone, _, request = _mediated(client)
    for (method, path), _content in sorted(_refused_in_mediation().items()):
        if path in _REFUSED_FOR_THE_REQUEST:
            continue
        url = re.sub(r"\{[a-z_]+\}", "x", path)
        body = {"custody": "device"} if path.endswith("/accept") else {}
        answer = client.request(
            method,
            url,
            headers=_as(request),
            json=body if method in ("POST", "PUT") else None,
        )
        assert answer.status_code == 403, f"{method} {path}: {answer.text}"
        assert answer.headers["content-type"].startswith(_PROBLEM), f"{method} {path}"
        refusal = answer.json()
        assert refusal["error"] == "not_allowed_in_mediation", f"{method} {path}"
        assert not _problems("MediationRefusal", refusal), f"{method} {path}"
        if not path.endswith("/accept"):
            assert refusal["detail"] == NOT_IN_MEDIATION
    # the citizen's own session is not refused there
    assert phone.get("/wallet/mediations").status_code == 200
