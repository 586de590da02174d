"""Presentation during issuance with an independent wallet: the HAIP wallet of the interop
tests (``haip_wallet.mjs``, on ``@openid4vc/oauth2`` and ``@openid4vc/openid4vci``) gets a
national ID from the civil registry of a real ``idwallet serve`` after the citizen's eID
login (a real OpenID Provider, ``tests.support.oidc_provider``), then asks the transport
agency for a driving licence through the HAIP authorization code flow. The agency's
authorization endpoint sends the citizen's browser to its page, which asks the wallet, over
OpenID4VP 1.0 with DCQL from the agency's own counter (``transport-agency-id-check``), for
the national ID. The wallet presents it with independent presentation libraries
(``openid4vp_holder.mjs``): ``@openid4vc/openid4vp`` reads and verifies the signed request
object and sends the response (encrypted for ``direct_post.jwt``), ``dcql`` matches the
query, ``@sd-jwt/sd-jwt-vc`` discloses only what it asks for and binds the presentation to
the request with a key binding JWT.

The test is the citizen's browser: it follows the authorization endpoint to the agency's
page, reads the request's ``openid4vp://`` link through the page's JSON API as the page's
script does (the QR code's text, or the same-device link), hands it to the wallet, follows
the page's status and completion, and reports to the wallet where it ended (the wallet's
redirect URI with the code). The wallet redeems the code and gets the licence: what the
register holds for the person the national ID names.

And what must fail does, with the independent wallet: the same response sent twice to its
request, a vp_token of one session replayed to another session's request, and a revoked
national ID (revoked through the operator API) get no licence: the wallet's redirect URI
gets ``access_denied`` and the agency's audit trail an ``authorization.refuse`` entry.

Besides, the wallet answers two requests of the same counter made here through the counter
API: one asking for an encrypted response (``direct_post.jwt``, HAIP 1.0 §5.1), one whose
request object is fetched by POST with the wallet's metadata and nonce (OpenID4VP 1.0
§5.10.1), where the library falls short of the specification and the wallet works around
it (``LIBRARY_POST_PARAMETERS``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509

from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import verify_sd_jwt_vc
from issuers.services.metadata import BATCH_SIZE
from tests.interop.node_wallets import PACKAGES, pinned_node
from tests.interop.test_haip_issuance import (
    CITIZEN,
    CLIENT_ID,
    LIBRARY_CORRECTIONS,
    REDIRECT_URI,
    InteropWalletProvider,
    _register,
    run_wallet,
)
from tests.support.oidc_provider import (
    EIDAS_SUBSTANTIAL,
    ProviderClient,
    ProviderConfig,
    ProviderUser,
    log_in,
    running_oidc_provider,
)
from tests.support.server import free_port, running_server

REGISTRY = "civil-registry"
AGENCY = "transport-agency"
COUNTER = "transport-agency-id-check"
SECRET = "interop-presentation-eid-secret"
#: The claims the counter's check ``identification`` asks for, which find the citizen in
#: the agency's register.
IDENTIFICATION = ["given_name", "family_name", "birthdate"]
#: How long the browser follows the page's status before it gives up.
PAGE_PATIENCE = 10.0

# The wallet's cases, in the order it takes them.
NATIONAL_ID = "national ID from the civil registry"
CROSS_DEVICE = "licence, national ID shown from another device"
SAME_DEVICE = "licence, national ID shown from this device"
REPLAYED = "licence, vp_token of another session replayed"
ENCRYPTED = "encrypted answer to the agency's counter"
POSTED = "request object fetched by POST"
REVOKED = "licence, national ID revoked"
#: What @openid4vc/openid4vp 0.4.6 posts to fetch a request object offered with
#: ``request_uri_method=post``: the members of the wallet's metadata as parameters of their
#: own, where OpenID4VP 1.0 §5.10.1 has ``wallet_metadata`` (one JSON object) and the
#: ``wallet_nonce`` the wallet gave it, which it never sends; its own check then refuses the
#: object for lacking that nonce (``LIBRARY_POST_REFUSAL``). The wallet works around it
#: (``openid4vp_holder.mjs``); a release that posts as §5.10.1 says makes this test say so.
LIBRARY_POST_PARAMETERS = [
    "client_id_prefixes_supported",
    "request_object_signing_alg_values_supported",
    "response_modes_supported",
    "vp_formats_supported",
]
LIBRARY_POST_REFUSAL = 'The "wallet_nonce" parameter MUST be present in the authorization request'
#: The requests the test makes at the agency's counter (counter API), by case.
COUNTER_REQUESTS = {
    ENCRYPTED: {"response_mode": "direct_post.jwt"},
    POSTED: {"request_uri_method": "post"},
}
LICENCES = [CROSS_DEVICE, SAME_DEVICE]
REFUSED = [REPLAYED, REVOKED]
ANSWERED_BY_PAGE = [CROSS_DEVICE, SAME_DEVICE, REPLAYED, REVOKED]


class Browser:
    """The citizen's browser, one for each case (its own cookies): from the wallet's
    authorization request to the agency, on to the eID provider (the civil registry) or to
    the agency's presentation page, and on to the wallet's redirect URI, which it reports
    instead of opening. At the page it does what the page's script does: it reads the
    page's status (the request's link), or asks for a same-device request, gives the link to
    the wallet, follows the status until the counter has the answer and completes."""

    def __init__(self, revoke: Callable[[], None]) -> None:
        self.revoke = revoke
        self.open: dict[str, tuple[httpx.Client, str]] = {}
        self.seen: dict[str, dict[str, Any]] = {}

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        name = message["name"]
        browser = httpx.Client()  # its own cookies, as one browser has
        sent = browser.get(message["url"], follow_redirects=False)
        assert sent.status_code == 303, sent.text
        if "/sign-in/" in sent.headers["location"]:
            # the agency allows the eID login too: the citizen chooses the presentation
            view = browser.get(f"{sent.headers['location']}/view").json()
            [way] = [w for w in view["ways"] if w["way"] == "presentation_login"]
            sent = browser.get(way["url"], follow_redirects=False)
            assert sent.status_code == 303, sent.text
        seen: dict[str, Any] = {"authorize": message["url"], "sent_to": sent.headers["location"]}
        self.seen[name] = seen
        if name == NATIONAL_ID:
            callback = log_in(browser, sent.headers["location"], CITIZEN)
            back = browser.get(callback, follow_redirects=False)
            browser.close()
            assert back.status_code == 303, back.text
            return {"location": back.headers["location"]}
        if name == REVOKED:
            self.revoke()
        page = sent.headers["location"]
        shown = browser.get(page)
        seen["page"] = {"status": shown.status_code, "type": shown.headers["content-type"]}
        view = browser.get(f"{page}/status")  # what the page's script reads first
        assert view.status_code == 200, view.text
        seen["view"] = view.json()
        self.open[name] = (browser, page)
        if name == SAME_DEVICE:  # "my wallet is on this device"
            asked = browser.post(f"{page}/same-device")
            assert asked.status_code == 200, asked.text
            seen["same_device"] = asked.json()
            return {"present": asked.json()["link"]}
        if name == REPLAYED:
            return {"replay": view.json()["uri"], "of": CROSS_DEVICE}
        return {"present": view.json()["uri"], "resend": name == CROSS_DEVICE}

    def presented(self, message: dict[str, Any]) -> dict[str, Any]:
        name = message["name"]
        browser, page = self.open.pop(name)
        seen = self.seen[name]
        seen["presented"] = message
        try:
            if name == SAME_DEVICE:
                # the wallet sends the browser back to the page; the page's script takes
                # the response_code from the fragment and completes with it
                landing = message["response"]["body"]["redirect_uri"]
                seen["landing"] = landing
                back, _, fragment = landing.partition("#")
                assert browser.get(back).status_code == 200
                [code] = parse_qs(fragment)["response_code"]
                complete = browser.get(f"{page}/complete", params={"response_code": code})
            else:
                seen["statuses"] = statuses = []
                deadline = time.monotonic() + PAGE_PATIENCE
                while True:
                    view = browser.get(f"{page}/status").json()
                    statuses.append(view["status"])
                    if view["status"] in ("verified", "failed", "expired", "ended"):
                        break
                    assert time.monotonic() < deadline, statuses
                    time.sleep(0.1)
                seen["final_view"] = view
                # verified: the script completes; failed: its "back to the wallet" link
                complete = browser.get(view["complete_url"])
        finally:
            browser.close()
        assert complete.status_code == 303, complete.text
        seen["completed"] = complete.headers["location"]
        return {"location": complete.headers["location"]}


class Counter:
    """The agency's counter at the counter API, asking for the check ``identification``
    as ``COUNTER_REQUESTS`` says for the case."""

    def __init__(self, http: httpx.Client, counter_key: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {counter_key}"}
        self.created: dict[str, dict[str, Any]] = {}

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        name = message["name"]
        created = self.http.post(
            f"/verifiers/{COUNTER}/presentations",
            json={"template": "identification", **COUNTER_REQUESTS[name]},
            headers=self.headers,
        )
        assert created.status_code == 201, created.text
        self.created[name] = created.json()
        return {"present": self.created[name]["uri"]}

    def results(self) -> dict[str, dict[str, Any]]:
        results = {}
        for name, created in self.created.items():
            answer = self.http.get(
                f"/verifiers/{COUNTER}/presentations/{created['transaction_id']}",
                headers=self.headers,
            )
            assert answer.status_code == 200, answer.text
            results[name] = answer.json()
        return results


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One node wallet takes every case from one server (no declared test citizen: the
    civil registry logs the citizen in at the eID provider, the transport agency asks for
    the national ID); the test is the browser and the counter; what the checks need of the
    server is read once the wallet is done."""
    node = pinned_node()
    var_dir = tmp_path_factory.mktemp("interop-presentation")
    wallet_provider = InteropWalletProvider.create()
    anchors = var_dir / "wallet-provider-roots.pem"
    anchors.write_bytes(wallet_provider.root_pem())
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = ProviderConfig(
        clients=(
            ProviderClient(
                "idwallet", (f"{base_url}/issuers/{REGISTRY}/eid/callback",), client_secret=SECRET
            ),
        ),
        users=(ProviderUser("u-erika", EIDAS_SUBSTANTIAL, {"personal_number": CITIZEN}),),
    )
    with (
        running_oidc_provider(config) as eid,
        running_server(
            var_dir,
            IDWALLET_PORT=str(port),
            IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors),
            IDWALLET_EID_OIDC_ISSUER=eid.issuer,
            IDWALLET_EID_OIDC_CLIENT_ID="idwallet",
            IDWALLET_EID_OIDC_CLIENT_SECRET=SECRET,
            IDWALLET_EID_OIDC_SCOPE="openid eid",
            IDWALLET_OUTBOUND_ALLOW=f"127.0.0.1:{eid.port}",
            # a revocation reaches the counter at its next check, not after the list's ttl
            IDWALLET_STATUS_LIST_REVALIDATE="0",
        ) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        keys = json.loads((var_dir / "operator-keys.json").read_text(encoding="utf-8"))
        trust_anchor = (var_dir / "trust-anchor.pem").read_text(encoding="ascii")
        revocations: list[dict[str, Any]] = []

        def revoke() -> None:
            revoked = http.post(
                f"/issuers/{REGISTRY}/credentials/revoke",
                json={"subject_id": CITIZEN, "reason": "reported stolen"},
                headers={"Authorization": f"Bearer {keys[REGISTRY]}"},
            )
            assert revoked.status_code == 200, revoked.text
            revocations.append(revoked.json())

        browser = Browser(revoke)
        counter = Counter(http, keys[COUNTER])

        def presented(message: dict[str, Any]) -> dict[str, Any]:
            if message["name"] in COUNTER_REQUESTS:
                return {"done": True}
            return browser.presented(message)

        cases: list[dict[str, Any]] = [
            {
                "name": NATIONAL_ID,
                "credential_issuer": f"{server.base_url}/issuers/{REGISTRY}",
                "credential_configuration_id": "national_id",
                "options": {"browser": True, "refresh": False},
            }
        ]
        for name in [CROSS_DEVICE, SAME_DEVICE, REPLAYED, ENCRYPTED, POSTED, REVOKED]:
            cases.append(
                {"name": name, "presentation": True}
                if name in COUNTER_REQUESTS
                else {
                    "name": name,
                    "credential_issuer": f"{server.base_url}/issuers/{AGENCY}",
                    "credential_configuration_id": "driving_licence",
                    "options": {"browser": True, "refresh": False},
                }
            )
        request = {
            "allow_insecure_urls": True,
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "wallet_provider": wallet_provider.for_wallet(),
            "verifier_trust_anchors": [trust_anchor],
            "cases": cases,
        }
        output = run_wallet(
            node,
            request,
            _no_clerk,
            browser.start,
            {"presented": presented, "ready_to_present": counter.ask},
        )
        operator = {"Authorization": f"Bearer {keys[AGENCY]}"}
        audit = http.get(f"/issuers/{AGENCY}/audit", headers=operator).json()["events"]
        ledger = http.get(f"/issuers/{AGENCY}/subjects/{CITIZEN}", headers=operator).json()
        counter_results = counter.results()
    assert output["library"] == PACKAGES
    yield {
        "base_url": server.base_url,
        "eid": eid.issuer,
        "results": {result["name"]: result for result in output["results"]},
        "seen": browser.seen,
        "anchor": x509.load_pem_x509_certificate(trust_anchor.encode("ascii")),
        "audit": audit,
        "ledger": ledger["credentials"],
        "revocations": revocations,
        "counter": counter_results,
    }


