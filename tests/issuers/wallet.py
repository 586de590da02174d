"""A minimal OpenID4VCI 1.0 wallet for the tests: it knows only the spec (metadata by
well-known URL, offer by value or reference, token, nonce, credential with jwt proofs,
deferred credential), and DPoP (RFC 9449) when given a key: proofs at the token and
credential endpoints, with the server's latest ``DPoP-Nonce`` and one retry on
``use_dpop_nonce``."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from core.dpop import access_token_hash
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from tests.support.dpop_proofs import make_proof
from tests.support.key_attestations import deployment_provider

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


def path_of(url: str) -> str:
    return urlsplit(url).path


def read_offer(client: TestClient[Any], offer_uri: str) -> dict[str, Any]:
    query = parse_qs(urlsplit(offer_uri).query)
    if "credential_offer" in query:
        offer: dict[str, Any] = json.loads(query["credential_offer"][0])
        return offer
    response = client.get(path_of(unquote(query["credential_offer_uri"][0])))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    offer = response.json()
    return offer


def proof(
    holder: SoftwareSigner,
    audience: str,
    nonce: str | None,
    *,
    attested: bool = True,
    **overrides: Any,
) -> str:
    """A jwt proof (§8.2.1.1) of ``holder`` for ``audience``; ``attested``: with the key's
    attestation by the test deployment's own wallet provider (Appendix F.1), as the
    national ID requires."""
    payload: dict[str, Any] = {"aud": audience, "iat": int(time.time())}
    if nonce is not None:
        payload["nonce"] = nonce
    header: dict[str, Any] = {"jwk": holder.public_jwk()}
    if attested:
        header["key_attestation"] = deployment_provider().attest([holder.public_jwk()], nonce=nonce)
    payload.update(overrides.pop("payload", {}))
    header.update(overrides.pop("header", {}))
    typ = overrides.pop("typ", "openid4vci-proof+jwt")
    return sign_compact(payload, holder, typ=typ, header=header, include_kid=False)


@dataclass
class Wallet:
    client: TestClient[Any]
    holders: list[SoftwareSigner] = field(default_factory=list)
    #: The wallet's DPoP key; None: a wallet that uses bearer tokens.
    dpop_key: ec.EllipticCurvePrivateKey | None = None
    #: The latest nonce the server handed out in ``DPoP-Nonce``.
    dpop_nonce: str | None = None
    #: How far the server's clock is ahead of this one (proofs are dated in its time).
    clock_offset: float = 0.0

    @property
    def dpop_jkt(self) -> str:
        assert self.dpop_key is not None
        return jwk_thumbprint(public_jwk(self.dpop_key))

    def dpop_proof(self, url: str, access_token: str | None = None, **claims: Any) -> str:
        assert self.dpop_key is not None
        if self.dpop_nonce is not None:
            claims.setdefault("nonce", self.dpop_nonce)
        if access_token is not None:
            claims.setdefault("ath", access_token_hash(access_token))
        return make_proof(
            self.dpop_key,
            htu=url,
            iat=time.time() + self.clock_offset,
            jti=secrets.token_urlsafe(16),
            claims=claims,
        )

    def post_with_dpop(
        self, url: str, access_token: str | None = None, *, headers: dict[str, str], **kw: Any
    ) -> Any:
        """POST with a fresh proof (and the token with the DPoP scheme); once more with
        the server's nonce when it asks for one (RFC 9449 §8, §9)."""
        for _ in range(2):
            sent = dict(headers)
            if self.dpop_key is not None:
                sent["DPoP"] = self.dpop_proof(url, access_token)
                if access_token is not None:
                    sent["Authorization"] = f"DPoP {access_token}"
            elif access_token is not None:
                sent["Authorization"] = f"Bearer {access_token}"
            response = self.client.post(path_of(url), headers=sent, **kw)
            self.dpop_nonce = response.headers.get("dpop-nonce", self.dpop_nonce)
            asked = "use_dpop_nonce" in response.headers.get("www-authenticate", "") or (
                response.status_code == 400 and "use_dpop_nonce" in response.text
            )
            if not asked:
                break
        return response

    def new_holder(self) -> SoftwareSigner:
        holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
        self.holders.append(holder)
        return holder

    def metadata(self, credential_issuer: str) -> dict[str, Any]:
        parts = urlsplit(credential_issuer)
        response = self.client.get(f"/.well-known/openid-credential-issuer{parts.path}")
        assert response.status_code == 200
        metadata: dict[str, Any] = response.json()
        assert metadata["credential_issuer"] == credential_issuer
        return metadata

    def token(self, offer: dict[str, Any], tx_code: str | None = None) -> Any:
        parts = urlsplit(offer["credential_issuer"])
        server = self.client.get(f"/.well-known/oauth-authorization-server{parts.path}").json()
        form = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"],
        }
        if tx_code is not None:
            form["tx_code"] = tx_code
        return self.post_with_dpop(server["token_endpoint"], headers={}, data=form)

    def nonce(self, metadata: dict[str, Any]) -> str:
        response = self.client.post(path_of(metadata["nonce_endpoint"]))
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        self.dpop_nonce = response.headers.get("dpop-nonce", self.dpop_nonce)
        nonce: str = response.json()["c_nonce"]
        return nonce

    def credential(self, metadata: dict[str, Any], access_token: str, body: dict[str, Any]) -> Any:
        return self.post_with_dpop(
            metadata["credential_endpoint"], access_token, headers={}, json=body
        )

    def deferred_credential(
        self, metadata: dict[str, Any], access_token: str, transaction_id: str
    ) -> Any:
        """§9.1: ask the Deferred Credential Endpoint for the credentials of a transaction."""
        return self.post_with_dpop(
            metadata["deferred_credential_endpoint"],
            access_token,
            headers={},
            json={"transaction_id": transaction_id},
        )

    def request(self, offer_uri: str, *, tx_code: str | None = None, batch: int = 1) -> Request:
        """The credential request for an offer, as far as the Credential Endpoint's answer."""
        offer = read_offer(self.client, offer_uri)
        metadata = self.metadata(offer["credential_issuer"])
        token = self.token(offer, tx_code)
        assert token.status_code == 200, token.text
        access_token = token.json()["access_token"]
        nonce = self.nonce(metadata)
        holders = [self.new_holder() for _ in range(batch)]
        body = {
            "credential_configuration_id": offer["credential_configuration_ids"][0],
            "proofs": {"jwt": [proof(h, offer["credential_issuer"], nonce) for h in holders]},
        }
        response = self.credential(metadata, access_token, body)
        return Request(metadata, access_token, holders, body, response)

    def receive(
        self, offer_uri: str, *, tx_code: str | None = None, batch: int = 1
    ) -> tuple[dict[str, Any], list[str], list[SoftwareSigner]]:
        asked = self.request(offer_uri, tx_code=tx_code, batch=batch)
        assert asked.response.status_code == 200, asked.response.text
        body = asked.response.json()
        return body, [c["credential"] for c in body["credentials"]], asked.holders


@dataclass
class Request:
    """A credential request the wallet made: where, with which token and keys, what it
    sent and what the Credential Endpoint answered."""

    metadata: dict[str, Any]
    access_token: str
    holders: list[SoftwareSigner]
    body: dict[str, Any]
    response: Any
