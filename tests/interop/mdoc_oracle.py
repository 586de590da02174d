"""An independent ISO/IEC 18013-5 mdoc implementation for the tests: ``mdoc_oracle.mjs``,
``@owf/mdoc`` (the mdoc library of Credo) with node's crypto, run once per call. It issues
IssuerSigned structures, presents them as OpenID4VP DeviceResponses and verifies both, so
our ``mso_mdoc`` issuer, wallet and verifier can be checked against an implementation that
shares no code with ours.

Element values cross as JSON; what JSON lacks is marked: ``full_date`` (tag 1004),
``tdate`` (tag 0) and ``bstr`` build the markers, ``from_oracle`` turns answers back into
``date``, ``datetime`` and ``bytes``.

Without node or npm the test is skipped (failed under CI), as for the other node oracles
(``tests.interop.node_wallets``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from tests.interop.node_wallets import INTEROP, PACKAGES
from tests.support.node_packages import node_with_packages

ORACLE_SCRIPT = INTEROP / "mdoc_oracle.mjs"
LIBRARY = "@owf/mdoc"
_TIMEOUT = 60.0

#: How ``device_response`` may spoil what it presents, for a verifier to refuse:
#: ``element_value`` changes the first disclosed element after the issuer signed it (its
#: digest no longer matches); ``other_device_key`` signs with a new key, not the MSO's
#: device key; ``other_nonce`` signs a SessionTranscript with another nonce;
#: ``issuer_signature`` flips a bit of the issuer's signature.
Tamper = Literal["element_value", "other_device_key", "other_nonce", "issuer_signature"]

Json = Any


class MdocOracleError(RuntimeError):
    """The oracle could not carry out a command (bad input, a crash, a time-out): not a
    failed verification, which is an answer with ``ok`` false."""


# -- element values --------------------------------------------------------------------


def full_date(value: dt.date) -> dict[str, str]:
    """A full-date element value (tag 1004, RFC 8943), e.g. ``birth_date``."""
    return {"$full_date": value.isoformat()}


def tdate(value: dt.datetime) -> dict[str, str]:
    """A date-time element value (tag 0, whole seconds in UTC as ISO 18013-5 wants)."""
    utc = value.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None)
    return {"$tdate": utc.isoformat() + "Z"}


def bstr(value: bytes) -> dict[str, str]:
    """A byte string element value, e.g. ``portrait``."""
    return {"$bytes": b64url(value)}


def from_oracle(value: Json) -> Any:
    """An element value of an answer as Python: markers to ``date``, ``datetime`` (UTC)
    and ``bytes``, maps to dicts; other tags stay marked."""
    if isinstance(value, list):
        return [from_oracle(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"$full_date"}:
        return dt.date.fromisoformat(value["$full_date"])
    if value.keys() == {"$tdate"}:
        return dt.datetime.fromisoformat(value["$tdate"].replace("Z", "+00:00"))
    if value.keys() == {"$bytes"}:
        return b64url_decode(value["$bytes"])
    return {key: from_oracle(item) for key, item in value.items()}


# -- keys, certificates, bytes ---------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ec_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The JWK of an EC key: with ``d`` for a private key (as ``device_response`` wants
    the device key), without for a public one."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public.curve.name]
    size = (public.curve.key_size + 7) // 8
    numbers = public.public_numbers()
    jwk = {
        "kty": "EC",
        "crv": crv,
        "x": b64url(numbers.x.to_bytes(size, "big")),
        "y": b64url(numbers.y.to_bytes(size, "big")),
    }
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk["d"] = b64url(key.private_numbers().private_value.to_bytes(size, "big"))
    return jwk


def _certificates(certificates: Sequence[x509.Certificate]) -> list[str]:
    return [c.public_bytes(Encoding.PEM).decode("ascii") for c in certificates]


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("times for the mdoc oracle must be timezone-aware")
    return value.astimezone(dt.UTC).isoformat()


# -- the session transcript ------------------------------------------------------------------


@dataclass(frozen=True)
class Transcript:
    """The OpenID4VP 1.0 parameters of a SessionTranscript (Appendix B.2.6.1): the
    request's ``client_id``, ``nonce`` and ``response_uri`` (or ``redirect_uri``), and,
    for an encrypted response, the verifier's encryption key (its JWK, or the RFC 7638
    thumbprint of it)."""

    client_id: str
    nonce: str
    response_uri: str
    verifier_jwk: Mapping[str, Any] | None = None
    jwk_thumbprint: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "client_id": self.client_id,
            "nonce": self.nonce,
            "response_uri": self.response_uri,
        }
        if self.verifier_jwk is not None:
            params["verifier_jwk"] = dict(self.verifier_jwk)
        if self.jwk_thumbprint is not None:
            params["jwk_thumbprint"] = b64url(self.jwk_thumbprint)
        return params


# -- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check the library (or the oracle) made: ``PASSED``, ``FAILED`` or ``WARNING``."""

    status: str
    category: str
    check: str
    reason: str | None = None


