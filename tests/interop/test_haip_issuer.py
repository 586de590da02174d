"""Our citizens' wallet receives from an independent HAIP issuer: a credential issuer and
authorization server built on the server APIs of ``@openid4vc/oauth2`` and
``@openid4vc/openid4vci`` (npm, the libraries of the Credo issuer), with the SD-JWT VC of
``@sd-jwt/sd-jwt-vc`` (``haip_issuer.mjs``, run by ``node_issuer``), on a loopback port of
its own, with its own signing key and a certificate chain this test makes (its root reaches
our wallet through ``IDWALLET_WALLET_TRUST_ANCHORS``), trusting the wallet provider our
deployment publishes at ``GET /wallet/provider``. A real ``idwallet serve`` runs the
wallet; the test is the citizen's phone (the mobile API over HTTP, ``tests.wallet.phone``)
and browser (it opens the authorization URL and hands the redirect back).

What is shown:

- wallet-initiated issuance (OpenID4VCI 1.0 §3.4, HAIP 1.0 §4) of the issuer's library
  card, with keys held by the service and with keys on the phone: the pushed
  authorization request with PKCE S256, ``dpop_jkt`` and a wallet attestation whose chain
  the issuer validated to our wallet-provider CA, with its PoP; the token request with a
  DPoP proof carrying the issuer's nonce (asked for once) and a fresh attestation; a
  DPoP-bound access token; a batch of jwt proofs, each with a key attestation by our wallet
  provider of that very key; SD-JWT VCs whose ``x5c`` chain leads to the test's root, bound
  to the proof keys, verified here by our SD-JWT VC verification and stored with the claims
  the issuer sent; ``credential_accepted`` sent to its notification endpoint;
- an issuer that trusts another wallet provider refuses the pushed request, and the wallet
  passes the refusal on as a JSON error and stores nothing;
- the issuer misbehaving one way at a time (a redirect from another ``iss``, metadata naming
  another issuer, a DPoP nonce asked for again and again, credentials bound to a key the
  wallet never attested, credentials of another ``vct``): each refused with a stable error,
  nothing stored, and the issuance ended.

Where the libraries (0.4.6) differ from the drafts our wallet follows, it is asserted
(``test_the_library_takes_a_pop_only_with_exp``); what they leave to a server (DPoP
nonces at the token and credential endpoints, one-time use and freshness of DPoP proofs
and PoPs, the key attestation's nonce) the issuer does itself, as its header says.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from core.client_attestation import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    CLIENT_ATTESTATION_TYP,
)
from core.encoding import b64url_decode, b64url_encode
from core.jose.jwk import jwk_thumbprint
from core.jose.jws import sign_compact
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import VerifiedCredential, verify_sd_jwt_vc
from tests.interop.node_issuer import (
    BATCH_SIZE,
    CONFIGURATION_ID,
    VCT,
    IssuerPki,
    Mode,
    RunningIssuer,
    running_haip_issuer,
)
from tests.support import wallet_provider as other_provider
from tests.support.server import RunningServer, free_port, running_server
from tests.wallet.phone import Phone

#: What the issuer holds of the citizen its authorization endpoint signs in.
CLAIMS = {"given_name": "Ada", "family_name": "Lovelace", "card_number": "L-0815-4711"}
CITIZEN: dict[str, Any] = {"subject": "reader-4711", "claims": CLAIMS}
#: What @openid4vc/oauth2 0.4.6 answers a client attestation PoP without ``exp``: the
#: drafts up to -04 required it, -05 on (and -07, which HAIP 1.0 and OpenID4VCI 1.0 cite)
#: need only ``iat``; the library fails its schema check and reports that as its own
#: ``server_error`` (500), not as ``invalid_client``. Our wallet sends ``exp`` as well. A
#: release that takes such a PoP makes this test say so.
LIBRARY_ANSWER_TO_POP_WITHOUT_EXP = (500, "server_error")
#: The challenge @openid4vc/oauth2 0.4.6 writes for use_dpop_nonce at the credential
#: endpoint (Oauth2ResourceUnauthorizedError.toHeaderValue): a parameter without a value
#: becomes a bare ``scope``, which is no auth-param (RFC 7235 §2.1). Our wallet reads the
#: error and the DPoP-Nonce header all the same.
LIBRARY_NONCE_CHALLENGE = (
    'DPoP error="use_dpop_nonce", error_description="use the DPoP-Nonce of this server", scope'
)
#: The requests of a whole issuance, as the issuer sees them: the first token request
#: lacks the issuer's DPoP nonce and is asked for it (RFC 9449 §8).
FULL_FLOW = ("par", "authorize", "token", "nonce", "credential", "notification")


def _settled(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events without a request the issuer refused for want of its current DPoP nonce
    and the wallet then made again (the wallet asks once per issuer and worker: a later
    issuance at the same issuer knows the nonce already)."""
    return [
        event
        for index, event in enumerate(events)
        if not (
            event.get("refused") == "use_dpop_nonce"
            and index + 1 < len(events)
            and events[index + 1]["endpoint"] == event["endpoint"]
        )
    ]


