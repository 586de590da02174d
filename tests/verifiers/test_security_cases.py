"""The verifier rows of ../shared/SECURITY-CASES.md (V01–V12, V15, V17–V19, J01, J03, J06,
J07) as HTTP tests on SQLite and PostgreSQL: every hostile answer gets 400 (413 when too
large) with an OAuth error on that very response, and the transaction shows why."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from litestar.testing import TestClient

from core.encoding import b64url_encode, json_dumps
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)
from core.sdjwt.disclosures import digest
from core.sdjwt.key_binding import KeyBindingRequest, bind, sd_hash
from tests.issuers.test_issuance import operator_key
from tests.verifiers.presenter import (
    FetchedRequest,
    counter_key,
    create_request,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.stand_in_issuer import (
    ISSUER_ID,
    SIGNER,
    disclosure,
    forged,
)
from tests.verifiers.test_presentation import NATIONAL_ID_VCT, issued

HOLDER = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
VERIFIER = "bar-age-check"


def _start(client: TestClient[Any], **options: Any) -> tuple[dict[str, Any], FetchedRequest]:
    created = create_request(client, VERIFIER, template="age_over_18", **options)
    return created, fetch_request(client, created["uri"])


def _kb(
    sd_jwt: str,
    request: FetchedRequest,
    *,
    holder: SoftwareSigner = HOLDER,
    nonce: str | None = None,
    aud: Any = None,
    iat: int | None = None,
) -> str:
    binding = KeyBindingRequest(
        request.client_id if aud is None else aud,
        request.payload["nonce"] if nonce is None else nonce,
        int(time.time()) if iat is None else iat,
    )
    return bind(sd_jwt, binding, holder)


def _payload(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER_ID,
        "vct": NATIONAL_ID_VCT,
        "iat": now,
        "exp": now + 3600,
        "cnf": {"jwk": HOLDER.public_jwk()},
        **extra,
    }


AGE = disclosure("c2FsdC1hZ2Utb3Zlci0xOA", "age_over_18", True)


def _good_sd_jwt() -> str:
    return forged(_payload(_sd=[digest(AGE)]), [AGE])


def _rejected(
    client: TestClient[Any],
    created: dict[str, Any],
    request: FetchedRequest,
    vp_token: dict[str, list[str]] | str,
    failed_check: str | None = None,
    *,
    status: int = 400,
) -> dict[str, Any]:
    response = respond(client, request, vp_token)
    assert response.status_code == status, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store"
    result: dict[str, Any] = transaction_status(client, VERIFIER, created["transaction_id"]).json()
    if failed_check is not None:
        assert result["status"] == "failed", result
        last = result["result"]["checks"][-1]
        assert last["passed"] is False and last["check"].endswith(failed_check), last
    return result


def _answer(sd_jwt_with_kb: str) -> dict[str, list[str]]:
    return {"national_id": [sd_jwt_with_kb]}


def _accepted(client: TestClient[Any], request: FetchedRequest, vp: dict[str, list[str]]) -> None:
    response = respond(client, request, vp)
    assert response.status_code == 200, response.text


def test_a_well_formed_forged_vector_is_accepted(client: TestClient[Any]) -> None:
    """The baseline every negative vector below departs from in exactly one way."""
    _, request = _start(client)
    response = respond(client, request, _answer(_kb(_good_sd_jwt(), request)))
    assert response.status_code == 200, response.text


def test_v01_kb_nonce_of_another_request(client: TestClient[Any]) -> None:
    created, request = _start(client)
    vp = _answer(_kb(_good_sd_jwt(), request, nonce="n-" + "x" * 40))
    _rejected(client, created, request, vp, "key_binding")


@pytest.mark.parametrize(
    "audience",
    ["bare-value", "x509_hash:someone-else", "array"],
    ids=["without-prefix", "other-verifier", "array-of-ids"],
)
def test_v02_kb_audience(client: TestClient[Any], audience: str) -> None:
    created, request = _start(client)
    aud: Any = {
        "bare-value": request.client_id.partition(":")[2],
        "x509_hash:someone-else": "x509_hash:someone-else",
        "array": [request.client_id, "x509_hash:someone-else"],
    }[audience]
    _rejected(
        client, created, request, _answer(_kb(_good_sd_jwt(), request, aud=aud)), "key_binding"
    )


def _replace_kb(
    sd_jwt_with_kb: str, header: dict[str, Any], payload: dict[str, Any], signature: bytes
) -> str:
    sd_jwt = sd_jwt_with_kb[: sd_jwt_with_kb.rindex("~") + 1]
    encoded = (
        b64url_encode(json_dumps(header).encode())
        + "."
        + b64url_encode(json_dumps(payload).encode())
    )
    return sd_jwt + encoded + "." + b64url_encode(signature)


def _kb_parts(with_kb: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kb = with_kb.rsplit("~", 1)[1]
    header, payload, _ = kb.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


@pytest.mark.parametrize("flaw", ["corrupted", "other-key", "typ", "alg-none"])
def test_v03_kb_jwt_signature_key_and_type(client: TestClient[Any], flaw: str) -> None:
    created, request = _start(client)
    good = _kb(_good_sd_jwt(), request)
    if flaw == "corrupted":
        head, _, signature = good.rpartition(".")
        vp = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    elif flaw == "other-key":
        stranger = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
        vp = _kb(_good_sd_jwt(), request, holder=stranger)
    else:
        header, payload = _kb_parts(good)
        if flaw == "typ":
            header["typ"] = "JWT"
            signing = (
                b64url_encode(json_dumps(header).encode())
                + "."
                + b64url_encode(json_dumps(payload).encode())
            )
            vp = _replace_kb(good, header, payload, HOLDER.sign(signing.encode()))
        else:
            vp = _replace_kb(good, {"alg": "none", "typ": "kb+jwt"}, payload, b"")
    _rejected(client, created, request, _answer(vp), "key_binding")


@pytest.mark.parametrize("flaw", ["corrupted", "alg-none", "hs256-with-public-key"])
def test_v04_issuer_signature(client: TestClient[Any], flaw: str) -> None:
    created, request = _start(client)
    good = _good_sd_jwt()
    jws, _, rest = good.partition("~")
    header_b64, payload_b64, signature = jws.split(".")
    if flaw == "corrupted":
        jws = f"{header_b64}.{payload_b64}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        expected = "issuer_signature"
    else:
        alg = "none" if flaw == "alg-none" else "HS256"
        header = {"alg": alg, "typ": "dc+sd-jwt", "x5c": list(SIGNER.x5c or ())}
        header_b64 = b64url_encode(json_dumps(header).encode())
        if alg == "none":
            mac = b""
        else:
            secret = SIGNER._key.public_key().public_bytes(  # type: ignore[attr-defined]
                Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
            )
            mac = hmac.new(secret, f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
        jws = f"{header_b64}.{payload_b64}.{b64url_encode(mac)}"
        expected = "issuer_signature"
    sd_jwt = jws + "~" + rest
    _rejected(client, created, request, _answer(_kb(sd_jwt, request)), expected)


@pytest.mark.parametrize("flaw", ["added", "dropped", "no-trailing-tilde"])
def test_v05_stale_sd_hash(client: TestClient[Any], flaw: str) -> None:
    created, request = _start(client)
    extra = disclosure("c2FsdC1naXZlbi1uYW1lLTEy", "given_name", "Ada")
    sd_jwt = forged(_payload(_sd=[digest(AGE), digest(extra)]), [AGE, extra])
    if flaw == "no-trailing-tilde":
        header, payload = _kb_parts(_kb(sd_jwt, request))
        payload["sd_hash"] = sd_hash(sd_jwt[:-1])
        signing = (
            b64url_encode(json_dumps(header).encode())
            + "."
            + b64url_encode(json_dumps(payload).encode())
        )
        vp = _replace_kb(sd_jwt + "x", header, payload, HOLDER.sign(signing.encode()))
    else:
        shown = forged(_payload(_sd=[digest(AGE), digest(extra)]), [AGE])
        with_kb = _kb(shown, request)
        kb = with_kb.rsplit("~", 1)[1]
        if flaw == "added":
            vp = shown + extra + "~" + kb
        else:
            vp = _kb(sd_jwt, request).rsplit("~", 1)[1]
            vp = shown + vp
    _rejected(client, created, request, _answer(vp), "key_binding")


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-366 * 86400, False), (366 * 86400, False), (-240, True), (30, True)],
    ids=["year-ago", "year-ahead", "four-minutes-ago", "thirty-seconds-ahead"],
)
def test_v06_kb_issued_at_window(client: TestClient[Any], offset: int, accepted: bool) -> None:
    created, request = _start(client)
    vp = _answer(_kb(_good_sd_jwt(), request, iat=int(time.time()) + offset))
    if accepted:
        assert respond(client, request, vp).status_code == 200
    else:
        _rejected(client, created, request, vp, "key_binding")


def test_v07_kb_jwt_stripped(client: TestClient[Any]) -> None:
    created, request = _start(client)
    _rejected(client, created, request, _answer(_good_sd_jwt()), "key_binding")


def _structure_case(name: str) -> tuple[dict[str, Any], list[str]]:
    other = disclosure("c2FsdC1vdGhlci1jbGFpbS0x", "given_name", "Ada")
    element = disclosure("c2FsdC1hcnJheS1lbGVtZW50", "DE")
    cases: dict[str, tuple[dict[str, Any], list[str]]] = {
        # V08
        "same-disclosure-twice": (_payload(_sd=[digest(AGE)]), [AGE, AGE]),
        "same-digest-twice-in-sd": (_payload(_sd=[digest(AGE), digest(AGE)]), [AGE]),
        "digest-in-sd-and-array": (
            _payload(_sd=[digest(AGE)], nationalities=[{"...": digest(AGE)}]),
            [AGE],
        ),
        # V09
        "unreferenced-disclosure": (_payload(_sd=[digest(AGE)]), [AGE, other]),
        # V10
        "named-_sd": (
            _payload(_sd=[digest(AGE), digest(d := disclosure("c2FsdC1zZC1uYW1lLTAx", "_sd", []))]),
            [AGE, d],
        ),
        "named-dots": (
            _payload(
                _sd=[digest(AGE), digest(d2 := disclosure("c2FsdC1kb3RzLW5hbWUtMQ", "...", 1))]
            ),
            [AGE, d2],
        ),
        "collides-with-vct": (
            _payload(
                _sd=[digest(AGE), digest(d3 := disclosure("c2FsdC12Y3QtY29sbGlkZQ", "vct", "x"))]
            ),
            [AGE, d3],
        ),
        # V11
        "object-with-two-elements": (
            _payload(_sd=[digest(AGE), digest(d4 := disclosure("c2FsdC10d28tZWxlbWVudHM", "x"))]),
            [AGE, d4],
        ),
        "object-with-four-elements": (
            _payload(
                _sd=[digest(AGE), digest(d5 := disclosure("c2FsdC1mb3VyLWVsZW1lbnQ", "x", 1, 2))]
            ),
            [AGE, d5],
        ),
        "array-element-with-three": (
            _payload(
                _sd=[digest(AGE)],
                nationalities=[
                    {"...": digest(d6 := disclosure("c2FsdC10aHJlZS1pbi1hcnI", "x", "DE"))}
                ],
            ),
            [AGE, d6],
        ),
        "not-an-array": (
            _payload(_sd=[digest(AGE), digest(d7 := b64url_encode(b'{"salt":"x"}'))]),
            [AGE, d7],
        ),
        "bad-base64url": (
            _payload(_sd=[digest(AGE), digest("!!notbase64!!")]),
            [AGE, "!!notbase64!!"],
        ),
        "salt-not-a-string": (
            _payload(_sd=[digest(AGE), digest(d8 := disclosure(12345, "given_name", "Ada"))]),
            [AGE, d8],
        ),
        "_sd-not-strings": (_payload(_sd=[digest(AGE), 7]), [AGE]),
        "dots-with-sibling": (
            _payload(_sd=[digest(AGE)], nationalities=[{"...": digest(element), "x": 1}]),
            [AGE, element],
        ),
    }
    return cases[name]


@pytest.mark.parametrize(
    "case",
    [
        "same-disclosure-twice",
        "same-digest-twice-in-sd",
        "digest-in-sd-and-array",
        "unreferenced-disclosure",
        "named-_sd",
        "named-dots",
        "collides-with-vct",
        "object-with-two-elements",
        "object-with-four-elements",
        "array-element-with-three",
        "not-an-array",
        "bad-base64url",
        "salt-not-a-string",
        "_sd-not-strings",
        "dots-with-sibling",
    ],
)
def test_v08_to_v11_disclosure_structure(client: TestClient[Any], case: str) -> None:
    created, request = _start(client)
    payload, disclosures = _structure_case(case)
    try:
        sd_jwt = forged(payload, disclosures)
    except ValueError:
        pytest.fail("the vector itself could not be built")
    result = _rejected(client, created, request, _answer(_kb(sd_jwt, request)))
    assert result["status"] == "failed"
    assert result["result"]["checks"][-1]["check"].split(": ")[-1] in {"disclosures", "sd_jwt"}


@pytest.mark.parametrize("alg", ["sha-256-32", "md5", "SHA-256", "unknown", "nested"])
def test_v12_sd_alg(client: TestClient[Any], alg: str) -> None:
    created, request = _start(client)
    if alg == "nested":
        payload = _payload(_sd=[digest(AGE)], address={"_sd_alg": "sha-256", "_sd": []})
    else:
        payload = _payload(_sd=[digest(AGE)], _sd_alg=alg)
    _rejected(
        client, created, request, _answer(_kb(forged(payload, [AGE]), request)), "disclosures"
    )


@pytest.mark.parametrize("flaw", ["expired", "not-yet-valid"])
def test_v15_validity_period(client: TestClient[Any], flaw: str) -> None:
    created, request = _start(client)
    now = int(time.time())
    extra = {"exp": now - 3600} if flaw == "expired" else {"nbf": now + 3600}
    sd_jwt = forged(_payload(_sd=[digest(AGE)], **extra), [AGE])
    _rejected(client, created, request, _answer(_kb(sd_jwt, request)), "freshness")


@pytest.mark.parametrize("action", ["revoke", "suspend"])
def test_v15_revoked_and_suspended_credentials(client: TestClient[Any], action: str) -> None:
    credential, holder = issued(client)
    created, request = _start(client)
    presentation = present(credential, holder, request, {"age_over_18": True})
    changed = client.post(
        f"/issuers/civil-registry/credentials/{action}",
        json={"subject_id": "citizen-42"},
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert changed.status_code == 200, changed.text
    result = _rejected(client, created, request, {"national_id": [presentation]}, "status")
    expected = "revoked" if action == "revoke" else "suspended"
    assert expected in result["result"]["checks"][-1]["detail"]


@pytest.mark.parametrize("flaw", ["unknown-root", "self-signed-leaf", "iss-of-another-issuer"])
def test_v17_issuer_trust(client: TestClient[Any], flaw: str) -> None:
    created, request = _start(client)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    if flaw == "iss-of-another-issuer":
        sd_jwt = forged(
            _payload(_sd=[digest(AGE)], iss="https://id.example.gov/issuers/civil-registry"), [AGE]
        )
    else:
        if flaw == "unknown-root":
            root_key = ec.generate_private_key(ec.SECP256R1())
            root = create_trust_anchor(SoftwareSigner(root_key), common_name="Rogue Root", now=now)
            leaf = issue_access_certificate(
                AccessCertificateRequest("Rogue", "Rogue", ("stand-in.example",), (ISSUER_ID,)),
                key.public_key(),
                anchor_signer=SoftwareSigner(root_key),
                anchor=root,
                now=now,
            )
            chain = [leaf]
        else:
            chain = [create_trust_anchor(SoftwareSigner(key), common_name="Self", now=now)]
        rogue = SoftwareSigner(key, x5c=tuple(to_x5c(chain)))
        sd_jwt = forged(
            _payload(_sd=[digest(AGE)]),
            [AGE],
            signer=rogue,
            header={"x5c": list(to_x5c(chain))},
        )
    _rejected(client, created, request, _answer(_kb(sd_jwt, request)), "trust_chain")


def test_v17_metadata_issuer_not_configured(client: TestClient[Any]) -> None:
    """Without x5c, only issuers configured by URL are looked up; nothing is fetched for
    a stranger's https iss."""
    created, request = _start(client)
    payload = _payload(_sd=[digest(AGE)], iss="https://attacker.example")
    jws = sign_compact(payload, SIGNER, typ="dc+sd-jwt", include_kid=False)
    _rejected(client, created, request, _answer(_kb(jws + "~" + AGE + "~", request)), "trust_chain")


