"""Our verifier and DeviceResponses it did not make (OpenID4VP 1.0 Appendix B.2.5,
B.2.6.1): the independent oracle (``@owf/mdoc``) presents the mDL and the PID our agencies
issue, in both response modes, to a counter that names itself by ``x509_hash`` (the city
hall) and one that uses ``x509_san_dns`` (the bar); every check is named in the result.
What the oracle spoils on purpose (an element changed after signing, another device key,
another nonce, a broken issuer signature) is refused with 400 ``invalid_request`` and the
transaction fails, with no claim in its result."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.interop import mdoc_oracle
from tests.interop.mdoc_oracle import Tamper
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.verifiers.conftest import client, settings
from tests.verifiers.mdoc_presenter import (
    MDL,
    MDL_NS,
    PID,
    answer,
    device_response,
    issued_mdoc,
    open_request,
    transcript_of,
)
from tests.verifiers.presenter import transaction_status

__all__ = ["client", "settings"]

MDOC_CHECKS = (
    "cbor",
    "structure",
    "trust_chain",
    "issuer_signature",
    "doc_type",
    "digests",
    "validity",
    "device_auth",
    "status",
    "dcql",
)


@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_the_city_hall_verifies_an_mdl_presented_by_the_oracle(
    client: TestClient[Any], response_mode: str
) -> None:
    held = issued_mdoc(client, "transport-agency", "mobile_driving_licence", DRIVER)
    transaction, request = open_request(
        client, "city-hall-counter", "driving_entitlement", response_mode
    )
    assert request.client_id.startswith("x509_hash:")
    [query] = [q for q in request.payload["dcql_query"]["credentials"] if q["format"] == "mso_mdoc"]
    assert query["meta"] == {"doctype_value": MDL}
    presentation = device_response(held, request, "mobile_driving_licence")
    # the oracle itself verifies what it built against the transcript we expect
    verdict = mdoc_oracle.verify_device_response(
        presentation,
        trusted=[client.app.state.deployment.trust_anchor.certificate],
        transcript=transcript_of(request),
        doc_type=MDL,
    )
    assert verdict.ok, verdict.error

    response = answer(client, request, "mobile_driving_licence", presentation)
    assert response.status_code == 200, response.text

    result = transaction_status(client, "city-hall-counter", transaction).json()
    assert result["status"] == "verified", result
    [proved] = result["result"]["credentials"]["mobile_driving_licence"]
    assert proved["format"] == "mso_mdoc" and proved["doctype"] == MDL
    assert proved["issuer_name"] == "Transport Agency"
    assert proved["iss"].endswith("/issuers/transport-agency")
    elements = proved["claims"][MDL_NS]
    assert set(elements) == {"given_name", "family_name", "driving_privileges"}
    assert elements["family_name"] == DRIVER["family_name"]
    assert elements["driving_privileges"][0]["issue_date"] == "1982-09-01"  # full-date as text
    checks = {c["check"]: c["passed"] for c in result["result"]["checks"]}
    for name in MDOC_CHECKS:
        assert checks[f"mobile_driving_licence: {name}"] is True, (name, checks)
    assert checks["dcql"] is True


@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_the_bar_verifies_the_age_from_a_pid_mdoc(
    client: TestClient[Any], response_mode: str
) -> None:
    held = issued_mdoc(client, "civil-registry", "national_id_mdoc", CITIZEN)
    transaction, request = open_request(client, "bar-age-check", "age_over_18", response_mode)
    assert request.client_id.startswith("x509_san_dns:")
    presentation = device_response(held, request, "national_id_mdoc")
    response = answer(client, request, "national_id_mdoc", presentation)
    assert response.status_code == 200, response.text
    result = transaction_status(client, "bar-age-check", transaction).json()
    assert result["status"] == "verified", result
    [proved] = result["result"]["credentials"]["national_id_mdoc"]
    assert proved["claims"] == {PID: {"age_over_18": True}}
    assert proved["issuer_name"] == "Civil Registry"


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        ("element_value", "digests"),
        ("other_device_key", "device_auth"),
        ("other_nonce", "device_auth"),
        ("issuer_signature", "issuer_signature"),
    ],
)
@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_what_the_oracle_spoils_is_refused(
    client: TestClient[Any], tamper: Tamper, check: str, response_mode: str
) -> None:
    held = issued_mdoc(client, "transport-agency", "mobile_driving_licence", DRIVER)
    transaction, request = open_request(
        client, "city-hall-counter", "driving_entitlement", response_mode
    )
    presentation = device_response(held, request, "mobile_driving_licence", tamper=tamper)
    response = answer(client, request, "mobile_driving_licence", presentation)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_description"].startswith(f"mobile_driving_licence: {check}:"), body
    result = transaction_status(client, "city-hall-counter", transaction).json()
    assert result["status"] == "failed"
    assert "credentials" not in result["result"]
    [failed] = [c for c in result["result"]["checks"] if not c["passed"]]
    assert failed["check"] == f"mobile_driving_licence: {check}"