@dataclass
class Deployment:
    server: RunningServer
    http: httpx.Client
    #: ``GET /wallet/provider``: our deployment as its citizens' wallet provider.
    provider: dict[str, Any]
    pki: IssuerPki
    #: The issuer that trusts our wallet provider.
    issuer: RunningIssuer
    #: A port our server may reach, for an issuer that trusts another wallet provider.
    spare_port: int

    @property
    def callback(self) -> str:
        return f"{self.server.base_url}/wallet/callback"

    def phone(self) -> Phone:
        phone = Phone(self.http)
        phone.register()
        return phone


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Our server, trusting the test's issuer root and allowed to reach two loopback ports
    over http (development), and on the first of them the issuer, trusting the CA our
    server publishes for its wallet provider."""
    var_dir = tmp_path_factory.mktemp("interop-haip-issuer")
    pki = IssuerPki.create()
    roots = var_dir / "interop-issuer-roots.pem"
    roots.write_bytes(pki.root_pem())
    port = free_port()
    spare_port = next(p for p in iter(free_port, None) if p != port)
    issuer = f"http://127.0.0.1:{port}"
    with (
        running_server(
            var_dir,
            IDWALLET_WALLET_TRUST_ANCHORS=str(roots),
            IDWALLET_OUTBOUND_ALLOW=f"127.0.0.1:{port},127.0.0.1:{spare_port}",
            IDWALLET_WALLET_ISSUERS=issuer,
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        provider = http.get("/wallet/provider")
        assert provider.status_code == 200, provider.text
        with running_haip_issuer(
            port=port,
            signing=pki.signing_material(issuer),
            wallet_provider_cas=[provider.json()["certificate_authority"]],
            citizen=CITIZEN,
        ) as running:
            assert running.issuer == issuer
            yield Deployment(server, http, provider.json(), pki, running, spare_port)


@pytest.fixture
def behaving(deployment: Deployment) -> Iterator[RunningIssuer]:
    """The issuer, set back to behaving whatever the test did."""
    try:
        yield deployment.issuer
    finally:
        deployment.issuer.set_mode(None)


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _start(phone: Phone, issuer: str, **body: Any) -> httpx.Response:
    response: httpx.Response = phone.post(
        "/wallet/issuances",
        {"credential_issuer": issuer, "credential_configuration_id": CONFIGURATION_ID, **body},
    )
    return response


def _browse(deployment: Deployment, authorization_url: str) -> str:
    """The citizen's browser at the issuer: where it is sent back (the issuer signs the
    test citizen in without a page)."""
    answer = httpx.get(authorization_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(deployment.callback + "?"), location
    return location


def _authorized_redirect(deployment: Deployment, phone: Phone, **body: Any) -> tuple[str, str]:
    """An issuance started and authorized: its id and the redirect back to the wallet."""
    started = _start(phone, deployment.issuer.issuer, **body)
    assert started.status_code == 201, started.text
    outcome = started.json()
    assert outcome["status"] == "authorization_required"
    url = outcome["authorization_url"]
    # PAR (RFC 9126 §4): the browser carries only the client id and the request_uri
    assert url.startswith(f"{deployment.issuer.issuer}/authorize?")
    assert set(_query(url)) == {"client_id", "request_uri"}
    return outcome["offer_id"], _browse(deployment, url)


def _events_since(issuer: RunningIssuer, count: int) -> list[dict[str, Any]]:
    return issuer.seen()[count:]


def _common_name(pem: str) -> str:
    certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _no_credentials(phone: Phone) -> None:
    listed = phone.get("/wallet/credentials")
    assert listed.status_code == 200, listed.text
    assert listed.json()["credentials"] == []


def _error(response: httpx.Response, status: int, error: str, words: str) -> None:
    """A refusal as the mobile API renders every one: OAuth error JSON, not a crash."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    assert words in body["error_description"], body


