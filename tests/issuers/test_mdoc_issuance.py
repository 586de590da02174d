"""The agencies issue mdocs (OpenID4VCI 1.0 Appendix A.2; ISO/IEC 18013-5 §9.1.2): the
national ID as the EU PID (``eu.europa.ec.eudi.pid.1``) and the mobile driving licence
(``org.iso.18013.5.1.mDL``), each made from the register's record of the SD-JWT VC
configuration it is another format of. Every mdoc of a batch has its own device key,
salts and status index; the document signer is the agency's key under the deployment
anchor. What is issued is read by two implementations we did not write: pymdoccbor (the
EUDI wallet's Python library) and @owf/mdoc."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import cbor2
import pytest
from litestar.testing import TestClient
from pymdoccbor.mdoc.verifier import MdocCbor

from core.encoding import b64url_decode
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from core.mdoc.verify_issued import verify_issued_mdoc
from core.status_list.bits import StatusList
from tests.interop import mdoc_oracle
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import Wallet, path_of, proof

PID = "eu.europa.ec.eudi.pid.1"


def _anchor(client: TestClient[Any]) -> Any:
    return client.app.state.deployment.trust_anchor.certificate


def _receive(
    client: TestClient[Any], issuer: str, configuration: str, claims: dict[str, Any], batch: int
) -> tuple[list[str], list[Any]]:
    created = create_offer(client, issuer, configuration, claims)
    body, credentials, holders = Wallet(client).receive(created["offer_uri"], batch=batch)
    assert len(credentials) == batch and body["notification_id"]
    return credentials, holders


def test_metadata_describes_the_mdocs(client: TestClient[Any]) -> None:
    metadata = client.get("/.well-known/openid-credential-issuer/issuers/transport-agency").json()
    mdl = metadata["credential_configurations_supported"]["mobile_driving_licence"]
    assert mdl["format"] == "mso_mdoc" and mdl["doctype"] == MDL_DOC_TYPE
    assert mdl["cryptographic_binding_methods_supported"] == ["cose_key"]
    assert mdl["credential_signing_alg_values_supported"] == [-7, -9]
    assert "vct" not in mdl
    paths = [c["path"] for c in mdl["credential_metadata"]["claims"]]
    assert [MDL_NAMESPACE, "driving_privileges"] in paths
    assert all(len(p) == 2 and p[0] == MDL_NAMESPACE for p in paths)
    assert client.get("/issuers/transport-agency/types/mobile_driving_licence").status_code == 404
    pid = client.get("/.well-known/openid-credential-issuer/issuers/civil-registry").json()
    assert pid["credential_configurations_supported"]["national_id_mdoc"]["doctype"] == PID


def test_a_mobile_driving_licence_from_the_licence_record(client: TestClient[Any]) -> None:
    credentials, holders = _receive(
        client, "transport-agency", "mobile_driving_licence", DRIVER, batch=3
    )
    today = dt.datetime.now(dt.UTC).date()
    seen_salts: set[bytes] = set()
    statuses = set()
    for credential, holder in zip(credentials, holders, strict=True):
        verified = verify_issued_mdoc(
            credential,
            trust=[_anchor(client)],
            expected_doc_type=MDL_DOC_TYPE,
            holder_jwk=holder.public_jwk(),
        )
        elements = verified.claims[MDL_NAMESPACE]
        assert elements["family_name"] == DRIVER["family_name"]
        assert elements["birth_date"] == dt.date.fromisoformat(DRIVER["birthdate"])
        assert elements["age_over_18"] is True
        assert today - dt.timedelta(days=2) <= elements["issue_date"] <= today
        assert elements["expiry_date"] > today + dt.timedelta(days=365)
        assert elements["issuing_country"] == "DE" and elements["un_distinguishing_sign"] == "D"
        [first, *_] = elements["driving_privileges"]
        assert first["vehicle_category_code"] == DRIVER["driving_privileges"][0][
            "vehicle_category_code"
        ] and isinstance(first["issue_date"], dt.date)
        assert verified.status is not None
        assert (
            verified.status.uri.startswith(
                str(client.base_url) + "/issuers/transport-agency/status-lists/"
            )
            or "/issuers/transport-agency/status-lists/" in verified.status.uri
        )
        statuses.add(verified.status.index)
        for items in verified.issuer_signed.name_spaces.values():
            for item in items:
                assert len(item.random) >= 16
                seen_salts.add(item.random)
    assert len(statuses) == 3  # each mdoc its own status index
    assert len(seen_salts) == 3 * len(verified.issuer_signed.name_spaces[MDL_NAMESPACE])


def test_the_pid_as_an_mdoc_leaves_out_what_the_record_does_not_hold(
    client: TestClient[Any],
) -> None:
    without_address = {k: v for k, v in CITIZEN.items() if k != "address"}
    [credential], [holder] = _receive(
        client, "civil-registry", "national_id_mdoc", without_address, batch=1
    )
    verified = verify_issued_mdoc(
        credential, trust=[_anchor(client)], expected_doc_type=PID, holder_jwk=holder.public_jwk()
    )
    elements = verified.claims[PID]
    assert elements["given_name"] == CITIZEN["given_name"]
    assert elements["issuing_authority"] == "Civil Registry"
    assert isinstance(elements["birth_date"], dt.date)
    assert not any(name.startswith("resident_") for name in elements)


def test_an_mdoc_offer_takes_the_record_it_is_made_from(client: TestClient[Any]) -> None:
    refused = client.post(
        "/issuers/transport-agency/offers",
        json={
            "subject_id": "citizen-42",
            "credential_configuration_id": "mobile_driving_licence",
            "claims": {MDL_NAMESPACE: {"family_name": "Mustermann"}},
        },
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    assert refused.status_code == 422, refused.text
    assert "birthdate is required" in refused.json()["errors"]
    listed = client.get(
        "/issuers/transport-agency/configurations",
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    if listed.status_code == 200:
        [mdl] = [
            c
            for c in listed.json()["configurations"]
            if c["credential_configuration_id"] == "mobile_driving_licence"
        ]
        assert (mdl["format"], mdl["doctype"], mdl["claims_of"]) == (
            "mso_mdoc",
            MDL_DOC_TYPE,
            "driving_licence",
        )
        assert ["birthdate"] in [c["path"] for c in mdl["claims"]]


def test_pymdoccbor_reads_and_verifies_what_is_issued(client: TestClient[Any]) -> None:
    """The EUDI wallet's Python mdoc library checks the issuer's signature and every
    digest of a document built around the issued IssuerSigned."""
    [credential], _ = _receive(client, "civil-registry", "national_id_mdoc", CITIZEN, batch=1)
    issuer_signed = cbor2.loads(b64url_decode(credential))
    device_response = cbor2.dumps(
        {
            "version": "1.0",
            "documents": [
                {
                    "docType": PID,
                    "issuerSigned": issuer_signed,
                    "deviceSigned": {
                        "nameSpaces": cbor2.CBORTag(24, cbor2.dumps({})),
                        "deviceAuth": {"deviceSignature": [b"", {}, None, b""]},
                    },
                }
            ],
            "status": 0,
        }
    )
    reader = MdocCbor()
    reader.loads(device_response.hex())
    assert reader.verify() is True
    [document] = reader.documents
    assert document.doctype == PID
    names = {
        cbor2.loads(item.value)["elementIdentifier"]
        for item in document.issuersigned.namespaces[PID]
    }
    assert {"family_name", "birth_date", "issuing_country"} <= names


@pytest.mark.parametrize(
    ("issuer", "configuration", "claims", "doc_type"),
    [
        ("civil-registry", "national_id_mdoc", CITIZEN, PID),
        ("transport-agency", "mobile_driving_licence", DRIVER, MDL_DOC_TYPE),
    ],
)
def test_an_independent_mdoc_library_verifies_what_is_issued(
    client: TestClient[Any], issuer: str, configuration: str, claims: Any, doc_type: str
) -> None:
    [credential], [holder] = _receive(client, issuer, configuration, claims, batch=1)
    verification = mdoc_oracle.verify_issuer_signed(
        credential, trusted=[_anchor(client)], doc_type=doc_type
    )
    assert verification.ok, (verification.error, verification.failed())
    document = verification.document
    assert document.device_key["x"] == holder.public_jwk()["x"]
    assert document.reencoding_differs == []


def test_revoking_the_citizen_revokes_the_mdoc(client: TestClient[Any]) -> None:
    """The MSO's status reference (Token Status List §6.3) points at a bit the agency flips
    when it revokes the citizen's credentials, as for an SD-JWT VC."""
    created = create_offer(
        client, "transport-agency", "mobile_driving_licence", DRIVER, subject="mdl-holder"
    )
    _, [credential], _ = Wallet(client).receive(created["offer_uri"])
    reference = verify_issued_mdoc(credential, trust=[_anchor(client)]).status
    assert reference is not None

    def bit() -> int:
        token = client.get(path_of(reference.uri)).text
        payload = json.loads(b64url_decode(token.split(".")[1]))
        value: int = StatusList.from_json(payload["status_list"]).get(reference.index)
        return value

    assert bit() == 0
    revoked = client.post(
        "/issuers/transport-agency/credentials/revoke",
        json={"subject_id": "mdl-holder", "reason": "licence withdrawn"},
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    assert revoked.status_code == 200, revoked.text
    assert bit() == 1


def _offer_both(client: TestClient[Any], **extra: Any) -> Any:
    return client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "both-formats",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "other_formats": ["national_id_mdoc"],
            **extra,
        },
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )


