"""A minimal OpenID4VP 1.0 wallet for the tests, written with other people's code: PyJWT
checks the signed request object against its ``x5c`` certificate, the reference ``sd-jwt``
package builds the presentation and its KB-JWT, jwcrypto encrypts ``direct_post.jwt``
answers. It knows only the spec: the QR code's URI, the request object, DCQL."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk
from litestar.testing import TestClient
from sd_jwt.holder import SDJWTHolder

from core.keys.signer import SoftwareSigner
from core.keys.x509 import validate_x5c


def counter_key(client: TestClient[Any], verifier_id: str) -> str:
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    key: str = keys[verifier_id]
    return key


def create_request(client: TestClient[Any], verifier_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"/verifiers/{verifier_id}/presentations",
        json=body,
        headers={"Authorization": f"Bearer {counter_key(client, verifier_id)}"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def transaction_status(client: TestClient[Any], verifier_id: str, transaction_id: str) -> Any:
    return client.get(
        f"/verifiers/{verifier_id}/presentations/{transaction_id}",
        headers={"Authorization": f"Bearer {counter_key(client, verifier_id)}"},
    )


@dataclass
class FetchedRequest:
    client_id: str
    request_uri: str
    payload: dict[str, Any]
    header: dict[str, Any]


def fetch_request(
    client: TestClient[Any],
    uri: str,
    *,
    method: str | None = None,
    wallet_nonce: str | None = None,
    anchor: x509.Certificate | None = None,
) -> FetchedRequest:
    """Read the QR code's URI, fetch the request object and check it as a wallet must
    (RFC 9101, OpenID4VP 1.0 §5.10 and §5.9.3)."""
    parts = urlsplit(uri)
    assert parts.scheme == "openid4vp"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(query) <= {"client_id", "request_uri", "request_uri_method"}
    method = method or query.get("request_uri_method", "get")
    path = urlsplit(query["request_uri"]).path
    if method == "post":
        form = {"wallet_metadata": json.dumps({"vp_formats_supported": {"dc+sd-jwt": {}}})}
        if wallet_nonce is not None:
            form["wallet_nonce"] = wallet_nonce
        response = client.post(
            path, data=form, headers={"Accept": "application/oauth-authz-req+jwt"}
        )
    else:
        response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/oauth-authz-req+jwt")
    token = response.text
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "oauth-authz-req+jwt"
    if anchor is None:
        anchor = client.app.state.deployment.trust_anchor.certificate
    leaf = validate_x5c(header["x5c"], [anchor], at=dt.datetime.now(dt.UTC))
    payload: dict[str, Any] = jwt.decode(
        token,
        leaf.public_key(),  # type: ignore[arg-type]
        algorithms=["ES256"],
        audience="https://self-issued.me/v2",
    )
    client_id = query["client_id"]
    assert payload["client_id"] == client_id
    prefix, _, value = client_id.partition(":")
    if prefix == "x509_hash":
        der = base64.b64decode(header["x5c"][0])
        expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
        assert value == expected
    else:
        assert prefix == "x509_san_dns"
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert value in names.get_values_for_type(x509.DNSName)
    if wallet_nonce is not None:
        assert payload["wallet_nonce"] == wallet_nonce
    return FetchedRequest(client_id, query["request_uri"], payload, header)


def disclose_for(claim_paths: list[list[Any]]) -> dict[str, Any]:
    """The reference holder's ``claims_to_disclose`` for DCQL claim paths."""
    disclose: dict[str, Any] = {}
    for path in claim_paths:
        node = disclose
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = True
    return disclose


def present(
    credential: str,
    holder: SoftwareSigner,
    request: FetchedRequest,
    disclose: dict[str, Any],
    *,
    nonce: str | None = None,
    aud: str | None = None,
) -> str:
    holder_sd_jwt = SDJWTHolder(credential)
    holder_sd_jwt.create_presentation(
        disclose,
        nonce=nonce if nonce is not None else request.payload["nonce"],
        aud=aud if aud is not None else request.client_id,
        holder_key=jwcrypto_jwk.JWK.from_pyca(holder._key),  # type: ignore[attr-defined]
        sign_alg="ES256",
    )
    presentation: str = holder_sd_jwt.sd_jwt_presentation
    return presentation


def respond(
    client: TestClient[Any],
    request: FetchedRequest,
    vp_token: dict[str, list[str]] | str,
    *,
    state: str | None = None,
    enc: str = "A128GCM",
) -> Any:
    """Post the answer to the response_uri, encrypted when the request says so."""
    payload = request.payload
    token_text = vp_token if isinstance(vp_token, str) else json.dumps(vp_token)
    state = payload["state"] if state is None else state
    path = urlsplit(payload["response_uri"]).path
    if payload["response_mode"] == "direct_post.jwt":
        key = payload["client_metadata"]["jwks"]["keys"][0]
        recipient = jwcrypto_jwk.JWK(**{k: v for k, v in key.items() if k != "use"})
        body = json.dumps({"vp_token": json.loads(token_text), "state": state})
        token = jwcrypto_jwe.JWE(
            body.encode(),
            protected=json.dumps({"alg": "ECDH-ES", "enc": enc, "kid": key["kid"]}),
        )
        token.add_recipient(recipient)
        return client.post(path, data={"response": token.serialize(compact=True)})
    return client.post(path, data={"vp_token": token_text, "state": state})