def _verified_here(deployment: Deployment, credential: str) -> VerifiedCredential:
    """Our SD-JWT VC verification, with the test's issuer root as the only anchor."""
    return asyncio.run(
        verify_sd_jwt_vc(
            credential,
            issuer_keys=X5cIssuerKeys([deployment.pki.root]),
            key_binding=None,
            issued=True,
        )
    )


def _check_flow(
    deployment: Deployment,
    events: list[dict[str, Any]],
    *,
    custody: str,
    asked_by: str = "authorization_details",
) -> dict[str, Any]:
    """What the issuer saw of one whole issuance: the checks it made, in order. Returns
    its credential event."""
    provider = deployment.provider
    wallet_provider_ca = _common_name(provider["certificate_authority"])
    asked_for_nonce = [e for e in events if e.get("refused") == "use_dpop_nonce"]
    assert [e["endpoint"] for e in asked_for_nonce] in ([], ["token"]), events
    events = _settled(events)
    assert [e["endpoint"] for e in events] == list(FULL_FLOW), events

    # PAR: PKCE S256, dpop_jkt, the wallet attestation of our wallet provider and its PoP
    par = events[0]
    assert par["client_id"] == provider["wallet_provider"]
    assert par["redirect_uri"] == deployment.callback
    assert par["code_challenge_method"] == "S256"
    assert par["asked"] == {"by": asked_by, "configuration_id": CONFIGURATION_ID}
    attestation = par["attestation"]
    assert attestation["typ"] == "oauth-client-attestation+jwt"
    assert attestation["sub"] == attestation["iss"] == provider["wallet_provider"]
    assert f"CN={wallet_provider_ca}" in attestation["anchor_subject"].splitlines()
    assert attestation["pop"] == {
        "typ": "oauth-client-attestation-pop+jwt",
        "iss": provider["wallet_provider"],
        "aud": deployment.issuer.issuer,
    }
    dpop_jkt = par["dpop_jkt"]
    assert dpop_jkt and dpop_jkt != jwk_thumbprint(attestation["cnf_jwk"])

    # token: (at most once asked for the issuer's DPoP nonce, then) a DPoP-bound token for
    # the pushed key, with a fresh attestation of the same instance key
    token = events[2]
    assert token["dpop_nonce"]
    assert token["dpop_jkt"] == token["pushed_dpop_jkt"] == token["token_cnf_jkt"] == dpop_jkt
    assert token["token_type"] == "DPoP"
    assert token["attestation"]["cnf_jwk"] == attestation["cnf_jwk"]
    assert token["attestation"]["sub"] == provider["wallet_provider"]

    # credential: the bound token with a proof of its key, one proof per key of the batch,
    # each with our wallet provider's attestation of that key
    credential = events[4]
    assert credential["scheme"] == "DPoP"
    assert credential["dpop_jkt"] == credential["token_cnf_jkt"] == dpop_jkt
    assert credential["token_client_id"] == provider["wallet_provider"]
    # §8.2: by the identifier the token response gave (§6.2), where it gave one
    assert credential["by"] == (
        "credential_identifier"
        if asked_by == "authorization_details"
        else "credential_configuration_id"
    )
    proofs = credential["proofs"]
    assert len(proofs) == len(credential["credentials"]) == BATCH_SIZE
    assert len({proof["jkt"] for proof in proofs}) == BATCH_SIZE
    levels = provider["key_attestation_levels"][custody]
    for proof in proofs:
        key_attestation = proof["key_attestation"]
        assert key_attestation["typ"] == "key-attestation+jwt"
        assert key_attestation["iss"] == provider["wallet_provider"]
        assert key_attestation["attested_jkts"] == [proof["jkt"]]
        assert f"CN={wallet_provider_ca}" in key_attestation["anchor_subject"].splitlines()
        assert key_attestation["key_storage"] == levels.get("key_storage")
        assert key_attestation["user_authentication"] == levels.get("user_authentication")

    notification = events[5]
    assert notification["notification_id"] == credential["notification_id"]
    assert notification["event"] == "credential_accepted"
    return credential


