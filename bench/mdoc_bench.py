"""ISO mdoc issue / present / full verify of an 11-element mobile driving licence: idwallet
(:mod:`core.mdoc`) beside pymdoccbor, the EUDI wallet's Python mdoc library (on cbor2 and
pycose), and beside raw ``cryptography`` ES256, in the same run on the same core.

pymdoccbor issues (``MdocCborIssuer``) and verifies issuerAuth, its document signer
certificate and the digests (``MdocCbor.verify``); it has nothing to build a
``DeviceResponse`` (no DeviceSigned, no DeviceAuthentication) and does not check
``deviceSignature``. So its present is not measured, and its full verify adds the
DeviceAuth check with pycose, as the interop tests do. Both verify the same
``DeviceResponse`` (ours), and issue the same elements with the same key and certificate.

Run by ``make bench``, or alone with ``python -m bench.mdoc_bench`` (pinned to one core; it
rewrites its own section of ``docs/benchmarks.md``)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from pycose.algorithms import Es256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message
from pymdoccbor.mdoc.issuer import MdocCborIssuer
from pymdoccbor.mdoc.verifier import MdocCbor

from bench.measure import Measurement, measure_together, pin_to_one_core
from bench.sections import splice_section
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    ValidatedChains,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)
from core.mdoc.cose_key import cose_key_from_jwk
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from core.mdoc.issue import issue_mdoc
from core.mdoc.issuer_signed import decode_issuer_signed
from core.mdoc.present import present_mdoc
from core.mdoc.session_transcript import openid4vp_session_transcript
from core.mdoc.verify_issued import verify_issued_mdoc
from core.mdoc.verify_issuer_signed import IssuerTrust
from core.mdoc.verify_presentation import verify_device_response
from core.status_list.token import StatusReference

HEADING = "## ISO mdoc: issue, present, verify"
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

ISSUER = "https://id.example.gov/issuers/transport-agency"
STATUS = StatusReference(4711, "https://id.example.gov/status-lists/transport-agency/1")
CLIENT_ID = "x509_hash:Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk"
NONCE = "hS8zY1Kx9bQwT3mE5nV7rA2cD4fG6jL8"
RESPONSE_URI = "https://id.example.gov/verifiers/city-hall-counter/responses/AbCdEfGh"
VALID_DAYS = 365 * 5

#: The transport agency's mobile driving licence (``issuers/catalog/transport-agency.json``):
#: its 11 elements, dates as ISO strings (pymdoccbor tags them as full-date itself).
ELEMENTS: dict[str, Any] = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": "1964-08-12",
    "issue_date": "2024-03-01",
    "expiry_date": "2034-02-28",
    "issuing_country": "DE",
    "issuing_authority": "Transport Agency",
    "document_number": "B072RRE2I55",
    "un_distinguishing_sign": "D",
    "age_over_18": True,
}
PRIVILEGES: list[dict[str, Any]] = [
    {"vehicle_category_code": "B", "issue_date": "1982-09-01", "expiry_date": "2033-09-01"},
    {
        "vehicle_category_code": "A",
        "issue_date": "1990-05-15",
        "expiry_date": "2030-05-15",
        "codes": [{"code": "78", "sign": "=", "value": "automatic"}],
    },
]
_DATES = ("birth_date", "issue_date", "expiry_date")
#: The four elements presented (a roadside check).
PRESENTED = ["family_name", "given_name", "age_over_18", "driving_privileges"]

OURS_ISSUE = "idwallet issue"
OURS_PRESENT = "idwallet present (4 elements + DeviceAuth)"
OURS_VERIFY = "idwallet full verify"
REF_ISSUE = "pymdoccbor issue"
REF_VERIFY = "pymdoccbor verify + pycose DeviceAuth"
REF_ISSUE_OPENSSL = "pymdoccbor issue, pycose ES256 through OpenSSL (shim)"
REF_VERIFY_OPENSSL = "pymdoccbor verify + pycose DeviceAuth, ES256 through OpenSSL (shim)"
RAW_SIGN = "cryptography ES256 sign"
RAW_VERIFY = "cryptography ES256 verify"


def _dated(element: dict[str, Any]) -> dict[str, Any]:
    return {
        name: dt.date.fromisoformat(value) if name in _DATES else value
        for name, value in element.items()
    }


def our_elements() -> dict[str, Any]:
    """The elements as :func:`core.mdoc.issue.issue_mdoc` takes them (``date`` values)."""
    return {
        **_dated(ELEMENTS),
        "driving_privileges": [_dated(privilege) for privilege in PRIVILEGES],
    }


def reference_elements() -> dict[str, Any]:
    """The same elements, fresh for each issuance: pymdoccbor tags the dates inside
    ``driving_privileges`` in place."""
    return {
        **ELEMENTS,
        "driving_privileges": [
            {**privilege, "codes": [dict(code) for code in privilege["codes"]]}
            if "codes" in privilege
            else dict(privilege)
            for privilege in PRIVILEGES
        ],
    }


T = TypeVar("T")


def _openssl_sign(cls: type, key: Any, data: bytes) -> bytes:
    private = ec.derive_private_key(int.from_bytes(key.d, "big"), ec.SECP256R1())
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _openssl_verify(cls: type, key: Any, data: bytes, signature: bytes) -> bool:
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(key.x, "big"), int.from_bytes(key.y, "big"), ec.SECP256R1()
    )
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        numbers.public_key().verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@contextmanager
def _pycose_es256_through_openssl() -> Iterator[None]:
    """pycose signs and verifies ECDSA with the pure-Python ``ecdsa`` package; for an
    informative row, ES256 goes through ``cryptography`` (OpenSSL) instead while it runs,
    so that what remains is the mdoc work of the library itself."""
    sign, verify = Es256.__dict__.get("sign"), Es256.__dict__.get("verify")
    Es256.sign = classmethod(_openssl_sign)  # type: ignore[method-assign,assignment]
    Es256.verify = classmethod(_openssl_verify)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        for name, original in (("sign", sign), ("verify", verify)):
            if original is None:
                delattr(Es256, name)
            else:
                setattr(Es256, name, original)


def _with_openssl_es256(operation: Callable[[], T]) -> Callable[[], T]:
    def shimmed() -> T:
        with _pycose_es256_through_openssl():
            return operation()

    return shimmed


@dataclass(frozen=True)
class MdocResults:
    ours: dict[str, Measurement]
    reference: dict[str, Measurement]
    #: The reference with pycose's ES256 through OpenSSL: informative, not the target.
    reference_openssl: dict[str, Measurement]
    raw: dict[str, Measurement]
    issued_bytes: int
    reference_issued_bytes: int
    presented_bytes: int

    def ratio(self, operation: str) -> float:
        """Our rate ÷ the reference's for ``issue`` or ``verify``."""
        return self.ours[operation].ops_per_second / self.reference[operation].ops_per_second


