"""Interoperability of the agencies' HAIP issuance with an independent wallet: a wallet built
on the client APIs of ``@openid4vc/oauth2`` and ``@openid4vc/openid4vci`` (npm), the
libraries of the Credo and Paradym wallets (``haip_wallet.mjs``), gets both demo
credentials from a real ``idwallet serve`` through the authorization code flow as HAIP 1.0
§4 profiles it:

- the wallet attestation of its own wallet provider (OpenID4VCI 1.0 Appendix E; OAuth
  Attestation-Based Client Authentication), made here with ``cryptography`` alone (a root,
  an intermediate CA and the signing certificate: no helper of this code base), whose root
  the server trusts through ``IDWALLET_WALLET_PROVIDER_ANCHORS``, with a fresh PoP at the
  pushed authorization request and at every token request;
- the pushed authorization request (RFC 9126) with PKCE S256 (RFC 7636) and a DPoP proof
  binding the code (RFC 9449 §10), the authorization endpoint signing in the register's
  ``demo-citizen`` (``IDWALLET_TEST_CITIZEN``) and redirecting back with ``code``, ``state``
  and ``iss`` (RFC 9207), checked by the library;
- the token request with DPoP, retried by the library with the server's nonce
  (``use_dpop_nonce``, RFC 9449 §8), giving a DPoP-bound access token and a refresh token;
- a ``c_nonce`` from the nonce endpoint (§7), a batch of ``jwt`` key proofs (Appendix F.1),
  each carrying the wallet provider's key attestation of the batch's keys in its
  ``key_attestation`` header (Appendix D.1), and the credential request with the bound
  token (``Authorization: DPoP``, a proof with ``ath``, RFC 9449 §7) and a nonce of the
  credential issuer: the first request has none and is retried by the library after the
  401 ``use_dpop_nonce`` challenge (§9), the second takes the nonce endpoint's
  ``DPoP-Nonce`` (HAIP 1.0 §4);
- the refresh token exchanged (RFC 6749 §6) for a new access token and a rotated refresh
  token, a second batch fetched with it, and the used refresh token refused when presented
  again, which ends its family: its successor is refused too (RFC 9700 §4.14.2).

Every credential is checked here independently of our verifier: the reference SD-JWT
implementation (``sd-jwt``) verifies the issuer's signature with the key the agency
publishes in its JWT VC issuer metadata, and the holder binding (``cnf.jwk``) must be the
key of one of the wallet's proofs; our own SD-JWT VC verification (``x5c`` chain to the
deployment's trust anchor) must agree. The claims are those the agency's register holds
for the citizen.

Node and npm are needed; the pinned packages are installed into ``tests/interop/node_modules``
(``npm ci``) when missing. Without node or npm, or when the install fails, the module is
skipped with the reason, and under CI (``CI`` set) it fails instead.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import verify_sd_jwt_vc
from issuers.services.catalog import CATALOG_DIR
from issuers.services.metadata import BATCH_SIZE
from tests.interop.node_wallets import PACKAGES, pinned_node
from tests.support.server import running_server

INTEROP = Path(__file__).resolve().parent
WALLET = INTEROP / "haip_wallet.mjs"

#: The demo credentials: configuration id -> the agency that issues it.
CREDENTIALS = {"national_id": "civil-registry", "driving_licence": "transport-agency"}
CITIZEN = "demo-citizen"
#: The node wallet's client_id (its wallet type, the attestation's ``sub``) and redirect URI.
CLIENT_ID = "https://interop-wallet.example"
REDIRECT_URI = "https://interop-wallet.example/callback"
PROVIDER = "https://interop-wallet-provider.example"
#: The one place the node wallet changes what the library built: @openid4vc/openid4vci
#: 0.4.6 types key attestations ``keyattestation+jwt`` (the name of the drafts), OpenID4VCI
#: 1.0 Appendix D.1 ``key-attestation+jwt``, which the agencies require. A library release
#: that writes the right type makes this list empty, and this test says so.
LIBRARY_CORRECTIONS = ["key attestation typ keyattestation+jwt -> key-attestation+jwt"]


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
    now: dt.datetime,
) -> x509.Certificate:
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class InteropWalletProvider:
    """The node wallet's wallet provider: a root CA, an intermediate CA and the certificate
    of the key that signs wallet attestations and key attestations."""

    root: x509.Certificate
    intermediate: x509.Certificate
    signer: x509.Certificate
    signer_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls) -> InteropWalletProvider:
        now = dt.datetime.now(dt.UTC)

        def name(common_name: str) -> x509.Name:
            return x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Interop Wallet Provider"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )

        root_key, intermediate_key, signer_key = (
            ec.generate_private_key(ec.SECP256R1()) for _ in range(3)
        )
        root = _certificate(
            name("Interop Wallet Provider Root"),
            root_key,
            issuer=name("Interop Wallet Provider Root"),
            issuer_key=root_key,
            ca=True,
            now=now,
        )
        intermediate = _certificate(
            name("Interop Wallet Provider CA"),
            intermediate_key,
            issuer=root.subject,
            issuer_key=root_key,
            ca=True,
            now=now,
        )
        signer = _certificate(
            name("Interop Wallet Attestation Signer"),
            signer_key,
            issuer=intermediate.subject,
            issuer_key=intermediate_key,
            ca=False,
            now=now,
        )
        return cls(root, intermediate, signer, signer_key)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(Encoding.PEM)

    def for_wallet(self) -> dict[str, Any]:
        """What the node wallet signs with: the chain (leaf first, without the root, as
        HAIP asks) and the signing key as a private JWK."""
        numbers = self.signer_key.private_numbers()
        return {
            "issuer": PROVIDER,
            "x5c": [
                base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")
                for certificate in (self.signer, self.intermediate)
            ],
            "private_jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64url_int(numbers.public_numbers.x),
                "y": _b64url_int(numbers.public_numbers.y),
                "d": _b64url_int(numbers.private_value),
            },
        }


def _register(issuer_id: str, configuration_id: str) -> dict[str, Any]:
    """What the agency's register holds for the citizen."""
    document = json.loads(
        (CATALOG_DIR / "registers" / f"{issuer_id}.json").read_text(encoding="utf-8")
    )
    claims: dict[str, Any] = document["subjects"][CITIZEN][configuration_id]
    return claims


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One node process gets both credentials from one server: its output, and what the
    checks need of the server (its trust anchor and the agencies' published keys)."""
    node = pinned_node()
    var_dir = tmp_path_factory.mktemp("interop-haip")
    provider = InteropWalletProvider.create()
    anchors = var_dir / "wallet-provider-roots.pem"
    anchors.write_bytes(provider.root_pem())
    with running_server(
        var_dir,
        IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors),
        IDWALLET_TEST_CITIZEN=CITIZEN,
    ) as server:
        request = {
            "allow_insecure_urls": True,
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "wallet_provider": provider.for_wallet(),
            "cases": [
                {
                    "name": configuration_id,
                    "credential_issuer": f"{server.base_url}/issuers/{issuer_id}",
                    "credential_configuration_id": configuration_id,
                }
                for configuration_id, issuer_id in CREDENTIALS.items()
            ],
        }
        wallet = subprocess.run(
            [node, str(WALLET)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert wallet.returncode == 0, wallet.stderr
        output = json.loads(wallet.stdout)
        with httpx.Client(base_url=server.base_url) as http:
            jwks = {
                issuer_id: http.get(f"/.well-known/jwt-vc-issuer/issuers/{issuer_id}").json()[
                    "jwks"
                ]
                for issuer_id in CREDENTIALS.values()
            }
    assert output["library"] == PACKAGES
    yield {
        "base_url": server.base_url,
        "results": {result["name"]: result for result in output["results"]},
        "anchor": x509.load_pem_x509_certificate((var_dir / "trust-anchor.pem").read_bytes()),
        "jwks": jwks,
    }


def _result(issued: dict[str, Any], configuration_id: str) -> dict[str, Any]:
    result: dict[str, Any] = issued["results"][configuration_id]
    assert result["ok"], f"{result['error']}\n{result['details']}\n{result['exchanges']}"
    return result


def _issuer(issued: dict[str, Any], configuration_id: str) -> str:
    return f"{issued['base_url']}/issuers/{CREDENTIALS[configuration_id]}"


def _reference_verified(credential: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The reference SD-JWT implementation verifies the issuer's signature with the key of
    the agency's published JWK Set that the header's ``kid`` names, and discloses all."""

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        [jwk] = [key for key in jwks["keys"] if key.get("kid") == header["kid"]]
        return JWK(**jwk)

    payload: dict[str, Any] = SDJWTVerifier(credential, issuer_key).get_verified_payload()
    return payload


async def _check_batch(
    issued: dict[str, Any], configuration_id: str, batch: dict[str, Any]
) -> None:
    """A credential for each key the wallet proved, each bound to its own key (``cnf``),
    signed by the agency's published key, with what the register holds."""
    issuer_id = CREDENTIALS[configuration_id]
    issuer = _issuer(issued, configuration_id)
    register = _register(issuer_id, configuration_id)
    assert len(batch["holder_jwks"]) == BATCH_SIZE
    holders = []
    for credential in batch["credentials"]:
        claims = _reference_verified(credential, issued["jwks"][issuer_id])
        assert claims["iss"] == issuer
        assert claims["vct"] == f"{issuer}/types/{configuration_id}"
        assert {name: claims.get(name) for name in register} == register
        holders.append(claims["cnf"]["jwk"])
        ours = await verify_sd_jwt_vc(
            credential,
            issuer_keys=X5cIssuerKeys([issued["anchor"]]),
            key_binding=None,
            issued=True,
        )
        assert ours.issuer == issuer and ours.claims["cnf"] == claims["cnf"]
    assert sorted(holders, key=json.dumps) == sorted(batch["holder_jwks"], key=json.dumps)


@pytest.mark.parametrize("configuration_id", CREDENTIALS)
async def test_the_wallet_gets_a_batch_through_par_pkce_dpop_and_attestations(
    issued: dict[str, Any], configuration_id: str
) -> None:
    result = _result(issued, configuration_id)
    issuer = _issuer(issued, configuration_id)
    assert result["credential_issuer"] == issuer and result["authorization_server"] == issuer
    assert result["openid4vci_version"] == "V1" and result["format"] == "dc+sd-jwt"
    support = result["library_support"]
    assert support["dpop"]["supported"] and support["client_attestation"]
    assert "ES256" in support["dpop"]["dpopSigningAlgValuesSupported"]
    # The citizen's browser was sent with the request_uri alone and came back with the
    # code, the state (checked by the wallet) and the issuer (RFC 9126 §4, RFC 9207 §2).
    authorization = result["authorization"]
    assert authorization["request_url_parameters"] == ["client_id", "request_uri"]
    assert authorization["pkce_method"] == "S256"
    assert (authorization["redirect_status"], authorization["redirect_to"]) == (303, REDIRECT_URI)
    assert authorization["iss"] == issuer
    token = result["token"]
    assert token["token_type"] == "DPoP" and token["refresh_token_issued"]
    await _check_batch(issued, configuration_id, result["batches"][0])
    assert result["corrections"] == LIBRARY_CORRECTIONS


@pytest.mark.parametrize("configuration_id", CREDENTIALS)
async def test_a_refresh_gives_a_new_batch_and_the_used_refresh_token_is_refused(
    issued: dict[str, Any], configuration_id: str
) -> None:
    result = _result(issued, configuration_id)
    refresh = result["refresh"]
    assert refresh["token_type"] == "DPoP" and refresh["refresh_token_issued"]
    assert refresh["rotated"] and refresh["new_access_token"]
    first, second = result["batches"]
    await _check_batch(issued, configuration_id, second)
    assert not {json.dumps(k) for k in first["holder_jwks"]} & {
        json.dumps(k) for k in second["holder_jwks"]
    }
    # The used refresh token is refused (RFC 6749 §5.2), and the reuse ended its family:
    # the token that replaced it is refused too (RFC 9700 §4.14.2).
    for refused in (result["reuse"], result["successor_after_reuse"]):
        assert (refused["refused"], refused["status"], refused["error"]) == (
            True,
            400,
            "invalid_grant",
        )


def test_each_agency_sees_its_own_wallet_attestation(issued: dict[str, Any]) -> None:
    """HAIP 1.0 §4.4.1: a wallet attestation is not reused across issuers; ``sub`` is the
    wallet type's client_id, the same for all."""
    results = [_result(issued, configuration_id) for configuration_id in CREDENTIALS]
    assert {result["wallet"]["client_id"] for result in results} == {CLIENT_ID}
    instance_keys = {json.dumps(result["wallet"]["instance_jwk"]) for result in results}
    assert len(instance_keys) == len(CREDENTIALS)


def _exchanges(result: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    return [e for e in result["exchanges"] if urlsplit(e["url"]).path.endswith(f"/{endpoint}")]


@pytest.mark.parametrize("configuration_id", CREDENTIALS)
def test_the_wallet_authenticates_every_authorization_server_request_with_its_attestation(
    issued: dict[str, Any], configuration_id: str
) -> None:
    """At the pushed request and at every token request: the wallet attestation (the
    provider's chain without its root, ``sub`` the client_id, ``cnf`` the instance key) and a
    PoP for this authorization server, a fresh one each time."""
    result = _result(issued, configuration_id)
    issuer = _issuer(issued, configuration_id)
    instance_jwk = result["wallet"]["instance_jwk"]
    authenticated = _exchanges(result, "par") + _exchanges(result, "token")
    for exchange in authenticated:
        attestation = exchange["client_attestation"]
        assert attestation["header"]["typ"] == "oauth-client-attestation+jwt"
        assert len(attestation["header"]["x5c"]) == 2  # signer and intermediate CA
        assert attestation["payload"]["sub"] == CLIENT_ID
        assert attestation["payload"]["cnf"]["jwk"] == instance_jwk
        pop = exchange["client_attestation_pop"]
        assert pop["header"]["typ"] == "oauth-client-attestation-pop+jwt"
        assert pop["payload"]["aud"] == issuer
    assert len({e["client_attestation_pop"]["payload"]["jti"] for e in authenticated}) == len(
        authenticated
    )


@pytest.mark.parametrize("configuration_id", CREDENTIALS)
def test_dpop_proofs_carry_the_servers_nonces_and_bind_the_tokens(
    issued: dict[str, Any], configuration_id: str
) -> None:
    """One DPoP key for the flow: at the pushed request (binding the code, RFC 9449 §10, no
    nonce asked there), at the token endpoint (a nonce of the server, asked for once with
    ``use_dpop_nonce``, §8), and at the credential endpoint with the token (``ath``) and a
    nonce: the first request had none and was told to use one (401, ``WWW-Authenticate:
    DPoP``, §9), the second took the nonce endpoint's ``DPoP-Nonce``."""
    result = _result(issued, configuration_id)
    issuer = _issuer(issued, configuration_id)
    dpop_jwk = result["dpop_jwk"]
    [par] = _exchanges(result, "par")
    assert par["status"] == 201 and par["dpop"]["payload"]["htu"] == f"{issuer}/par"
    token_requests = _exchanges(result, "token")
    # the code, the refresh token, the used refresh token and its successor
    assert [(e["status"], e["error"]) for e in token_requests] == [
        (400, "use_dpop_nonce"),
        (200, None),
        (200, None),
        (400, "invalid_grant"),
        (400, "invalid_grant"),
    ]
    for exchange in [par, *token_requests]:
        assert exchange["dpop"]["header"]["jwk"] == dpop_jwk
        assert exchange["dpop"]["payload"]["htm"] == "POST"
    assert "nonce" not in token_requests[0]["dpop"]["payload"]
    assert all(e["dpop"]["payload"]["nonce"] for e in token_requests[1:])
    assert all(e["dpop_nonce_answered"] for e in _exchanges(result, "nonce"))
    credential_requests = _exchanges(result, "credential")
    assert [(e["status"], e["www_authenticate"]) for e in credential_requests] == [
        (401, 'DPoP error="use_dpop_nonce", algs="ES256 ES384 ES512 EdDSA"'),
        (200, None),
        (200, None),
    ]
    for exchange in credential_requests:
        assert exchange["authorization_scheme"] == "DPoP"
        assert exchange["dpop"]["header"]["jwk"] == dpop_jwk
        assert exchange["dpop"]["payload"]["htu"] == f"{issuer}/credential"
        assert exchange["dpop"]["payload"]["ath"]
    assert "nonce" not in credential_requests[0]["dpop"]["payload"]
    assert all(e["dpop"]["payload"]["nonce"] for e in credential_requests[1:])
    assert [batch["dpop_nonce"] for batch in result["batches"]] == ["none", "nonce_endpoint"]


@pytest.mark.parametrize("configuration_id", CREDENTIALS)
def test_every_proof_carries_the_key_attestation_of_the_batch(
    issued: dict[str, Any], configuration_id: str
) -> None:
    """One key attestation of the wallet provider for all keys of a batch (HAIP 1.0 §4.5.1),
    with the batch's ``c_nonce`` and ``exp``, in the ``key_attestation`` header of each jwt
    proof (OpenID4VCI 1.0 Appendix D.1, F.1)."""
    result = _result(issued, configuration_id)
    for batch in result["batches"]:
        header, claims = (
            json.loads(base64.urlsafe_b64decode(part + "=="))
            for part in batch["key_attestation"].split(".")[:2]
        )
        assert header["typ"] == "key-attestation+jwt" and len(header["x5c"]) == 2
        assert claims["attested_keys"] == batch["holder_jwks"]
        assert claims["nonce"] and claims["exp"] > claims["iat"]
        assert claims["key_storage"] == ["iso_18045_high"]
        for proof_header in batch["proof_headers"]:
            assert proof_header["typ"] == "openid4vci-proof+jwt"
            assert proof_header["key_attestation"] == batch["key_attestation"]