def _check_stored(
    deployment: Deployment, phone: Phone, received: dict[str, Any], credential: dict[str, Any]
) -> None:
    """Each credential the issuer sent verifies here (chain to the test's root, bound to
    one of the proof keys), and the wallet shows what they say."""
    proof_keys = {proof["jkt"] for proof in credential["proofs"]}
    bound = set()
    for value in credential["credentials"]:
        verified = _verified_here(deployment, value)
        assert verified.issuer == deployment.issuer.issuer
        assert verified.vct == VCT
        assert verified.issuer_key.certificate is not None
        assert {name: verified.claims.get(name) for name in CLAIMS} == CLAIMS
        bound.add(jwk_thumbprint(verified.claims["cnf"]["jwk"]))
    assert bound == proof_keys

    [kept] = received["credentials"]
    assert kept["credential_configuration_id"] == CONFIGURATION_ID
    assert kept["instances"] == BATCH_SIZE
    shown = phone.get(f"/wallet/credentials/{kept['credential_id']}")
    assert shown.status_code == 200, shown.text
    details = shown.json()
    assert details["issuer"]["credential_issuer"] == deployment.issuer.issuer
    assert details["issuer"]["name"] == "City Library"
    assert details["name"] == "Library card"
    assert details["vct"] == VCT
    assert details["format"] == "dc+sd-jwt"
    assert details["claims"] == CLAIMS


def test_the_wallet_lists_the_independent_issuer(deployment: Deployment) -> None:
    listed = deployment.phone().get("/wallet/issuers")
    assert listed.status_code == 200, listed.text
    [library] = [
        issuer
        for issuer in listed.json()["issuers"]
        if issuer["credential_issuer"] == deployment.issuer.issuer
    ]
    assert library["available"] is True
    assert library["name"] == "City Library"
    assert library["credentials"] == [
        {
            "credential_configuration_id": CONFIGURATION_ID,
            "name": "Library card",
            "display": {"name": "Library card", "locale": "en", "background_color": "#2d5016"},
            "holder_keys_needed": BATCH_SIZE,
            "format": "dc+sd-jwt",
        }
    ]


def test_keys_held_by_the_service(deployment: Deployment, behaving: RunningIssuer) -> None:
    phone = deployment.phone()
    before = len(behaving.seen())
    issuance_id, redirect = _authorized_redirect(deployment, phone, custody="server")
    query = _query(redirect)
    assert query["iss"] == behaving.issuer  # RFC 9207
    assert query["state"].startswith(issuance_id + ".")

    received = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert received.status_code == 200, f"{received.text}\n{behaving.log()}"
    result = received.json()
    assert result["status"] == "received"
    assert result["offer_id"] == issuance_id

    credential = _check_flow(deployment, _events_since(behaving, before), custody="server")
    _check_stored(deployment, phone, result, credential)


def test_keys_on_the_phone(deployment: Deployment, behaving: RunningIssuer) -> None:
    phone = deployment.phone()
    before = len(behaving.seen())
    started = _start(phone, behaving.issuer, custody="device")
    assert started.status_code == 201, started.text
    assert started.json()["holder_keys_needed"] == BATCH_SIZE
    redirect = _browse(deployment, started.json()["authorization_url"])

    keys = phone.new_holder_keys(BATCH_SIZE)
    answered = phone.post(
        "/wallet/issuances/authorized", {"redirect_url": redirect, "holder_keys": keys}
    )
    assert answered.status_code == 200, f"{answered.text}\n{behaving.log()}"
    assert answered.json()["status"] == "proofs_needed"
    requests = answered.json()["signing_requests"]
    assert [request["holder_key"] for request in requests] == keys
    for request in requests:
        header = json.loads(b64url_decode(request["signing_input"].split(".")[0]))
        attested = json.loads(b64url_decode(header["key_attestation"].split(".")[1]))
        assert attested["attested_keys"] == [request["holder_key"]]

    completed = phone.post(
        f"/wallet/offers/{started.json()['offer_id']}/complete",
        {"signatures": phone.sign_requests(requests)},
    )
    assert completed.status_code == 200, f"{completed.text}\n{behaving.log()}"
    assert completed.json()["status"] == "received"

    credential = _check_flow(deployment, _events_since(behaving, before), custody="device")
    assert {proof["jkt"] for proof in credential["proofs"]} == {jwk_thumbprint(key) for key in keys}
    _check_stored(deployment, phone, completed.json(), credential)


