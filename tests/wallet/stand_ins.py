"""An independent issuer and verifier on a real loopback port, built from other people's
code: credentials made by the reference ``sd-jwt`` package, proofs and request objects
checked and signed with PyJWT, presentations verified by the reference ``SDJWTVerifier``.
Their certificates chain to a trust anchor of their own, which the wallet under test is
configured with (``IDWALLET_WALLET_TRUST_ANCHORS``); the port is its one outbound
exception (``IDWALLET_OUTBOUND_ALLOW``).

``mode`` switches the issuer into one of the faults of SECURITY-CASES W05, and the
verifier's request objects into the faults of W08–W13.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto import jwk as jwcrypto_jwk
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)

NOW = dt.datetime.now(dt.UTC)
_ANCHOR_KEY = ec.generate_private_key(ec.SECP256R1())
ANCHOR = create_trust_anchor(
    SoftwareSigner(_ANCHOR_KEY), common_name="Stand-in Wallet Test Root", now=NOW
)
_ROGUE_KEY = ec.generate_private_key(ec.SECP256R1())
ROGUE_ANCHOR = create_trust_anchor(
    SoftwareSigner(_ROGUE_KEY), common_name="Nobody Trusts This Root", now=NOW
)
VCT = "urn:example:stand-in:pid"
PID = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1964-08-12",
    "age_over_18": True,
}


def write_anchor(directory: Path) -> Path:
    path = directory / "stand-in-wallet-anchor.pem"
    path.write_bytes(ANCHOR.public_bytes(Encoding.PEM))
    return path


def _leaf(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    uris: tuple[str, ...] = (),
    dns: tuple[str, ...] = (),
    rogue: bool = False,
) -> list[str]:
    certificate = issue_access_certificate(
        AccessCertificateRequest(common_name=name, organization=name, dns_names=dns, uris=uris),
        key.public_key(),
        anchor_signer=SoftwareSigner(_ROGUE_KEY if rogue else _ANCHOR_KEY),
        anchor=ROGUE_ANCHOR if rogue else ANCHOR,
        now=NOW,
    )
    return list(to_x5c([certificate]))


def _x509_hash(x5c: list[str]) -> str:
    digest = hashlib.sha256(base64.b64decode(x5c[0])).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class StandIns:
    base: str
    port: int
    issuer_mode: str = "honest"
    #: ``None``: no registration attached; ``"trusted"``/``"rogue"``: a registration for
    #: ``age_over_18`` only, signed by the stand-in root or by a root nobody trusts.
    registration: str | None = None
    #: The registered purpose's ``issuance`` statement (None: it serves no issuance).
    registration_issuance: dict[str, Any] | None = None
    codes: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    nonces: set[str] = field(default_factory=set)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)
    #: Where the stand-in verifier sends the citizen after an accepted presentation.
    redirect_uri: str | None = None
    #: Credential responses by access token, and how many credential requests came in.
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    credential_requests: int = 0
    #: Members replaced in the issuer metadata, and in the offer's pre-authorized grant.
    metadata_changes: dict[str, Any] = field(default_factory=dict)
    grant_changes: dict[str, Any] = field(default_factory=dict)
    #: Members replaced in the stand-in verifier's client_metadata.
    client_metadata_changes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.issuer_key = ec.generate_private_key(ec.SECP256R1())
        self.issuer_x5c = _leaf("Stand-in Issuer", self.issuer_key, uris=(self.base,))
        self.rogue_x5c = _leaf("Stand-in Issuer", self.issuer_key, uris=(self.base,), rogue=True)
        self.verifier_key = ec.generate_private_key(ec.SECP256R1())
        self.verifier_x5c = _leaf("Stand-in Verifier", self.verifier_key, dns=("localhost",))
        self.encryption_key = ec.generate_private_key(ec.SECP256R1())

    # -- issuer ---------------------------------------------------------------------------

    def offer_uri(self) -> str:
        code = secrets.token_urlsafe(16)
        self.codes.add(code)
        offer = {
            "credential_issuer": self.base,
            "credential_configuration_ids": ["pid"],
            "grants": {
                "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                    "pre-authorized_code": code,
                    **self.grant_changes,
                }
            },
        }
        return "openid-credential-offer://?credential_offer=" + quote(json.dumps(offer))

    def issuer_metadata(self) -> dict[str, Any]:
        return {**self._issuer_metadata(), **self.metadata_changes}

    def _issuer_metadata(self) -> dict[str, Any]:
        return {
            "credential_issuer": self.base,
            "credential_endpoint": f"{self.base}/credential",
            "nonce_endpoint": f"{self.base}/nonce",
            "notification_endpoint": f"{self.base}/notification",
            "display": [{"name": "Stand-in Issuer", "locale": "en"}],
            "credential_configurations_supported": {
                "pid": {
                    "format": "dc+sd-jwt",
                    "vct": VCT,
                    "cryptographic_binding_methods_supported": ["jwk"],
                    "proof_types_supported": {
                        "jwt": {"proof_signing_alg_values_supported": ["ES256"]}
                    },
                    "credential_metadata": {"display": [{"name": "Stand-in PID", "locale": "en"}]},
                }
            },
        }

    def credential(self, proof_jwt: str) -> str:
        header = jwt.get_unverified_header(proof_jwt)
        holder = jwt.PyJWK(header["jwk"])
        claims = jwt.decode(proof_jwt, holder.key, algorithms=["ES256"], audience=self.base)
        assert header["typ"] == "openid4vci-proof+jwt" and claims["nonce"] in self.nonces
        holder_key = jwcrypto_jwk.JWK(**header["jwk"])
        if self.issuer_mode == "foreign_cnf":
            holder_key = jwcrypto_jwk.JWK.from_pyca(
                ec.generate_private_key(ec.SECP256R1()).public_key()
            )
        now = int(time.time())
        user_claims: dict[Any, Any] = {
            "iss": self.base,
            "vct": VCT,
            "iat": now,
            "exp": now + 3600,
            **{SDObj(name): value for name, value in PID.items()},
        }
        x5c = self.rogue_x5c if self.issuer_mode == "untrusted_chain" else self.issuer_x5c
        issuer = SDJWTIssuer(
            user_claims,
            jwcrypto_jwk.JWK.from_pyca(self.issuer_key),
            holder_key,
            add_decoy_claims=True,
            extra_header_parameters={"typ": "dc+sd-jwt", "x5c": x5c},
        )
        issued: str = issuer.sd_jwt_issuance
        if self.issuer_mode == "kb_attached":
            issued += jwt.encode(
                {"nonce": "x", "aud": "y", "iat": now},
                self.issuer_key,
                algorithm="ES256",
                headers={"typ": "kb+jwt"},
            )
        return issued

    # -- verifier -------------------------------------------------------------------------

    def request_uri(
        self, *, dcql: dict[str, Any] | None = None, response_mode: str = "direct_post"
    ) -> tuple[str, str]:
        request_id = secrets.token_urlsafe(8)
        client_id = f"x509_hash:{_x509_hash(self.verifier_x5c)}"
        self.requests[request_id] = {
            "client_id": client_id,
            "nonce": secrets.token_urlsafe(16),
            "state": secrets.token_urlsafe(16),
            "response_mode": response_mode,
            "dcql_query": dcql
            or {
                "credentials": [
                    {
                        "id": "pid",
                        "format": "dc+sd-jwt",
                        "meta": {"vct_values": [VCT]},
                        "claims": [{"path": ["age_over_18"]}],
                    }
                ]
            },
        }
        query = urlencode(
            {"client_id": client_id, "request_uri": f"{self.base}/request/{request_id}"}
        )
        return "openid4vp://?" + query, request_id

    def request_object(self, request_id: str) -> str:
        kept = self.requests[request_id]
        payload: dict[str, Any] = {
            "iss": kept["client_id"],
            "aud": "https://self-issued.me/v2",
            "iat": int(time.time()),
            "exp": int(time.time()) + 300,
            "client_id": kept["client_id"],
            "response_type": "vp_token",
            "response_mode": kept["response_mode"],
            "response_uri": f"{self.base}/response/{request_id}",
            "nonce": kept["nonce"],
            "state": kept["state"],
            "dcql_query": kept["dcql_query"],
            "client_metadata": {
                "client_name": "Stand-in Verifier (self-declared)",
                "vp_formats_supported": {
                    "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
                },
                **self.client_metadata_changes,
            },
        }
        if self.registration is not None:
            payload["verifier_info"] = [
                {"format": "urn:idwallet:verifier-registration", "data": self._registration(kept)}
            ]
        return jwt.encode(
            payload,
            self.verifier_key,
            algorithm="ES256",
            headers={"typ": "oauth-authz-req+jwt", "x5c": self.verifier_x5c},
        )

    def _registration(self, kept: dict[str, Any]) -> str:
        """A registration for ``age_over_18`` only, signed by a root (trusted or not),
        perhaps serving an issuance."""
        registration = {
            "iss": "Stand-in registrar",
            "sub": kept["client_id"],
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
            "purposes": [
                {
                    "id": "age",
                    "description": [{"locale": "en", "text": "Checking you are an adult"}],
                    "credentials": [
                        {"format": "dc+sd-jwt", "vct_values": [VCT], "claims": [["age_over_18"]]}
                    ],
                    **(
                        {}
                        if self.registration_issuance is None
                        else {"issuance": self.registration_issuance}
                    ),
                }
            ],
        }
        key = _ANCHOR_KEY if self.registration == "trusted" else _ROGUE_KEY
        return jwt.encode(
            registration, key, algorithm="ES256", headers={"typ": "verifier-registration+jwt"}
        )

    def receive_response(self, request_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        kept = self.requests[request_id]
        if "error" in form:
            self.results[request_id] = {"error": form["error"]}
            return 200, {}
        assert form["state"] == kept["state"]
        vp_token = json.loads(form["vp_token"])
        payloads = []
        for presentation in vp_token["pid"]:
            verifier = SDJWTVerifier(
                presentation,
                lambda iss, header: jwcrypto_jwk.JWK.from_pyca(self.issuer_key.public_key()),
                expected_aud=kept["client_id"],
                expected_nonce=kept["nonce"],
            )
            payloads.append(verifier.get_verified_payload())
        self.results[request_id] = payloads
        return 200, {"redirect_uri": self.redirect_uri} if self.redirect_uri else {}


def _handler(stand_ins: StandIns) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/.well-known/openid-credential-issuer":
                self._send(200, stand_ins.issuer_metadata())
            elif path.startswith("/.well-known/oauth-authorization-server"):
                # its own metadata, whichever server's well-known URL is asked
                self._send(
                    200, {"issuer": stand_ins.base, "token_endpoint": f"{stand_ins.base}/token"}
                )
            elif path == "/redirect-inward":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path.startswith("/request/"):
                token = stand_ins.request_object(path.removeprefix("/request/"))
                self._send(200, token, "application/oauth-authz-req+jwt")
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                code = form.get("pre-authorized_code")
                if code not in stand_ins.codes:
                    self._send(400, {"error": "invalid_grant"})
                    return
                stand_ins.codes.discard(code)
                token = secrets.token_urlsafe(16)
                stand_ins.tokens.add(token)
                self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300})
            elif path == "/nonce":
                nonce = secrets.token_urlsafe(16)
                stand_ins.nonces.add(nonce)
                self._send(200, {"c_nonce": nonce})
            elif path == "/credential":
                if (
                    self.headers.get("Authorization", "").removeprefix("Bearer ")
                    not in stand_ins.tokens
                ):
                    self._send(401, {"error": "invalid_token"})
                    return
                stand_ins.credential_requests += 1
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in stand_ins.responses:
                    request = json.loads(body)
                    credentials = [
                        {"credential": stand_ins.credential(p)} for p in request["proofs"]["jwt"]
                    ]
                    stand_ins.responses[token] = {
                        "credentials": credentials,
                        "notification_id": secrets.token_urlsafe(8),
                    }
                    if stand_ins.issuer_mode == "drops_first_answer":
                        # issued, and the connection lost before the answer went out
                        self.close_connection = True
                        return
                self._send(200, stand_ins.responses[token])
            elif path == "/notification":
                stand_ins.notifications.append(json.loads(body))
                self.send_response(204)
                self.end_headers()
            elif path.startswith("/response/"):
                stand_ins.posted.append(path)
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, answer = stand_ins.receive_response(path.removeprefix("/response/"), form)
                self._send(status, answer)
            else:
                self._send(404, {"error": "not_found"})

        def log_message(self, *_: object) -> None:
            pass

    return Handler


@contextmanager
def running_stand_ins() -> Iterator[StandIns]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    stand_ins = StandIns(f"http://localhost:{port}", port)
    server.RequestHandlerClass = _handler(stand_ins)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_ins
    finally:
        server.shutdown()
        server.server_close()


def settings_with_stand_ins(var_dir: Path, database_url: str, stand_ins: StandIns) -> Any:
    """The test deployment, trusting the stand-ins' root and allowed to reach their port."""
    from app.settings import Settings
    from tests.conftest import migrated_database
    from tests.issuers.conftest import PUBLIC_BASE_URL
    from tests.verifiers.stand_in_issuer import write_anchor as write_issuer_anchor

    return Settings(
        var_dir=var_dir,
        database_url=migrated_database(database_url),
        public_base_url=PUBLIC_BASE_URL,
        trusted_issuer_anchors=write_issuer_anchor(var_dir),
        wallet_trust_anchors=(str(write_anchor(var_dir)),),
        outbound_allow=(f"localhost:{stand_ins.port}",),
        wallet_redirect_schemes=("eu.example.citizen-app",),
    )
