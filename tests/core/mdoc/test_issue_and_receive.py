"""Issuing an mdoc and what the wallet checks on receipt (core.mdoc.issue,
core.mdoc.verify_issued): the round trip, the structure ISO/IEC 18013-5 §9.1.2 and
OpenID4VCI 1.0 A.2 ask for, and one named negative test per check."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import FixedClock
from core.encoding import b64url_decode
from core.mdoc import checks
from core.mdoc.cbor import EncodedCbor, decode
from core.mdoc.cose_key import cose_key_from_jwk
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE, claims_to_json
from core.mdoc.errors import (
    DeviceKeyMismatch,
    DigestAlgorithmNotAllowed,
    DigestMismatch,
    DocTypeMismatch,
    ElementNotCovered,
    ExpiredOrNotYetValid,
    IssuerSignatureInvalid,
    MalformedCbor,
    MalformedMdoc,
    MdocError,
    UntrustedCertificate,
)
from core.mdoc.issuer_signed import IssuerSigned, decode_issuer_signed
from core.mdoc.verify_issued import verify_issued_mdoc
from core.mdoc.verify_issuer_signed import IssuerTrust
from core.status_list.token import StatusReference
from tests.core.mdoc.forge import DISCLOSED, issue, replace_item, resign_mso
from tests.core.mdoc.pki import NOW, Issuer, device_signer, document_signer, issuer, trust_anchor

CLOCK = FixedClock(NOW.timestamp())
STATUS = StatusReference(412, "https://issuer.example/statuslists/1")


@pytest.fixture(scope="module")
def parties() -> Issuer:
    return issuer()


@pytest.fixture(scope="module")
def holder() -> dict[str, str]:
    return device_signer().public_jwk()


def _receive(credential: str | bytes, parties: Issuer, **options: Any) -> Any:
    return verify_issued_mdoc(credential, trust=[parties.anchor], clock=CLOCK, **options)


def test_round_trip(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder, status=STATUS)
    verified = _receive(
        issued.credential, parties, expected_doc_type=MDL_DOC_TYPE, holder_jwk=holder
    )
    assert verified.doc_type == MDL_DOC_TYPE
    assert verified.claims == {MDL_NAMESPACE: DISCLOSED}
    assert verified.device_key_jwk == holder
    assert verified.status == STATUS
    assert verified.validity.valid_until == NOW + dt.timedelta(days=365)
    assert verified.issuer_certificate == parties.certificate
    assert verified.issuer_algorithm == -7
    assert verified.checks == (
        checks.CBOR,
        checks.STRUCTURE,
        checks.TRUST_CHAIN,
        checks.ISSUER_SIGNATURE,
        checks.DOC_TYPE,
        checks.DIGESTS,
        checks.VALIDITY,
        checks.DEVICE_KEY,
    )
    json_claims = claims_to_json(verified.claims)[MDL_NAMESPACE]
    assert json_claims["birth_date"] == "1964-08-12"
    assert json_claims["driving_privileges"][0]["issue_date"] == "2010-03-01"


def test_issued_structure_is_iso_18013_5(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder, status=STATUS)
    # OpenID4VCI A.2.4: the credential is base64url of the CBOR IssuerSigned.
    issuer_signed = decode(b64url_decode(issued.credential))
    assert set(issuer_signed) == {"nameSpaces", "issuerAuth"}
    protected, unprotected, payload, _ = issuer_signed["issuerAuth"]
    assert decode(protected) == {1: -7}
    # x5chain (label 33), unprotected: the document signer certificate alone.
    assert unprotected[33] == parties.certificate.public_bytes(Encoding.DER)
    # The payload is MobileSecurityObjectBytes: tag 24 around the MSO.
    assert payload[:2] == b"\xd8\x18"
    mso = decode(payload).decode()
    assert mso["version"] == "1.0"
    assert mso["digestAlgorithm"] == "SHA-256"
    assert mso["docType"] == MDL_DOC_TYPE
    assert mso["deviceKeyInfo"] == {"deviceKey": cose_key_from_jwk(holder)}
    assert mso["status"] == {"status_list": {"idx": 412, "uri": STATUS.uri}}
    assert set(mso["validityInfo"]) == {"signed", "validFrom", "validUntil"}
    items = issuer_signed["nameSpaces"][MDL_NAMESPACE]
    assert all(isinstance(item, EncodedCbor) for item in items)
    decoded = [item.decode() for item in items]
    assert {d["elementIdentifier"] for d in decoded} == set(DISCLOSED)
    assert all(len(d["random"]) >= 16 for d in decoded)
    digest_ids = [d["digestID"] for d in decoded]
    assert len(set(digest_ids)) == len(digest_ids)
    assert set(mso["valueDigests"][MDL_NAMESPACE]) == set(digest_ids)
    by_name = {d["elementIdentifier"]: d["elementValue"] for d in decoded}
    assert by_name["birth_date"] == dt.date(1964, 8, 12)  # full-date, tag 1004
    assert by_name["age_over_18"] is True
    # validityInfo as tdate text the way §7.2.1 wants it: UTC, "Z", no fraction.
    signed = (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert b"\xc0\x74" + signed in decode(payload).data


def test_digest_ids_are_random(parties: Issuer, holder: dict[str, str]) -> None:
    first = issue(parties.signer, holder).issuer_signed.name_spaces[MDL_NAMESPACE]
    second = issue(parties.signer, holder).issuer_signed.name_spaces[MDL_NAMESPACE]
    assert [i.digest_id for i in first] != [i.digest_id for i in second]
    assert sorted(i.digest_id for i in first) != list(range(len(first)))


def test_issued_raw_cbor_is_accepted_too(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    assert _receive(issued.encoded, parties).claims == {MDL_NAMESPACE: DISCLOSED}
    assert decode_issuer_signed(issued.credential).encode() == issued.encoded


def test_sha_384_and_512_digests(parties: Issuer, holder: dict[str, str]) -> None:
    for algorithm in ("SHA-384", "SHA-512"):
        issued = issue(parties.signer, holder, digest_algorithm=algorithm)
        assert _receive(issued.credential, parties).mso.digest_algorithm == algorithm


# -- one negative test per check -------------------------------------------------------


def _refused(
    error: type[MdocError], credential: str | bytes, parties: Issuer, **options: Any
) -> MdocError:
    with pytest.raises(error) as caught:
        _receive(credential, parties, **options)
    return caught.value


def test_tampered_element_value(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    tampered = replace_item(
        issued.issuer_signed, "age_over_21", lambda item: item.update(elementValue=False)
    )
    failure = _refused(DigestMismatch, tampered.to_credential(), parties)
    assert failure.check == "digests"
    assert failure.passed_checks[-1] == checks.DOC_TYPE


def test_tampered_random(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    tampered = replace_item(
        issued.issuer_signed, "family_name", lambda item: item.update(random=b"\1" * 16)
    )
    _refused(DigestMismatch, tampered.to_credential(), parties)


def test_element_not_covered_by_the_mso(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    moved = replace_item(
        issued.issuer_signed, "given_name", lambda item: item.update(digestID=2**31 + 7)
    )
    _refused(ElementNotCovered, moved.to_credential(), parties)


def test_name_space_not_covered_by_the_mso(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    extra = IssuerSigned(
        {
            **issued.issuer_signed.name_spaces,
            "org.example.other": issued.issuer_signed.name_spaces[MDL_NAMESPACE],
        },
        issued.issuer_signed.issuer_auth,
    )
    _refused(ElementNotCovered, extra.to_credential(), parties)


def test_digest_algorithm_not_allowed(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder, digest_algorithm="SHA-512")
    trust = IssuerTrust([parties.anchor], digest_algorithms={"SHA-256"})
    with pytest.raises(DigestAlgorithmNotAllowed, match="SHA-512"):
        verify_issued_mdoc(issued.credential, trust=trust, clock=CLOCK)


def test_unknown_digest_algorithm_is_not_allowed(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    forged = resign_mso(
        issued.issuer_signed, parties.signer, lambda mso: mso.update(digestAlgorithm="MD5")
    )
    _refused(DigestAlgorithmNotAllowed, forged.to_credential(), parties)


def test_mso_expired(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(
        parties.signer,
        holder,
        valid_from=NOW - dt.timedelta(days=30),
        valid_until=NOW - dt.timedelta(minutes=5),
    )
    failure = _refused(ExpiredOrNotYetValid, issued.credential, parties)
    assert "expired" in str(failure) and failure.check == "validity"


def test_mso_not_yet_valid(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(
        parties.signer,
        holder,
        valid_from=NOW + dt.timedelta(minutes=5),
        valid_until=NOW + dt.timedelta(days=30),
    )
    _refused(ExpiredOrNotYetValid, issued.credential, parties)


def test_validity_within_leeway_is_accepted(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(
        parties.signer,
        holder,
        valid_from=NOW + dt.timedelta(seconds=30),
        valid_until=NOW + dt.timedelta(days=30),
    )
    assert _receive(issued.credential, parties).doc_type == MDL_DOC_TYPE


def test_signed_outside_the_certificate_validity(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(
        parties.signer,
        holder,
        signed=NOW - dt.timedelta(days=20),  # the certificate starts 10 days before NOW
        valid_from=NOW - dt.timedelta(days=20),
    )
    failure = _refused(ExpiredOrNotYetValid, issued.credential, parties)
    assert "certificate" in str(failure)


def test_certificate_untrusted(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    other_anchor, _ = trust_anchor("Another IACA")
    with pytest.raises(UntrustedCertificate) as caught:
        verify_issued_mdoc(issued.credential, trust=[other_anchor], clock=CLOCK)
    assert caught.value.check == "trust_chain"
    assert caught.value.passed_checks == (checks.CBOR, checks.STRUCTURE)


def test_certificate_expired(holder: dict[str, str]) -> None:
    anchor, anchor_key = trust_anchor()
    _, signer = document_signer(
        anchor,
        anchor_key,
        not_before=NOW - dt.timedelta(days=20),
        not_after=NOW - dt.timedelta(days=1),
    )
    issued = issue(signer, holder, valid_from=NOW - dt.timedelta(days=2))
    with pytest.raises(UntrustedCertificate):
        verify_issued_mdoc(issued.credential, trust=[anchor], clock=CLOCK)


def test_certificate_not_yet_valid(holder: dict[str, str]) -> None:
    anchor, anchor_key = trust_anchor()
    _, signer = document_signer(anchor, anchor_key, not_before=NOW + dt.timedelta(days=1))
    issued = issue(signer, holder)
    with pytest.raises(UntrustedCertificate):
        verify_issued_mdoc(issued.credential, trust=[anchor], clock=CLOCK)


def test_trust_anchor_in_the_chain_is_refused(parties: Issuer, holder: dict[str, str]) -> None:
    from core.keys.x509 import to_x5c

    x5c = to_x5c([parties.certificate, parties.anchor])
    issued = issue(parties.signer, holder, x5chain=x5c)
    _refused(UntrustedCertificate, issued.credential, parties)


def test_issuer_auth_signature_broken(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    auth = issued.issuer_signed.issuer_auth
    broken = IssuerSigned(
        issued.issuer_signed.name_spaces,
        type(auth)(
            auth.protected,
            auth.protected_header,
            auth.unprotected_header,
            auth.payload,
            auth.signature[:-1] + bytes([auth.signature[-1] ^ 1]),
        ),
    )
    failure = _refused(IssuerSignatureInvalid, broken.to_credential(), parties)
    assert failure.passed_checks[-1] == checks.TRUST_CHAIN


def test_issuer_auth_signed_by_another_key(parties: Issuer, holder: dict[str, str]) -> None:
    # Signed by a key other than the certificate's, with the genuine certificate attached.
    _, stranger = document_signer(parties.anchor, parties.anchor_key)
    issued = issue(stranger, holder, x5chain=parties.signer.x5c)
    _refused(IssuerSignatureInvalid, issued.credential, parties)


def test_issuer_algorithm_not_allowed(holder: dict[str, str]) -> None:
    anchor, anchor_key = trust_anchor()
    _, signer = document_signer(anchor, anchor_key, curve=ec.SECP384R1())
    issued = issue(signer, holder)
    with pytest.raises(IssuerSignatureInvalid, match="-35 is not allowed"):
        verify_issued_mdoc(issued.credential, trust=[anchor], clock=CLOCK)
    trust = IssuerTrust([anchor], algorithms={-7, -35})
    assert verify_issued_mdoc(issued.credential, trust=trust, clock=CLOCK).issuer_algorithm == -35


def test_doc_type_not_the_expected_one(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder, doc_type="eu.europa.ec.eudi.pid.1")
    failure = _refused(DocTypeMismatch, issued.credential, parties, expected_doc_type=MDL_DOC_TYPE)
    assert failure.check == "doc_type"


def test_bound_to_another_device_key(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    failure = _refused(
        DeviceKeyMismatch, issued.credential, parties, holder_jwk=device_signer().public_jwk()
    )
    assert failure.passed_checks[-1] == checks.VALIDITY


def test_short_random_is_refused(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    items = issued.issuer_signed.name_spaces[MDL_NAMESPACE]
    forged = replace_item(
        issued.issuer_signed, items[0].element_identifier, lambda i: i.update(random=b"\0" * 8)
    )
    fixed = resign_mso(forged, parties.signer, lambda mso: None)
    # Its digest must fit for the random's length to be what is refused.
    from core.mdoc.mso import digest

    item = fixed.name_spaces[MDL_NAMESPACE][0]
    fixed = resign_mso(
        fixed,
        parties.signer,
        lambda mso: mso["valueDigests"][MDL_NAMESPACE].update(
            {item.digest_id: digest("SHA-256", item.encoded.tagged())}
        ),
    )
    failure = _refused(MalformedMdoc, fixed.to_credential(), parties)
    assert "random" in str(failure)


def test_duplicate_element_is_refused(parties: Issuer, holder: dict[str, str]) -> None:
    issued = issue(parties.signer, holder)
    items = issued.issuer_signed.name_spaces[MDL_NAMESPACE]
    doubled = IssuerSigned({MDL_NAMESPACE: (*items, items[0])}, issued.issuer_signed.issuer_auth)
    _refused(MalformedMdoc, doubled.to_credential(), parties)


@pytest.mark.parametrize(
    ("credential", "error"),
    [
        ("not base64url!", MalformedCbor),
        ("oA", MalformedMdoc),  # {}: no issuerAuth
        ("gA", MalformedMdoc),  # []: not a map
        ("nwH_", MalformedCbor),  # indefinite-length array
    ],
)
def test_malformed_credentials(parties: Issuer, credential: str, error: type[MdocError]) -> None:
    _refused(error, credential, parties)


@pytest.mark.parametrize(
    ("elements", "message"),
    [
        ({}, "at least one data element"),
        ({"x": float("nan")}, "NaN"),
        ({"x": object()}, "not a CBOR data element"),
        ({"x": dt.datetime(2020, 1, 1)}, "time zone"),
        ({"x": {b"k": 1}}, "map key"),
    ],
)
def test_issuing_refuses_what_is_not_a_data_element(
    parties: Issuer, holder: dict[str, str], elements: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        issue(parties.signer, holder, elements=elements)


def test_issuing_refuses_times_out_of_order(parties: Issuer, holder: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="validity"):
        issue(parties.signer, holder, valid_from=NOW, valid_until=NOW - dt.timedelta(seconds=1))


def test_issuing_refuses_a_signer_without_a_certificate(holder: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="x5chain"):
        issue(device_signer(), holder)


_PARTIES = issuer()
_HOLDER = device_signer().public_jwk()
_ISSUED = issue(_PARTIES.signer, _HOLDER, elements={"age_over_18": True, "given_name": "E"})


# An altered certificate may carry a non-positive serial number, which cryptography
# loads with a deprecation warning (and will refuse, as a ValueError, in a later release).
@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_an_altered_byte_is_refused_or_discloses_less(data: st.DataObject) -> None:
    """Any flipped byte of an issued mdoc gives an MdocError (never another exception),
    or a verified mdoc with no element the issuer did not sign."""
    credential = bytearray(_ISSUED.encoded)
    index = data.draw(st.integers(0, len(credential) - 1))
    credential[index] ^= data.draw(st.integers(1, 255))
    try:
        verified = verify_issued_mdoc(bytes(credential), trust=[_PARTIES.anchor], clock=CLOCK)
    except MdocError:
        return
    for name_space, elements in verified.claims.items():
        assert name_space == MDL_NAMESPACE
        assert elements.items() <= {"age_over_18": True, "given_name": "E"}.items()