def test_one_offer_carries_the_national_id_in_both_formats(client: TestClient[Any]) -> None:
    """One QR code, one access token: the SD-JWT VC and the PID mdoc, each asked for once;
    the retry of a lost response gets what was kept, another request nothing."""
    created = _offer_both(client)
    assert created.status_code == 201, created.text
    offer = created.json()
    assert offer["credential_offer"]["credential_configuration_ids"] == [
        "national_id",
        "national_id_mdoc",
    ]
    wallet = Wallet(client)
    first = wallet.request(offer["offer_uri"])
    assert first.response.status_code == 200, first.response.text
    assert "~" in first.response.json()["credentials"][0]["credential"]  # the SD-JWT VC

    holder = wallet.new_holder()
    issuer = first.metadata["credential_issuer"]
    body = {
        "credential_configuration_id": "national_id_mdoc",
        "proofs": {"jwt": [proof(holder, issuer, wallet.nonce(first.metadata))]},
    }
    second = wallet.credential(first.metadata, first.access_token, body)
    assert second.status_code == 200, second.text
    [mdoc] = second.json()["credentials"]
    verified = verify_issued_mdoc(
        mdoc["credential"], trust=[_anchor(client)], expected_doc_type=PID,
        holder_jwk=holder.public_jwk(),
    )  # fmt: skip
    assert verified.claims[PID]["family_name"] == CITIZEN["family_name"]

    repeated = wallet.credential(first.metadata, first.access_token, body)
    assert repeated.status_code == 200 and repeated.json() == second.json()
    again = {
        "credential_configuration_id": "national_id_mdoc",
        "proofs": {"jwt": [proof(wallet.new_holder(), issuer, wallet.nonce(first.metadata))]},
    }
    refused = wallet.credential(first.metadata, first.access_token, again)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    record = client.get(
        "/issuers/civil-registry/subjects/both-formats",
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    ).json()
    assert sorted(c["credential_configuration_id"] for c in record["credentials"]) == [
        "national_id",
        "national_id_mdoc",
    ]


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"other_formats": ["mobile_driving_licence"]}, "unknown"),
        ({"other_formats": ["national_id"]}, "another format"),
        ({"grant": "authorization_code"}, "pre-authorized code"),
    ],
)
def test_an_offer_of_several_formats_is_one_credential(
    client: TestClient[Any], extra: dict[str, Any], why: str
) -> None:
    refused = _offer_both(client, **extra)
    assert refused.status_code == 400, refused.text
    assert why in refused.json()["detail"]