def test_the_credential_endpoint_asks_for_its_new_dpop_nonce(
    deployment: Deployment, behaving: RunningIssuer
) -> None:
    """RFC 9449 §8.2, §9: the resource server changed its nonce after the nonce endpoint
    handed it out; the credential request is answered 401 ``use_dpop_nonce`` with the new
    one, and the wallet asks once more with it."""
    phone = deployment.phone()
    behaving.set_mode("rotating_nonce")
    before = len(behaving.seen())
    _, redirect = _authorized_redirect(deployment, phone, custody="server")
    received = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert received.status_code == 200, f"{received.text}\n{behaving.log()}"
    events = _events_since(behaving, before)
    [asked] = [e for e in events if e["endpoint"] == "credential" and "refused" in e]
    events.remove(asked)
    assert asked["refused"] == "use_dpop_nonce"
    assert asked["www_authenticate"] == LIBRARY_NONCE_CHALLENGE
    credential = _check_flow(deployment, events, custody="server")
    _check_stored(deployment, phone, received.json(), credential)


def test_an_authorization_server_without_authorization_details(
    deployment: Deployment, behaving: RunningIssuer
) -> None:
    """OpenID4VCI 1.0 §5.1.2: the credential is asked for by its scope, and requested by
    its configuration id, the token response naming no credential identifiers."""
    phone = deployment.phone()
    behaving.set_mode("scope_only")
    before = len(behaving.seen())
    _, redirect = _authorized_redirect(deployment, phone, custody="server")
    received = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert received.status_code == 200, f"{received.text}\n{behaving.log()}"
    events = _events_since(behaving, before)
    credential = _check_flow(deployment, events, custody="server", asked_by="scope")
    _check_stored(deployment, phone, received.json(), credential)


@pytest.fixture(scope="module")
def other_wallet_provider() -> other_provider.WalletProvider:
    """A wallet provider that is not our deployment (its own root)."""
    return other_provider.WalletProvider("Some Other Wallet Provider")


@pytest.fixture(scope="module")
def distrusting(
    deployment: Deployment, other_wallet_provider: other_provider.WalletProvider
) -> Iterator[RunningIssuer]:
    """The issuer on the spare port, trusting that other wallet provider and not ours."""
    elsewhere = f"http://127.0.0.1:{deployment.spare_port}"
    with running_haip_issuer(
        port=deployment.spare_port,
        signing=deployment.pki.signing_material(elsewhere),
        wallet_provider_cas=[other_wallet_provider.root.public_bytes(Encoding.PEM).decode()],
        citizen=CITIZEN,
    ) as running:
        yield running


def test_an_issuer_that_trusts_another_wallet_provider_refuses_at_par(
    deployment: Deployment, distrusting: RunningIssuer
) -> None:
    phone = deployment.phone()
    before = len(distrusting.seen())
    refused = _start(phone, distrusting.issuer, custody="server")
    _error(refused, 400, "invalid_client", "the pushed authorization request endpoint refused")
    assert "client attestation" in refused.json()["error_description"]
    [par] = _events_since(distrusting, before)
    assert par["endpoint"] == "par"
    assert par["refused"] == "invalid_client"
    assert "does not lead to a wallet provider this issuer trusts" in distrusting.log()
    _no_credentials(phone)


