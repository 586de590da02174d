"""Encrypted Credential Requests and Responses at the Credential Endpoint (OpenID4VCI 1.0
§8.2, §8.3, §10, §12.2.4), on SQLite and PostgreSQL. The wallet's side is jwcrypto used
directly (someone else's JWE, not ours): it encrypts requests to the key the agency
publishes and decrypts what the agency answers."""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest
from jwcrypto import jwe, jwk
from litestar.testing import TestClient

from app import create_app
from app.key_store_settings import KEY_CLASSES, KeyStoreSettings
from app.settings import Settings
from core.encoding import b64url_decode, b64url_encode
from issuers.services.context import IssuerContext
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import Wallet, path_of, proof, read_offer
from tests.support.softhsm import SoftHsm

ISSUER = f"{PUBLIC_BASE_URL}/issuers/civil-registry"
REQUEST_KEY_OWNER = "issuer:civil-registry:request-encryption"


def _wallet_key(kid: str | None = "wallet-response-key") -> tuple[jwk.JWK, dict[str, Any]]:
    """An ephemeral key of the wallet for the response, and its public JWK as sent."""
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    public: dict[str, Any] = {**key.export_public(as_dict=True), "alg": "ECDH-ES", "use": "enc"}
    if kid is not None:
        public["kid"] = kid
    return key, public


def _encrypted(plaintext: Any, recipient: dict[str, Any], **header: Any) -> str:
    """A compact JWE (jwcrypto) to ``recipient``, with ``alg``/``enc``/``kid`` by default
    as the metadata asks; a header member given as None is left out."""
    protected = {"alg": "ECDH-ES", "enc": "A256GCM", "kid": recipient.get("kid"), **header}
    body = plaintext if isinstance(plaintext, bytes) else json.dumps(plaintext).encode()
    token = jwe.JWE(
        body, protected=json.dumps({k: v for k, v in protected.items() if v is not None})
    )
    token.add_recipient(jwk.JWK(**{k: recipient[k] for k in ("kty", "crv", "x", "y")}))
    result: str = token.serialize(compact=True)
    return result


def _opened(text: str, key: jwk.JWK) -> tuple[dict[str, Any], dict[str, Any]]:
    """The protected header and the payload of the agency's JWE, decrypted by jwcrypto."""
    token = jwe.JWE()
    token.deserialize(text, key=key)
    header: dict[str, Any] = json.loads(b64url_decode(text.split(".", maxsplit=1)[0]))
    payload: dict[str, Any] = json.loads(token.payload)
    return header, payload


def _error(response: Any, code: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == code, response.text


@dataclass
class _Session:
    """An access token for a national ID offer at the Civil Registry, and its metadata."""

    client: TestClient[Any]
    wallet: Wallet
    metadata: dict[str, Any]
    token: str

    @property
    def request_key(self) -> dict[str, Any]:
        key: dict[str, Any] = self.metadata["credential_request_encryption"]["jwks"]["keys"][0]
        return key

    def body(self, **extra: Any) -> dict[str, Any]:
        holder = self.wallet.new_holder()
        nonce = self.wallet.nonce(self.metadata)
        return {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(holder, ISSUER, nonce)]},
            **extra,
        }

    def post(self, content: bytes | str, media_type: str = "application/jwt") -> Any:
        return self.client.post(
            path_of(self.metadata["credential_endpoint"]),
            content=content,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": media_type},
        )

    def post_json(self, body: dict[str, Any]) -> Any:
        return self.post(json.dumps(body), "application/json")

    def post_encrypted(self, body: dict[str, Any], **header: Any) -> Any:
        return self.post(_encrypted(body, self.request_key, **header))


def _session(client: TestClient[Any]) -> _Session:
    offer = read_offer(
        client, create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"]
    )
    wallet = Wallet(client)
    metadata = wallet.metadata(offer["credential_issuer"])
    token = wallet.token(offer)
    assert token.status_code == 200, token.text
    return _Session(client, wallet, metadata, token.json()["access_token"])


def _requiring_encryption(client: TestClient[Any]) -> None:
    """The Civil Registry as its catalog would make it with
    ``"credential_encryption": {"required": true}``."""
    context: IssuerContext = client.app.state.issuers
    agency = dataclasses.replace(context.agencies["civil-registry"], encryption_required=True)
    client.app.state.issuers = dataclasses.replace(
        context, agencies={**context.agencies, agency.issuer_id: agency}
    )