@pytest.mark.parametrize(
    "flaw", ["other-vct", "missing-claim", "wrong-query-id", "extra-presentation"]
)
def test_v18_dcql_not_satisfied(client: TestClient[Any], flaw: str) -> None:
    created, request = _start(client)
    if flaw == "other-vct":
        vp = _answer(
            _kb(
                forged(_payload(_sd=[digest(AGE)], vct="https://other.example/type"), [AGE]),
                request,
            )
        )
        check = "dcql"
    elif flaw == "missing-claim":
        other = disclosure("c2FsdC1naXZlbi1uYW1lLTEy", "given_name", "Ada")
        vp = _answer(_kb(forged(_payload(_sd=[digest(other)]), [other]), request))
        check = "dcql"
    elif flaw == "wrong-query-id":
        vp = {"driving_licence": [_kb(_good_sd_jwt(), request)]}
        check = "dcql"
    else:
        good = _kb(_good_sd_jwt(), request)
        vp = {"national_id": [good], "driving_licence": [good]}
        check = "dcql"
    _rejected(client, created, request, vp, check)


def test_v18_disclosing_more_than_asked_fails(client: TestClient[Any]) -> None:
    created, request = _start(client)
    extra = disclosure("c2FsdC1naXZlbi1uYW1lLTEy", "given_name", "Ada")
    sd_jwt = forged(_payload(_sd=[digest(AGE), digest(extra)]), [AGE, extra])
    result = _rejected(client, created, request, _answer(_kb(sd_jwt, request)), "dcql")
    assert "not asked for" in result["result"]["checks"][-1]["detail"]