def _pushed_by_the_other_provider(
    issuer: RunningIssuer,
    provider: other_provider.WalletProvider,
    *,
    self_signed: bool = False,
    **pop_claims: Any,
) -> httpx.Response:
    """A pushed authorization request of an instance of the other wallet provider's
    wallet, made here claim by claim (``self_signed``: its attestation signed by the
    instance key itself, named in a ``jwk`` header, instead of by the provider)."""
    instance = other_provider.new_instance()
    attestation = provider.attest(instance)
    if self_signed:
        claims = json.loads(b64url_decode(attestation.split(".")[1]))
        attestation = sign_compact(
            claims,
            instance,
            typ=CLIENT_ATTESTATION_TYP,
            include_kid=False,
            header={"jwk": instance.public_jwk()},
        )
    verifier = secrets.token_urlsafe(32)
    challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    form = {
        "response_type": "code",
        "client_id": other_provider.CLIENT_ID,
        "redirect_uri": f"{other_provider.CLIENT_ID}/callback",
        "scope": CONFIGURATION_ID,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "dpop_jkt": jwk_thumbprint(other_provider.new_instance().public_jwk()),
    }
    headers = {
        CLIENT_ATTESTATION_HEADER: attestation,
        CLIENT_ATTESTATION_POP_HEADER: other_provider.pop(
            instance,
            audience=issuer.issuer,
            issued_at=time.time(),
            iss=other_provider.CLIENT_ID,  # -07 requires it (-08 dropped it), as the library
            **pop_claims,
        ),
    }
    return httpx.post(f"{issuer.issuer}/par", data=form, headers=headers, timeout=10)


def test_the_library_takes_a_pop_only_with_exp(
    distrusting: RunningIssuer, other_wallet_provider: other_provider.WalletProvider
) -> None:
    """Why our wallet's PoP carries ``exp``: the issuer (trusting this other provider)
    accepts a PoP with it, and its library fails on one with ``iat`` alone, as draft -07
    writes it."""
    accepted = _pushed_by_the_other_provider(
        distrusting, other_wallet_provider, exp=int(time.time()) + 60
    )
    assert accepted.status_code == 201, f"{accepted.text}\n{distrusting.log()}"
    assert accepted.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    without_exp = _pushed_by_the_other_provider(distrusting, other_wallet_provider)
    assert (
        without_exp.status_code,
        without_exp.json()["error"],
    ) == LIBRARY_ANSWER_TO_POP_WITHOUT_EXP, without_exp.text
    assert 'Expected number, received undefined at "exp"' in distrusting.log()