def _no_clerk(message: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"no clerk takes part here: {message}")


def _ok(issued: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = issued["results"][name]
    assert result["ok"], f"{result['error']}\n{result['details']}\n{result['presentations']}"
    return result


def _refused(issued: dict[str, Any], name: str) -> dict[str, Any]:
    """The authorization error the wallet's redirect URI received."""
    result = issued["results"][name]
    assert not result["ok"], f"{name} got a licence"
    assert result["error"].startswith("Error: authorization refused: "), result["error"]
    refusal: dict[str, Any] = json.loads(result["error"].split("authorization refused: ", 1)[1])
    return refusal


async def _verified(issued: dict[str, Any], credential: str) -> dict[str, Any]:
    """The credential checked by our SD-JWT VC verification (x5c to the trust anchor), all
    its disclosures applied."""
    verified = await verify_sd_jwt_vc(
        credential, issuer_keys=X5cIssuerKeys([issued["anchor"]]), key_binding=None, issued=True
    )
    claims: dict[str, Any] = verified.claims
    return claims


def _presentation(result: dict[str, Any]) -> dict[str, Any]:
    [presentation] = result["presentations"]
    assert "error" not in presentation, presentation
    return presentation


def _national_ids(issued: dict[str, Any]) -> list[str]:
    [batch] = _ok(issued, NATIONAL_ID)["batches"]
    credentials: list[str] = batch["credentials"]
    return credentials


async def test_the_wallet_gets_the_national_id_from_the_civil_registry(
    issued: dict[str, Any],
) -> None:
    result = _ok(issued, NATIONAL_ID)
    register = _register(REGISTRY, "national_id")
    [batch] = result["batches"]
    assert len(batch["credentials"]) == BATCH_SIZE
    for credential in batch["credentials"]:
        claims = await _verified(issued, credential)
        assert {name: claims.get(name) for name in register} == register
        assert claims["cnf"]["jwk"] in batch["holder_jwks"]
    # the civil registry sent the browser to the eID provider, not to a presentation page
    assert issued["seen"][NATIONAL_ID]["sent_to"].startswith(f"{issued['eid']}/auth?")


@pytest.mark.parametrize("name", LICENCES)
async def test_the_wallet_gets_the_licence_of_the_person_its_national_id_names(
    issued: dict[str, Any], name: str
) -> None:
    """The licence carries what the transport agency's register holds, for the person
    whose name and date of birth the national ID proved; it is bound to the wallet's keys."""
    result = _ok(issued, name)
    assert result["corrections"] == LIBRARY_CORRECTIONS and result["workarounds"] == []
    issuer = f"{issued['base_url']}/issuers/{AGENCY}"
    authorization = result["authorization"]
    assert (authorization["redirect_to"], authorization["iss"]) == (REDIRECT_URI, issuer)
    national_id = await _verified(issued, _national_ids(issued)[0])
    register = _register(AGENCY, "driving_licence")
    [batch] = result["batches"]
    assert len(batch["credentials"]) == BATCH_SIZE
    for credential in batch["credentials"]:
        licence = await _verified(issued, credential)
        assert licence["iss"] == issuer and licence["vct"] == f"{issuer}/types/driving_licence"
        assert {claim: licence.get(claim) for claim in register} == register
        assert {c: licence[c] for c in IDENTIFICATION} == {
            c: national_id[c] for c in IDENTIFICATION
        }
        assert licence["cnf"]["jwk"] in batch["holder_jwks"]


@pytest.mark.parametrize("name", ANSWERED_BY_PAGE)
def test_the_browser_goes_through_the_agencys_page(issued: dict[str, Any], name: str) -> None:
    """The authorization endpoint sends the browser to the agency's page (HTML), whose JSON
    API gives the request's ``openid4vp://`` link and, on to the end, where it stands."""
    seen = issued["seen"][name]
    issuer = f"{issued['base_url']}/issuers/{AGENCY}"
    assert urlsplit(seen["authorize"]).path == f"/issuers/{AGENCY}/authorize"
    assert seen["sent_to"].startswith(f"{issuer}/presentation-login/")
    assert seen["page"]["status"] == 200 and seen["page"]["type"].startswith("text/html")
    view = seen["view"]
    assert view["status"] == "waiting" and view["verifier_id"] == COUNTER
    assert view["uri"].startswith("openid4vp://?")
    assert view["complete_url"] == f"{seen['sent_to']}/complete"
    assert seen["completed"].startswith(f"{REDIRECT_URI}?")


def test_the_wallet_reads_the_counters_signed_request_object(issued: dict[str, Any]) -> None:
    """OpenID4VP 1.0 §5, §5.10: the link carries only ``client_id`` and ``request_uri`` (and
    ``request_uri_method`` where the counter takes a POST); the library fetched the request object (``oauth-authz-req+jwt``, static audience §5.8),
    checked its signature with the access certificate the wallet trusts and the client
    identifier against that certificate (``x509_hash``), and read it as 1.0."""
    for name in [*ANSWERED_BY_PAGE, *COUNTER_REQUESTS]:
        request = issued["results"][name]["presentations"][0]["request"]
        posted = ["request_uri_method"] if name == POSTED else []
        assert request["link"] == {
            "parameters": ["client_id", "request_uri", *posted],
            "type": "jar",
            "provided": "uri",
        }
        jar = request["request_object"]
        assert jar["header"]["typ"] == "oauth-authz-req+jwt" and jar["header"]["x5c"]
        # by value where the wallet fetched it itself (see LIBRARY_POST_PARAMETERS)
        by = "value" if (request["request_uri_post"] or {}).get("workaround") else "reference"
        assert (jar["send_by"], jar["signer_method"]) == (by, "x5c")
        assert jar["aud"] == "https://self-issued.me/v2"
        assert request["version"] == 100
        assert request["client"]["prefix"] == "x509_hash"
        assert request["client"]["effective"].startswith("x509_hash:")
        assert request["response_type"] == "vp_token"
        assert request["response_uri"].startswith(f"{issued['base_url']}/verifiers/{COUNTER}/")
        assert request["nonce"] and request["state"]


@pytest.mark.parametrize("name", [*LICENCES, *COUNTER_REQUESTS, REVOKED])
async def test_the_wallet_discloses_only_what_the_dcql_query_asks_for(
    issued: dict[str, Any], name: str
) -> None:
    """The counter's DCQL query asks for the national ID's name and date of birth; the
    ``dcql`` library matched it, and the presentation discloses those three claims and
    nothing else, with a key binding JWT for this request (RFC 9901 §4.3, OpenID4VP 1.0
    Appendix B.3.6: ``aud`` the full client_id, the request's ``nonce``, ``sd_hash``) signed
    by the key the credential is bound to; each presentation uses a credential of the batch
    not used before."""
    presentation = _presentation(issued["results"][name])
    request = presentation["request"]
    vct = f"{issued['base_url']}/issuers/{REGISTRY}/types/national_id"
    assert request["dcql_query"] == {
        "credentials": [
            {
                "id": "national_id",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [vct]},
                "claims": [{"path": [claim]} for claim in IDENTIFICATION],
            }
        ]
    }
    assert presentation["dcql"] == {"can_be_satisfied": True}
    [shown] = presentation["presented"]
    assert shown["query_id"] == "national_id" and shown["configuration_id"] == "national_id"
    national_id = await _verified(issued, _national_ids(issued)[shown["credential_index"]])
    expected = {claim: national_id[claim] for claim in IDENTIFICATION}
    assert shown["asked"] == expected
    assert shown["disclosed"] == expected  # the address, nationality, ... stay in the wallet
    assert presentation["vp_token"] == {"national_id": [shown["presentation"]]}
    kb = shown["key_binding"]
    assert kb["header"] == {"typ": "kb+jwt", "alg": "ES256"}
    assert kb["payload"]["aud"] == request["client"]["effective"]
    assert kb["payload"]["nonce"] == request["nonce"]
    assert kb["payload"]["sd_hash"] and abs(kb["payload"]["iat"] - time.time()) < 300
    assert shown["holder_jwk"] == national_id["cnf"]["jwk"]