def test_v19_replay_of_an_accepted_answer(client: TestClient[Any]) -> None:
    created, request = _start(client)
    answer = _answer(_kb(_good_sd_jwt(), request))
    assert respond(client, request, answer).status_code == 200
    first = transaction_status(client, VERIFIER, created["transaction_id"]).json()
    again = respond(client, request, answer)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    assert transaction_status(client, VERIFIER, created["transaction_id"]).json() == first
    # into a new transaction: its nonce differs, so the KB-JWT does not fit
    created2, request2 = _start(client)
    response = respond(client, request2, answer)
    assert response.status_code == 400
    failed = transaction_status(client, VERIFIER, created2["transaction_id"]).json()
    assert failed["status"] == "failed"
    assert failed["result"]["checks"][-1]["check"] == "national_id: key_binding"


def test_v19_wrong_state_leaves_the_transaction_alone(client: TestClient[Any]) -> None:
    created, request = _start(client)
    answer = _answer(_kb(_good_sd_jwt(), request))
    response = respond(client, request, answer, state="not-the-state")
    assert response.status_code == 400
    assert transaction_status(client, VERIFIER, created["transaction_id"]).json()["status"] == (
        "request_fetched"
    )
    assert respond(client, request, answer).status_code == 200


def test_request_uri_fetched_twice_is_served_until_answered(client: TestClient[Any]) -> None:
    """The conformance suite's ``request-uri-fetched-twice``: a wallet may fetch the request
    object again; each fetch is signed afresh for the same transaction, and only the answer
    is single-use."""
    created, first = _start(client)
    second = fetch_request(client, created["uri"])
    assert second.payload["nonce"] == first.payload["nonce"]
    assert second.payload["state"] == first.payload["state"]
    assert second.payload["response_uri"] == first.payload["response_uri"]
    assert transaction_status(client, VERIFIER, created["transaction_id"]).json()["status"] == (
        "request_fetched"
    )
    _accepted(client, second, _answer(_kb(_good_sd_jwt(), second)))
    path = urlsplit(created["request_uri"]).path
    gone = client.get(path)
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_request"
    assert "answered" in gone.json()["error_description"]


