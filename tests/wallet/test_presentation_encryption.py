"""Encrypted presentation responses (OpenID4VP 1.0 §8.3, ``direct_post.jwt`` §8.3.1; HAIP
1.0 §5.1) from the citizen's wallet, through the mobile API, on SQLite and PostgreSQL:

- to our own counters (the counter API), with server-held and device-bound holder keys,
  approved and declined: the verifier decrypts and verifies; a decline reaches it too;
- to the stand-in verifier (``stand_ins``), whose answers are opened here by RFC 7518
  §4.6 and §5.3 written out on the ``cryptography`` primitives (ECDH, Concat KDF,
  AES-GCM: no JOSE library, so nothing shared with the wallet's encryption), and, as a
  cross-check, by jwcrypto's JWE reading (the library under ``core.jose.jwe``); the
  presentation inside is verified by the reference ``sd-jwt`` package. The wallet
  encrypts to the key it should (§8.3), with the ``enc`` it should (HAIP 1.0 §5), and a
  decline goes encrypted as well (§8.5 inside §8.3);
- and refused, before the citizen is asked and with nothing sent to the verifier
  (``invalid_request``), whenever the encryption the request asks for cannot be made.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk
from litestar.testing import TestClient

from app.settings import Settings
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import StandIns, running_stand_ins, settings_with_stand_ins

ENC_BITS = {"A128GCM": 128, "A256GCM": 256}


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _ec_jwk(key: ec.EllipticCurvePrivateKey, **members: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[key.curve.name]
    return {
        "kty": "EC",
        "crv": crv,
        "x": _b64e(numbers.x.to_bytes(size, "big")),
        "y": _b64e(numbers.y.to_bytes(size, "big")),
        **members,
    }


def open_by_rfc_7518(token: str, key: ec.EllipticCurvePrivateKey) -> tuple[dict[str, Any], bytes]:
    """RFC 7518 §4.6 ECDH-ES (direct key agreement) and §5.3 AES-GCM, written out here on
    the ``cryptography`` primitives: no JOSE library involved."""
    protected, encrypted_key, iv, ciphertext, tag = token.split(".")
    header: dict[str, Any] = json.loads(_b64(protected))
    assert header["alg"] == "ECDH-ES" and encrypted_key == ""  # §4.6: no encrypted key
    epk = header["epk"]
    assert (epk["kty"], epk["crv"]) == ("EC", "P-256") and "d" not in epk
    ephemeral = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_b64(epk["x"]), "big"), int.from_bytes(_b64(epk["y"]), "big"), ec.SECP256R1()
    ).public_key()
    shared = key.exchange(ec.ECDH(), ephemeral)
    bits = ENC_BITS[header["enc"]]

    def counted(value: bytes) -> bytes:  # §4.6.2: a 32-bit big-endian length, then the data
        return len(value).to_bytes(4, "big") + value

    other_info = (
        counted(header["enc"].encode("ascii"))  # AlgorithmID: the enc, for direct agreement
        + counted(_b64(header.get("apu", "")))
        + counted(_b64(header.get("apv", "")))
        + bits.to_bytes(4, "big")  # SuppPubInfo: keydatalen in bits
    )
    cek = ConcatKDFHash(hashes.SHA256(), bits // 8, other_info).derive(shared)
    plaintext = AESGCM(cek).decrypt(
        _b64(iv), _b64(ciphertext) + _b64(tag), protected.encode("ascii")
    )
    return header, plaintext


def open_by_jwcrypto(token: str, key: ec.EllipticCurvePrivateKey) -> bytes:
    reader = jwcrypto_jwe.JWE()
    reader.deserialize(token, key=jwcrypto_jwk.JWK.from_pyca(key))
    payload: bytes = reader.payload
    return payload


# -- our own counters ------------------------------------------------------------------------


def _holding_national_id(client: TestClient[Any], custody: str) -> Phone:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(offer["offer_uri"], custody=custody)
    return phone


@pytest.mark.parametrize("custody", ["server", "device"])
def test_our_counter_gets_an_encrypted_presentation_and_verifies_it(
    client: TestClient[Any], custody: str
) -> None:
    """The counter API's request for ``direct_post.jwt``: the verifier takes nothing but
    a JWE for it (a form-encoded ``vp_token`` is refused), so ``verified`` is the verifier
    having decrypted and verified what the wallet sent."""
    phone = _holding_national_id(client, custody)
    created = create_request(
        client, "city-hall-counter", template="identity", response_mode="direct_post.jwt"
    )
    consent = phone.scan(created["uri"]).json()["presentation"]
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    assert bool(phone.holder_keys) is (custody == "device")  # the phone signed the KB-JWT
    status = transaction_status(client, "city-hall-counter", created["transaction_id"]).json()
    assert status["status"] == "verified", status
    [proved] = status["result"]["credentials"]["national_id"]
    assert proved["claims"]["family_name"] == CITIZEN["family_name"]


def test_our_counter_hears_an_encrypted_decline(client: TestClient[Any]) -> None:
    """The verifier reads ``access_denied`` out of the wallet's JWE. It would take an
    unencrypted error too (§8.3.1 allows one), so that the wallet encrypts it is shown with
    the stand-in verifier (``test_a_decline_goes_encrypted``)."""
    phone = _holding_national_id(client, "server")
    created = create_request(
        client, "bar-age-check", template="age_over_18", response_mode="direct_post.jwt"
    )
    consent = phone.scan(created["uri"]).json()["presentation"]
    declined = phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "failed" and status["result"]["wallet_error"] == "access_denied"
    activity = phone.get("/wallet/activity").json()["activity"]
    assert activity[0]["kind"] == "presentation_declined" and activity[0]["verifier_told"]


# -- the stand-in verifier, and the independent readings of the JWE ---------------------------


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    return settings


@pytest.fixture
def phone(client: TestClient[Any], stand_ins: StandIns) -> Phone:
    """A citizen holding the stand-in issuer's PID (server-held keys)."""
    phone = Phone(client)
    phone.register()
    phone.receive(stand_ins.offer_uri())
    return phone