@dataclass(frozen=True)
class MdocDocument:
    """What one verified (or refused) mdoc says. ``claims`` are as the oracle sends them
    (with markers: see ``from_oracle``). ``reencoding_differs`` names what the library
    re-encodes otherwise than it was received before checking it: elements
    (``namespace/element``) whose IssuerSignedItemBytes it digests anew, and
    ``issuerAuth/protected``, the issuer signature's protected header (see
    ``mdoc_oracle.mjs``). A digest or signature failure of those may be the library's, not
    the issuer's; an issuer that encodes as ``cbor-x`` does (deterministically: shortest
    lengths, map keys in the order written) has none."""

    doc_type: str
    digest_algorithm: str
    validity_info: dict[str, str]
    device_key: dict[str, str]
    status: Json
    claims: dict[str, dict[str, Json]]
    digest_ids: dict[str, dict[str, int]]
    issuer_certificates: list[str]
    issuer_algorithm: str
    reencoding_differs: list[str]
    device_signed: dict[str, Json] = field(default_factory=dict)

    @classmethod
    def from_json(cls, answer: Mapping[str, Any]) -> MdocDocument:
        return cls(
            doc_type=answer["doc_type"],
            digest_algorithm=answer["digest_algorithm"],
            validity_info=answer["validity_info"],
            device_key=answer["device_key"],
            status=answer["status"],
            claims=answer["claims"],
            digest_ids=answer["digest_ids"],
            issuer_certificates=answer["issuer_certificates"],
            issuer_algorithm=answer["issuer_algorithm"],
            reencoding_differs=answer["reencoding_differs"],
            device_signed=answer.get("device_signed", {}),
        )

    def values(self, namespace: str) -> dict[str, Any]:
        """The elements of ``namespace`` as Python values (``from_oracle``)."""
        return {k: from_oracle(v) for k, v in self.claims.get(namespace, {}).items()}


@dataclass(frozen=True)
class Verification:
    """The oracle's verdict: ``ok``, else ``error`` (the failed checks' text); every check;
    the documents it read (one for an IssuerSigned), also when refused, if it could read
    them at all."""

    ok: bool
    error: str | None
    checks: list[Check]
    documents: list[MdocDocument]

    @property
    def document(self) -> MdocDocument:
        if len(self.documents) != 1:
            raise AssertionError(f"{len(self.documents)} documents, not one: {self.error}")
        return self.documents[0]

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAILED"]


def _checks(answer: Mapping[str, Any]) -> list[Check]:
    return [
        Check(c["status"], c["category"], c["check"], c.get("reason")) for c in answer["checks"]
    ]


@dataclass(frozen=True)
class Presentation:
    """A DeviceResponse (base64url, as the ``vp_token`` carries it) and the
    SessionTranscript (CBOR) it is meant for."""

    device_response: str
    session_transcript: bytes


# -- commands ----------------------------------------------------------------------------------


