"""Interoperability with pymdoccbor (PyPI; the EUDI wallet's Python mdoc library, built on
pycose) as an oracle, both ways: it parses and verifies what we issue and present
(issuerAuth signature, its certificate to our anchor, every item's digest, the MSO), and
we verify what it issues, and present it. pymdoccbor does not check deviceSignature, so
pycose checks ours over a DeviceAuthentication built here with plain cbor2.

pymdoccbor checks certificate validity against the real clock, so these tests make their
certificates around the real time, not the fixed time of the other tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.keys import EC2Key
from pycose.messages import Sign1Message
from pymdoccbor.mdoc.issuer import MdocCborIssuer
from pymdoccbor.mdoc.verifier import MdocCbor
from pymdoccbor.mso.verifier import MsoVerifier

from core.mdoc.cose_key import cose_key_from_jwk
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from core.mdoc.errors import DeviceAuthInvalid
from core.mdoc.issue import IssuedMdoc
from core.mdoc.issuer_signed import decode_issuer_signed
from core.mdoc.present import present_mdoc
from core.mdoc.session_transcript import openid4vp_session_transcript
from core.mdoc.verify_issued import verify_issued_mdoc
from core.mdoc.verify_presentation import verify_device_response
from core.status_list.token import StatusReference
from tests.core.mdoc.forge import DISCLOSED, issue, replace_item
from tests.core.mdoc.pki import device_signer, document_signer, trust_anchor

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TRANSCRIPT = openid4vp_session_transcript(
    client_id="x509_san_dns:counter.example",
    nonce="interop-nonce",
    response_uri="https://counter.example/response",
)


class Parties:
    def __init__(self) -> None:
        self.anchor, anchor_key = trust_anchor()
        self.signer_key = ec.generate_private_key(ec.SECP256R1())
        self.certificate, self.signer = document_signer(
            self.anchor,
            anchor_key,
            key=self.signer_key,
            not_before=NOW - dt.timedelta(days=1),
            not_after=NOW + dt.timedelta(days=30),
        )
        self.device = device_signer()


@pytest.fixture(scope="module")
def parties() -> Parties:
    return Parties()


@pytest.fixture(scope="module")
def issued(parties: Parties) -> IssuedMdoc:
    return issue(
        parties.signer,
        parties.device.public_jwk(),
        valid_from=NOW - dt.timedelta(minutes=1),
        valid_until=NOW + dt.timedelta(days=10),
        status=StatusReference(5, "https://issuer.example/statuslists/1"),
    )


def _present(parties: Parties, issued: IssuedMdoc, elements: list[str]) -> bytes:
    return present_mdoc(
        issued.issuer_signed,
        disclose={MDL_NAMESPACE: elements},
        session_transcript=TRANSCRIPT,
        device_signer=parties.device,
    )


# -- pymdoccbor reads and verifies ours -------------------------------------------------


def test_pymdoccbor_verifies_our_device_response(parties: Parties, issued: IssuedMdoc) -> None:
    reader = MdocCbor()
    reader.loads(_present(parties, issued, list(DISCLOSED)))
    assert reader.verify(trusted_root_certs=[parties.anchor], verify_hashes=True) is True
    (document,) = reader.documents
    assert document.doctype == MDL_DOC_TYPE
    assert document.hash_verification == {
        "valid": True,
        "total": len(DISCLOSED),
        "verified": len(DISCLOSED),
        "failed": [],
    }
    assert reader.disclosure_map[MDL_NAMESPACE] == DISCLOSED


def test_pymdoccbor_reads_our_mso(parties: Parties, issued: IssuedMdoc) -> None:
    issuer_auth = cbor2.loads(issued.encoded)["issuerAuth"]
    verifier = MsoVerifier(issuer_auth)
    assert verifier.verify_signature([parties.anchor]) is True
    mso = verifier.payload_as_dict
    assert mso["docType"] == MDL_DOC_TYPE
    assert mso["version"] == "1.0"
    assert mso["digestAlgorithm"] == "SHA-256"
    assert mso["status"] == {
        "status_list": {"idx": 5, "uri": "https://issuer.example/statuslists/1"}
    }
    assert mso["deviceKeyInfo"]["deviceKey"] == cose_key_from_jwk(parties.device.public_jwk())
    assert len(mso["valueDigests"][MDL_NAMESPACE]) == len(DISCLOSED)


def test_pymdoccbor_refuses_what_we_tampered(parties: Parties, issued: IssuedMdoc) -> None:
    tampered = replace_item(
        issued.issuer_signed, "age_over_18", lambda item: item.update(elementValue=False)
    )
    response = present_mdoc(
        tampered,
        disclose={MDL_NAMESPACE: ["age_over_18"]},
        session_transcript=TRANSCRIPT,
        device_signer=parties.device,
    )
    reader = MdocCbor()
    reader.loads(response)
    assert reader.verify(trusted_root_certs=[parties.anchor], verify_hashes=True) is False


def test_pycose_verifies_our_device_signature(parties: Parties, issued: IssuedMdoc) -> None:
    response = cbor2.loads(_present(parties, issued, ["age_over_18"]))
    document = response["documents"][0]
    device_signed = document["deviceSigned"]
    # ISO/IEC 18013-5 §9.1.3.4, built here with cbor2 alone.
    device_authentication = [
        "DeviceAuthentication",
        cbor2.loads(TRANSCRIPT),
        document["docType"],
        device_signed["nameSpaces"],
    ]
    detached = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(device_authentication)))
    message = Sign1Message.from_cose_obj(list(device_signed["deviceAuth"]["deviceSignature"]), True)
    message.key = EC2Key.from_dict(cose_key_from_jwk(parties.device.public_jwk()))
    assert message.verify_signature(detached_payload=detached)


# -- we verify what pymdoccbor issues ---------------------------------------------------


def _pymdoccbor_issues(parties: Parties, data: dict[str, Any]) -> bytes:
    private_value = parties.signer_key.private_numbers().private_value
    issuer = MdocCborIssuer(
        private_key={
            "KTY": "EC2",
            "CURVE": "P_256",
            "ALG": "ES256",
            "D": private_value.to_bytes(32, "big"),
        },
        alg="ES256",
    )
    mdoc = issuer.new(
        data={MDL_NAMESPACE: data},
        doctype=MDL_DOC_TYPE,
        validity={
            "issuance_date": NOW.strftime("%Y-%m-%d"),
            "expiry_date": (NOW + dt.timedelta(days=20)).strftime("%Y-%m-%d"),
        },
        devicekeyinfo=cose_key_from_jwk(parties.device.public_jwk()),
        x509_chain=[parties.certificate],
        revocation={"status_list": {"idx": 3, "uri": "https://issuer.example/sl"}},
    )
    # pymdoccbor returns a DeviceResponse-like map; its IssuerSigned is the credential.
    return bytes(cbor2.dumps(mdoc["documents"][0]["issuerSigned"], canonical=True))


PYMDOC_DATA = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": "1964-08-12",  # pymdoccbor tags it as full-date (1004)
    "age_over_18": True,
    "portrait": b"\xff\xd8\xff\xe0",
}


def test_we_verify_what_pymdoccbor_issues(parties: Parties) -> None:
    credential = _pymdoccbor_issues(parties, PYMDOC_DATA)
    verified = verify_issued_mdoc(
        credential,
        trust=[parties.anchor],
        expected_doc_type=MDL_DOC_TYPE,
        holder_jwk=parties.device.public_jwk(),
    )
    assert verified.claims[MDL_NAMESPACE] == {
        **PYMDOC_DATA,
        "birth_date": dt.date(1964, 8, 12),
    }
    assert verified.status == StatusReference(3, "https://issuer.example/sl")
    assert verified.device_key_jwk == parties.device.public_jwk()


def test_we_present_what_pymdoccbor_issued_and_verify_it(parties: Parties) -> None:
    issuer_signed = decode_issuer_signed(_pymdoccbor_issues(parties, PYMDOC_DATA))
    response = present_mdoc(
        issuer_signed,
        disclose={MDL_NAMESPACE: ["age_over_18", "birth_date"]},
        session_transcript=TRANSCRIPT,
        device_signer=parties.device,
    )
    verified = verify_device_response(
        response, session_transcript=TRANSCRIPT, trust=[parties.anchor]
    )
    assert verified.documents[0].claims == {
        MDL_NAMESPACE: {"age_over_18": True, "birth_date": dt.date(1964, 8, 12)}
    }
    # And pymdoccbor agrees about the response we made from its credential.
    reader = MdocCbor()
    reader.loads(response)
    assert reader.verify(trusted_root_certs=[parties.anchor], verify_hashes=True) is True


def test_a_pymdoccbor_mdoc_by_another_device_key_is_refused(parties: Parties) -> None:
    issuer_signed = decode_issuer_signed(_pymdoccbor_issues(parties, PYMDOC_DATA))
    response = present_mdoc(
        issuer_signed,
        disclose={MDL_NAMESPACE: ["age_over_18"]},
        session_transcript=TRANSCRIPT,
        device_signer=device_signer(),
    )
    with pytest.raises(DeviceAuthInvalid):
        verify_device_response(response, session_transcript=TRANSCRIPT, trust=[parties.anchor])