def test_each_post_with_a_new_wallet_nonce_gets_an_object_carrying_it(
    client: TestClient[Any],
) -> None:
    created = create_request(client, VERIFIER, template="age_over_18", request_uri_method="post")
    first = fetch_request(client, created["uri"], wallet_nonce="wallet-nonce-one")
    second = fetch_request(client, created["uri"], wallet_nonce="wallet-nonce-two")
    assert first.payload["wallet_nonce"] == "wallet-nonce-one"
    assert second.payload["wallet_nonce"] == "wallet-nonce-two"
    assert second.payload["nonce"] == first.payload["nonce"]


def test_a_request_offered_for_post_is_served_to_a_get_too(client: TestClient[Any]) -> None:
    """OpenID4VP 1.0 §5.1: a wallet that does not support POST sends a GET (and may go on
    with the signed object, §5); ``invalid_request_uri_method`` is only for a method that
    is neither (§8.5)."""
    created = create_request(client, VERIFIER, template="age_over_18", request_uri_method="post")
    request = fetch_request(client, created["uri"], method="get")
    assert "wallet_nonce" not in request.payload
    _accepted(client, request, _answer(_kb(_good_sd_jwt(), request)))


def test_j01_all_zero_es256_signature(client: TestClient[Any]) -> None:
    created, request = _start(client)
    jws, _, rest = _good_sd_jwt().partition("~")
    head = jws.rsplit(".", 1)[0]
    sd_jwt = head + "." + b64url_encode(b"\x00" * 64) + "~" + rest
    _rejected(client, created, request, _answer(_kb(sd_jwt, request)), "issuer_signature")


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk", "kid-path", "kid-sql"])
def test_j03_header_keys_are_not_trusted(client: TestClient[Any], header: str) -> None:
    """A token signed by a stranger, naming its key in the header, never verifies; nothing
    is fetched from jku/x5u."""
    created, request = _start(client)
    stranger = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    extra: dict[str, Any] = {
        "jku": {"jku": "https://attacker.example/jwks"},
        "x5u": {"x5u": "https://attacker.example/cert.pem"},
        "jwk": {"jwk": stranger.public_jwk()},
        "kid-path": {"kid": "../../dev/null"},
        "kid-sql": {"kid": "' OR 1=1 --"},
    }[header]
    sd_jwt = forged(_payload(_sd=[digest(AGE)]), [AGE], header=extra, signer=stranger)
    _rejected(client, created, request, _answer(_kb(sd_jwt, request)), "issuer_signature")