def test_each_presentation_uses_another_credential_of_the_batch(issued: dict[str, Any]) -> None:
    used = [
        _presentation(issued["results"][name])["presented"][0]["credential_index"]
        for name in [*LICENCES, *COUNTER_REQUESTS, REVOKED]
    ]
    assert len(set(used)) == len(used)


def test_the_counter_accepted_the_presentations_for_the_licences(issued: dict[str, Any]) -> None:
    """The verifier answered each at its response URI (OpenID4VP 1.0 §8.2, the response
    encrypted as §8.3.1 has it): 200 with an empty object for a cross-device request, with a
    ``redirect_uri`` to the agency's page and a ``response_code`` in its fragment for the
    same-device one (§13.3)."""
    cross = _presentation(issued["results"][CROSS_DEVICE])["response"]
    assert (cross["status"], cross["body"]) == (200, {})
    assert cross["response_mode"] == "direct_post.jwt"
    same = _presentation(issued["results"][SAME_DEVICE])["response"]
    assert same["status"] == 200
    page = issued["seen"][SAME_DEVICE]["sent_to"]
    assert same["body"]["redirect_uri"].startswith(f"{page}#response_code=")
    statuses = issued["seen"][CROSS_DEVICE]["statuses"]
    assert statuses[-1] == "verified"


