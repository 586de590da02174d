"""The named bad inputs of issue 20 for the verifier's mdoc path (OpenID4VP 1.0 Appendix
B.2.5, B.2.6.1; ISO/IEC 18013-5 §9.3.1): each is answered 400 ``invalid_request`` naming
the check that refused it, the transaction ends ``failed`` with no claim in its result, and
nothing is ever a 5xx.

The mdocs are our agencies' (issued over OpenID4VCI, revoked through the operator API);
the DeviceResponses are built by the independent oracle (``@owf/mdoc``). What neither
makes on purpose (an MSO with another digest algorithm, validity or signer, an item the
MSO does not cover, CBOR bombs) is forged here: an agency's MSO re-signed by a document
signer of the stand-in issuer's trusted PKI (``tests.core.mdoc.forge``), or raw bytes.

One app serves the module (SQLite; the storage paths are the SD-JWT VC tests'), each test
opening its own request."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient

from app import create_app
from app.rate_limit_policy import RateLimitPolicy
from app.settings import Settings
from core.encoding import b64url_encode
from core.keys.signer import SoftwareSigner
from core.keys.x509 import to_x5c
from core.mdoc.cbor import EncodedCbor, decode, encode
from core.mdoc.issuer_signed import decode_issuer_signed
from tests.conftest import migrated_database
from tests.core.mdoc.forge import resign_mso
from tests.interop import mdoc_oracle
from tests.interop.test_mdoc_oracle import Pki
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import operator_key
from tests.support.certificates import signed_certificate
from tests.support.key_attestations import seed_wallet_provider
from tests.verifiers import stand_in_issuer
from tests.verifiers.mdoc_presenter import (
    MDL_NS,
    HeldMdoc,
    answer,
    device_response,
    issued_mdoc,
    open_request,
    requested_elements,
)
from tests.verifiers.presenter import FetchedRequest, transaction_status

COUNTER = "city-hall-counter"
QUERY = "mobile_driving_licence"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    var_dir = tmp_path_factory.mktemp("mdoc-verifier") / "var"
    var_dir.mkdir()
    seed_wallet_provider(var_dir)
    settings = Settings(
        var_dir=var_dir,
        database_url=migrated_database(f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"),
        public_base_url=PUBLIC_BASE_URL,
        trusted_issuer_anchors=stand_in_issuer.write_anchor(var_dir),
        rate_limits=RateLimitPolicy.off(),
        status_list_revalidate=0,  # a revocation is seen at once
    )
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture(scope="module")
def mdl(client: TestClient[Any]) -> HeldMdoc:
    return issued_mdoc(client, "transport-agency", "mobile_driving_licence", DRIVER)


@pytest.fixture(scope="module")
def pid(client: TestClient[Any]) -> HeldMdoc:
    return issued_mdoc(client, "civil-registry", "national_id_mdoc", CITIZEN)


def _opened(
    client: TestClient[Any], response_mode: str = "direct_post"
) -> tuple[str, FetchedRequest]:
    return open_request(client, COUNTER, "driving_entitlement", response_mode)


def _refused(
    client: TestClient[Any],
    transaction: str,
    request: FetchedRequest,
    presentation: str,
    check: str,
    *,
    query: str = QUERY,
) -> str:
    """Posts the presentation: 400 invalid_request naming ``check``, the transaction
    failed with that check last and no claims. Returns the error description."""
    response = answer(client, request, query, presentation)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request", body
    assert body["error_description"].startswith(f"{query}: {check}:"), body
    status = transaction_status(client, COUNTER, transaction).json()
    assert status["status"] == "failed", status
    result = status["result"]
    assert "credentials" not in result
    assert result["checks"][-1] == {
        "check": f"{query}: {check}",
        "passed": False,
        "detail": result["checks"][-1]["detail"],
    }
    assert all(c["passed"] for c in result["checks"][:-1])
    description: str = body["error_description"]
    return description


def _resigned(
    held: HeldMdoc, change: Callable[[dict[str, Any]], None], signer: SoftwareSigner | None = None
) -> HeldMdoc:
    """The agency's mdoc with its MSO changed and signed again by a trusted document
    signer (the stand-in issuer's, or ``signer``), without the agency's status reference."""
    issuer_signed = decode_issuer_signed(held.issuer_signed)

    def without_status(mso: dict[str, Any]) -> None:
        del mso["status"]  # the agency's list: its signer does not name the stand-in issuer
        change(mso)

    resigned = resign_mso(issuer_signed, signer or stand_in_issuer.SIGNER, without_status)
    return dataclasses.replace(held, issuer_signed=resigned.to_credential())


def _signer_valid(at: dt.datetime) -> SoftwareSigner:
    """A document signer under the stand-in issuer's (trusted) anchor, valid an hour before
    ``at`` to a day after."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = signed_certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in document signer")]),
        key,
        issuer=stand_in_issuer.ANCHOR.subject,
        issuer_key=stand_in_issuer._ANCHOR_KEY,
        ca=False,
        now=at,
    )
    return SoftwareSigner(key, x5c=tuple(to_x5c([certificate])))