#: Issue and verify at least twice as fast as the independent implementation (issue 20).
TARGET_RATIO = 2.0


def _device_authentication_reference(
    document: dict[str, Any], transcript: bytes, device_key: dict[int, Any]
) -> bool:
    """ISO/IEC 18013-5 §9.1.3: the DeviceAuth check pymdoccbor leaves out, with cbor2 and
    pycose alone (the ``DeviceAuthenticationBytes`` built from the verifier's transcript)."""
    device_signed = document["deviceSigned"]
    device_authentication = [
        "DeviceAuthentication",
        cbor2.loads(transcript),
        document["docType"],
        device_signed["nameSpaces"],
    ]
    detached = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(device_authentication)))
    message = Sign1Message.from_cose_obj(list(device_signed["deviceAuth"]["deviceSignature"]), True)
    message.key = EC2Key.from_dict(device_key)
    return bool(message.verify_signature(detached_payload=detached))


def run() -> MdocResults:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    anchor_key = ec.generate_private_key(ec.SECP256R1())
    anchor = create_trust_anchor(
        SoftwareSigner(anchor_key), common_name="Benchmark IACA", now=now, country="DE"
    )
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_access_certificate(
        AccessCertificateRequest(common_name="Transport Agency", uris=(ISSUER,), country="DE"),
        issuer_key.public_key(),
        anchor_signer=SoftwareSigner(anchor_key),
        anchor=anchor,
        now=now,
    )
    issuer = SoftwareSigner(issuer_key, x5c=to_x5c([certificate]))
    holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    holder_jwk = holder.public_jwk()
    # as a verifier runs: the agency's chain, validated once, is remembered
    trust = IssuerTrust((anchor,), chains=ValidatedChains())
    valid_until = now + dt.timedelta(days=VALID_DAYS)
    elements = our_elements()

    def our_issue() -> bytes:
        return issue_mdoc(
            {MDL_NAMESPACE: elements},
            issuer,
            doc_type=MDL_DOC_TYPE,
            holder_jwk=holder_jwk,
            signed=now,
            valid_from=now,
            valid_until=valid_until,
            status=STATUS,
        ).encoded

    issued = our_issue()

    def our_present() -> bytes:
        """The wallet's part: the stored credential decoded, the session transcript of the
        request, the four elements chosen, DeviceAuth signed."""
        transcript = openid4vp_session_transcript(
            client_id=CLIENT_ID, nonce=NONCE, response_uri=RESPONSE_URI
        )
        return present_mdoc(
            decode_issuer_signed(issued),
            disclose={MDL_NAMESPACE: PRESENTED},
            session_transcript=transcript,
            device_signer=holder,
            doc_type=MDL_DOC_TYPE,  # as the wallet stored it when it verified the mdoc
        )

    presented = our_present()
    transcript = openid4vp_session_transcript(
        client_id=CLIENT_ID, nonce=NONCE, response_uri=RESPONSE_URI
    )
    expected_doc_types = frozenset({MDL_DOC_TYPE})

    def our_verify() -> object:
        return verify_device_response(
            presented,
            session_transcript=transcript,
            trust=trust,
            expected_doc_types=expected_doc_types,
        )

    (document,) = verify_device_response(
        presented, session_transcript=transcript, trust=trust
    ).documents
    assert list(document.claims[MDL_NAMESPACE]) == PRESENTED

    private_value = issuer_key.private_numbers().private_value
    reference_issuer = MdocCborIssuer(
        private_key={
            "KTY": "EC2",
            "CURVE": "P_256",
            "ALG": "ES256",
            "D": private_value.to_bytes(32, "big"),
        },
        alg="ES256",
    )
    device_cose_key = cose_key_from_jwk(holder_jwk)
    validity = {
        "issuance_date": now.strftime("%Y-%m-%d"),
        "expiry_date": valid_until.strftime("%Y-%m-%d"),
    }
    revocation = {"status_list": {"idx": STATUS.index, "uri": STATUS.uri}}

    def reference_issue() -> bytes:
        mdoc = reference_issuer.new(
            data={MDL_NAMESPACE: reference_elements()},
            doctype=MDL_DOC_TYPE,
            validity=validity,
            devicekeyinfo=device_cose_key,
            x509_chain=[certificate],
            revocation=revocation,
        )
        # The credential of a Credential Response is the encoded IssuerSigned.
        return bytes(cbor2.dumps(mdoc["documents"][0]["issuerSigned"], canonical=True))

    reference_issued = reference_issue()
    # Same inputs: both issued mdocs carry the same elements, as our verifier reads them.
    ours_read = verify_issued_mdoc(issued, trust=trust, holder_jwk=holder_jwk)
    theirs_read = verify_issued_mdoc(reference_issued, trust=trust, holder_jwk=holder_jwk)
    assert ours_read.claims == theirs_read.claims == {MDL_NAMESPACE: elements}
    assert ours_read.status == theirs_read.status == STATUS

    anchors: list[x509.Certificate] = [anchor]

    def reference_verify() -> bool:
        reader = MdocCbor()
        reader.loads(presented)
        if not reader.verify(trusted_root_certs=anchors, verify_hashes=True):
            raise AssertionError("pymdoccbor refused the DeviceResponse")
        (verified,) = reader.documents
        mso = verified.issuersigned.issuer_auth.payload_as_dict
        device_key = mso["deviceKeyInfo"]["deviceKey"]
        (raw_document,) = reader.data_as_cbor_dict["documents"]
        if not _device_authentication_reference(raw_document, transcript, device_key):
            raise AssertionError("pycose refused the deviceSignature")
        return True

    assert reference_verify()
    reference_issue_openssl = _with_openssl_es256(reference_issue)
    reference_verify_openssl = _with_openssl_es256(reference_verify)
    assert verify_issued_mdoc(reference_issue_openssl(), trust=trust).claims == ours_read.claims
    assert reference_verify_openssl()

    signing_input = issued[:256]
    der_signature = issuer_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    issuer_public = issuer_key.public_key()

    def raw_sign() -> bytes:
        return issuer_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))

    def raw_verify() -> None:
        issuer_public.verify(der_signature, signing_input, ec.ECDSA(hashes.SHA256()))

    measured = measure_together(
        {
            OURS_ISSUE: our_issue,
            REF_ISSUE: reference_issue,
            OURS_PRESENT: our_present,
            OURS_VERIFY: our_verify,
            REF_VERIFY: reference_verify,
            REF_ISSUE_OPENSSL: reference_issue_openssl,
            REF_VERIFY_OPENSSL: reference_verify_openssl,
            RAW_SIGN: raw_sign,
            RAW_VERIFY: raw_verify,
        }
    )
    return MdocResults(
        ours={
            "issue": measured[OURS_ISSUE],
            "present": measured[OURS_PRESENT],
            "verify": measured[OURS_VERIFY],
        },
        reference={"issue": measured[REF_ISSUE], "verify": measured[REF_VERIFY]},
        reference_openssl={
            "issue": measured[REF_ISSUE_OPENSSL],
            "verify": measured[REF_VERIFY_OPENSSL],
        },
        raw={"sign": measured[RAW_SIGN], "verify": measured[RAW_VERIFY]},
        issued_bytes=len(issued),
        reference_issued_bytes=len(reference_issued),
        presented_bytes=len(presented),
    )


