"""Interoperability of the agencies' HAIP issuance with an independent wallet: a wallet built
on the client APIs of ``@openid4vc/oauth2`` and ``@openid4vc/openid4vci`` (npm), the
libraries of the Credo and Paradym wallets (``haip_wallet.mjs``), gets the demo
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
- the token request with DPoP and the server's nonce, which the pushed request's answer
  handed out (``DPoP-Nonce``, RFC 9449 §8.2), giving a DPoP-bound access token and a
  refresh token;
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

The same wallet then takes the two variants OpenID4VCI 1.0 adds to the credential request,
each through the whole flow above:

- encrypted requests and responses (§8.2, §10): the national ID (A128GCM) and the driving
  licence (A256GCM) with every credential request a compact JWE (``application/jwt``) to the
  request key the agency publishes in ``credential_request_encryption`` (ECDH-ES, its
  ``kid`` in the header), asking in ``credential_response_encryption`` for the answer
  encrypted to a new key of the wallet; each answer is a JWE to that key, opened here by
  jwcrypto as well, beside the plain runs of both;
- deferred issuance (§8.3, §9): the professional driving licence, which a clerk approves
  first, plain and encrypted (A128GCM): the credential request is answered 202 with a
  ``transaction_id`` and the agency's ``interval``; asked at the Deferred Credential Endpoint
  at once, it is still pending (202 again); the wallet says on stdout that it waits, and
  this test, as the clerk, finds the application through the operator API, checks it and
  approves it, and answers the wallet on stdin; the wallet asks again and gets the
  credentials, and tells the agency it kept them (§11).

The library (0.4.6) neither encrypts credential requests nor opens encrypted answers: the
wallet does so in its fetch with its own JWE callbacks, and the library reads the answers
as JSON. Two more shortfalls the wallet works around and lists (``workarounds``): the
library's request schema requires the drafts' ``alg`` member in
``credential_response_encryption``, and its check of deferred credential responses refuses
a ``notification_id`` beside the credentials. A library release that needs neither makes
this test say so.

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
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import verify_sd_jwt_vc
from issuers.services.catalog import CATALOG_DIR
from issuers.services.metadata import BATCH_SIZE
from tests.interop.node_wallets import PACKAGES, pinned_node
from tests.support.certificates import signed_certificate
from tests.support.server import running_server

INTEROP = Path(__file__).resolve().parent
WALLET = INTEROP / "haip_wallet.mjs"
#: How long the node wallet may take for all cases, the clerk's decisions included.
WALLET_TIMEOUT = 180

#: The demo credentials: configuration id -> the agency that issues it.
CREDENTIALS = {
    "national_id": "civil-registry",
    "driving_licence": "transport-agency",
    "professional_driving_licence": "transport-agency",
}
#: The credential a clerk approves first (deferred issuance), and its agency.
PROFESSIONAL = "professional_driving_licence"
TRANSPORT = CREDENTIALS[PROFESSIONAL]
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
#: What the node wallet does itself where @openid4vc/openid4vci 0.4.6 falls short of
#: OpenID4VCI 1.0 (besides encrypting and decrypting, which it leaves to the wallet's
#: fetch): its request schema requires ``credential_response_encryption.alg``, the member
#: of the drafts (1.0 has the algorithm in the jwk only); its check of deferred credential
#: responses is inverted and refuses a ``notification_id`` beside the credentials, which
#: §9.2 allows. A release without these makes the lists shorter, and this test says so.
ALG_BESIDE_JWK = (
    "credential_response_encryption carries alg beside jwk and enc: the library's request "
    "schema requires the member of the drafts"
)
DEFERRED_NOTIFICATION_ID = (
    "deferred credential response with credentials and notification_id, refused by the "
    "library's inverted notification_id check, read as it came"
)
JSON_MEDIA_TYPE = "application/json"
JWT_MEDIA_TYPE = "application/jwt"


@dataclass(frozen=True)
class Case:
    """What the node wallet is asked to do for one credential: encrypted requests and
    responses with ``encryption`` as their ``enc``, or plain JSON; deferred issuance."""

    configuration_id: str
    encryption: str | None = None
    deferred: bool = False

    @property
    def name(self) -> str:
        variants = [f"encrypted {self.encryption}"] if self.encryption else []
        variants += ["deferred"] if self.deferred else []
        return " ".join([self.configuration_id, *variants])

    @property
    def agency(self) -> str:
        return CREDENTIALS[self.configuration_id]

    def options(self) -> dict[str, Any]:
        # a deferred credential comes once, after the clerk's decision: no refresh then
        return {
            "encryption": self.encryption,
            "deferred": self.deferred,
            "refresh": not self.deferred,
        }

    def workarounds(self) -> list[str]:
        expected = [ALG_BESIDE_JWK] if self.encryption else []
        return expected + ([DEFERRED_NOTIFICATION_ID] if self.deferred else [])


CASES = {
    case.name: case
    for case in (
        Case("national_id"),
        Case("driving_licence"),
        Case("national_id", encryption="A128GCM"),
        Case("driving_licence", encryption="A256GCM"),
        Case(PROFESSIONAL, deferred=True),
        Case(PROFESSIONAL, encryption="A128GCM", deferred=True),
    )
}
IMMEDIATE = [name for name, case in CASES.items() if not case.deferred]
DEFERRED = [name for name, case in CASES.items() if case.deferred]
ENCRYPTED = [name for name, case in CASES.items() if case.encryption]


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


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
        root = signed_certificate(
            name("Interop Wallet Provider Root"),
            root_key,
            issuer=name("Interop Wallet Provider Root"),
            issuer_key=root_key,
            ca=True,
            now=now,
        )
        intermediate = signed_certificate(
            name("Interop Wallet Provider CA"),
            intermediate_key,
            issuer=root.subject,
            issuer_key=root_key,
            ca=True,
            now=now,
        )
        signer = signed_certificate(
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


def _deferred_interval() -> int:
    """How long the transport agency's catalog entry tells wallets to wait between asks."""
    document = json.loads((CATALOG_DIR / f"{TRANSPORT}.json").read_text(encoding="utf-8"))
    interval: int = document["deferred_issuance"]["interval"]
    return interval