def _validity(**times: dt.datetime) -> Callable[[dict[str, Any]], None]:
    def change(mso: dict[str, Any]) -> None:
        mso["validityInfo"].update(times)

    return change


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_a_resigned_mso_is_accepted_as_it_is(client: TestClient[Any], mdl: HeldMdoc) -> None:
    """The forging below changes one thing each: unchanged, a re-signed MSO verifies."""
    transaction, request = _opened(client)
    presentation = device_response(_resigned(mdl, lambda mso: None), request, QUERY)
    response = answer(client, request, QUERY, presentation)
    assert response.status_code == 200, response.text
    assert transaction_status(client, COUNTER, transaction).json()["status"] == "verified"


@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_a_tampered_element_value(
    client: TestClient[Any], mdl: HeldMdoc, response_mode: str
) -> None:
    transaction, request = _opened(client, response_mode)
    presentation = device_response(mdl, request, QUERY, tamper="element_value")
    _refused(client, transaction, request, presentation, "digests")


def test_an_element_the_mso_does_not_cover(client: TestClient[Any], mdl: HeldMdoc) -> None:
    transaction, request = _opened(client)
    presentation = device_response(
        mdl, request, QUERY, disclose={MDL_NS: ["family_name", "driving_privileges"]}
    )

    def add_given_name(response: dict[str, Any]) -> None:
        items = response["documents"][0]["issuerSigned"]["nameSpaces"][MDL_NS]
        items.append(
            EncodedCbor.of(
                {
                    "digestID": 4_000_000,
                    "random": bytes(range(16)),
                    "elementIdentifier": "given_name",
                    "elementValue": "Mallory",
                }
            )
        )

    forged = _rewrite(presentation, add_given_name)
    assert "given_name" in _refused(client, transaction, request, forged, "digests")


def test_a_digest_algorithm_not_allowed(client: TestClient[Any], mdl: HeldMdoc) -> None:
    """The oracle presents no MSO with SHA-1, so its issuerAuth is put in afterwards."""
    transaction, request = _opened(client)
    forged = _resigned(mdl, lambda mso: mso.update(digestAlgorithm="SHA-1"))
    issuer_auth = decode(mdoc_oracle.b64url_decode(forged.issuer_signed))["issuerAuth"]
    presentation = _rewrite(
        device_response(mdl, request, QUERY),
        lambda r: r["documents"][0]["issuerSigned"].update(issuerAuth=issuer_auth),
    )
    assert "SHA-1" in _refused(client, transaction, request, presentation, "digests")


@pytest.mark.parametrize(
    "times",
    [
        {"validFrom": NOW - dt.timedelta(days=30), "validUntil": NOW - dt.timedelta(hours=2)},
        {"validFrom": NOW + dt.timedelta(days=1), "validUntil": NOW + dt.timedelta(days=30)},
    ],
    ids=["expired", "not_yet_valid"],
)
def test_an_mso_outside_its_validity(
    client: TestClient[Any], mdl: HeldMdoc, times: dict[str, dt.datetime]
) -> None:
    transaction, request = _opened(client)
    presentation = device_response(_resigned(mdl, _validity(**times)), request, QUERY)
    _refused(client, transaction, request, presentation, "validity")