@pytest.mark.parametrize("where", ["header", "payload", "disclosure", "vp_token"])
def test_j06_duplicate_member_names(client: TestClient[Any], where: str) -> None:
    created, request = _start(client)
    good = _kb(_good_sd_jwt(), request)
    if where == "vp_token":
        text = '{"national_id": ["x"], "national_id": [' + json.dumps(good) + "]}"
        response = respond(client, request, text)
        assert response.status_code == 400
        return
    if where == "disclosure":
        dup = b64url_encode(b'["c2FsdA", "age_over_18", true, "age_over_18"]')
        sd_jwt = forged(_payload(_sd=[digest(dup)]), [dup])
    else:
        payload = _payload(_sd=[digest(AGE)])
        body = json_dumps(payload)
        header_json = json_dumps(
            {"alg": "ES256", "typ": "dc+sd-jwt", "x5c": list(SIGNER.x5c or ())}
        )
        if where == "header":
            header_json = header_json[:-1] + ',"typ":"dc+sd-jwt"}'
        else:
            body = body[:-1] + ',"vct":"' + NATIONAL_ID_VCT + '"}'
        signing = b64url_encode(header_json.encode()) + "." + b64url_encode(body.encode())
        sd_jwt = signing + "." + b64url_encode(SIGNER.sign(signing.encode())) + "~" + AGE + "~"
    _rejected(client, created, request, _answer(_kb(sd_jwt, request)))