def test_the_same_response_sent_again_to_its_request_is_refused(issued: dict[str, Any]) -> None:
    resent = _presentation(issued["results"][CROSS_DEVICE])["resent"]
    assert resent["status"] == 400 and resent["body"]["error"] == "invalid_request"


def _refusals(issued: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in issued["audit"] if e["action"] == "authorization.refuse"]


def test_a_vp_token_replayed_to_another_sessions_request_gets_no_licence(
    issued: dict[str, Any],
) -> None:
    """The vp_token the wallet sent for the first licence, sent as it is (with the new
    request's state) to the request of another authorization: the counter refuses it (its
    key binding names the other request's nonce), the page shows the failure and its way
    back, and the wallet's redirect URI gets ``access_denied``."""
    [replay] = issued["results"][REPLAYED]["presentations"]
    assert replay["replayed"] is True
    first = _presentation(issued["results"][CROSS_DEVICE])
    assert replay["request"]["nonce"] != first["request"]["nonce"]
    assert replay["response"]["status"] == 400
    assert replay["response"]["body"]["error"] == "invalid_request"
    assert "key_binding" in replay["response"]["body"]["error_description"]
    seen = issued["seen"][REPLAYED]
    assert seen["final_view"]["status"] == "failed" and seen["final_view"]["reason"] == "failed"
    refusal = _refused(issued, REPLAYED)
    assert refusal["error"] == "access_denied"
    assert refusal["iss"] == f"{issued['base_url']}/issuers/{AGENCY}"
    assert "could not be verified" in refusal["error_description"]
    assert any(
        e["outcome"] == "presentation_failed" and "key_binding" in e["detail"]
        for e in _refusals(issued)
    )