@pytest.mark.parametrize(
    "at", [NOW - dt.timedelta(days=3), NOW + dt.timedelta(days=3)], ids=["expired", "not_yet"]
)
def test_a_document_signer_outside_its_validity(
    client: TestClient[Any], mdl: HeldMdoc, at: dt.datetime
) -> None:
    transaction, request = _opened(client)
    forged = _resigned(mdl, _validity(signed=at), _signer_valid(at))
    presentation = device_response(forged, request, QUERY)
    _refused(client, transaction, request, presentation, "trust_chain")


def test_an_issuer_nobody_trusts(client: TestClient[Any]) -> None:
    """The oracle issues an mDL under its own IACA, which this verifier does not trust."""
    pki = Pki()
    issuer_signed = mdoc_oracle.issue(
        doc_type="org.iso.18013.5.1.mDL",
        namespaces={
            MDL_NS: {
                "given_name": "Erika",
                "family_name": "Mustermann",
                "driving_privileges": [{"vehicle_category_code": "B"}],
            }
        },
        device_key=pki.device_key.public_key(),
        issuer_key=pki.signer_key,
        issuer_certificates=[pki.signer],
        valid_until=NOW + dt.timedelta(days=30),
    )
    transaction, request = _opened(client)
    presentation = device_response(HeldMdoc(issuer_signed, pki.device_key), request, QUERY)
    _refused(client, transaction, request, presentation, "trust_chain")


def test_a_broken_issuer_signature(client: TestClient[Any], mdl: HeldMdoc) -> None:
    transaction, request = _opened(client)
    presentation = device_response(mdl, request, QUERY, tamper="issuer_signature")
    _refused(client, transaction, request, presentation, "issuer_signature")


def test_device_auth_by_another_key(client: TestClient[Any], mdl: HeldMdoc) -> None:
    transaction, request = _opened(client)
    presentation = device_response(mdl, request, QUERY, tamper="other_device_key")
    _refused(client, transaction, request, presentation, "device_auth")


@pytest.mark.parametrize(
    ("response_mode", "change"),
    [
        ("direct_post", {"nonce": "another-nonce"}),
        ("direct_post", {"client_id": "x509_san_dns:elsewhere.example"}),
        ("direct_post", "client_id without its prefix"),
        ("direct_post", {"response_uri": "https://elsewhere.example/response"}),
        ("direct_post", "encryption key of another request"),
        ("direct_post.jwt", {"nonce": "another-nonce"}),
        ("direct_post.jwt", {"verifier_jwk": None}),  # as if the answer were not encrypted
        ("direct_post.jwt", {"response_uri": "https://elsewhere.example/response"}),
    ],
)
def test_a_session_transcript_of_another_request(
    client: TestClient[Any], mdl: HeldMdoc, response_mode: str, change: Any
) -> None:
    transaction, request = _opened(client, response_mode)
    if change == "client_id without its prefix":
        change = {"client_id": request.client_id.partition(":")[2]}
    elif change == "encryption key of another request":
        _, other = _opened(client, "direct_post.jwt")
        change = {"verifier_jwk": other.payload["client_metadata"]["jwks"]["keys"][0]}
    presentation = device_response(mdl, request, QUERY, **change)
    _refused(client, transaction, request, presentation, "device_auth")


def test_another_doctype_than_asked_for(client: TestClient[Any], pid: HeldMdoc) -> None:
    """The PID mdoc answers the query for the mDL."""
    transaction, request = _opened(client)
    presentation = device_response(
        pid, request, QUERY, disclose={"eu.europa.ec.eudi.pid.1": ["family_name", "given_name"]}
    )
    _refused(client, transaction, request, presentation, "doc_type")


def test_a_document_whose_doctype_is_not_its_msos(client: TestClient[Any], pid: HeldMdoc) -> None:
    transaction, request = _opened(client)
    presentation = device_response(
        pid, request, QUERY, disclose={"eu.europa.ec.eudi.pid.1": ["family_name"]}
    )
    forged = _rewrite(
        presentation, lambda r: r["documents"][0].update(docType="org.iso.18013.5.1.mDL")
    )
    _refused(client, transaction, request, forged, "doc_type")


