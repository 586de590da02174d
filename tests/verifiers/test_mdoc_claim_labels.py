"""What each proven mdoc element means: the verifier reads the labels of a verified mdoc's
elements from its issuer's Credential Issuer Metadata (OpenID4VCI 1.0 §12.2, Appendix
A.2.2), the issuer named by the document signer certificate's URI, and puts them in the
result beside the claims. When the metadata cannot be used (another issuer, too big, not
JSON, unreachable), the mdoc still verifies and the counter falls back to the element
identifiers; the metadata is fetched once while it may be cached.

The mdocs are our agencies', held and shown by the citizen's phone (``tests.wallet.phone``)
as in ``tests.wallet.test_mdoc_at_our_counters``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from core.http.client import OutboundClient
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone
from verifiers.services.read_mdoc_labels import MAX_ISSUER_METADATA_BYTES, MdocClaimLabels
from verifiers.services.validate_presentation import PresentationValidator, StatusListCache

PID = "eu.europa.ec.eudi.pid.1"
MDL_NS = "org.iso.18013.5.1"
TRANSPORT_METADATA = "/.well-known/openid-credential-issuer/issuers/transport-agency"


def _holding(client: TestClient[Any], issuer: str, configuration: str, claims: Any) -> Phone:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, issuer, configuration, claims)
    received = phone.receive(offer["offer_uri"], custody="device")
    assert received["credentials"][0]["credential_configuration_id"] == configuration
    return phone


def _shown(client: TestClient[Any], phone: Phone, verifier: str, template: str) -> dict[str, Any]:
    """The one credential the phone shows the counter, as the verified result has it."""
    created = create_request(client, verifier, template=template)
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert consent["satisfiable"] is True, consent
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    status = transaction_status(client, verifier, created["transaction_id"]).json()
    assert status["status"] == "verified", status
    [presentations] = status["result"]["credentials"].values()
    [shown] = presentations
    assert shown["format"] == "mso_mdoc"
    return dict(shown)


def _labels(shown: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, str]]:
    return {
        tuple(e["path"]): {d["locale"]: d["label"] for d in e["display"]}
        for e in shown["claim_labels"]
    }


def _served_labels(client: TestClient[Any], path: str) -> dict[tuple[Any, ...], dict[str, str]]:
    """The claim display of every configuration in an agency's metadata, by path."""
    metadata = client.get(path).json()
    return {
        tuple(claim["path"]): {d["locale"]: d["name"] for d in claim["display"]}
        for configuration in metadata["credential_configurations_supported"].values()
        for claim in configuration["credential_metadata"].get("claims", [])
        if configuration["format"] == "mso_mdoc"
    }


def test_the_pid_mdoc_at_the_bar_is_labelled_in_every_language(client: TestClient[Any]) -> None:
    phone = _holding(client, "civil-registry", "national_id_mdoc", CITIZEN)
    shown = _shown(client, phone, "bar-age-check", "age_over_18")
    assert shown["claims"] == {PID: {"age_over_18": True}}  # the claims themselves, unchanged
    assert shown["iss"] == f"{PUBLIC_BASE_URL}/issuers/civil-registry"
    # only the proven element is labelled, in every language its issuer gives
    assert _labels(shown) == {
        (PID, "age_over_18"): {"en": "Aged 18 or over", "de": "Volljährig", "fr": "Majeur"}
    }


def test_the_mobile_driving_licence_elements_are_labelled(client: TestClient[Any]) -> None:
    phone = _holding(client, "transport-agency", "mobile_driving_licence", DRIVER)
    shown = _shown(client, phone, "city-hall-counter", "driving_entitlement")
    elements = {(MDL_NS, element) for element in shown["claims"][MDL_NS]}
    assert elements == {
        (MDL_NS, "given_name"),
        (MDL_NS, "family_name"),
        (MDL_NS, "driving_privileges"),
    }
    served = _served_labels(client, TRANSPORT_METADATA)
    assert _labels(shown) == {path: served[path] for path in elements}
    assert _labels(shown)[(MDL_NS, "family_name")]["en"] == "Family name"
    assert _labels(shown)[(MDL_NS, "family_name")]["de"] == "Nachname"


Handler = Callable[[httpx.Request], httpx.Response]


def _metadata_served_by(client: TestClient[Any], handler: Handler) -> list[str]:
    """From now on the counters read issuer metadata from ``handler`` (through the
    deployment's guarded outbound client), everything else as before; the paths asked for
    are returned as they are asked for."""
    asked: list[str] = []

    def counted(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return handler(request)

    outbound = OutboundClient(local={PUBLIC_BASE_URL: httpx.MockTransport(counted)})
    client.app.state.presentation_validator = PresentationValidator(
        client.app.state.verifiers,
        StatusListCache(),
        mdoc_labels=MdocClaimLabels(outbound, own_origin=PUBLIC_BASE_URL),
    )
    return asked


def _json(document: Any, *, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", **headers},
    )


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no route to the issuer", request=request)


def _unusable(served: dict[str, Any]) -> dict[str, Handler]:
    """Each a publisher whose answer for the agency's metadata gives no labels."""
    return {
        "another issuer": lambda _: _json(
            {**served, "credential_issuer": "https://elsewhere.example/issuers/transport-agency"}
        ),
        "too big": lambda _: httpx.Response(
            200,
            content=json.dumps(served).encode() + b" " * MAX_ISSUER_METADATA_BYTES,
            headers={"Content-Type": "application/json"},
        ),
        "not JSON": lambda _: httpx.Response(
            200, content=b"<html>metadata</html>", headers={"Content-Type": "application/json"}
        ),
        "not JSON by its media type": lambda _: httpx.Response(
            200, content=json.dumps(served).encode(), headers={"Content-Type": "text/html"}
        ),
        "not metadata": lambda _: _json({"credential_issuer": served["credential_issuer"]}),
        "a server error": lambda _: _json(served, status=500),
        "unreachable": _unreachable,
    }


def test_unusable_issuer_metadata_gives_no_labels_and_the_mdoc_still_verifies(
    client: TestClient[Any],
) -> None:
    phone = _holding(client, "transport-agency", "mobile_driving_licence", DRIVER)
    served = client.get(TRANSPORT_METADATA).json()
    for case, handler in _unusable(served).items():
        asked = _metadata_served_by(client, handler)
        shown = _shown(client, phone, "city-hall-counter", "driving_entitlement")
        assert shown["claims"][MDL_NS]["family_name"] == DRIVER["family_name"], case
        assert shown["claim_labels"] == [], case
        assert asked == [TRANSPORT_METADATA], case  # it was asked, and only there


@pytest.mark.parametrize(
    ("cache_control", "fetches"), [("public, max-age=300", 1), ("no-store", 2)]
)
def test_the_issuer_metadata_is_cached_as_http_caching_allows(
    client: TestClient[Any], cache_control: str, fetches: int
) -> None:
    phone = _holding(client, "transport-agency", "mobile_driving_licence", DRIVER)
    served = client.get(TRANSPORT_METADATA).json()
    asked = _metadata_served_by(client, lambda _: _json(served, **{"Cache-Control": cache_control}))
    for _ in range(2):
        shown = _shown(client, phone, "city-hall-counter", "driving_entitlement")
        assert _labels(shown)[(MDL_NS, "family_name")]["de"] == "Nachname"
    assert asked == [TRANSPORT_METADATA] * fetches
