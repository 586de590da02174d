"""A citizen's phone talking to the mobile API, as the app would: a device key made on the
phone (signing with the ``cryptography`` package directly), device proofs, sessions, and
device-bound holder keys whose signatures it makes itself."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from core.encoding import b64url_decode, b64url_encode

DEVICE_PROOF_TYP = "wallet-device-proof+jwt"


def _public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


def es256(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def jws(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = (
        b64url_encode(json.dumps(header).encode())
        + "."
        + b64url_encode(json.dumps(payload).encode())
    )
    return signing_input + "." + b64url_encode(es256(key, signing_input.encode()))


@dataclass
class Phone:
    client: httpx.Client  # the in-process test client, or a client of a real server
    device_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    holder_keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    account_id: str | None = None
    device_id: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    language: str = "en"

    @property
    def audience(self) -> str:
        return f"{self.client.base_url}".rstrip("/") + "/wallet"

    def challenge(self) -> str:
        response = self.client.post("/wallet/challenges")
        assert response.status_code == 201, response.text
        return str(response.json()["challenge"])

    def proof(self, *, by_kid: bool, **overrides: Any) -> str:
        header: dict[str, Any] = {"alg": "ES256", "typ": DEVICE_PROOF_TYP}
        if by_kid:
            header["kid"] = self.device_id
        else:
            header["jwk"] = _public_jwk(self.device_key)
        payload = {"aud": self.audience, "iat": int(time.time()), "nonce": self.challenge()}
        payload.update(overrides)
        return jws(self.device_key, header, payload)

    def _session(self, response: Any) -> dict[str, Any]:
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        self.account_id, self.device_id = body["account_id"], body["device_id"]
        self.access_token, self.refresh_token = body["access_token"], body["refresh_token"]
        return body

    def register(self, name: str = "test phone") -> dict[str, Any]:
        return self._session(
            self.client.post(
                "/wallet/accounts",
                json={"device_proof": self.proof(by_kid=False), "device_name": name},
            )
        )

    def login(self) -> dict[str, Any]:
        return self._session(
            self.client.post("/wallet/sessions", json={"device_proof": self.proof(by_kid=True)})
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "Accept-Language": self.language}

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body or {}, headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self.headers)

    def scan(self, uri: str) -> Any:
        return self.post("/wallet/scans", {"uri": uri})

    def new_holder_keys(self, count: int) -> list[dict[str, str]]:
        jwks = []
        for _ in range(count):
            key = ec.generate_private_key(ec.SECP256R1())
            jwk = _public_jwk(key)
            self.holder_keys[jwk["x"]] = key
            jwks.append(jwk)
        return jwks

    def sign_requests(self, requests: list[dict[str, Any]]) -> list[str]:
        """The phone signs what the API prepared, each with the key it names."""
        signatures = []
        for request in requests:
            key = self.holder_keys[request["holder_key"]["x"]]
            assert request["alg"] == "ES256"
            # an mdoc's DeviceAuth: the Sig_structure bytes, base64url; else a JWS input
            data = (
                b64url_decode(request["signing_input"])
                if request.get("encoding") == "base64url"
                else request["signing_input"].encode("ascii")
            )
            signatures.append(b64url_encode(es256(key, data)))
        return signatures

    def receive(
        self, offer_uri: str, *, tx_code: str | None = None, custody: str = "server"
    ) -> dict[str, Any]:
        scanned = self.scan(offer_uri)
        assert scanned.status_code == 201, scanned.text
        offer = scanned.json()["offer"]
        body: dict[str, Any] = {"custody": custody}
        if tx_code is not None:
            body["tx_code"] = tx_code
        if custody == "device":
            body["holder_keys"] = self.new_holder_keys(offer["holder_keys_needed"])
        accepted = self.post(f"/wallet/offers/{offer['offer_id']}/accept", body)
        assert accepted.status_code == 200, accepted.text
        result: dict[str, Any] = accepted.json()
        if custody == "device":
            assert result["status"] == "proofs_needed"
            completed = self.post(
                f"/wallet/offers/{offer['offer_id']}/complete",
                {"signatures": self.sign_requests(result["signing_requests"])},
            )
            assert completed.status_code == 200, completed.text
            result = completed.json()
        assert result["status"] == "received"
        return result

    def approve(self, presentation_id: str, **body: Any) -> dict[str, Any]:
        approved = self.post(f"/wallet/presentations/{presentation_id}/approve", body)
        assert approved.status_code == 200, approved.text
        result: dict[str, Any] = approved.json()
        if result["status"] == "signatures_needed":
            completed = self.post(
                f"/wallet/presentations/{presentation_id}/complete",
                {"signatures": self.sign_requests(result["signing_requests"])},
            )
            assert completed.status_code == 200, completed.text
            result = completed.json()
        return result


def payload_of(jwt: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(jwt.split(".")[1]))
    return value