Opened = dict[str, Any]


@pytest.fixture
def opened(stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch) -> list[Opened]:
    """The stand-in verifier, taught ``direct_post.jwt``: what reaches its response URI is
    opened by both independent readings (which must agree) and handed on, as the
    ``direct_post`` form it would have been, to its reference ``sd-jwt`` verification."""
    receive = stand_ins.receive_response
    seen: list[Opened] = []

    def receiving(request_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if set(form) != {"response"}:
            seen.append({"form": form})
            return receive(request_id, form)
        header, plaintext = open_by_rfc_7518(form["response"], stand_ins.encryption_key)
        assert open_by_jwcrypto(form["response"], stand_ins.encryption_key) == plaintext
        parameters: dict[str, Any] = json.loads(plaintext)
        seen.append({"form": form, "header": header, "parameters": parameters})
        plain = {
            name: json.dumps(value) if name == "vp_token" else value
            for name, value in parameters.items()
        }
        return receive(request_id, plain)

    monkeypatch.setattr(stand_ins, "receive_response", receiving)
    return seen


def _encrypting(stand_ins: StandIns, *keys: dict[str, Any], **metadata: Any) -> None:
    """The stand-in's requests ask for ``direct_post.jwt`` to ``keys`` (its own encryption
    key when none are given)."""
    listed = list(keys) or [_ec_jwk(stand_ins.encryption_key, kid="stand-in-enc", alg="ECDH-ES")]
    stand_ins.client_metadata_changes = {"jwks": {"keys": listed}, **metadata}


@pytest.mark.parametrize("custody", ["server", "device"])
def test_an_independent_verifier_opens_the_wallets_jwe_and_verifies_inside(
    client: TestClient[Any], stand_ins: StandIns, opened: list[Opened], custody: str
) -> None:
    """§8.3: the JWE's ``alg`` is the chosen key's, its ``kid`` the key's, its ``enc``
    A256GCM where the verifier lists both (HAIP 1.0 §5: the wallet SHOULD); the payload
    carries the response parameters as top-level members; ``state`` comes back."""
    phone = Phone(client)
    phone.register()
    phone.receive(stand_ins.offer_uri(), custody=custody)
    _encrypting(stand_ins, encrypted_response_enc_values_supported=["A128GCM", "A256GCM"])
    uri, request_id = stand_ins.request_uri(response_mode="direct_post.jwt")
    consent = phone.scan(uri).json()["presentation"]
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    [seen] = opened
    header = seen["header"]
    assert (header["alg"], header["enc"], header["kid"]) == ("ECDH-ES", "A256GCM", "stand-in-enc")
    assert set(header) == {"alg", "enc", "kid", "epk"}  # no zip, nothing else
    assert set(seen["parameters"]) == {"vp_token", "state"}
    assert seen["parameters"]["state"] == stand_ins.requests[request_id]["state"]
    [payload] = stand_ins.results[request_id]  # verified by the reference sd-jwt package
    assert payload["age_over_18"] is True and "given_name" not in payload


def test_a_decline_goes_encrypted(phone: Phone, stand_ins: StandIns, opened: list[Opened]) -> None:
    """§8.5 error parameters, inside the JWE of §8.3 like any response parameters."""
    _encrypting(stand_ins)
    uri, request_id = stand_ins.request_uri(response_mode="direct_post.jwt")
    consent = phone.scan(uri).json()["presentation"]
    declined = phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    assert declined.status_code == 200, declined.text
    [seen] = opened
    assert seen["header"]["enc"] == "A128GCM"  # none listed: §5.1's default
    assert seen["parameters"] == {
        "error": "access_denied",
        "error_description": "the holder declined",
        "state": stand_ins.requests[request_id]["state"],
    }
    assert stand_ins.results[request_id] == {"error": "access_denied"}
    activity = phone.get("/wallet/activity").json()["activity"]
    assert activity[0]["kind"] == "presentation_declined" and activity[0]["verifier_told"]


def _key(kind: str, **members: Any) -> dict[str, Any]:
    """A verifier's key of ``kind`` (``p256``, ``p384``, ``rsa``, ``x25519``), with ``kid``
    and ``alg`` unless ``members`` says otherwise (None leaves a member out)."""
    if kind == "rsa":
        numbers = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "n": _b64e(numbers.n.to_bytes(256, "big")),
            "e": _b64e(numbers.e.to_bytes(3, "big")),
            "alg": "RSA-OAEP-256",
        }
    elif kind == "x25519":
        jwk = {"kty": "OKP", "crv": "X25519", "x": _b64e(bytes(range(32))), "alg": "ECDH-ES"}
    else:
        curve = ec.SECP384R1() if kind == "p384" else ec.SECP256R1()
        jwk = _ec_jwk(ec.generate_private_key(curve), alg="ECDH-ES")
    jwk |= {"kid": f"{kind}-key", "use": "enc"}
    jwk |= members
    return {name: value for name, value in jwk.items() if value is not None}