def test_elements_beyond_those_requested(client: TestClient[Any], mdl: HeldMdoc) -> None:
    transaction, request = _opened(client)
    disclose = requested_elements(request, QUERY)
    disclose[MDL_NS] = [*disclose[MDL_NS], "birth_date"]
    presentation = device_response(mdl, request, QUERY, disclose=disclose)
    assert "birth_date" in _refused(client, transaction, request, presentation, "dcql")


def test_fewer_elements_than_requested(client: TestClient[Any], mdl: HeldMdoc) -> None:
    transaction, request = _opened(client)
    presentation = device_response(mdl, request, QUERY, disclose={MDL_NS: ["family_name"]})
    _refused(client, transaction, request, presentation, "dcql")


def test_a_replayed_response(client: TestClient[Any], mdl: HeldMdoc) -> None:
    """Once answered, a request takes no second answer (the first result stays); the same
    DeviceResponse for a new request is bound to the old one's nonce and fails."""
    transaction, request = _opened(client)
    presentation = device_response(mdl, request, QUERY)
    assert answer(client, request, QUERY, presentation).status_code == 200
    again = answer(client, request, QUERY, presentation)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    assert transaction_status(client, COUNTER, transaction).json()["status"] == "verified"

    other_transaction, other_request = _opened(client)
    _refused(client, other_transaction, other_request, presentation, "device_auth")


def test_a_revoked_mdoc(client: TestClient[Any]) -> None:
    held = issued_mdoc(
        client, "transport-agency", "mobile_driving_licence", DRIVER, subject="mdl-withdrawn"
    )
    revoked = client.post(
        "/issuers/transport-agency/credentials/revoke",
        json={"subject_id": "mdl-withdrawn", "reason": "licence withdrawn"},
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    assert revoked.status_code == 200, revoked.text
    transaction, request = _opened(client)
    presentation = device_response(held, request, QUERY)
    assert "revoked" in _refused(client, transaction, request, presentation, "status")


def _rewrite(presentation: str, change: Callable[[dict[str, Any]], None]) -> str:
    value = decode(mdoc_oracle.b64url_decode(presentation))
    change(value)
    return b64url_encode(encode(value))


def _text(value: str) -> bytes:
    data = value.encode()
    assert len(data) < 24
    return bytes([0x60 + len(data)]) + data


CBOR_BOMBS: dict[str, tuple[bytes | str, str]] = {
    "indefinite_length_map": (b"\xbf" + _text("version") + _text("1.0") + b"\xff", "cbor"),
    "indefinite_length_bytes": (b"\x5f" + b"\x41a" * 1000 + b"\xff", "cbor"),
    "duplicate_map_keys": (b"\xa2" + (_text("version") + _text("1.0")) * 2, "cbor"),
    "deep_nesting": (b"\x81" * 5000 + b"\x00", "cbor"),
    "huge_declared_byte_string": (b"\x5b" + (2**62).to_bytes(8, "big") + b"x", "cbor"),
    "huge_byte_string": (b"\x5a" + (300 * 1024).to_bytes(4, "big") + bytes(300 * 1024), "cbor"),
    "huge_declared_array": (b"\x9b" + (2**40).to_bytes(8, "big"), "cbor"),
    "unexpected_tag": (b"\xd9\xd9\xf7\xa0", "cbor"),
    "bignum_tag": (b"\xc2\x41\x01", "cbor"),
    "trailing_bytes": (b"\xa0\x00", "cbor"),
    "not_base64url": ("not*base64url", "cbor"),
    "not_a_device_response": (b"\xa0", "structure"),
    "two_documents": (b"", "structure"),  # built from a real response below
}


@pytest.mark.parametrize("name", sorted(CBOR_BOMBS))
def test_cbor_bombs_are_refused_never_5xx(
    client: TestClient[Any], mdl: HeldMdoc, name: str
) -> None:
    raw, check = CBOR_BOMBS[name]
    transaction, request = _opened(client)
    if name == "two_documents":
        real = device_response(mdl, request, QUERY)
        presentation = _rewrite(real, lambda r: r.update(documents=r["documents"] * 2))
    else:
        presentation = raw if isinstance(raw, str) else b64url_encode(raw)
    _refused(client, transaction, request, presentation, check)
