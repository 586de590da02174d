"""The wallet presents an mdoc our agency issued (OpenID4VP 1.0 Appendix B.2) to the
stand-in verifier, through the mobile API, on SQLite and PostgreSQL: the consent view
lists the requested elements (and what the verifier says it keeps); the ``vp_token`` is
``{query_id: [DeviceResponse]}`` with only the elements asked for and agreed; DeviceAuth
is signed by the held key, here (server-held) or by the phone from a signing request
(``encoding: base64url``, the COSE ``Sig_structure``); the SessionTranscript is the one
of the request answered, with the verifier's encryption key for ``direct_post.jwt``. The
DeviceResponse is checked here with ``core.mdoc.verify_device_response`` against the
transcript built from the request; ``tests/interop/test_mdoc_wallet.py`` checks it with
an implementation we did not write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from core.encoding import b64url_decode
from core.mdoc import openid4vp_session_transcript, verify_device_response
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from core.mdoc.errors import MdocError
from tests.issuers.test_catalog import DRIVER
from tests.issuers.test_issuance import create_offer
from tests.wallet.mdoc_verifier import Answer, MdocVerifier, mdoc_query
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import StandIns, running_stand_ins, settings_with_stand_ins


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    return settings


@pytest.fixture
def verifier(stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch) -> MdocVerifier:
    return MdocVerifier(stand_ins, monkeypatch)


def holding_mdl(client: TestClient[Any], custody: str) -> Phone:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "transport-agency", "mobile_driving_licence", DRIVER)
    phone.receive(offer["offer_uri"], custody=custody)
    return phone


def transcript_of(answer: Answer) -> bytes:
    return openid4vp_session_transcript(
        client_id=answer.client_id,
        nonce=answer.nonce,
        response_uri=answer.response_uri,
        encryption_jwk=answer.encryption_jwk,
    )


def anchor(client: TestClient[Any]) -> Any:
    return client.app.state.deployment.trust_anchor.certificate


@pytest.mark.parametrize("custody", ["server", "device"])
@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_only_the_requested_elements_are_presented(
    client: TestClient[Any], verifier: MdocVerifier, custody: str, response_mode: str
) -> None:
    phone = holding_mdl(client, custody)
    uri, request_id = verifier.request(mdoc_query(), response_mode)
    scanned = phone.scan(uri)
    assert scanned.status_code == 201, scanned.text
    consent = scanned.json()["presentation"]
    [asked] = consent["requests"]
    assert asked["format"] == "mso_mdoc" and asked["types"] == [MDL_DOC_TYPE]
    assert [c["path"] for c in asked["claims"]] == [
        [MDL_NAMESPACE, "family_name"],
        [MDL_NAMESPACE, "age_over_18"],
    ]
    assert consent["satisfiable"] is True and len(asked["candidates"]) == 1

    approved = phone.post(f"/wallet/presentations/{consent['presentation_id']}/approve")
    assert approved.status_code == 200, approved.text
    result = approved.json()
    if custody == "device":
        assert result["status"] == "signatures_needed"
        [signing] = result["signing_requests"]
        assert (signing["encoding"], signing["format"]) == ("base64url", "mso_mdoc")
        assert signing["query_id"] == "mdl"
        assert b64url_decode(signing["signing_input"])[:1] == b"\x84"  # Sig_structure: 4 items
        completed = phone.post(
            f"/wallet/presentations/{consent['presentation_id']}/complete",
            {"signatures": phone.sign_requests(result["signing_requests"])},
        )
        assert completed.status_code == 200, completed.text
        result = completed.json()
    assert result["outcome"] == "accepted", result

    answer = verifier.answers[request_id]
    assert answer.parameters["state"] == verifier.stand_ins.requests[request_id]["state"]
    assert (answer.encryption_jwk is not None) is (response_mode == "direct_post.jwt")
    [token] = answer.vp_token["mdl"]
    verified = verify_device_response(
        token, session_transcript=transcript_of(answer), trust=[anchor(client)]
    )
    [document] = verified.documents
    assert document.doc_type == MDL_DOC_TYPE
    assert document.claims == {
        MDL_NAMESPACE: {"family_name": DRIVER["family_name"], "age_over_18": True}
    }
    activity = phone.get("/wallet/activity").json()["activity"]
    assert activity[0]["kind"] == "presentation_sent"


def test_the_device_response_is_bound_to_the_request(
    client: TestClient[Any], verifier: MdocVerifier
) -> None:
    """Another nonce, or the unencrypted transcript for an encrypted response, fails."""
    phone = holding_mdl(client, "server")
    uri, request_id = verifier.request(mdoc_query(), "direct_post.jwt")
    consent = phone.scan(uri).json()["presentation"]
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    answer = verifier.answers[request_id]
    [token] = answer.vp_token["mdl"]
    for wrong in (
        Answer(answer.parameters, answer.client_id, "another", answer.response_uri, None),
        Answer(answer.parameters, answer.client_id, answer.nonce, answer.response_uri, None),
    ):
        with pytest.raises(MdocError) as refused:
            verify_device_response(
                token, session_transcript=transcript_of(wrong), trust=[anchor(client)]
            )
        assert refused.value.check == "device_auth"


def test_intent_to_retain_is_shown_and_optional_elements_can_be_left_out(
    client: TestClient[Any], verifier: MdocVerifier
) -> None:
    phone = holding_mdl(client, "server")
    query = mdoc_query(elements=("family_name", "document_number", "portrait"))
    claims = query["credentials"][0]["claims"]
    claims[1]["intent_to_retain"] = True
    for claim, claim_id in zip(claims, ("name", "number", "portrait"), strict=True):
        claim["id"] = claim_id
    claims[2]["path"] = [MDL_NAMESPACE, "birth_date"]
    query["credentials"][0]["claim_sets"] = [["name", "number", "portrait"], ["name", "number"]]
    uri, request_id = verifier.request(query)
    consent = phone.scan(uri).json()["presentation"]
    [asked] = consent["requests"]
    retained = {c["path"][1]: c.get("intent_to_retain") for c in asked["claims"]}
    assert retained == {"family_name": None, "document_number": True, "birth_date": None}
    assert any(
        w.startswith("intent_to_retain:") and "birth" not in w for w in consent["warnings"]
    ), consent["warnings"]
    optional = {c["path"][1]: c["optional"] for c in asked["claims"]}
    assert optional == {"family_name": False, "document_number": False, "birth_date": True}
    result = phone.approve(consent["presentation_id"], omit=[f"{MDL_NAMESPACE}.birth_date"])
    assert result["outcome"] == "accepted", result
    [token] = verifier.answers[request_id].vp_token["mdl"]
    verified = verify_device_response(
        token,
        session_transcript=transcript_of(verifier.answers[request_id]),
        trust=[anchor(client)],
    )
    assert set(verified.documents[0].claims[MDL_NAMESPACE]) == {"family_name", "document_number"}


def test_an_mdoc_does_not_answer_an_sd_jwt_query_nor_another_doctype(
    client: TestClient[Any], verifier: MdocVerifier
) -> None:
    phone = holding_mdl(client, "server")
    uri, _ = verifier.request(mdoc_query(doctype="eu.europa.ec.eudi.pid.1"))
    consent = phone.scan(uri).json()["presentation"]
    assert consent["satisfiable"] is False
