"""What each proven claim means: the verifier reads the claim labels of a presented
credential's SD-JWT VC Type Metadata (§5.6.2) at verification time and puts them in the
result beside the claims; when the Type Metadata cannot be had, the presentation still
verifies and the counter falls back to the claim names."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from litestar.testing import TestClient

from core.sdjwt.disclosures import digest
from tests.issuers.test_catalog import CITIZEN
from tests.verifiers.presenter import (
    create_request,
    disclose_for,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.stand_in_issuer import forged
from tests.verifiers.test_presentation import NATIONAL_ID_VCT, issued, requested_paths
from tests.verifiers.test_security_cases import AGE, VERIFIER, _answer, _kb, _payload, _start


def _served_labels(client: TestClient[Any], vct: str) -> dict[tuple[Any, ...], list[Any]]:
    """The issuer's Type Metadata as served at its ``vct`` URL: claim display per path."""
    document = client.get(vct).json()
    return {tuple(c["path"]): c["display"] for c in document["claims"] if "display" in c}


def _proved(client: TestClient[Any], verifier_id: str, transaction_id: str) -> dict[str, Any]:
    result = transaction_status(client, verifier_id, transaction_id).json()
    assert result["status"] == "verified", result
    proved: dict[str, Any] = result["result"]["credentials"]["national_id"][0]
    return proved


def _labels_by_path(proved: dict[str, Any]) -> dict[tuple[Any, ...], list[Any]]:
    return {tuple(entry["path"]): entry["display"] for entry in proved["claim_labels"]}


def test_a_verified_result_carries_the_issuers_labels_in_every_locale(
    client: TestClient[Any],
) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    paths = requested_paths(request.payload, "national_id")
    response = respond(
        client,
        request,
        {"national_id": [present(credential, holder, request, disclose_for(paths))]},
    )
    assert response.status_code == 200, response.text

    proved = _proved(client, "bar-age-check", created["transaction_id"])
    assert proved["claims"] == {"age_over_18": True}  # the claims themselves, unchanged
    served = _served_labels(client, NATIONAL_ID_VCT)
    assert _labels_by_path(proved) == {("age_over_18",): served[("age_over_18",)]}
    by_locale = {d["locale"]: d["label"] for d in proved["claim_labels"][0]["display"]}
    assert by_locale == {"en": "Aged 18 or over", "de": "Volljährig", "fr": "Majeur"}


def test_nested_claims_get_their_own_labels(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "city-hall-counter", template="address")
    request = fetch_request(client, created["uri"])
    paths = requested_paths(request.payload, "national_id")
    response = respond(
        client,
        request,
        {"national_id": [present(credential, holder, request, disclose_for(paths))]},
    )
    assert response.status_code == 200, response.text

    proved = _proved(client, "city-hall-counter", created["transaction_id"])
    assert proved["claims"] == {"address": CITIZEN["address"]}
    served = _served_labels(client, NATIONAL_ID_VCT)
    expected = {("address",)} | {("address", name) for name in CITIZEN["address"]}
    assert _labels_by_path(proved) == {path: served[path] for path in expected}
    street = dict(
        (d["locale"], d["label"]) for d in _labels_by_path(proved)[("address", "street_address")]
    )
    assert street["de"] == "Straße"


def _integrity(document: bytes, algorithm: str = "sha256") -> str:
    digest_value = hashlib.new(algorithm, document).digest()
    return f"{algorithm}-{base64.b64encode(digest_value).decode()}"


def _verified_with(client: TestClient[Any], **claims: Any) -> dict[str, Any]:
    """A stand-in credential (``age_over_18`` disclosed) with extra plain claims, presented
    to the bar; it must verify whatever its Type Metadata turns out to be."""
    created, request = _start(client)
    sd_jwt = forged(_payload(_sd=[digest(AGE)], **claims), [AGE])
    response = respond(client, request, _answer(_kb(sd_jwt, request)))
    assert response.status_code == 200, response.text
    return _proved(client, VERIFIER, created["transaction_id"])


def test_vct_integrity_that_matches_the_served_document_gives_labels(
    client: TestClient[Any],
) -> None:
    document = client.get(NATIONAL_ID_VCT).content
    proved = _verified_with(client, **{"vct#integrity": _integrity(document, "sha384")})
    assert _labels_by_path(proved) == {
        ("age_over_18",): _served_labels(client, NATIONAL_ID_VCT)[("age_over_18",)]
    }


def test_type_metadata_that_fails_its_integrity_still_verifies_with_the_names(
    client: TestClient[Any],
) -> None:
    """§6: a document that does not match ``vct#integrity`` is not processed at all; the
    presentation is as valid as before, and the counter shows the claim names."""
    for integrity in (
        _integrity(b"another document"),
        "md5-" + base64.b64encode(hashlib.md5(b"x").digest()).decode(),
        "not integrity metadata",
    ):
        proved = _verified_with(client, **{"vct#integrity": integrity})
        assert proved["claims"] == {"age_over_18": True}
        assert proved["claim_labels"] == []
