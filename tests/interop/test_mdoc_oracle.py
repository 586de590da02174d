"""The mdoc oracle (``mdoc_oracle.mjs``, ``@owf/mdoc`` with node's crypto) against itself,
before it judges our ``mso_mdoc`` code: an mDL and a PID it issues under a test IACA
verify, with their full-dates, byte strings, driving privileges and status reference; a
DeviceResponse it builds discloses only the elements asked for and verifies against the
OpenID4VP 1.0 SessionTranscript; and it refuses what it should: another trust anchor, an
expired MSO, another docType, a changed element, another device key, another nonce or
verifier, a broken issuer signature. Its SessionTranscript is the one of OpenID4VP 1.0's
own example (Appendix B.2.6.1).

The IACA, the document signer and the device key are made here with ``cryptography``.
Node and npm are needed (the pinned packages are installed with ``npm ci`` when missing);
without them the module is skipped, and under CI it fails instead."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.interop import mdoc_oracle
from tests.interop.mdoc_oracle import (
    Tamper,
    Transcript,
    Verification,
    bstr,
    ec_jwk,
    from_oracle,
    full_date,
)
from tests.support.certificates import signed_certificate

MDL = "org.iso.18013.5.1.mDL"
MDL_NS = "org.iso.18013.5.1"
PID = "eu.europa.ec.eudi.pid.1"
COUNTRY = "UT"  # Utopia, the country of ISO 18013-5's examples
STATUS = (412, "https://issuer.example/statuslists/7")
PORTRAIT = bytes.fromhex("ffd8ffe000104a46494600010101")  # the start of a JPEG

MDL_ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": full_date(dt.date(1984, 1, 26)),
    "issue_date": full_date(dt.date(2024, 3, 1)),
    "expiry_date": full_date(dt.date(2034, 2, 28)),
    "issuing_country": COUNTRY,
    "issuing_authority": "Utopia Driving Licence Authority",
    "document_number": "DL-0042-7731",
    "portrait": bstr(PORTRAIT),
    "driving_privileges": [
        {
            "vehicle_category_code": "A",
            "issue_date": full_date(dt.date(2018, 8, 9)),
            "expiry_date": full_date(dt.date(2034, 2, 28)),
        },
        {
            "vehicle_category_code": "B",
            "issue_date": full_date(dt.date(2002, 5, 14)),
            "expiry_date": full_date(dt.date(2034, 2, 28)),
            "codes": [{"code": "01"}],
        },
    ],
    "un_distinguishing_sign": "UTO",
    "age_over_18": True,
    "age_over_65": False,
}
PID_ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": full_date(dt.date(1984, 1, 26)),
    "place_of_birth": {"locality": "Berlin"},
    "nationality": ["DE"],
    "age_over_18": True,
    "issuing_authority": "Utopia Civil Registry",
    "issuing_country": COUNTRY,
    "expiry_date": full_date(dt.date(2030, 1, 1)),
}
VERIFIER_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
    "use": "enc",
    "alg": "ECDH-ES",
    "kid": "1",
}
TRANSCRIPT = Transcript(
    client_id="x509_san_dns:verifier.example",
    nonce="n-0S6_WzA2Mj",
    response_uri="https://verifier.example/response",
    verifier_jwk=VERIFIER_JWK,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Utopia (mdoc oracle tests)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class Pki:
    """An IACA root and a document signer certified by it; a device key."""

    def __init__(self) -> None:
        self.iaca_key = ec.generate_private_key(ec.SECP256R1())
        iaca_name = _name("Utopia IACA")
        self.iaca = signed_certificate(
            iaca_name, self.iaca_key, issuer=iaca_name, issuer_key=self.iaca_key, ca=True
        )
        self.signer_key = ec.generate_private_key(ec.SECP256R1())
        self.signer = signed_certificate(
            _name("Utopia document signer"),
            self.signer_key,
            issuer=iaca_name,
            issuer_key=self.iaca_key,
            ca=False,
        )
        self.device_key = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="module")
def validity() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return {"signed": now, "valid_from": now, "valid_until": now + dt.timedelta(hours=6)}


def _issue(pki: Pki, validity: dict[str, dt.datetime], doc_type: str, elements: Any) -> str:
    namespace = MDL_NS if doc_type == MDL else PID
    return mdoc_oracle.issue(
        doc_type=doc_type,
        namespaces={namespace: elements},
        device_key=pki.device_key.public_key(),
        issuer_key=pki.signer_key,
        issuer_certificates=[pki.signer],
        status=STATUS,
        signed=validity["signed"],
        valid_from=validity["valid_from"],
        valid_until=validity["valid_until"],
    )


@pytest.fixture(scope="module")
def mdl(pki: Pki, validity: dict[str, dt.datetime]) -> str:
    return _issue(pki, validity, MDL, MDL_ELEMENTS)


@pytest.fixture(scope="module")
def pid(pki: Pki, validity: dict[str, dt.datetime]) -> str:
    return _issue(pki, validity, PID, PID_ELEMENTS)


def _refused(verification: Verification, *fragments: str) -> None:
    assert not verification.ok
    assert verification.error is not None
    for fragment in fragments:
        assert fragment in verification.error, verification.error


def test_the_session_transcript_is_the_one_of_the_openid4vp_example() -> None:
    """OpenID4VP 1.0 Appendix B.2.6.1: the example's parameters and verifier key give
    the example's SessionTranscript (and so its OpenID4VPHandoverInfo hash)."""
    example = Transcript(
        client_id="x509_san_dns:example.com",
        nonce="exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA",
        response_uri="https://example.com/response",
        verifier_jwk=VERIFIER_JWK,
    )
    assert mdoc_oracle.session_transcript(example).hex() == (
        "83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8e"
        "ed494cefdd9d95240d254b046b11b68013722aad38ac"
    )
    # the thumbprint may be given instead of the key
    thumbprint = bytes.fromhex("4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047")
    by_thumbprint = Transcript(
        example.client_id, example.nonce, example.response_uri, jwk_thumbprint=thumbprint
    )
    assert mdoc_oracle.session_transcript(by_thumbprint) == mdoc_oracle.session_transcript(example)
    # without an encrypted response, the thumbprint is null: another transcript
    unencrypted = Transcript(example.client_id, example.nonce, example.response_uri)
    assert mdoc_oracle.session_transcript(unencrypted) != mdoc_oracle.session_transcript(example)