@pytest.mark.parametrize("size", ["5mb-jwt", "100k-disclosures", "20mb-body"])
def test_j07_oversized_answers(client: TestClient[Any], size: str) -> None:
    created, request = _start(client)
    path = urlsplit(request.payload["response_uri"]).path
    if size == "20mb-body":
        body = b"vp_token=" + b"A" * (20 * 1024 * 1024)
        response = client.post(
            path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 413
    else:
        if size == "5mb-jwt":
            presentation = "e" * (5 * 1024 * 1024)
        else:
            presentation = _good_sd_jwt() + "WyJhIiwiYiIsMV0~" * 100_000
        response = respond(client, request, {"national_id": [presentation]})
        assert response.status_code in (400, 413)
    assert transaction_status(client, VERIFIER, created["transaction_id"]).json()["status"] in (
        "request_fetched",
        "failed",
    )
    assert client.get("/health").status_code == 200


def test_no_over_asking_when_a_request_is_created(client: TestClient[Any]) -> None:
    key_headers = {"Authorization": "Bearer " + _counter(client)}
    refused = client.post(
        f"/verifiers/{VERIFIER}/presentations", json={"template": "identity"}, headers=key_headers
    )
    assert refused.status_code == 422
    raw = {
        "credentials": [
            {
                "id": "national_id",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [NATIONAL_ID_VCT]},
                "claims": [{"path": ["age_over_18"]}, {"path": ["family_name"]}],
            }
        ]
    }
    refused = client.post(
        f"/verifiers/{VERIFIER}/presentations", json={"dcql_query": raw}, headers=key_headers
    )
    assert refused.status_code == 422 and "family_name" in refused.json()["detail"]
    raw["credentials"][0]["claims"] = [{"path": ["age_over_18"], "values": [True]}]
    allowed = client.post(
        f"/verifiers/{VERIFIER}/presentations", json={"dcql_query": raw}, headers=key_headers
    )
    assert allowed.status_code == 201, allowed.text


