"""Presenting an mdoc (core.mdoc.present) and verifying the DeviceResponse
(core.mdoc.verify_presentation): round trips, the split signing of a phone-held device
key, one named negative test per check, and properties over altered responses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import FixedClock
from core.keys.signer import SoftwareSigner
from core.keys.x509 import ValidatedChains
from core.mdoc import checks
from core.mdoc.cbor import CborLimits, EncodedCbor, decode, encode
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from core.mdoc.errors import (
    DeviceAuthInvalid,
    DeviceMacNotSupported,
    DigestMismatch,
    DocTypeMismatch,
    ElementNotCovered,
    ExpiredOrNotYetValid,
    IssuerSignatureInvalid,
    MalformedCbor,
    MalformedMdoc,
    MdocError,
    UnsupportedVersion,
    UntrustedCertificate,
)
from core.mdoc.issuer_signed import IssuerSigned
from core.mdoc.present import (
    assemble_device_response,
    device_authentication_bytes,
    prepare_document,
    present_mdoc,
    to_vp_token_element,
)
from core.mdoc.session_transcript import openid4vp_session_transcript
from core.mdoc.verify_issuer_signed import IssuerTrust
from core.mdoc.verify_presentation import verify_device_response
from core.status_list.token import StatusReference
from tests.core.mdoc.forge import DISCLOSED, issue, replace_item, resign_mso, rewrite
from tests.core.mdoc.pki import NOW, Issuer, device_signer, issuer, trust_anchor

CLOCK = FixedClock(NOW.timestamp())
CLIENT_ID = "x509_san_dns:counter.example"
NONCE = "n-0S6_WzA2Mj-counter"
RESPONSE_URI = "https://counter.example/verifiers/bar/response"
ENCRYPTION_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
}
TRANSCRIPT = openid4vp_session_transcript(
    client_id=CLIENT_ID, nonce=NONCE, response_uri=RESPONSE_URI, encryption_jwk=ENCRYPTION_JWK
)
AGE = {MDL_NAMESPACE: ["age_over_18", "portrait"]}
STATUS = StatusReference(7, "https://issuer.example/statuslists/1")


@pytest.fixture(scope="module")
def parties() -> Issuer:
    return issuer()


@pytest.fixture(scope="module")
def device() -> SoftwareSigner:
    return device_signer()


@pytest.fixture(scope="module")
def issued(parties: Issuer, device: SoftwareSigner) -> IssuerSigned:
    return issue(parties.signer, device.public_jwk(), status=STATUS).issuer_signed


def _present(
    issued: IssuerSigned, device: SoftwareSigner, *, transcript: bytes = TRANSCRIPT, **disclose: Any
) -> bytes:
    return present_mdoc(
        issued,
        disclose=disclose.get("disclose", AGE),
        session_transcript=transcript,
        device_signer=device,
    )


def _verify(response: bytes | str, parties: Issuer, **options: Any) -> Any:
    options.setdefault("session_transcript", TRANSCRIPT)
    options.setdefault("trust", [parties.anchor])
    return verify_device_response(response, clock=CLOCK, **options)


def _refused(
    error: type[MdocError], response: bytes | str, parties: Issuer, **options: Any
) -> MdocError:
    with pytest.raises(error) as caught:
        _verify(response, parties, **options)
    return caught.value


def test_round_trip(parties: Issuer, device: SoftwareSigner, issued: IssuerSigned) -> None:
    vp_token_element = to_vp_token_element(_present(issued, device))
    verified = _verify(vp_token_element, parties, expected_doc_types={MDL_DOC_TYPE})
    assert verified.version == "1.0" and verified.status == 0
    (document,) = verified.documents
    assert document.doc_type == MDL_DOC_TYPE
    assert document.claims == {
        MDL_NAMESPACE: {"age_over_18": True, "portrait": DISCLOSED["portrait"]}
    }
    assert document.status == STATUS
    assert document.device_key_jwk == device.public_jwk()
    assert document.device_algorithm == -7
    assert document.device_signed_claims == {}
    assert document.validity.valid_until == NOW + dt.timedelta(days=365)
    assert document.checks == (
        checks.CBOR,
        checks.STRUCTURE,
        checks.TRUST_CHAIN,
        checks.ISSUER_SIGNATURE,
        checks.DOC_TYPE,
        checks.DIGESTS,
        checks.VALIDITY,
        checks.DEVICE_AUTH,
    )


def test_device_response_structure(device: SoftwareSigner, issued: IssuerSigned) -> None:
    response = decode(_present(issued, device))
    assert response["version"] == "1.0" and response["status"] == 0
    (document,) = response["documents"]
    assert document["docType"] == MDL_DOC_TYPE
    items = document["issuerSigned"]["nameSpaces"][MDL_NAMESPACE]
    assert sorted(i.decode()["elementIdentifier"] for i in items) == ["age_over_18", "portrait"]
    # The disclosed items are the issued bytes, untouched.
    issued_items = {i.encoded for i in issued.name_spaces[MDL_NAMESPACE]}
    assert set(items) <= issued_items
    device_signed = document["deviceSigned"]
    assert device_signed["nameSpaces"] == EncodedCbor(b"\xa0")
    protected, unprotected, payload, signature = device_signed["deviceAuth"]["deviceSignature"]
    assert decode(protected) == {1: -7} and unprotected == {} and payload is None
    assert len(signature) == 64


def test_device_authentication_bytes_are_iso_18013_5() -> None:
    payload = decode(device_authentication_bytes(TRANSCRIPT, MDL_DOC_TYPE))
    assert isinstance(payload, EncodedCbor)
    assert decode(payload.data) == [
        "DeviceAuthentication",
        decode(TRANSCRIPT),
        MDL_DOC_TYPE,
        EncodedCbor(b"\xa0"),
    ]


def test_split_signing_for_a_phone_held_key(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    prepared = prepare_document(issued, disclose=AGE, session_transcript=TRANSCRIPT)
    raw_signature = device.sign(prepared.to_be_signed)  # as the phone would, r || s
    response = assemble_device_response([(prepared, raw_signature)])
    assert _verify(response, parties).documents[0].claims[MDL_NAMESPACE]["age_over_18"] is True
    with pytest.raises(ValueError, match="64 bytes"):
        assemble_device_response([(prepared, raw_signature + b"\0")])


def test_several_documents_in_one_response(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    prepared = [
        prepare_document(issued, disclose=AGE, session_transcript=TRANSCRIPT),
        prepare_document(
            issued, disclose={MDL_NAMESPACE: ["family_name"]}, session_transcript=TRANSCRIPT
        ),
    ]
    response = assemble_device_response([(p, device.sign(p.to_be_signed)) for p in prepared])
    verified = _verify(response, parties)
    assert [set(d.claims[MDL_NAMESPACE]) for d in verified.documents] == [
        {"age_over_18", "portrait"},
        {"family_name"},
    ]


def test_ed25519_device_key_when_allowed(parties: Issuer) -> None:
    device = SoftwareSigner(ed25519.Ed25519PrivateKey.generate())
    issued = issue(parties.signer, device.public_jwk()).issuer_signed
    response = _present(issued, device)
    _refused(DeviceAuthInvalid, response, parties)  # -8 is not in the default allow-list
    verified = _verify(response, parties, device_algorithms={-7, -8})
    assert verified.documents[0].device_algorithm == -8


def test_disclosing_an_element_the_mdoc_lacks(device: SoftwareSigner, issued: IssuerSigned) -> None:
    with pytest.raises(LookupError, match="nickname"):
        _present(issued, device, disclose={MDL_NAMESPACE: ["nickname"]})


# -- one negative test per check -------------------------------------------------------


def test_device_auth_by_another_key(parties: Issuer, issued: IssuerSigned) -> None:
    failure = _refused(DeviceAuthInvalid, _present(issued, device_signer()), parties)
    assert failure.check == "device_auth"
    assert failure.passed_checks[-1] == checks.VALIDITY
    assert failure.document_index == 0


@pytest.mark.parametrize(
    "transcript",
    [
        openid4vp_session_transcript(
            client_id=CLIENT_ID,
            nonce="another-nonce",
            response_uri=RESPONSE_URI,
            encryption_jwk=ENCRYPTION_JWK,
        ),
        openid4vp_session_transcript(
            client_id="x509_san_dns:other.example",
            nonce=NONCE,
            response_uri=RESPONSE_URI,
            encryption_jwk=ENCRYPTION_JWK,
        ),
        openid4vp_session_transcript(
            client_id=CLIENT_ID,
            nonce=NONCE,
            response_uri="https://other.example/response",
            encryption_jwk=ENCRYPTION_JWK,
        ),
        openid4vp_session_transcript(client_id=CLIENT_ID, nonce=NONCE, response_uri=RESPONSE_URI),
    ],
    ids=["another nonce", "another client_id", "another response_uri", "not encrypted"],
)
def test_session_transcript_of_another_request(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned, transcript: bytes
) -> None:
    response = _present(issued, device, transcript=transcript)
    _refused(DeviceAuthInvalid, response, parties)


def test_device_mac_is_refused_with_a_reason(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    def to_mac(value: dict[str, Any]) -> None:
        auth = value["documents"][0]["deviceSigned"]["deviceAuth"]
        auth["deviceMac"] = auth.pop("deviceSignature")

    failure = _refused(DeviceMacNotSupported, rewrite(_present(issued, device), to_mac), parties)
    assert "deviceSignature" in str(failure) and failure.check == "device_auth"


def test_device_signed_element_not_authorized(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    name_spaces = EncodedCbor(encode({MDL_NAMESPACE: {"age_over_18": False}}))
    prepared = prepare_document(issued, disclose=AGE, session_transcript=TRANSCRIPT)
    payload = device_authentication_bytes(TRANSCRIPT, MDL_DOC_TYPE, name_spaces)
    from core.mdoc.cose_sign1 import sig_structure

    signature = device.sign(sig_structure(prepared.protected, payload))

    def sign_elements(value: dict[str, Any]) -> None:
        device_signed = value["documents"][0]["deviceSigned"]
        device_signed["nameSpaces"] = name_spaces
        device_signed["deviceAuth"]["deviceSignature"][3] = signature

    response = rewrite(
        assemble_device_response([(prepared, device.sign(prepared.to_be_signed))]), sign_elements
    )
    failure = _refused(DeviceAuthInvalid, response, parties)
    assert "does not authorize" in str(failure)


def test_doc_type_of_document_and_mso_differ(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    response = rewrite(
        _present(issued, device),
        lambda value: value["documents"][0].update(docType="eu.europa.ec.eudi.pid.1"),
    )
    failure = _refused(DocTypeMismatch, response, parties)
    assert failure.check == "doc_type"


def test_doc_type_not_expected(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    _refused(
        DocTypeMismatch,
        _present(issued, device),
        parties,
        expected_doc_types={"eu.europa.ec.eudi.pid.1"},
    )


def test_tampered_disclosed_element(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    tampered = replace_item(issued, "age_over_18", lambda item: item.update(elementValue=False))
    _refused(DigestMismatch, _present(tampered, device), parties)


def test_element_not_covered_by_the_mso(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    moved = replace_item(issued, "age_over_18", lambda item: item.update(digestID=2**40))
    _refused(ElementNotCovered, _present(moved, device), parties)


def test_digest_algorithm_not_allowed(parties: Issuer, device: SoftwareSigner) -> None:
    sha512 = issue(parties.signer, device.public_jwk(), digest_algorithm="SHA-512").issuer_signed
    response = _present(sha512, device)
    from core.mdoc.verify_issuer_signed import IssuerTrust

    trust = IssuerTrust([parties.anchor], digest_algorithms={"SHA-256"})
    failure = _refused(MdocError, response, parties, trust=trust)
    assert failure.check == "digests"


def test_mso_expired(parties: Issuer, device: SoftwareSigner, issued: IssuerSigned) -> None:
    expired = resign_mso(
        issued,
        parties.signer,
        lambda mso: mso["validityInfo"].update(validUntil=NOW - dt.timedelta(hours=1)),
    )
    _refused(ExpiredOrNotYetValid, _present(expired, device), parties)


def test_mso_not_yet_valid(parties: Issuer, device: SoftwareSigner, issued: IssuerSigned) -> None:
    future = resign_mso(
        issued,
        parties.signer,
        lambda mso: mso["validityInfo"].update(validFrom=NOW + dt.timedelta(hours=1)),
    )
    _refused(ExpiredOrNotYetValid, _present(future, device), parties)


def test_certificate_untrusted(
    device: SoftwareSigner, issued: IssuerSigned, parties: Issuer
) -> None:
    other, _ = trust_anchor("Another IACA")
    _refused(UntrustedCertificate, _present(issued, device), parties, trust=[other])


def test_certificate_outside_its_validity(
    device: SoftwareSigner, issued: IssuerSigned, parties: Issuer
) -> None:
    later = FixedClock((NOW + dt.timedelta(days=400)).timestamp())
    with pytest.raises(UntrustedCertificate):
        verify_device_response(
            _present(issued, device),
            session_transcript=TRANSCRIPT,
            trust=[parties.anchor],
            clock=later,
        )


def test_issuer_auth_signature_broken(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    def flip(value: dict[str, Any]) -> None:
        issuer_auth = value["documents"][0]["issuerSigned"]["issuerAuth"]
        issuer_auth[3] = bytes([issuer_auth[3][0] ^ 1]) + issuer_auth[3][1:]

    _refused(IssuerSignatureInvalid, rewrite(_present(issued, device), flip), parties)


def test_mso_payload_swapped(parties: Issuer, device: SoftwareSigner, issued: IssuerSigned) -> None:
    other = issue(parties.signer, device.public_jwk()).issuer_signed

    def swap(value: dict[str, Any]) -> None:
        value["documents"][0]["issuerSigned"]["issuerAuth"][2] = other.issuer_auth.payload

    _refused(IssuerSignatureInvalid, rewrite(_present(issued, device), swap), parties)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda v: v.update(status=10), MalformedMdoc, "status is 10"),
        (lambda v: v.update(version="2.0"), UnsupportedVersion, "version"),
        (lambda v: v.update(documents=[]), MalformedMdoc, "must not be empty"),
        (lambda v: v.pop("documents"), MalformedMdoc, "lacks 'documents'"),
        (lambda v: v["documents"][0].pop("deviceSigned"), MalformedMdoc, "deviceSigned"),
        (
            lambda v: v["documents"][0]["deviceSigned"]["deviceAuth"].pop("deviceSignature"),
            DeviceAuthInvalid,
            "no deviceSignature",
        ),
        (
            lambda v: v["documents"][0]["deviceSigned"].update(nameSpaces={}),
            MalformedMdoc,
            "tag 24",
        ),
        (
            lambda v: v["documents"][0]["issuerSigned"]["issuerAuth"].pop(),
            MalformedMdoc,
            "four items",
        ),
    ],
)
def test_malformed_device_responses(
    parties: Issuer,
    device: SoftwareSigner,
    issued: IssuerSigned,
    change: Any,
    error: type[MdocError],
    message: str,
) -> None:
    failure = _refused(error, rewrite(_present(issued, device), change), parties)
    assert message in str(failure)


def test_too_many_documents(parties: Issuer, device: SoftwareSigner, issued: IssuerSigned) -> None:
    response = rewrite(_present(issued, device), lambda v: v.update(documents=v["documents"] * 3))
    _refused(MalformedMdoc, response, parties, max_documents=2)


# -- CBOR attacks on the verifier ------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (b"\x9f" * 50_000, "indefinite-length"),
        (
            bytes.fromhex("a3 6776657273696f6e 63312e30 66737461747573 00 66737461747573 00"),
            "duplicate",
        ),
        (b"\x81" * 5_000 + b"\x00", "nested deeper"),
        (bytes.fromhex("5b 7fffffffffffffff"), "longer than"),
        (bytes.fromhex("c1 1a 65000000"), "tag 1"),
        (b"\x00" * 2_000_000, "larger than"),
        (b"not base64url!", "CBOR"),
    ],
    ids=[
        "indefinite bomb",
        "duplicate keys",
        "deep nesting",
        "huge byte string",
        "unexpected tag",
        "oversized",
        "garbage",
    ],
)
def test_cbor_attacks(parties: Issuer, response: bytes, message: str) -> None:
    failure = _refused(MalformedCbor, response, parties)
    assert message in str(failure) and failure.check == "cbor"
    assert failure.passed_checks == ()


def test_huge_text_token_is_refused_before_decoding(parties: Issuer) -> None:
    _refused(MalformedCbor, "A" * 3_000_000, parties)


def test_limits_bound_the_inner_items(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    # The portrait passes the default limits but not a tighter string limit.
    response = _present(issued, device)
    _refused(MalformedCbor, response, parties, limits=CborLimits(max_string_bytes=32))


# An altered certificate may carry a non-positive serial number, which cryptography
# loads with a deprecation warning (and will refuse, as a ValueError, in a later release).
@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_an_altered_byte_is_refused_or_discloses_less(data: st.DataObject) -> None:
    """Any flipped byte gives an MdocError (never another exception), or, where it only
    renames an optional member (IssuerSigned's ``nameSpaces``, ``documentErrors``), a
    verified response that discloses no more than the original did."""
    response = bytearray(_RESPONSE)
    index = data.draw(st.integers(0, len(response) - 1))
    response[index] ^= data.draw(st.integers(1, 255))
    try:
        verified = verify_device_response(
            bytes(response), session_transcript=TRANSCRIPT, trust=[_PARTIES.anchor], clock=CLOCK
        )
    except MdocError:
        return
    (document,) = verified.documents
    for name_space, elements in document.claims.items():
        assert elements.items() <= _DISCLOSED[name_space].items()


_PARTIES = issuer()
_DEVICE = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
_DISCLOSED = {MDL_NAMESPACE: {"age_over_18": True, "given_name": "E"}}
_RESPONSE = present_mdoc(
    issue(
        _PARTIES.signer, _DEVICE.public_jwk(), elements={"age_over_18": True, "given_name": "E"}
    ).issuer_signed,
    disclose={MDL_NAMESPACE: ["age_over_18", "given_name"]},
    session_transcript=TRANSCRIPT,
    device_signer=_DEVICE,
)


def test_a_remembered_document_signer_chain_gives_the_same_answers(
    parties: Issuer, device: SoftwareSigner, issued: IssuerSigned
) -> None:
    """With ``IssuerTrust.chains`` the agency's chain is path-validated once; a response
    verifies as without it, and under anchors the chain does not lead to it is refused
    all the same (chains are remembered with the anchors they validated to); the mdoc's
    docType given to the wallet's presentation spares reading its MSO again."""
    chains = ValidatedChains()
    trust = IssuerTrust((parties.anchor,), chains=chains)
    response = present_mdoc(
        issued,
        disclose=AGE,
        session_transcript=TRANSCRIPT,
        device_signer=device,
        doc_type=MDL_DOC_TYPE,
    )
    for _ in range(2):
        (document,) = _verify(response, parties, trust=trust).documents
        assert document.claims[MDL_NAMESPACE]["age_over_18"] is True
    other = IssuerTrust((issuer().anchor,), chains=chains)
    assert _refused(UntrustedCertificate, response, parties, trust=other).check == (
        checks.TRUST_CHAIN
    )