def _off_curve() -> dict[str, Any]:
    key = _key("p256")
    y = bytearray(_b64(key["y"]))
    y[-1] ^= 1
    return key | {"y": _b64e(bytes(y))}


UNMET: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "no-jwks": (lambda: {"jwks": None}, "no jwks"),
    "no-keys": (lambda: {"jwks": {"keys": []}}, "holds no key"),
    "rsa-key": (lambda: {"jwks": {"keys": [_key("rsa")]}}, "offered: an RSA key"),
    "p384-key": (lambda: {"jwks": {"keys": [_key("p384")]}}, "another curve than P-256"),
    "x25519-key": (lambda: {"jwks": {"keys": [_key("x25519")]}}, "an OKP key"),
    "key-wraps": (
        lambda: {"jwks": {"keys": [_key("p256", alg="ECDH-ES+A128KW")]}},
        "another algorithm than ECDH-ES",
    ),
    "key-without-alg": (lambda: {"jwks": {"keys": [_key("p256", alg=None)]}}, "without alg"),
    "signing-key-only": (
        lambda: {"jwks": {"keys": [_key("p256", use="sig", alg="ES256")]}},
        "offers no key for encryption",
    ),
    "key-without-kid": (lambda: {"jwks": {"keys": [_key("p256", kid=None)]}}, "needs a kid"),
    "kid-twice": (
        lambda: {"jwks": {"keys": [_key("rsa", kid="k"), _key("p256", kid="k")]}},
        "share a kid",
    ),
    "too-many-keys": (
        lambda: {"jwks": {"keys": [_key("p256", kid=f"k{i}") for i in range(9)]}},
        "more than 8 keys",
    ),
    "private-key": (
        lambda: {"jwks": {"keys": [_key("p256", d=_b64e(bytes(32)))]}},
        "not a valid public key",
    ),
    "off-curve": (lambda: {"jwks": {"keys": [_off_curve()]}}, "not a valid public key"),
    "unknown-enc": (
        lambda: {"encrypted_response_enc_values_supported": ["A128CBC-HS256", "XC20P"]},
        "names neither A256GCM nor A128GCM",
    ),
    "too-many-encs": (
        lambda: {"encrypted_response_enc_values_supported": ["A128GCM"] * 17},
        "more than 16 values",
    ),
}