def test_a_counter_key_opens_only_its_own_verifier(client: TestClient[Any]) -> None:
    response = client.post(
        "/verifiers/bank-kyc/presentations",
        json={"template": "identity"},
        headers={"Authorization": "Bearer " + _counter(client)},
    )
    assert response.status_code == 401


def _counter(client: TestClient[Any]) -> str:
    return counter_key(client, VERIFIER)


def test_wallet_error_response_fails_the_transaction(client: TestClient[Any]) -> None:
    created, request = _start(client)
    path = urlsplit(request.payload["response_uri"]).path
    response = client.post(path, data={"error": "access_denied", "state": request.payload["state"]})
    assert response.status_code == 200
    status = transaction_status(client, VERIFIER, created["transaction_id"]).json()
    assert status["status"] == "failed" and status["result"]["wallet_error"] == "access_denied"


@pytest.mark.parametrize(
    ("raw", "explained"),
    [
        ({"credentials": "national_id"}, "at $.credentials: expected an array, got a string"),
        (
            {"credentials": [{"id": "national_id", "meta": {}}]},
            "at $.credentials[0]: the member 'format' is required",
        ),
        (
            {
                "credentials": [
                    {
                        "id": "national_id",
                        "format": "dc+sd-jwt",
                        "meta": {"vct_values": [NATIONAL_ID_VCT]},
                        "claims": [{"path": [1.5]}],
                    }
                ]
            },
            "at $.credentials[0].claims[0].path[0]: expected an integer, a string or null,"
            " got a number",
        ),
    ],
)
def test_a_malformed_dcql_query_is_explained_in_our_words(
    client: TestClient[Any], raw: Any, explained: str
) -> None:
    """The counter API named the parsing library's own message; now the JSON path and what
    was expected, in words a counter's integrator can act on."""
    refused = client.post(
        f"/verifiers/{VERIFIER}/presentations",
        json={"dcql_query": raw},
        headers={"Authorization": "Bearer " + _counter(client)},
    )
    assert refused.status_code == 400, refused.text
    detail = refused.json()["detail"]
    assert detail == f"malformed DCQL query {explained}"
    assert "`" not in detail and "Expected" not in detail


def test_a_dcql_query_that_is_not_an_object_is_refused_by_the_body_message(
    client: TestClient[Any],
) -> None:
    refused = client.post(
        f"/verifiers/{VERIFIER}/presentations",
        json={"dcql_query": []},
        headers={"Authorization": "Bearer " + _counter(client)},
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "$.dcql_query: expected an object, got an array"


def test_counter_bodies_name_unknown_members_and_the_key_comes_first(
    client: TestClient[Any],
) -> None:
    refused = client.post(
        f"/verifiers/{VERIFIER}/presentations",
        json={"template": "age_over_18", "qr_inline": "yes"},
        headers={"Authorization": "Bearer " + _counter(client)},
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "$.qr_inline: expected true or false, got a string"
    refused = client.post(
        f"/verifiers/{VERIFIER}/presentations",
        json={"templat": "age_over_18"},
        headers={"Authorization": "Bearer " + _counter(client)},
    )
    assert refused.status_code == 400 and "templat" in refused.json()["detail"]
    no_key = client.post(f"/verifiers/{VERIFIER}/presentations", content=b"[")
    assert no_key.status_code == 401
    assert no_key.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "a counter key of this verifier is required",
    }


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"vp_token=a&vp_token=b&state=s", "application/x-www-form-urlencoded"),
        (b'{"vp_token": "a", "state": "s"}', "application/json"),
    ],
)
def test_response_uri_takes_one_form_encoded_value_per_parameter(
    client: TestClient[Any], content: bytes, content_type: str
) -> None:
    response = client.post(
        f"/verifiers/{VERIFIER}/responses/any-request",
        content=content,
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