def test_a_revoked_national_id_gets_no_licence(issued: dict[str, Any]) -> None:
    """Revoked through the civil registry's operator API before the wallet shows it: the
    counter's status check refuses it, and the wallet gets ``access_denied``."""
    [revoked] = issued["revocations"]
    assert (revoked["action"], len(revoked["changed"])) == ("revoke", BATCH_SIZE)
    presentation = _presentation(issued["results"][REVOKED])
    answer = presentation["response"]
    assert answer["status"] == 400 and answer["body"]["error"] == "invalid_request"
    assert "status: the credential is revoked" in answer["body"]["error_description"]
    seen = issued["seen"][REVOKED]
    assert seen["final_view"]["status"] == "failed" and seen["final_view"]["reason"] == "failed"
    refusal = _refused(issued, REVOKED)
    assert refusal["error"] == "access_denied"
    assert refusal["iss"] == f"{issued['base_url']}/issuers/{AGENCY}"
    assert "could not be verified" in refusal["error_description"]
    revoked_detail = "status: the credential is revoked"
    assert any(
        e["outcome"] == "presentation_failed" and revoked_detail in e["detail"]
        for e in _refusals(issued)
    )


def test_the_agency_issued_licences_for_the_verified_presentations_only(
    issued: dict[str, Any],
) -> None:
    """Two refusals audited, no personal data in them; licences only for the two
    presentations the counter verified."""
    refusals = _refusals(issued)
    assert [e["outcome"] for e in refusals] == ["presentation_failed", "presentation_failed"]
    assert all(e["actor"] == "presentation during issuance" for e in refusals)
    assert "Mustermann" not in json.dumps(refusals)
    licences = [
        c for c in issued["ledger"] if c["credential_configuration_id"] == "driving_licence"
    ]
    assert len(licences) == BATCH_SIZE * len(LICENCES)