def run(command: Mapping[str, Any]) -> dict[str, Any]:
    """Runs one command of ``mdoc_oracle.mjs`` and returns its answer (with ``library``,
    the version of ``@owf/mdoc`` used)."""
    node = node_with_packages(INTEROP, "the mdoc oracle")
    try:
        done = subprocess.run(
            [node, str(ORACLE_SCRIPT)],
            input=json.dumps({key: value for key, value in command.items() if value is not None}),
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        raise MdocOracleError(f"{command['command']}: no answer in {_TIMEOUT:.0f} s") from expired
    if done.returncode != 0:
        raise MdocOracleError(f"{command['command']} failed:\n{done.stderr[-3000:]}")
    try:
        answer: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise MdocOracleError(f"{command['command']}: not JSON: {done.stdout[:500]!r}") from error
    if answer.get("library") != {LIBRARY: PACKAGES[LIBRARY]}:
        raise MdocOracleError(f"the oracle ran {answer.get('library')}, not the pinned {LIBRARY}")
    return answer


def issue(
    *,
    doc_type: str,
    namespaces: Mapping[str, Mapping[str, Json]],
    device_key: ec.EllipticCurvePublicKey | Mapping[str, Any],
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_certificates: Sequence[x509.Certificate],
    valid_until: dt.datetime,
    valid_from: dt.datetime | None = None,
    signed: dt.datetime | None = None,
    expected_update: dt.datetime | None = None,
    status: tuple[int, str] | None = None,
    digest_algorithm: Literal["SHA-256", "SHA-384", "SHA-512"] = "SHA-256",
) -> str:
    """A new IssuerSigned, base64url (as an OpenID4VCI credential response carries an
    ``mso_mdoc`` credential), signed by ``issuer_key`` whose certificate is the first of
    ``issuer_certificates`` (the x5chain, leaf first; the trust anchor left out). ``status``
    is the Token Status List reference (idx, uri) the MSO carries. ``signed`` and
    ``valid_from`` default to now."""
    device_jwk = (
        ec_jwk(device_key) if isinstance(device_key, ec.EllipticCurvePublicKey) else device_key
    )
    pem = issuer_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    answer = run(
        {
            "command": "issue",
            "doc_type": doc_type,
            "namespaces": namespaces,
            "device_key": dict(device_jwk),
            "issuer_key": pem.decode("ascii"),
            "issuer_certificates": _certificates(issuer_certificates),
            "validity": {
                key: value
                for key, value in {
                    "signed": _time(signed),
                    "valid_from": _time(valid_from),
                    "valid_until": _time(valid_until),
                    "expected_update": _time(expected_update),
                }.items()
                if value is not None
            },
            "status": None if status is None else {"idx": status[0], "uri": status[1]},
            "digest_algorithm": digest_algorithm,
        }
    )
    issuer_signed: str = answer["issuer_signed"]
    return issuer_signed


def verify_issuer_signed(
    issuer_signed: str,
    *,
    trusted: Sequence[x509.Certificate],
    doc_type: str | None = None,
    now: dt.datetime | None = None,
) -> Verification:
    """Verifies an IssuerSigned (base64url) as a wallet receiving it would: the issuer's
    signature and certificate chain to one of ``trusted``, the MSO's validity at ``now``
    (default: the present), every element's digest, and ``doc_type`` when given."""
    answer = run(
        {
            "command": "verify_issuer_signed",
            "issuer_signed": issuer_signed,
            "trusted_certificates": _certificates(trusted),
            "doc_type": doc_type,
            "now": _time(now),
        }
    )
    documents = [MdocDocument.from_json(answer)] if "doc_type" in answer else []
    return Verification(answer["ok"], answer["error"], _checks(answer), documents)


def device_response(
    issuer_signed: str,
    *,
    device_key: ec.EllipticCurvePrivateKey | Mapping[str, Any],
    disclose: Mapping[str, Sequence[str]],
    transcript: Transcript,
    tamper: Tamper | None = None,
) -> Presentation:
    """A DeviceResponse presenting the elements of ``disclose`` (namespace to element
    identifiers) of ``issuer_signed``, device-signed with ``device_key`` (the private
    key of the MSO's device key) over the SessionTranscript of ``transcript``; spoiled as
    ``tamper`` says, when given."""
    device_jwk = (
        ec_jwk(device_key) if isinstance(device_key, ec.EllipticCurvePrivateKey) else device_key
    )
    answer = run(
        {
            "command": "device_response",
            "issuer_signed": issuer_signed,
            "device_key": dict(device_jwk),
            "disclose": {namespace: list(elements) for namespace, elements in disclose.items()},
            "session_transcript": transcript.as_json(),
            "tamper": tamper,
        }
    )
    return Presentation(answer["device_response"], b64url_decode(answer["session_transcript"]))


def verify_device_response(
    device_response: str,
    *,
    trusted: Sequence[x509.Certificate],
    transcript: Transcript | bytes,
    doc_type: str | None = None,
    now: dt.datetime | None = None,
) -> Verification:
    """Verifies a DeviceResponse (base64url, a ``vp_token`` value) as a verifier would:
    each document's device signature over the SessionTranscript (of ``transcript``, or
    these CBOR bytes), its issuer signature and chain to one of ``trusted``, its MSO's
    validity at ``now``, its elements' digests, the response's status, and ``doc_type``
    when given."""
    session = (
        {"cbor": b64url(transcript)} if isinstance(transcript, bytes) else transcript.as_json()
    )
    answer = run(
        {
            "command": "verify_device_response",
            "device_response": device_response,
            "trusted_certificates": _certificates(trusted),
            "session_transcript": session,
            "doc_type": doc_type,
            "now": _time(now),
        }
    )
    documents = [MdocDocument.from_json(document) for document in answer["documents"]]
    return Verification(answer["ok"], answer["error"], _checks(answer), documents)


def session_transcript(transcript: Transcript) -> bytes:
    """The SessionTranscript CBOR the library builds for ``transcript``
    (``[null, null, ["OpenID4VPHandover", sha-256(OpenID4VPHandoverInfo)]]``)."""
    answer = run({"command": "session_transcript", "session_transcript": transcript.as_json()})
    return b64url_decode(answer["session_transcript"])