class Clerk:
    """The transport agency's clerk at the operator API of the running server: when the
    wallet waits, the clerk looks for the pending application of the citizen's professional
    licence and approves it. What the clerk saw and was answered is kept for the checks."""

    def __init__(self, http: httpx.Client, operator_key: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {operator_key}"}
        self.decisions: dict[str, dict[str, Any]] = {}

    def __call__(self, waiting: dict[str, Any]) -> dict[str, Any]:
        applications = f"/issuers/{TRANSPORT}/applications"
        listed = self.http.get(applications, params={"state": "pending"}, headers=self.headers)
        listed.raise_for_status()
        pending = [
            application
            for application in listed.json()["applications"]
            if application["subject_id"] == CITIZEN
            and application["credential_configuration_id"] == PROFESSIONAL
        ]
        decision: dict[str, Any] = {"waiting": waiting, "pending": pending, "approved": None}
        self.decisions[waiting["name"]] = decision
        if len(pending) != 1:
            return {"decided": "nothing"}  # the wallet finds it pending still, and says so
        approved = self.http.post(
            f"{applications}/{pending[0]['application_id']}/approve", headers=self.headers
        )
        decision["approved"] = {"status": approved.status_code, **approved.json()}
        return {"decided": approved.json().get("state")}


Answerer = Callable[[dict[str, Any]], dict[str, Any]]


def _no_browser(message: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"the wallet asked for a browser: {message}")


def run_wallet(
    node: str,
    request: dict[str, Any],
    clerk: Answerer,
    browser: Answerer = _no_browser,
    answerers: Mapping[str, Answerer] | None = None,
) -> dict[str, Any]:
    """The node wallet on ``request``: while a case waits for a clerk it says so on stdout,
    and the ``clerk``'s decision goes back on stdin; a case that opens its authorization
    request in a browser gets the ``browser``'s answer; any other event the wallet writes
    (``presented``, ``ready_to_present``) is answered by the one ``answerers`` names; its
    last line is its output."""
    handlers = {
        "waiting_for_the_clerk": clerk,
        "open_in_browser": browser,
        **(answerers or {}),
    }
    output: dict[str, Any] | None = None
    other_lines: list[str] = []
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        wallet = subprocess.Popen(
            [node, str(WALLET)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            encoding="utf-8",
        )
        assert wallet.stdin is not None and wallet.stdout is not None
        watchdog = threading.Timer(WALLET_TIMEOUT, wallet.kill)
        watchdog.start()
        try:
            wallet.stdin.write(json.dumps(request) + "\n")
            wallet.stdin.flush()
            for line in wallet.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    other_lines.append(line)
                    continue
                handler = handlers.get(message.get("event"))
                if handler is not None:
                    answer = handler(message)
                    wallet.stdin.write(json.dumps(answer) + "\n")
                    wallet.stdin.flush()
                else:
                    output = message
                    wallet.stdin.close()
            returncode = wallet.wait()
        finally:
            watchdog.cancel()
            if wallet.poll() is None:
                wallet.kill()
                wallet.wait()
        errors.seek(0)
        stderr = errors.read()
    assert returncode == 0 and output is not None, f"{stderr}\n{''.join(other_lines)}"
    return output


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One node process takes every case from one server, the test answering for the
    clerk: its output, what the clerk saw, and what the checks need of the server (its
    trust anchor, the agencies' published keys and metadata, the transport agency's record
    of the citizen's credentials and of the applications delivered)."""
    node = pinned_node()
    var_dir = tmp_path_factory.mktemp("interop-haip")
    provider = InteropWalletProvider.create()
    anchors = var_dir / "wallet-provider-roots.pem"
    anchors.write_bytes(provider.root_pem())
    agencies = sorted(set(CREDENTIALS.values()))
    with (
        running_server(
            var_dir,
            IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors),
            IDWALLET_TEST_CITIZEN=CITIZEN,
        ) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        operator_keys = json.loads((var_dir / "operator-keys.json").read_text(encoding="utf-8"))
        clerk = Clerk(http, operator_keys[TRANSPORT])
        request = {
            "allow_insecure_urls": True,
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "wallet_provider": provider.for_wallet(),
            "cases": [
                {
                    "name": name,
                    "credential_issuer": f"{server.base_url}/issuers/{case.agency}",
                    "credential_configuration_id": case.configuration_id,
                    "options": case.options(),
                }
                for name, case in CASES.items()
            ],
        }
        output = run_wallet(node, request, clerk)
        jwks = {
            agency: http.get(f"/.well-known/jwt-vc-issuer/issuers/{agency}").json()["jwks"]
            for agency in agencies
        }
        metadata = {
            agency: http.get(f"/.well-known/openid-credential-issuer/issuers/{agency}").json()
            for agency in agencies
        }
        ledger = http.get(f"/issuers/{TRANSPORT}/subjects/{CITIZEN}", headers=clerk.headers)
        delivered = http.get(
            f"/issuers/{TRANSPORT}/applications",
            params={"state": "delivered"},
            headers=clerk.headers,
        )
    assert output["library"] == PACKAGES
    yield {
        "base_url": server.base_url,
        "results": {result["name"]: result for result in output["results"]},
        "anchor": x509.load_pem_x509_certificate((var_dir / "trust-anchor.pem").read_bytes()),
        "jwks": jwks,
        "metadata": metadata,
        "clerk": clerk.decisions,
        "ledger": ledger.json()["credentials"],
        "delivered": delivered.json()["applications"],
    }


def _result(issued: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = issued["results"][name]
    assert result["ok"], f"{result['error']}\n{result['details']}\n{result['exchanges']}"
    return result


def _issuer(issued: dict[str, Any], name: str) -> str:
    return f"{issued['base_url']}/issuers/{CASES[name].agency}"


def _reference_verified(credential: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The reference SD-JWT implementation verifies the issuer's signature with the key of
    the agency's published JWK Set that the header's ``kid`` names, and discloses all."""

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        [jwk] = [key for key in jwks["keys"] if key.get("kid") == header["kid"]]
        return JWK(**jwk)

    payload: dict[str, Any] = SDJWTVerifier(credential, issuer_key).get_verified_payload()
    return payload


async def _check_batch(issued: dict[str, Any], name: str, batch: dict[str, Any]) -> None:
    """A credential for each key the wallet proved, each bound to its own key (``cnf``),
    signed by the agency's published key, with what the register holds."""
    case = CASES[name]
    issuer = _issuer(issued, name)
    register = _register(case.agency, case.configuration_id)
    assert len(batch["holder_jwks"]) == BATCH_SIZE
    holders = []
    for credential in batch["credentials"]:
        claims = _reference_verified(credential, issued["jwks"][case.agency])
        assert claims["iss"] == issuer
        assert claims["vct"] == f"{issuer}/types/{case.configuration_id}"
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


def _exchanges(result: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    return [e for e in result["exchanges"] if urlsplit(e["url"]).path.endswith(f"/{endpoint}")]


@pytest.mark.parametrize("name", CASES)
async def test_the_wallet_gets_a_batch_through_par_pkce_dpop_and_attestations(
    issued: dict[str, Any], name: str
) -> None:
    result = _result(issued, name)
    issuer = _issuer(issued, name)
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
    await _check_batch(issued, name, result["batches"][0])
    assert result["corrections"] == LIBRARY_CORRECTIONS
    assert result["workarounds"] == CASES[name].workarounds()


@pytest.mark.parametrize("name", IMMEDIATE)
async def test_a_refresh_gives_a_new_batch_and_the_used_refresh_token_is_refused(
    issued: dict[str, Any], name: str
) -> None:
    result = _result(issued, name)
    refresh = result["refresh"]
    assert refresh["token_type"] == "DPoP" and refresh["refresh_token_issued"]
    assert refresh["rotated"] and refresh["new_access_token"]
    first, second = result["batches"]
    await _check_batch(issued, name, second)
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
    wallet type's client_id, the same for all. (Each case is a wallet instance of its own.)"""
    results = [_result(issued, name) for name in CASES]
    assert {result["wallet"]["client_id"] for result in results} == {CLIENT_ID}
    instance_keys = {json.dumps(result["wallet"]["instance_jwk"]) for result in results}
    assert len(instance_keys) == len(CASES)


@pytest.mark.parametrize("name", CASES)
def test_the_wallet_authenticates_every_authorization_server_request_with_its_attestation(
    issued: dict[str, Any], name: str
) -> None:
    """At the pushed request and at every token request: the wallet attestation (the
    provider's chain without its root, ``sub`` the client_id, ``cnf`` the instance key) and a
    PoP for this authorization server, a fresh one each time."""
    result = _result(issued, name)
    issuer = _issuer(issued, name)
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


def _check_resource_requests(
    result: dict[str, Any], issuer: str, endpoint: str, exchanges: list[dict[str, Any]]
) -> None:
    """Each request with the DPoP-bound token: ``Authorization: DPoP``, a proof of the
    flow's key for this endpoint with ``ath`` (RFC 9449 §7)."""
    for exchange in exchanges:
        assert exchange["authorization_scheme"] == "DPoP"
        assert exchange["dpop"]["header"]["jwk"] == result["dpop_jwk"]
        assert exchange["dpop"]["payload"]["htu"] == f"{issuer}/{endpoint}"
        assert exchange["dpop"]["payload"]["htm"] == "POST"
        assert exchange["dpop"]["payload"]["ath"]


@pytest.mark.parametrize("name", IMMEDIATE)
def test_dpop_proofs_carry_the_servers_nonces_and_bind_the_tokens(
    issued: dict[str, Any], name: str
) -> None:
    """One DPoP key for the flow: at the pushed request (binding the code, RFC 9449 §10, no
    nonce asked there; its answer hands the server's ``DPoP-Nonce``, §8.2), at the token
    endpoint (with that nonce, which the library takes from the pushed request's answer,
    so no ``use_dpop_nonce`` round), and at the credential endpoint with the token
    (``ath``) and a nonce: the first request had none and was told to use one (401, ``WWW-Authenticate:
    DPoP``, §9), the second took the nonce endpoint's ``DPoP-Nonce``."""
    result = _result(issued, name)
    issuer = _issuer(issued, name)
    dpop_jwk = result["dpop_jwk"]
    [par] = _exchanges(result, "par")
    assert par["status"] == 201 and par["dpop"]["payload"]["htu"] == f"{issuer}/par"
    token_requests = _exchanges(result, "token")
    # the code, the refresh token, the used refresh token and its successor
    assert [(e["status"], e["error"]) for e in token_requests] == [
        (200, None),
        (200, None),
        (400, "invalid_grant"),
        (400, "invalid_grant"),
    ]
    for exchange in [par, *token_requests]:
        assert exchange["dpop"]["header"]["jwk"] == dpop_jwk
        assert exchange["dpop"]["payload"]["htm"] == "POST"
    assert all(e["dpop"]["payload"]["nonce"] for e in token_requests)
    assert all(e["dpop_nonce_answered"] for e in _exchanges(result, "nonce"))
    credential_requests = _exchanges(result, "credential")
    assert [(e["status"], e["www_authenticate"]) for e in credential_requests] == [
        (401, 'DPoP error="use_dpop_nonce", algs="ES256 ES384 ES512 EdDSA"'),
        (200, None),
        (200, None),
    ]
    _check_resource_requests(result, issuer, "credential", credential_requests)
    assert "nonce" not in credential_requests[0]["dpop"]["payload"]
    assert all(e["dpop"]["payload"]["nonce"] for e in credential_requests[1:])
    assert [batch["dpop_nonce"] for batch in result["batches"]] == ["none", "nonce_endpoint"]


@pytest.mark.parametrize("name", CASES)
def test_every_proof_carries_the_key_attestation_of_the_batch(
    issued: dict[str, Any], name: str
) -> None:
    """One key attestation of the wallet provider for all keys of a batch (HAIP 1.0 §4.5.1),
    with the batch's ``c_nonce`` and ``exp``, in the ``key_attestation`` header of each jwt
    proof (OpenID4VCI 1.0 Appendix D.1, F.1)."""
    result = _result(issued, name)
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


# Encrypted requests and responses (OpenID4VCI 1.0 §8.2, §10) -----------------------------


def _issuer_requests(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The wallet's requests at the credential and deferred credential endpoints."""
    return _exchanges(result, "credential") + _exchanges(result, "deferred_credential")


def _opened(jwe: str, private_jwk: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The protected header and the payload of a compact JWE, decrypted by jwcrypto with
    the wallet's key (not the wallet's own code)."""
    token = JWE()
    token.deserialize(jwe, key=JWK(**private_jwk))
    header: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(jwe.split(".", maxsplit=1)[0] + "==")
    )
    payload: dict[str, Any] = json.loads(token.payload)
    return header, payload


@pytest.mark.parametrize("name", [name for name in CASES if name not in ENCRYPTED])
def test_without_encryption_requests_and_answers_are_json(
    issued: dict[str, Any], name: str
) -> None:
    result = _result(issued, name)
    for exchange in _issuer_requests(result):
        assert exchange["encrypted"] is None
        assert (exchange["content_type"], exchange["answer_content_type"]) == (
            JSON_MEDIA_TYPE,
            JSON_MEDIA_TYPE,
        )
    assert all(batch["response_encryption"] is None for batch in result["batches"])


@pytest.mark.parametrize("name", ENCRYPTED)
def test_every_request_is_encrypted_to_the_agencys_key_and_asks_for_an_encrypted_answer(
    issued: dict[str, Any], name: str
) -> None:
    """§10: each request (the library's retry after ``use_dpop_nonce`` too) is a compact JWE,
    ``application/jwt``, to the key the agency publishes in ``credential_request_encryption``
    (``alg`` ECDH-ES, the case's ``enc``, the key's ``kid``; a fresh ephemeral key each
    time, no compression), and names in ``credential_response_encryption`` a new key of the
    wallet for its answer (§8.2, §9.1: a new one at each deferred request too)."""
    case = CASES[name]
    result = _result(issued, name)
    published = issued["metadata"][case.agency]["credential_request_encryption"]
    [request_key] = published["jwks"]["keys"]
    assert case.encryption in published["enc_values_supported"]
    requests = _issuer_requests(result)
    for exchange in requests:
        assert exchange["content_type"] == JWT_MEDIA_TYPE
        header = exchange["encrypted"]["request_header"]
        assert (header["alg"], header["enc"], header["kid"]) == (
            "ECDH-ES",
            case.encryption,
            request_key["kid"],
        )
        assert (header["epk"]["kty"], header["epk"]["crv"]) == ("EC", "P-256")
        assert "d" not in header["epk"] and "zip" not in header
        body = exchange["encrypted"]["request_body"]
        asked = body["credential_response_encryption"]
        assert asked["enc"] == case.encryption
        # what the library's request schema requires besides (see ALG_BESIDE_JWK)
        assert set(asked) - {"jwk", "enc"} == {"alg"} and asked["alg"] == "ECDH-ES"
        assert asked["jwk"]["alg"] == "ECDH-ES" and asked["jwk"]["use"] == "enc"
        assert asked["jwk"]["kid"] and "d" not in asked["jwk"]
    epks = {json.dumps(e["encrypted"]["request_header"]["epk"]) for e in requests}
    assert len(epks) == len(requests)
    # one key for each answer asked for: the library's retry repeats its request's
    answer_keys = [
        json.dumps(e["encrypted"]["request_body"]["credential_response_encryption"]["jwk"])
        for e in requests
        if e["status"] != 401
    ]
    assert len(set(answer_keys)) == len(answer_keys)


@pytest.mark.parametrize("name", ENCRYPTED)
def test_every_answer_is_encrypted_to_the_key_its_request_named(
    issued: dict[str, Any], name: str
) -> None:
    """§8.3, §9.2, §10: an answer with credentials or a ``transaction_id`` is a compact JWE,
    ``application/jwt``, to the wallet's key of its request (``alg`` ECDH-ES, the ``enc``
    asked for, the key's ``kid``), "regardless of the content"; jwcrypto opens each to what
    the library read. An error (the DPoP nonce challenge) is JSON."""
    case = CASES[name]
    result = _result(issued, name)
    answered = []
    for exchange in _issuer_requests(result):
        opened = exchange["encrypted"]["response"]
        if exchange["status"] == 401:
            assert exchange["answer_content_type"] == JSON_MEDIA_TYPE and opened is None
            assert exchange["error"] == "use_dpop_nonce"
            continue
        assert exchange["answer_content_type"] == JWT_MEDIA_TYPE
        asked = exchange["encrypted"]["request_body"]["credential_response_encryption"]
        header, payload = _opened(opened["jwe"], opened["private_jwk"])
        assert (header["alg"], header["enc"], header["kid"]) == (
            "ECDH-ES",
            case.encryption,
            asked["jwk"]["kid"],
        )
        assert "zip" not in header and header["epk"]["crv"] == "P-256"
        assert payload == opened["body"]
        answered.append((exchange["status"], payload))
    credentials = [
        [c["credential"] for c in payload["credentials"]]
        for status, payload in answered
        if status == 200
    ]
    assert credentials == [batch["credentials"] for batch in result["batches"]]
    for batch, (_, payload) in zip(
        result["batches"], [a for a in answered if a[0] == 200], strict=True
    ):
        assert payload["notification_id"] == batch["notification_id"]
    if case.deferred:  # the 202 of the credential endpoint, then of the deferred endpoint
        statuses = [status for status, _ in answered]
        assert statuses == [202, 202, 200]
        transaction_id = result["batches"][0]["deferred"]["credential_response"]["transaction_id"]
        for _, payload in answered[:2]:
            # the register's read is named too (``register_reads``, ignorable by wallets)
            payload.pop("register_reads", None)
            assert payload == {"transaction_id": transaction_id, "interval": _deferred_interval()}


# Deferred issuance (OpenID4VCI 1.0 §8.3, §9) ---------------------------------------------


@pytest.mark.parametrize("name", DEFERRED)
async def test_the_wallet_collects_the_credentials_a_clerk_approved(
    issued: dict[str, Any], name: str
) -> None:
    """§8.3: the credential request is answered 202 with a ``transaction_id`` and the
    agency's ``interval``; §9.2: asked at the Deferred Credential Endpoint while no clerk has
    decided, 202 again with the same ``transaction_id``; the clerk, while the wallet waited,
    found the one pending application with the register's claims and a credential for each
    key, and approved it; asked again, the endpoint gives the credentials (bound to the keys
    the wallet proved at the credential endpoint) and a ``notification_id``, with which the
    wallet tells the agency it kept them (§11)."""
    result = _result(issued, name)
    [batch] = result["batches"]
    deferred = batch["deferred"]
    first = deferred["credential_response"]
    transaction_id = first["transaction_id"]
    interval = _deferred_interval()
    assert (first["status"], first["interval"]) == (202, interval)
    assert len(transaction_id) >= 43
    pending = deferred["pending"]
    assert (pending["status"], pending["transaction_id"], pending["interval"]) == (
        202,
        transaction_id,
        interval,
    )
    assert "credentials" not in pending and "notification_id" not in pending

    clerk = issued["clerk"][name]
    assert clerk["waiting"] == {
        "event": "waiting_for_the_clerk",
        "name": name,
        "transaction_id": transaction_id,
        "interval": interval,
    }
    [application] = clerk["pending"]
    assert application["state"] == "pending" and application["decided_at"] is None
    assert application["claims"] == _register(TRANSPORT, PROFESSIONAL)
    assert application["credentials"] == BATCH_SIZE
    approved = clerk["approved"]
    assert (approved["status"], approved["state"]) == (200, "approved") and approved["decided_at"]
    assert deferred["clerk"] == {"decided": "approved"}

    assert deferred["collected"]["status"] == 200
    assert deferred["collected"]["notification_id"] == batch["notification_id"]
    assert batch["notification_id"]
    await _check_batch(issued, name, batch)
    assert deferred["notification"] == {"status": 204}


@pytest.mark.parametrize("name", DEFERRED)
def test_deferred_requests_carry_the_bound_token_and_the_agencys_nonces(
    issued: dict[str, Any], name: str
) -> None:
    """The application keeps the DPoP binding of the token that asked (RFC 9449 §7): each
    deferred request, and the notification, carries the token with a proof of the flow's
    key and the nonce of the agency's previous answer, which the library hands on, so none
    is refused for its nonce."""
    result = _result(issued, name)
    issuer = _issuer(issued, name)
    credential_requests = _exchanges(result, "credential")
    assert [(e["status"], e["error"]) for e in credential_requests] == [
        (401, "use_dpop_nonce"),
        (202, None),
    ]
    deferred_requests = _exchanges(result, "deferred_credential")
    assert [(e["status"], e["error"]) for e in deferred_requests] == [(202, None), (200, None)]
    notifications = _exchanges(result, "notification")
    assert [(e["status"], e["error"]) for e in notifications] == [(204, None)]
    _check_resource_requests(result, issuer, "credential", credential_requests)
    _check_resource_requests(result, issuer, "deferred_credential", deferred_requests)
    _check_resource_requests(result, issuer, "notification", notifications)
    assert all(e["dpop"]["payload"]["nonce"] for e in deferred_requests + notifications)


def test_the_agency_records_the_collected_credentials_and_the_notifications(
    issued: dict[str, Any],
) -> None:
    """Each collected professional licence is in the transport agency's record of the
    citizen with its own place on the status list and the wallet's ``credential_accepted``;
    the delivered applications have forgotten the citizen's data."""
    professional = [c for c in issued["ledger"] if c["credential_configuration_id"] == PROFESSIONAL]
    assert len(professional) == BATCH_SIZE * len(DEFERRED)
    assert {c["wallet_notification"] for c in professional} == {"credential_accepted"}
    assert len({c["status_idx"] for c in professional}) == len(professional)
    approved = {issued["clerk"][name]["approved"]["application_id"] for name in DEFERRED}
    delivered = issued["delivered"]
    assert {a["application_id"] for a in delivered} == approved
    assert all(a["claims"] == {} and a["state"] == "delivered" for a in delivered)