def test_the_wallet_answers_a_request_for_an_encrypted_response(issued: dict[str, Any]) -> None:
    """A request of the same counter for ``direct_post.jwt`` (OpenID4VP 1.0 §8.3.1): the
    library encrypted the response to the key of the request's ``client_metadata``
    (ECDH-ES, the first content encryption both sides name, the key's ``kid``), and the
    counter read and verified it: the proven claims are the three asked for."""
    presentation = _presentation(issued["results"][ENCRYPTED])
    assert presentation["request"]["response_mode"] == "direct_post.jwt"
    response = presentation["response"]
    assert (response["status"], response["response_mode"]) == (200, "direct_post.jwt")
    header = response["encrypted"]["header"]
    assert (header["alg"], header["enc"]) == ("ECDH-ES", "A128GCM")
    assert header["kid"].startswith("enc-") and header["epk"]["crv"] == "P-256"
    assert "zip" not in header
    result = issued["counter"][ENCRYPTED]
    assert result["status"] == "verified", result
    [proved] = result["result"]["credentials"]["national_id"]
    [shown] = presentation["presented"]
    assert proved["claims"] == shown["disclosed"]


def test_a_request_object_fetched_by_post_carries_the_wallets_nonce(
    issued: dict[str, Any],
) -> None:
    """OpenID4VP 1.0 §5.10.1: a request offered with ``request_uri_method=post`` is fetched
    by a POST carrying ``wallet_metadata`` and ``wallet_nonce``, and the counter's request
    object carries that nonce back. The library posts otherwise and refuses what it gets
    (``LIBRARY_POST_PARAMETERS``); the wallet's own POST, as the specification has it, gets
    an object with its ``wallet_nonce``, which the library then checked, and the counter
    verified the presentation."""
    presentation = _presentation(issued["results"][POSTED])
    post = presentation["request"]["request_uri_post"]
    assert post["library"]["fetched"] == [{"method": "POST", "parameters": LIBRARY_POST_PARAMETERS}]
    assert LIBRARY_POST_REFUSAL in post["library"]["error"]
    workaround = post["workaround"]
    assert workaround["wallet_nonce_returned"] == workaround["wallet_nonce_sent"]
    assert presentation["response"]["status"] == 200
    result = issued["counter"][POSTED]
    assert result["status"] == "verified", result
    [proved] = result["result"]["credentials"]["national_id"]
    assert proved["claims"] == presentation["presented"][0]["disclosed"]


def test_the_agencys_request_asks_for_an_encrypted_response(issued: dict[str, Any]) -> None:
    for name in ANSWERED_BY_PAGE:
        request = issued["results"][name]["presentations"][0]["request"]
        assert request["response_mode"] == "direct_post.jwt", name
