"""Our wallet's mdocs against an implementation we did not write (``mdoc_oracle``,
``@owf/mdoc``), through the mobile API, on SQLite and PostgreSQL:

- the DeviceResponses our wallet sends to the stand-in verifier for an mDL and a PID our
  agencies issued pass the oracle's verification with the OpenID4VP 1.0 SessionTranscript
  (Appendix B.2.6.1) built from the request the wallet answered (client_id, nonce,
  response_uri, and the verifier's encryption key for ``direct_post.jwt``), with
  server-held and phone-held device keys, and carry only the elements asked for;
- an mdoc the oracle issues, as a foreign issuer (the stand-in issuer's OpenID4VCI
  endpoints) whose document signer chains to an anchor the wallet trusts, is received
  through the wallet's receive path, and presented again to the oracle's satisfaction;
- such an mdoc bound to another device key, of another docType than the configuration's,
  under an anchor the wallet does not trust, or whose document signer names another
  issuer, is refused (``invalid_credential``): nothing is stored and the issuer is told
  ``credential_failure``.

Node and npm are needed (see ``mdoc_oracle``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient

from app.settings import Settings
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from tests.interop import mdoc_oracle
from tests.interop.mdoc_oracle import Transcript, full_date
from tests.issuers.conftest import client
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.support.certificates import signed_certificate
from tests.wallet.mdoc_verifier import Answer, MdocVerifier, mdoc_query
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import StandIns, running_stand_ins, settings_with_stand_ins
from tests.wallet.test_mdoc_presentation import holding_mdl

__all__ = ["client"]

PID = "eu.europa.ec.eudi.pid.1"
FOREIGN_ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": full_date(dt.date(1984, 1, 26)),
    "age_over_18": True,
    "nationality": ["DE"],
    "issuing_country": "UT",
}


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UT"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class Iaca:
    """A foreign issuing authority's root (an IACA, with its country as ISO/IEC 18013-5
    Annex B wants), whose document signer signs the oracle's mdocs."""

    def __init__(self, common_name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        self.certificate = signed_certificate(
            name, self.key, issuer=name, issuer_key=self.key, ca=True
        )


#: The one the wallet is configured to trust, and one it is not.
TRUSTED_IACA = Iaca("Utopia IACA")
ROGUE_IACA = Iaca("Nobody's IACA")


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    """The stand-ins' deployment, trusting ``TRUSTED_IACA`` too."""
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    iaca = var_dir / "utopia-iaca.pem"
    iaca.write_bytes(TRUSTED_IACA.certificate.public_bytes(Encoding.PEM))
    return dataclasses.replace(
        settings, wallet_trust_anchors=(*settings.wallet_trust_anchors, str(iaca))
    )


@pytest.fixture
def verifier(stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch) -> MdocVerifier:
    return MdocVerifier(stand_ins, monkeypatch)


def _deployment_anchor(client: TestClient[Any]) -> x509.Certificate:
    certificate: x509.Certificate = client.app.state.deployment.trust_anchor.certificate
    return certificate


def _oracle_verifies(
    answer: Answer, query_id: str, trusted: list[x509.Certificate], doc_type: str
) -> mdoc_oracle.MdocDocument:
    [token] = answer.vp_token[query_id]
    verification = mdoc_oracle.verify_device_response(
        token,
        trusted=trusted,
        transcript=Transcript(
            client_id=answer.client_id,
            nonce=answer.nonce,
            response_uri=answer.response_uri,
            verifier_jwk=answer.encryption_jwk,
        ),
        doc_type=doc_type,
    )
    assert verification.ok, (verification.error, verification.failed())
    return verification.document


def _present(phone: Phone, verifier: MdocVerifier, query: dict[str, Any], mode: str) -> Answer:
    uri, request_id = verifier.request(query, mode)
    scanned = phone.scan(uri)
    assert scanned.status_code == 201, scanned.text
    consent = scanned.json()["presentation"]
    assert consent["satisfiable"] is True, consent["warnings"]
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    return verifier.answers[request_id]


@pytest.mark.parametrize("custody", ["server", "device"])
@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_the_oracle_verifies_our_wallets_mdl_presentation(
    client: TestClient[Any], verifier: MdocVerifier, custody: str, response_mode: str
) -> None:
    phone = holding_mdl(client, custody)
    answer = _present(phone, verifier, mdoc_query(), response_mode)
    document = _oracle_verifies(answer, "mdl", [_deployment_anchor(client)], MDL_DOC_TYPE)
    assert document.values(MDL_NAMESPACE) == {"family_name": "Mustermann", "age_over_18": True}
    assert list(document.claims) == [MDL_NAMESPACE]


def test_the_oracle_verifies_our_wallets_pid_presentation(
    client: TestClient[Any], verifier: MdocVerifier
) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id_mdoc", CITIZEN)
    phone.receive(offer["offer_uri"], custody="device")
    query = mdoc_query(PID, PID, ("given_name", "birth_date"), query_id="pid")
    answer = _present(phone, verifier, query, "direct_post.jwt")
    document = _oracle_verifies(answer, "pid", [_deployment_anchor(client)], PID)
    values = document.values(PID)
    assert set(values) == {"given_name", "birth_date"}
    assert values["given_name"] == CITIZEN["given_name"]


# -- a foreign issuer: the oracle issues through the stand-in issuer's endpoints ----------------


class ForeignIssuer:
    """The stand-in issuer offering a PID mdoc (``pid``) that the oracle signs, with a
    document signer certificate (no names, as ISO document signers have) under the
    IACA the wallet trusts, or spoiled as ``fault`` says."""

    def __init__(self, stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fault: str | None = None
        self.stand_ins = stand_ins
        self.signer_key = ec.generate_private_key(ec.SECP256R1())
        stand_ins.metadata_changes = {
            "credential_configurations_supported": {
                "pid": {
                    "format": "mso_mdoc",
                    "doctype": PID,
                    "cryptographic_binding_methods_supported": ["cose_key"],
                    "credential_signing_alg_values_supported": [-7],
                    "proof_types_supported": {
                        "jwt": {"proof_signing_alg_values_supported": ["ES256"]}
                    },
                    "credential_metadata": {
                        "display": [{"name": "Foreign PID", "locale": "en"}],
                        "claims": [
                            {
                                "path": [PID, "family_name"],
                                "display": [{"name": "Family name", "locale": "en"}],
                            }
                        ],
                    },
                }
            }
        }
        monkeypatch.setattr(stand_ins, "credential", self.credential)

    def _certificate(self) -> x509.Certificate:
        iaca = ROGUE_IACA if self.fault == "untrusted" else TRUSTED_IACA
        return signed_certificate(
            _name("Utopia document signer"),
            self.signer_key,
            issuer=iaca.certificate.subject,
            issuer_key=iaca.key,
            ca=False,
            uri="https://another-issuer.example" if self.fault == "names_another" else None,
        )

    def credential(self, proof_jwt: str) -> str:
        holder: Any = jwt.get_unverified_header(proof_jwt)["jwk"]
        if self.fault == "other_key":
            holder = ec.generate_private_key(ec.SECP256R1()).public_key()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        doc_type = MDL_DOC_TYPE if self.fault == "doctype" else PID
        return mdoc_oracle.issue(
            doc_type=doc_type,
            namespaces={PID: FOREIGN_ELEMENTS},
            device_key=holder,
            issuer_key=self.signer_key,
            issuer_certificates=[self._certificate()],
            valid_until=now + dt.timedelta(hours=12),
            status=None,
        )


@pytest.fixture
def foreign(stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch) -> ForeignIssuer:
    return ForeignIssuer(stand_ins, monkeypatch)


@pytest.mark.parametrize("custody", ["server", "device"])
def test_an_mdoc_the_oracle_issues_is_received_and_presented(
    client: TestClient[Any],
    foreign: ForeignIssuer,
    verifier: MdocVerifier,
    stand_ins: StandIns,
    custody: str,
) -> None:
    phone = Phone(client)
    phone.register()
    received = phone.receive(stand_ins.offer_uri(), custody=custody)
    assert received["credentials"][0]["name"] == "Foreign PID"
    [listed] = phone.get("/wallet/credentials").json()["credentials"]
    assert listed["doctype"] == PID and listed["status"] == "valid"
    shown = phone.get(f"/wallet/credentials/{listed['credential_id']}").json()
    assert shown["claims"][PID]["birth_date"] == "1984-01-26"
    rows = {tuple(r["path"]): r["label"] for r in shown["claim_labels"]}
    assert rows[(PID, "family_name")] == "Family name"
    assert stand_ins.notifications[-1]["event"] == "credential_accepted"

    query = mdoc_query(PID, PID, ("family_name", "age_over_18"), query_id="pid")
    answer = _present(phone, verifier, query, "direct_post")
    document = _oracle_verifies(answer, "pid", [TRUSTED_IACA.certificate], PID)
    assert document.values(PID) == {"family_name": "Mustermann", "age_over_18": True}


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("other_key", "not bound to a key of this wallet"),
        ("doctype", "(doc_type)"),
        ("untrusted", "(trust_chain)"),
        ("names_another", "names another issuer"),
    ],
)
def test_a_foreign_mdoc_that_fails_a_check_is_refused(
    client: TestClient[Any], foreign: ForeignIssuer, stand_ins: StandIns, fault: str, said: str
) -> None:
    foreign.fault = fault
    phone = Phone(client)
    phone.register()
    offer = phone.scan(stand_ins.offer_uri()).json()["offer"]
    refused = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid_credential" and said in body["error_description"], body
    assert phone.get("/wallet/credentials").json()["credentials"] == []
    assert stand_ins.notifications[-1]["event"] == "credential_failure"