@pytest.mark.parametrize("case", UNMET)
def test_encryption_the_wallet_cannot_make_is_refused_before_consent(
    phone: Phone, stand_ins: StandIns, case: str
) -> None:
    """Refused at the scan with ``invalid_request`` (422), with what cannot be met: no
    consent view, no flow to approve, nothing sent to the verifier."""
    make, said = UNMET[case]
    _encrypting(stand_ins)
    changed = stand_ins.client_metadata_changes | make()
    stand_ins.client_metadata_changes = {k: v for k, v in changed.items() if v is not None}
    uri, _ = stand_ins.request_uri(response_mode="direct_post.jwt")
    refused = phone.scan(uri)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid_request", body
    assert body["error_description"].startswith("the encrypted response"), body
    assert said in body["error_description"], body
    assert "-key" not in body["error_description"]  # no kid the verifier wrote is repeated
    assert stand_ins.posted == []
    kinds = [a["kind"] for a in phone.get("/wallet/activity").json()["activity"]]
    assert "presentation_sent" not in kinds and "presentation_declined" not in kinds


def test_the_wallet_picks_the_key_and_enc_it_can_use(
    phone: Phone, stand_ins: StandIns, opened: list[Opened]
) -> None:
    """Among keys it cannot use (RSA, another curve, a signing key) the P-256 ECDH-ES key
    for encryption; of the ``enc`` values the one it does (§8.3)."""
    own = _ec_jwk(stand_ins.encryption_key, kid="the-one", alg="ECDH-ES")
    _encrypting(
        stand_ins,
        _key("rsa"),
        _key("p384"),
        _key("p256", use="sig", alg="ES256", kid="signing"),
        own,
        encrypted_response_enc_values_supported=["A128CBC-HS256", "A128GCM"],
    )
    uri, request_id = stand_ins.request_uri(response_mode="direct_post.jwt")
    consent = phone.scan(uri).json()["presentation"]
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    [seen] = opened
    assert (seen["header"]["kid"], seen["header"]["enc"]) == ("the-one", "A128GCM")
    assert stand_ins.results[request_id][0]["age_over_18"] is True