def test_an_issued_mdl_verifies_with_all_it_says(
    pki: Pki, validity: dict[str, dt.datetime], mdl: str
) -> None:
    verification = mdoc_oracle.verify_issuer_signed(mdl, trusted=[pki.iaca], doc_type=MDL)
    assert verification.ok, verification.error
    assert not verification.failed()
    document = verification.document
    assert document.doc_type == MDL
    assert document.digest_algorithm == "SHA-256"
    assert document.issuer_algorithm == "ES256"
    assert document.device_key == ec_jwk(pki.device_key.public_key())
    assert document.status == {"status_list": {"idx": STATUS[0], "uri": STATUS[1]}}
    assert document.validity_info == {
        "signed": validity["signed"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valid_from": validity["valid_from"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valid_until": validity["valid_until"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert document.claims == {MDL_NS: MDL_ELEMENTS}
    values = document.values(MDL_NS)
    assert values["birth_date"] == dt.date(1984, 1, 26)
    assert values["portrait"] == PORTRAIT
    assert values["driving_privileges"][1]["issue_date"] == dt.date(2002, 5, 14)
    assert values["age_over_18"] is True
    # every element has its own digest ID, and the library's digests are over what it sent
    assert sorted(document.digest_ids[MDL_NS]) == sorted(MDL_ELEMENTS)
    assert len(set(document.digest_ids[MDL_NS].values())) == len(MDL_ELEMENTS)
    assert document.reencoding_differs == []


def test_an_issued_pid_verifies(pki: Pki, pid: str) -> None:
    verification = mdoc_oracle.verify_issuer_signed(pid, trusted=[pki.iaca], doc_type=PID)
    assert verification.ok, verification.error
    assert verification.document.claims == {PID: PID_ELEMENTS}
    assert verification.document.values(PID)["place_of_birth"] == {"locality": "Berlin"}


def test_an_issuer_signed_is_refused_for_what_is_wrong_with_it(
    pki: Pki, validity: dict[str, dt.datetime], mdl: str
) -> None:
    other = Pki()
    _refused(
        mdoc_oracle.verify_issuer_signed(mdl, trusted=[other.iaca]),
        "Issuer certificate must be valid",
    )
    late = validity["valid_until"] + dt.timedelta(hours=1)
    _refused(
        mdoc_oracle.verify_issuer_signed(mdl, trusted=[pki.iaca], now=late),
        "The MSO must be valid at the time of verification",
    )
    _refused(
        mdoc_oracle.verify_issuer_signed(mdl, trusted=[pki.iaca], doc_type=PID),
        f"docType must be {PID}",
    )
    garbage = mdoc_oracle.verify_issuer_signed("oWFhYWI", trusted=[pki.iaca])
    _refused(garbage, "cannot be decoded")
    assert garbage.documents == []
    # an mDL whose issuing_country is not the document signer's country
    foreign = _issue(pki, validity, MDL, {**MDL_ELEMENTS, "issuing_country": "FR"})
    _refused(
        mdoc_oracle.verify_issuer_signed(foreign, trusted=[pki.iaca]),
        "'issuing_country'",
    )


def test_a_device_response_discloses_only_what_was_asked_and_verifies(pki: Pki, mdl: str) -> None:
    presented = mdoc_oracle.device_response(
        mdl,
        device_key=pki.device_key,
        disclose={MDL_NS: ["family_name", "birth_date", "driving_privileges", "age_over_18"]},
        transcript=TRANSCRIPT,
    )
    assert presented.session_transcript == mdoc_oracle.session_transcript(TRANSCRIPT)
    verification = mdoc_oracle.verify_device_response(
        presented.device_response, trusted=[pki.iaca], transcript=TRANSCRIPT, doc_type=MDL
    )
    assert verification.ok, verification.error
    document = verification.document
    assert document.claims == {
        MDL_NS: {
            name: MDL_ELEMENTS[name]
            for name in ("family_name", "birth_date", "driving_privileges", "age_over_18")
        }
    }
    assert document.device_signed == {}
    assert document.status == {"status_list": {"idx": STATUS[0], "uri": STATUS[1]}}
    # the same, checked against the transcript's bytes
    by_bytes = mdoc_oracle.verify_device_response(
        presented.device_response, trusted=[pki.iaca], transcript=presented.session_transcript
    )
    assert by_bytes.ok, by_bytes.error


def test_a_pid_device_response_verifies(pki: Pki, pid: str) -> None:
    presented = mdoc_oracle.device_response(
        pid, device_key=pki.device_key, disclose={PID: ["age_over_18"]}, transcript=TRANSCRIPT
    )
    verification = mdoc_oracle.verify_device_response(
        presented.device_response, trusted=[pki.iaca], transcript=TRANSCRIPT, doc_type=PID
    )
    assert verification.ok, verification.error
    assert verification.document.claims == {PID: {"age_over_18": True}}


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("element_value", "attribute must match the digest"),
        ("other_device_key", "Device signature must be valid"),
        ("other_nonce", "Device signature must be valid"),
        ("issuer_signature", "Issuer auth signature is invalid"),
    ],
)
def test_a_tampered_device_response_is_refused(
    pki: Pki, mdl: str, tamper: Tamper, reason: str
) -> None:
    presented = mdoc_oracle.device_response(
        mdl,
        device_key=pki.device_key,
        disclose={MDL_NS: ["given_name", "age_over_18"]},
        transcript=TRANSCRIPT,
        tamper=tamper,
    )
    verification = mdoc_oracle.verify_device_response(
        presented.device_response, trusted=[pki.iaca], transcript=TRANSCRIPT
    )
    _refused(verification, reason)
    # the refused document is still read, for a test to look at
    assert verification.document.doc_type == MDL


def test_a_device_response_for_another_verifier_or_document_is_refused(pki: Pki, mdl: str) -> None:
    presented = mdoc_oracle.device_response(
        mdl, device_key=pki.device_key, disclose={MDL_NS: ["family_name"]}, transcript=TRANSCRIPT
    )
    elsewhere = [
        Transcript("x509_san_dns:other.example", TRANSCRIPT.nonce, TRANSCRIPT.response_uri),
        Transcript(TRANSCRIPT.client_id, "another-nonce", TRANSCRIPT.response_uri, VERIFIER_JWK),
        Transcript(TRANSCRIPT.client_id, TRANSCRIPT.nonce, TRANSCRIPT.response_uri),  # unencrypted
    ]
    for transcript in elsewhere:
        _refused(
            mdoc_oracle.verify_device_response(
                presented.device_response, trusted=[pki.iaca], transcript=transcript
            ),
            "Device signature must be valid",
        )
    _refused(
        mdoc_oracle.verify_device_response(
            presented.device_response, trusted=[pki.iaca], transcript=TRANSCRIPT, doc_type=PID
        ),
        f"docType must be {PID}",
    )


def test_from_oracle_reads_the_markers() -> None:
    assert from_oracle(
        {
            "a": {"$full_date": "2024-02-29"},
            "b": [{"$tdate": "2024-02-29T12:00:00Z"}],
            "c": {"$bytes": "AQI"},
        }
    ) == {
        "a": dt.date(2024, 2, 29),
        "b": [dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)],
        "c": b"\x01\x02",
    }