def _holder_key_of(credential: str) -> dict[str, Any]:
    payload = json.loads(b64url_decode(credential.split("~", maxsplit=1)[0].split(".")[1]))
    cnf: dict[str, Any] = payload["cnf"]["jwk"]
    return cnf


# §12.2.4 metadata ---------------------------------------------------------------------


def test_the_metadata_publishes_encryption_of_requests_and_responses(
    client: TestClient[Any],
) -> None:
    metadata = Wallet(client).metadata(ISSUER)
    assert metadata["credential_response_encryption"] == {
        "alg_values_supported": ["ECDH-ES"],
        "enc_values_supported": ["A128GCM", "A256GCM"],
        "encryption_required": False,
    }
    request = metadata["credential_request_encryption"]
    assert request["enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert request["encryption_required"] is False
    assert "zip_values_supported" not in request
    (key,) = request["jwks"]["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    assert key["alg"] == "ECDH-ES" and key["use"] == "enc" and key["kid"]
    assert not {"d", "p", "q", "k"} & set(key)
    # the agency's own key, the same for every reader, apart from its signing keys
    assert Wallet(client).metadata(ISSUER)["credential_request_encryption"] == request
    other = Wallet(client).metadata(f"{PUBLIC_BASE_URL}/issuers/transport-agency")
    assert other["credential_request_encryption"]["jwks"]["keys"][0]["kid"] != key["kid"]
    signing = client.get("/.well-known/jwt-vc-issuer/issuers/civil-registry").json()
    assert key["kid"] not in {k["kid"] for k in signing["jwks"]["keys"]}


def test_the_signed_metadata_carries_the_same_encryption(client: TestClient[Any]) -> None:
    metadata = Wallet(client).metadata(ISSUER)
    signed = client.get(
        "/.well-known/openid-credential-issuer/issuers/civil-registry",
        headers={"Accept": "application/jwt"},
    )
    assert signed.status_code == 200
    claims = json.loads(b64url_decode(signed.text.split(".")[1]))
    for name in ("credential_request_encryption", "credential_response_encryption"):
        assert claims[name] == metadata[name]


# Encrypted requests and responses ------------------------------------------------------


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
def test_an_encrypted_request_gets_an_encrypted_response(client: TestClient[Any], enc: str) -> None:
    session = _session(client)
    key, public = _wallet_key()
    body = session.body(credential_response_encryption={"jwk": public, "enc": enc})
    response = session.post_encrypted(body, enc=enc)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jwt")
    assert response.headers["cache-control"] == "no-store"
    header, payload = _opened(response.text, key)
    assert header["alg"] == "ECDH-ES" and header["enc"] == enc
    assert header["kid"] == "wallet-response-key"
    assert "zip" not in header
    (issued,) = payload["credentials"]
    assert payload["notification_id"]
    holder = session.wallet.holders[-1]
    assert _holder_key_of(issued["credential"]) == holder.public_jwk()


def test_a_response_key_without_kid_gives_a_jwe_without_kid(client: TestClient[Any]) -> None:
    session = _session(client)
    key, public = _wallet_key(kid=None)
    body = session.body(credential_response_encryption={"jwk": public, "enc": "A128GCM"})
    response = session.post_encrypted(body)
    assert response.status_code == 200, response.text
    header, payload = _opened(response.text, key)
    assert "kid" not in header and payload["credentials"]


def test_an_encrypted_request_may_ask_for_a_plain_response(client: TestClient[Any]) -> None:
    """Where the agency does not require encrypted responses (§12.2.4)."""
    session = _session(client)
    response = session.post_encrypted(session.body(), enc="A128GCM")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["credentials"]


def test_a_plain_request_asking_for_an_encrypted_response_is_refused(
    client: TestClient[Any],
) -> None:
    """§8.2: "Credential Request encryption MUST be used if the
    credential_response_encryption parameter is included"; nothing is used up."""
    session = _session(client)
    _, public = _wallet_key()
    body = session.body(credential_response_encryption={"jwk": public, "enc": "A256GCM"})
    _error(session.post_json(body), "invalid_encryption_parameters")
    assert session.post_encrypted(body).status_code == 200


# Refused encryption parameters ---------------------------------------------------------


def _p384() -> dict[str, Any]:
    return {**jwk.JWK.generate(kty="EC", crv="P-384").export_public(as_dict=True), "alg": "ECDH-ES"}


def _off_curve() -> dict[str, Any]:
    _, public = _wallet_key()
    y = bytearray(b64url_decode(public["y"]))
    y[-1] ^= 1
    return {**public, "y": b64url_encode(bytes(y))}


def _private() -> dict[str, Any]:
    key, _ = _wallet_key()
    return {**key.export_private(as_dict=True), "alg": "ECDH-ES"}


def _rsa() -> dict[str, Any]:
    return {**jwk.JWK.generate(kty="RSA", size=2048).export_public(as_dict=True), "alg": "ECDH-ES"}


def _symmetric() -> dict[str, Any]:
    secret = base64.urlsafe_b64encode(bytes(32)).rstrip(b"=").decode()
    return {"kty": "oct", "k": secret, "alg": "A256KW"}


def _x25519() -> dict[str, Any]:
    return {
        **jwk.JWK.generate(kty="OKP", crv="X25519").export_public(as_dict=True),
        "alg": "ECDH-ES",
    }


def _with(**members: Any) -> dict[str, Any]:
    _, public = _wallet_key()
    return {k: v for k, v in {**public, **members}.items() if v is not None}


BAD_RESPONSE_ENCRYPTION: dict[str, Any] = {
    "alg RSA-OAEP": lambda: {"jwk": _with(alg="RSA-OAEP"), "enc": "A128GCM"},
    "alg ECDH-ES+A128KW": lambda: {"jwk": _with(alg="ECDH-ES+A128KW"), "enc": "A128GCM"},
    "a jwk without alg": lambda: {"jwk": _with(alg=None), "enc": "A128GCM"},
    "enc A192CBC-HS384": lambda: {"jwk": _with(), "enc": "A192CBC-HS384"},
    "enc A192GCM": lambda: {"jwk": _with(), "enc": "A192GCM"},
    "an unknown enc": lambda: {"jwk": _with(), "enc": "A128GCM-NOT"},
    "a private jwk": lambda: {"jwk": _private(), "enc": "A128GCM"},
    "an RSA key": lambda: {"jwk": _rsa(), "enc": "A128GCM"},
    "a symmetric key": lambda: {"jwk": _symmetric(), "enc": "A128GCM"},
    "an X25519 key": lambda: {"jwk": _x25519(), "enc": "A128GCM"},
    "a P-384 key": lambda: {"jwk": _p384(), "enc": "A128GCM"},
    "a point off the curve": lambda: {"jwk": _off_curve(), "enc": "A128GCM"},
    "a signing key (use sig)": lambda: {"jwk": _with(use="sig"), "enc": "A128GCM"},
    "a kid that is not a string": lambda: {"jwk": _with(kid=7), "enc": "A128GCM"},
    "compression (zip DEF)": lambda: {"jwk": _with(), "enc": "A128GCM", "zip": "DEF"},
    "no enc": lambda: {"jwk": _with()},
    "a jwk that is not an object": lambda: {"jwk": "ECDH-ES", "enc": "A128GCM"},
    "an empty jwk": lambda: {"jwk": {}, "enc": "A128GCM"},
}


@pytest.mark.parametrize("case", list(BAD_RESPONSE_ENCRYPTION))
def test_response_encryption_the_issuer_cannot_do_is_refused(
    client: TestClient[Any], case: str
) -> None:
    """§8.3.1.2 ``invalid_encryption_parameters``, before anything is issued: the same
    access token then gets its credential."""
    session = _session(client)
    body = session.body(credential_response_encryption=BAD_RESPONSE_ENCRYPTION[case]())
    _error(session.post_encrypted(body), "invalid_encryption_parameters")
    assert session.post_encrypted(session.body()).status_code == 200


# Refused encrypted requests ------------------------------------------------------------


def _header_only(header: dict[str, Any]) -> str:
    """A compact JWE whose header is ``header`` and whose other parts are noise."""
    encoded = b64url_encode(json.dumps(header).encode())
    return f"{encoded}..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"


def _tampered(session: _Session) -> str:
    parts = _encrypted(session.body(), session.request_key).split(".")
    ciphertext = bytearray(b64url_decode(parts[3]))
    ciphertext[0] ^= 1
    parts[3] = b64url_encode(bytes(ciphertext))
    return ".".join(parts)


def _to_another_key(session: _Session) -> str:
    _, stranger = _wallet_key()
    return _encrypted(session.body(), stranger, kid=session.request_key["kid"])


BAD_ENCRYPTED_REQUESTS: dict[str, tuple[Any, str]] = {
    "encrypted to another key": (_to_another_key, "invalid_encryption_parameters"),
    "an unknown kid": (
        lambda s: _encrypted(s.body(), s.request_key, kid="not-the-agency-key"),
        "invalid_encryption_parameters",
    ),
    "no kid": (
        lambda s: _encrypted(s.body(), s.request_key, kid=None),
        "invalid_encryption_parameters",
    ),
    "alg ECDH-ES+A128KW": (
        lambda s: _encrypted(s.body(), s.request_key, alg="ECDH-ES+A128KW"),
        "invalid_encryption_parameters",
    ),
    "alg RSA-OAEP": (
        lambda s: _header_only({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": s.request_key["kid"]}),
        "invalid_encryption_parameters",
    ),
    "alg dir": (
        lambda s: _header_only({"alg": "dir", "enc": "A256GCM", "kid": s.request_key["kid"]}),
        "invalid_encryption_parameters",
    ),
    "enc A192GCM": (
        lambda s: _encrypted(s.body(), s.request_key, enc="A192GCM"),
        "invalid_encryption_parameters",
    ),
    "enc A128CBC-HS256": (
        lambda s: _encrypted(s.body(), s.request_key, enc="A128CBC-HS256"),
        "invalid_encryption_parameters",
    ),
    "compressed (zip DEF)": (
        lambda s: _encrypted(s.body(), s.request_key, zip="DEF"),
        "invalid_encryption_parameters",
    ),
    "a tampered ciphertext": (_tampered, "invalid_encryption_parameters"),
    "garbage": (lambda s: "garbage", "invalid_credential_request"),
    "four parts": (lambda s: "a.b.c.d", "invalid_credential_request"),
    "a header that is not JSON": (
        lambda s: f"{b64url_encode(b'alg')}..AAAA.AAAA.AAAA",
        "invalid_credential_request",
    ),
    "bytes that are not ASCII": (lambda s: "é.é.é.é.é".encode(), "invalid_credential_request"),
    "an empty body": (lambda s: b"", "invalid_credential_request"),
    "a plaintext that is not JSON": (
        lambda s: _encrypted(b"credential please", s.request_key),
        "invalid_credential_request",
    ),
    "a plaintext with a member twice": (
        lambda s: _encrypted(
            b'{"credential_configuration_id": "national_id", '
            b'"credential_configuration_id": "national_id"}',
            s.request_key,
        ),
        "invalid_credential_request",
    ),
    "a plaintext that is not a credential request": (
        lambda s: _encrypted({"credential_configuration_id": 5}, s.request_key),
        "invalid_credential_request",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ENCRYPTED_REQUESTS))
def test_an_encrypted_request_the_issuer_cannot_read_is_refused(
    client: TestClient[Any], case: str
) -> None:
    """§8.3.1.2 codes, never a server error; the access token is not used up."""
    session = _session(client)
    make, code = BAD_ENCRYPTED_REQUESTS[case]
    _error(session.post(make(session)), code)
    assert session.post_encrypted(session.body()).status_code == 200


def test_other_media_types_are_refused(client: TestClient[Any]) -> None:
    session = _session(client)
    response = session.post(json.dumps(session.body()), "text/plain")
    _error(response, "invalid_credential_request")
    assert "application/jwt" in response.json()["error_description"]


def test_an_oversize_encrypted_request_is_refused_before_it_is_read(
    client: TestClient[Any],
) -> None:
    """Over the endpoint's body limit the framework refuses it before it is read."""
    session = _session(client)
    oversize = _encrypted({**session.body(), "padding": "x" * 200_000}, session.request_key)
    response = session.post(oversize)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invalid_request"
    assert session.post_encrypted(session.body()).status_code == 200


def test_a_request_to_a_key_rotated_elsewhere_is_read_with_the_new_key(
    client: TestClient[Any],
) -> None:
    """Another process rotated the agency's request key: a request to the new key is read
    (this process looks again), one to the retired key is then refused."""
    session = _session(client)
    old_key = session.request_key
    new = client.blocking_portal.call(
        client.app.state.deployment.keys.rotate_decrypter, REQUEST_KEY_OWNER
    )
    new_key = new.public_jwk()
    assert new_key["kid"] != old_key["kid"]
    response = session.post(_encrypted(session.body(), new_key))
    assert response.status_code == 200, response.text
    assert Wallet(client).metadata(ISSUER)["credential_request_encryption"]["jwks"]["keys"] == [
        new_key
    ]
    retry_elsewhere = _session(client)
    _error(
        retry_elsewhere.post(_encrypted(retry_elsewhere.body(), old_key)),
        "invalid_encryption_parameters",
    )


# An agency that requires encryption ----------------------------------------------------


def test_an_agency_requiring_encryption_refuses_plain_requests(client: TestClient[Any]) -> None:
    """§12.2.4 ``encryption_required`` of both objects, from the catalog; §10: "When
    encryption of a message was required but the received message is unencrypted, it
    SHOULD be rejected"."""
    _requiring_encryption(client)
    session = _session(client)
    for name in ("credential_request_encryption", "credential_response_encryption"):
        assert session.metadata[name]["encryption_required"] is True
    _error(session.post_json(session.body()), "invalid_encryption_parameters")
    # encrypted, but asking for a plain response
    _error(session.post_encrypted(session.body()), "invalid_encryption_parameters")
    key, public = _wallet_key()
    body = session.body(credential_response_encryption={"jwk": public, "enc": "A256GCM"})
    response = session.post_encrypted(body)
    assert response.status_code == 200, response.text
    _, payload = _opened(response.text, key)
    assert payload["credentials"]


# A retry of a lost encrypted response --------------------------------------------------


def test_a_lost_encrypted_response_is_sent_again_to_the_key_of_the_retry(
    client: TestClient[Any],
) -> None:
    """The kept response is the plain one; a retry (same access token, same proofs) gets
    it encrypted to the key it sends now, plain if it asks for that where the agency
    allows it, and refused like any request when its encryption parameters are wrong."""
    session = _session(client)
    first_key, first_public = _wallet_key("first")
    body = session.body(credential_response_encryption={"jwk": first_public, "enc": "A128GCM"})
    first = session.post_encrypted(body)
    assert first.status_code == 200, first.text
    _, delivered = _opened(first.text, first_key)

    second_key, second_public = _wallet_key("second")
    retry = {**body, "credential_response_encryption": {"jwk": second_public, "enc": "A256GCM"}}
    again = session.post_encrypted(retry)
    assert again.status_code == 200, again.text
    header, repeated = _opened(again.text, second_key)
    assert header["kid"] == "second" and header["enc"] == "A256GCM"
    assert repeated == delivered
    with pytest.raises(jwe.InvalidJWEData):
        _opened(again.text, first_key)

    plain = {k: v for k, v in body.items() if k != "credential_response_encryption"}
    assert session.post_json(plain).json() == delivered

    wrong = {**body, "credential_response_encryption": {"jwk": _rsa(), "enc": "A256GCM"}}
    _error(session.post_encrypted(wrong), "invalid_encryption_parameters")
    _error(session.post_json(retry), "invalid_encryption_parameters")
    # another request on the used token is still about the token
    _error(session.post_encrypted(session.body()), "invalid_token", 401)


def test_a_lost_response_of_an_agency_requiring_encryption_is_sent_encrypted_only(
    client: TestClient[Any],
) -> None:
    _requiring_encryption(client)
    session = _session(client)
    key, public = _wallet_key()
    body = session.body(credential_response_encryption={"jwk": public, "enc": "A128GCM"})
    first = session.post_encrypted(body)
    assert first.status_code == 200, first.text
    plain = {k: v for k, v in body.items() if k != "credential_response_encryption"}
    _error(session.post_encrypted(plain), "invalid_encryption_parameters")
    _error(session.post_json(plain), "invalid_encryption_parameters")
    again = session.post_encrypted(body)
    assert _opened(again.text, key)[1] == _opened(first.text, key)[1]


def test_a_deferred_answer_and_the_deferred_credential_are_encrypted_when_asked(
    client: TestClient[Any],
) -> None:
    """§10: encryption applies to every Credential Response, the 202 of a deferred one
    (§8.3) and the Deferred Credential Response (§9.2) included."""
    agency = "transport-agency"
    configuration = "professional_driving_licence"
    register = client.app.state.issuers.agency(agency).register
    claims = next(held[configuration] for held in register.values() if configuration in held)
    offer = read_offer(
        client,
        create_offer(client, agency, configuration, claims, subject="driver-enc")["offer_uri"],
    )
    wallet = Wallet(client)
    metadata = wallet.metadata(offer["credential_issuer"])
    token = wallet.token(offer).json()["access_token"]
    request_key = metadata["credential_request_encryption"]["jwks"]["keys"][0]
    key, public = _wallet_key()
    holder = wallet.new_holder()
    body = {
        "credential_configuration_id": configuration,
        "proofs": {"jwt": [proof(holder, offer["credential_issuer"], wallet.nonce(metadata))]},
        "credential_response_encryption": {"jwk": public, "enc": "A128GCM"},
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/jwt"}
    deferred = client.post(
        path_of(metadata["credential_endpoint"]),
        content=_encrypted(body, request_key),
        headers=headers,
    )
    assert deferred.status_code == 202, deferred.text
    assert deferred.headers["content-type"].startswith("application/jwt")
    _, answer = _opened(deferred.text, key)
    assert set(answer) == {"transaction_id", "interval"}
    operator = {"Authorization": f"Bearer {operator_key(client, agency)}"}
    listed = client.get(f"/issuers/{agency}/applications", headers=operator).json()
    (application,) = [a for a in listed["applications"] if a["subject_id"] == "driver-enc"]
    approved = client.post(
        f"/issuers/{agency}/applications/{application['application_id']}/approve",
        headers=operator,
    )
    assert approved.status_code == 200, approved.text
    other_key, other_public = _wallet_key("second-key")
    collected = client.post(
        path_of(metadata["deferred_credential_endpoint"]),
        content=_encrypted(
            {
                "transaction_id": answer["transaction_id"],
                "credential_response_encryption": {"jwk": other_public, "enc": "A256GCM"},
            },
            request_key,
        ),
        headers=headers,
    )
    assert collected.status_code == 200, collected.text
    header, payload = _opened(collected.text, other_key)
    assert header["kid"] == "second-key" and header["enc"] == "A256GCM"
    (issued,) = payload["credentials"]
    assert _holder_key_of(issued["credential"]) == holder.public_jwk()


# Keys in a hardware security module ----------------------------------------------------


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
def test_an_encrypted_request_to_a_key_in_the_token(
    settings: Settings, softhsm: SoftHsm, hsm_token: str, enc: str
) -> None:
    """The agency's keys in a PKCS#11 token (SoftHSM2): a request jwcrypto encrypted to the
    published key is read there (ECDH-ES in the token) and the credential signed there."""
    in_token = dataclasses.replace(
        settings,
        key_store=KeyStoreSettings(
            providers=dict.fromkeys(KEY_CLASSES, "pkcs11"),
            pkcs11_module=softhsm.module,
            pkcs11_token=hsm_token,
            pkcs11_pin=softhsm.pin,
        ),
    )
    with TestClient(app=create_app(in_token), base_url=PUBLIC_BASE_URL) as client:
        session = _session(client)
        key, public = _wallet_key()
        body = session.body(credential_response_encryption={"jwk": public, "enc": enc})
        response = session.post_encrypted(body, enc=enc)
        assert response.status_code == 200, response.text
        _, payload = _opened(response.text, key)
        (issued,) = payload["credentials"]
        keys = client.app.state.deployment.key_records
        request_key = client.blocking_portal.call(keys.active, REQUEST_KEY_OWNER)
        signing_key = client.blocking_portal.call(keys.active, "issuer:civil-registry")
    assert request_key.location == "pkcs11" and not request_key.wrapped_private_key
    assert signing_key.location == "pkcs11"
    header = json.loads(b64url_decode(issued["credential"].split(".")[0]))
    assert header["kid"] == signing_key.kid