def test_the_issuer_takes_attestations_of_trusted_wallet_providers_only(
    distrusting: RunningIssuer, other_wallet_provider: other_provider.WalletProvider
) -> None:
    """What the issuer's record of a valid attestation is worth: the libraries verify a
    client attestation with whatever key its header names, so an attestation the wallet
    instance signed itself (``jwk``) would pass them; the issuer's callback takes only
    wallet-provider certificates it trusts, and it is refused."""
    refused = _pushed_by_the_other_provider(
        distrusting, other_wallet_provider, self_signed=True, exp=int(time.time()) + 60
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"


@dataclass(frozen=True)
class Hostile:
    """A misbehaviour, where the wallet refuses it, with what, and what the issuer saw of
    the wallet after it."""

    mode: Mode
    #: ``start`` (discovery refuses before anything is sent) or ``authorized``.
    refused_at: str
    status: int
    error: str
    words: str
    #: The endpoints the issuer saw, in order.
    seen: tuple[str, ...]


HOSTILE = [
    Hostile(
        "metadata_issuer",
        "start",
        422,
        "invalid_request",
        "the authorization server metadata names another issuer",
        (),
    ),
    Hostile(
        "wrong_iss",
        "authorized",
        422,
        "invalid_request",
        "the redirect comes from another authorization server than asked",
        ("par", "authorize"),
    ),
    Hostile(
        "nonce_loop",
        "authorized",
        502,
        "temporarily_unavailable",
        "the token endpoint keeps asking for a new DPoP nonce",
        ("par", "authorize", "token", "token"),
    ),
    Hostile(
        "unattested_key",
        "authorized",
        422,
        "invalid_credential",
        "the credential is not bound to a key of this wallet",
        FULL_FLOW,
    ),
    Hostile(
        "other_vct",
        "authorized",
        422,
        "invalid_credential",
        "the credential is not of the offered type",
        FULL_FLOW,
    ),
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=[hostile.mode for hostile in HOSTILE])
def test_a_misbehaving_issuer_is_refused(
    deployment: Deployment, behaving: RunningIssuer, hostile: Hostile
) -> None:
    phone = deployment.phone()
    behaving.set_mode(hostile.mode)
    before = len(behaving.seen())
    if hostile.refused_at == "start":
        refused = _start(phone, behaving.issuer, custody="server")
        _error(refused, hostile.status, hostile.error, hostile.words)
    else:
        _, redirect = _authorized_redirect(deployment, phone, custody="server")
        refused = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
        _error(refused, hostile.status, hostile.error, hostile.words)
        # the issuance ended: the same redirect does not finish it afterwards
        late = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
        _error(late, 400, "invalid_request", "failed, not authorization_required")
    events = _events_since(behaving, before)
    seen = events if hostile.mode == "nonce_loop" else _settled(events)
    assert tuple(event["endpoint"] for event in seen) == hostile.seen, events
    if hostile.seen == FULL_FLOW:
        # the wallet refused what came, and told the issuer so (§11)
        assert events[-1]["event"] == "credential_failure"
    if hostile.mode == "nonce_loop":
        assert [event.get("refused") for event in events[2:]] == ["use_dpop_nonce"] * 2
    _no_credentials(phone)


def _signed_rounds(
    phone: Phone, issuance_id: str, outcome: dict[str, Any]
) -> tuple[dict[str, Any], list[list[str]]]:
    """The phone signs every round it is asked to; what each round was for."""
    rounds = []
    while outcome["status"] == "proofs_needed":
        requests = outcome["signing_requests"]
        rounds.append([request["use"] for request in requests])
        completed = phone.post(
            f"/wallet/offers/{issuance_id}/complete",
            {"signatures": phone.sign_requests(requests)},
        )
        assert completed.status_code == 200, completed.text
        outcome = completed.json()
    return outcome, rounds


@pytest.mark.parametrize("mode", ["behaving", "rotating_nonce"])
def test_instance_keys_on_the_phone(
    deployment: Deployment, behaving: RunningIssuer, mode: str
) -> None:
    """The phone keeps the wallet instance's keys as well: the issuer we did not write
    takes the attestation PoPs and the DPoP proofs the phone signed, and binds the token
    to the phone's DPoP key; a credential endpoint that wants a new nonce gets the DPoP
    proofs signed again, the holder keys' proofs kept."""
    phone = deployment.phone()
    if mode != "behaving":
        behaving.set_mode(mode)
    before = len(behaving.seen())
    attestation, dpop = phone.new_holder_keys(2)
    keys = phone.new_holder_keys(BATCH_SIZE)
    started = _start(
        phone,
        behaving.issuer,
        custody="device",
        holder_keys=keys,
        instance_keys={"attestation": attestation, "dpop": dpop},
    )
    assert started.status_code == 201, started.text
    issuance_id = started.json()["offer_id"]
    pushed, rounds = _signed_rounds(phone, issuance_id, started.json())
    assert rounds == [["client_attestation_pop"]]
    assert pushed["status"] == "authorization_required"
    redirect = _browse(deployment, pushed["authorization_url"])

    answered = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert answered.status_code == 200, f"{answered.text}\n{behaving.log()}"
    received, rounds = _signed_rounds(phone, issuance_id, answered.json())
    assert received["status"] == "received", f"{received}\n{behaving.log()}"
    token_rounds = [r for r in rounds if "client_attestation_pop" in r]
    assert token_rounds and all(r == ["client_attestation_pop", "dpop"] for r in token_rounds)
    [with_proofs] = [r for r in rounds if "key_proof" in r]
    assert with_proofs.count("key_proof") == BATCH_SIZE
    again = rounds[rounds.index(with_proofs) + 1 :]
    if mode == "rotating_nonce":  # only the DPoP proofs, with the new nonce
        assert len(again) == 1 and set(again[0]) == {"dpop"}
    else:
        assert again == []

    events = _events_since(behaving, before)
    refused = [e for e in events if e["endpoint"] == "credential" and "refused" in e]
    assert len(refused) == (1 if mode == "rotating_nonce" else 0)
    for event in refused:
        events.remove(event)
    credential = _check_flow(deployment, events, custody="device")
    par = _settled(events)[0]
    assert par["attestation"]["cnf_jwk"] == attestation
    assert par["dpop_jkt"] == jwk_thumbprint(dpop)
    assert {proof["jkt"] for proof in credential["proofs"]} == {jwk_thumbprint(key) for key in keys}
    _check_stored(deployment, phone, received, credential)