def _row(m: Measurement) -> str:
    kib = m.peak_bytes / 1024
    return f"| {m.name} | {m.microseconds:,.1f} | {m.ops_per_second:,.0f} | {kib:,.1f} |"


def section(results: MdocResults) -> list[str]:
    """The section of ``docs/benchmarks.md``; it renders on its own."""
    lines = [
        HEADING,
        "",
        "The transport agency's mobile driving licence (`org.iso.18013.5.1.mDL`) with its 11",
        "elements (`driving_privileges`: two categories with their dates, one with a code),",
        "a P-256 device key, a status list reference, and an ES256 `issuerAuth` with the",
        "document signer's certificate in `x5chain` under an IACA-like anchor.",
        f"Issued: {results.issued_bytes:,} bytes (pymdoccbor's: "
        f"{results.reference_issued_bytes:,}, its salts 32 bytes where ours are 16);",
        "presented with 4 elements (family_name, given_name, age_over_18, driving_privileges)",
        f"in a `DeviceResponse`: {results.presented_bytes:,} bytes.",
        "",
        "- Reference: **pymdoccbor** (PyPI; the EUDI wallet's Python mdoc library, on cbor2",
        "  and pycose), in the same language as ours. It issues the same elements with the",
        "  same key, certificate and device key. It has nothing to build a `DeviceResponse`",
        "  with (no DeviceSigned, no DeviceAuthentication), so present is ours alone.",
        "- Present (the wallet): the stored credential decoded, the OpenID4VP",
        "  `SessionTranscript` (OpenID4VPHandover) of the request built, the 4 elements",
        "  chosen, `deviceSignature` signed (ES256).",
        "- Full verify, ours: strict CBOR within limits, structure, the `x5chain` validated to",
        "  the anchor by path validation once and then remembered (`ValidatedChains`, as the",
        "  verifier runs it; the same agency's chain comes with every mdoc), issuerAuth",
        "  signature, docType, every disclosed digest, the validity window, DeviceAuth over",
        "  `DeviceAuthenticationBytes` built from the verifier's own transcript. Reference:",
        "  `MdocCbor.loads` + `verify()` (the document signer certificate's signature by the",
        "  anchor and its dates, issuerAuth signature, digests) and, since pymdoccbor does not",
        "  check `deviceSignature`, pycose verifying it over `DeviceAuthenticationBytes` built",
        "  with cbor2 from the MSO's device key; no MSO validity, docType or size checks. Both",
        "  verify the same `DeviceResponse` bytes: the reference with three ECDSA",
        "  verifications (certificate, issuerAuth, DeviceAuth), ours with two once the chain",
        "  is remembered.",
        "- pycose signs and verifies ECDSA with the pure-Python `ecdsa` package, which is most",
        "  of the reference's time. The rows marked *shim* run the same reference with",
        "  pycose's ES256 through `cryptography` (OpenSSL), as ours, for the bench only: what",
        "  is left is the libraries' own mdoc work. They are informative; the targets are",
        "  against the library as it ships.",
        "",
        "| operation | µs per operation | operations per second | peak KiB |",
        "| --- | ---: | ---: | ---: |",
    ]
    for group in (results.ours, results.reference, results.reference_openssl, results.raw):
        lines.extend(_row(m) for m in group.values())
    lines += [
        "",
        "| target | achieved | required | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for operation in ("issue", "verify"):
        achieved = results.ratio(operation)
        met = "yes" if achieved >= TARGET_RATIO else "no"
        lines.append(
            f"| mdoc {operation} rate ÷ pymdoccbor {operation} rate | {achieved:.2f} "
            f"| {TARGET_RATIO:.2f} | {met} |"
        )
    shim = {
        operation: results.ours[operation].ops_per_second
        / results.reference_openssl[operation].ops_per_second
        for operation in ("issue", "verify")
    }
    floor = 2 * results.raw["verify"].microseconds
    full = results.ours["verify"].microseconds
    lines += [
        "",
        "Against the shim rows (ECDSA alike on both sides): "
        f"issue {shim['issue']:.2f}×, verify {shim['verify']:.2f}×.",
        f"Two ES256 verifications take {floor:,.1f} µs, {floor / full:.0%} of our full verify;",
        "the rest is the strict CBOR scan, the digests and the checks.",
    ]
    return lines


def main() -> int:
    """This benchmark alone on one core; prints its section and writes it into
    ``docs/benchmarks.md`` (``python -m bench.mdoc_bench``)."""
    pinning = pin_to_one_core()
    results = run()
    lines = section(results)
    print(f"({pinning})")
    print("\n".join(lines))
    document = OUTPUT.read_text(encoding="utf-8")
    OUTPUT.write_text(splice_section(document, lines, before="## QR codes"), encoding="utf-8")
    print(f"wrote its section into {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
