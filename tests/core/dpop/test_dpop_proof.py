"""DPoP proof checks (RFC 9449 §4.3): the spec's examples verify with their key, and every
rule refuses a proof that breaks it alone, with ``invalid_dpop_proof`` (400 at the token
endpoint, 401 with a ``DPoP`` challenge at a resource) or ``use_dpop_nonce`` carrying a
fresh nonce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FixedClock
from core.dpop import (
    DpopNonces,
    DpopPolicy,
    DpopProofVerifier,
    VerifiedDpopProof,
    access_token_hash,
)
from core.dpop.proof import DPOP_REPLAY_SCOPE
from core.encoding import b64url_encode
from core.errors import (
    InvalidDpopBoundToken,
    InvalidDpopProof,
    InvalidDpopProofAtResource,
    UseDpopNonce,
    UseDpopNonceAtResource,
)
from core.jose.algorithms import ES256
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.storage.single_use import SqlSingleUse
from tests.support.dpop_proofs import (
    NOW,
    URI,
    MemorySeenOnce,
    encode_jws,
    hmac_signed,
    make_proof,
    new_key,
    sign_with_alg,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "dpop" / "rfc9449_examples.json").read_text()
)
SECRET = b"s" * 32
SERVER = "https://issuer.example.org/issuers/civil-registry"
TOKEN = "dpop-bound-access-token.0123456789"


def verifier(
    at: float = NOW, seen: MemorySeenOnce | None = None, policy: DpopPolicy | None = None
) -> DpopProofVerifier:
    clock = FixedClock(at)
    return DpopProofVerifier(
        seen or MemorySeenOnce(), DpopNonces(SECRET, clock=clock), clock=clock, policy=policy
    )


async def refused(proof_values: list[str], **request: Any) -> InvalidDpopProof:
    """The refusal of a POST to ``URI`` (or as given) at the token endpoint."""
    request.setdefault("method", "POST")
    request.setdefault("uri", URI)
    with pytest.raises(InvalidDpopProof) as caught:
        await verifier().verify(proof_values, **request)
    assert caught.value.error == "invalid_dpop_proof"
    return caught.value


# The specification's examples


async def test_the_token_request_example_verifies_with_its_key() -> None:
    example = VECTORS["token_request"]
    proof = await verifier(at=example["claims"]["iat"]).verify(
        [example["proof"]], method=example["method"], uri=example["uri"]
    )
    assert proof == VerifiedDpopProof(
        jkt=VECTORS["jkt"],
        jwk=VECTORS["jwk"],
        jti=example["claims"]["jti"],
        issued_at=example["claims"]["iat"],
    )
    assert proof.confirmation() == {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
    assert jwk_thumbprint(VECTORS["jwk"]) == VECTORS["jkt"]


async def test_the_protected_resource_example_verifies_with_its_access_token() -> None:
    example = VECTORS["protected_resource"]
    assert access_token_hash(example["access_token"]) == example["claims"]["ath"]
    proof = await verifier(at=example["claims"]["iat"] + 30).verify(
        [example["proof"]],
        method=example["method"],
        uri=example["uri"],
        access_token=example["access_token"],
    )
    proof.check_binding(VECTORS["jkt"])
    with pytest.raises(InvalidDpopBoundToken) as caught:
        proof.check_binding(jwk_thumbprint(public_jwk(new_key())))
    assert (caught.value.error, caught.value.status_code) == ("invalid_token", 401)
    assert caught.value.challenge_scheme == "DPoP"


async def test_the_example_is_refused_with_another_access_token() -> None:
    example = VECTORS["protected_resource"]
    with pytest.raises(InvalidDpopProofAtResource) as caught:
        await verifier(at=example["claims"]["iat"]).verify(
            [example["proof"]],
            method="GET",
            uri=example["uri"],
            access_token=example["access_token"] + "x",
        )
    assert (caught.value.status_code, caught.value.challenge_scheme) == (401, "DPoP")
    assert caught.value.to_body()["error"] == "invalid_dpop_proof"


async def test_the_target_uri_is_compared_after_normalisation() -> None:
    example = VECTORS["token_request"]
    for uri in (
        "HTTPS://Server.Example.COM:443/token",
        "https://server.example.com/token?state=1#part",
        "https://server.example.com/%74oken",
    ):
        await verifier(at=example["claims"]["iat"]).verify(
            [example["proof"]], method="POST", uri=uri
        )


# A proof is used once


async def test_a_replayed_proof_is_refused() -> None:
    seen = MemorySeenOnce()
    proof = make_proof(new_key())
    await verifier(seen=seen).verify([proof], method="POST", uri=URI)
    with pytest.raises(InvalidDpopProof, match="used before"):
        await verifier(seen=seen).verify([proof], method="POST", uri=URI)


async def test_the_jti_is_kept_per_key_until_the_window_ends() -> None:
    seen = MemorySeenOnce()
    key = new_key()
    result = await verifier(seen=seen).verify(
        [make_proof(key, iat=NOW - 10)], method="POST", uri=URI
    )
    assert seen.kept == {(DPOP_REPLAY_SCOPE, f"{result.jkt} proof-1-2Hq9Xw0d"): NOW - 10 + 60 + 5}
    # The same jti under another key is another proof: no one can use up another key's jti.
    await verifier(seen=seen).verify([make_proof(new_key())], method="POST", uri=URI)


async def test_a_refused_proof_does_not_use_up_its_jti() -> None:
    seen = MemorySeenOnce()
    proof = make_proof(new_key(), htm="POST")
    with pytest.raises(InvalidDpopProof):
        await verifier(seen=seen).verify([proof], method="GET", uri=URI)
    assert seen.kept == {}
    await verifier(seen=seen).verify([proof], method="POST", uri=URI)


async def test_check_hands_the_jti_back_unused_with_its_refusal() -> None:
    """For a caller that uses the jti up with the change the proof allows: every other
    check is made, nothing is recorded, and the value says how a replay is refused."""
    seen = MemorySeenOnce()
    proof = make_proof(new_key(), iat=NOW - 10)
    checked = verifier(seen=seen).check([proof], method="POST", uri=URI)
    assert seen.kept == {}
    jkt = checked.proof.jkt
    assert (checked.jti.scope, checked.jti.value, checked.jti.keep_until) == (
        DPOP_REPLAY_SCOPE,
        f"{jkt} proof-1-2Hq9Xw0d",
        NOW - 10 + 60 + 5,
    )
    assert isinstance(checked.jti.refusal, InvalidDpopProof)
    assert "used before" in checked.jti.refusal.description
    at_resource = verifier().check(
        [make_proof(new_key(), claims={"ath": access_token_hash(TOKEN)})],
        method="POST",
        uri=URI,
        access_token=TOKEN,
    )
    assert isinstance(at_resource.jti.refusal, InvalidDpopProofAtResource)
    assert await verifier(seen=seen).verify([proof], method="POST", uri=URI) == checked.proof
    with pytest.raises(InvalidDpopProof, match="used before"):
        await verifier(seen=seen).verify([proof], method="POST", uri=URI)


async def test_replays_are_refused_through_the_sql_record(engine: AsyncEngine) -> None:
    clock = FixedClock(NOW)
    checker = DpopProofVerifier(
        SqlSingleUse(engine, clock=clock), DpopNonces(SECRET, clock=clock), clock=clock
    )
    proof = make_proof(new_key())
    await checker.verify([proof], method="POST", uri=URI)
    with pytest.raises(InvalidDpopProof, match="used before"):
        await checker.verify([proof], method="POST", uri=URI)


# The DPoP header (checks 1 and 2)


async def test_a_request_without_a_proof_is_refused() -> None:
    assert "required" in (await refused([])).description


async def test_more_than_one_dpop_header_is_refused() -> None:
    key = new_key()
    error = await refused([make_proof(key), make_proof(key, jti="proof-2-2Hq9Xw0d")])
    assert "exactly one" in error.description


async def test_an_oversized_proof_is_refused_before_parsing() -> None:
    assert "too large" in (await refused(["a" * (8 * 1024 + 1)])).description
    small = verifier(policy=DpopPolicy(max_proof_bytes=512))
    proof = make_proof(new_key(), claims={"padding": "p" * 600})
    with pytest.raises(InvalidDpopProof, match="too large"):
        await small.verify([proof], method="POST", uri=URI)


@pytest.mark.parametrize(
    "value",
    [
        "not a jwt",
        "a.b",
        "e30.e30.e30.e30",
        "!!!.e30.AA",
        # Two proofs folded into one field value by a proxy.
        make_proof(new_key()) + ", " + make_proof(new_key()),
    ],
)
async def test_a_header_that_is_not_one_well_formed_jwt_is_refused(value: str) -> None:
    await refused([value])


async def test_a_header_in_lax_json_is_refused() -> None:
    key = new_key()
    jwk = json.dumps(public_jwk(key))
    duplicate = f'{{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":{jwk}}}'.encode()
    claims = {"jti": "j", "htm": "POST", "htu": URI, "iat": NOW}
    proof = encode_jws(duplicate, claims, lambda data: ES256.sign(key, data))
    await refused([proof])
    claims_bytes = b'{"jti":"j","htm":"POST","htu":"' + URI.encode() + b'","iat":NaN}'
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}
    await refused([encode_jws(header, claims_bytes, lambda data: ES256.sign(key, data))])


# typ, alg, jwk and the signature (checks 4 to 7)


@pytest.mark.parametrize("typ", [None, "jwt", "JWT", "dpop", "at+jwt"])
async def test_a_proof_not_typed_dpop_jwt_is_refused(typ: str | None) -> None:
    key = new_key()
    proof = make_proof(key, header={"typ": typ})
    assert "typ" in (await refused([proof])).description


async def test_the_typ_compares_as_a_media_type() -> None:
    proof = make_proof(new_key(), header={"typ": "application/DPoP+JWT"})
    await verifier().verify([proof], method="POST", uri=URI)


async def test_an_unsigned_proof_is_refused() -> None:
    key = new_key()
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(key)}
    claims = {"jti": "j", "htm": "POST", "htu": URI, "iat": NOW}
    proof = encode_jws(header, claims, lambda _: b"")
    assert "alg" in (await refused([proof])).description


async def test_an_hmac_proof_is_refused() -> None:
    key = new_key()
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": public_jwk(key)}
    claims = {"jti": "j", "htm": "POST", "htu": URI, "iat": NOW}
    assert "alg" in (await refused([hmac_signed(header, claims, SECRET)])).description


async def test_an_algorithm_outside_the_policy_is_refused() -> None:
    only_eddsa = verifier(policy=DpopPolicy(algorithms=frozenset({"EdDSA"})))
    with pytest.raises(InvalidDpopProof, match="alg is not one of EdDSA"):
        await only_eddsa.verify([make_proof(new_key())], method="POST", uri=URI)
    proof = make_proof(ed25519.Ed25519PrivateKey.generate())
    await only_eddsa.verify([proof], method="POST", uri=URI)


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["ES384", "ES512", "EdDSA"],
)
async def test_every_allowed_algorithm_verifies(key: Any) -> None:
    proof = await verifier().verify([make_proof(key)], method="POST", uri=URI)
    assert proof.jkt == jwk_thumbprint(public_jwk(key))


@pytest.mark.parametrize(
    "policy",
    [
        {"algorithms": frozenset({"ES256", "HS256"})},
        {"algorithms": frozenset({"none"})},
        {"algorithms": frozenset()},
        {"max_age": 86400},
        {"future_leeway": -1},
    ],
)
def test_a_policy_outside_the_rules_is_refused(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DpopPolicy(**policy)


async def test_a_proof_without_a_jwk_is_refused() -> None:
    key = new_key()
    assert "jwk" in (await refused([make_proof(key, header={"jwk": None})])).description
    proof = make_proof(key, header={"jwk": None, "kid": "some-key"})
    assert "jwk" in (await refused([proof])).description


async def test_a_jwk_with_a_private_key_is_refused() -> None:
    key = new_key()
    private_value = key.private_numbers().private_value.to_bytes(32, "big")
    jwk = {**public_jwk(key), "d": b64url_encode(private_value)}
    error = await refused([make_proof(key, header={"jwk": jwk})])
    assert "private key" in error.description


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        "not an object",
    ],
)
async def test_a_jwk_that_is_not_an_acceptable_public_key_is_refused(jwk: object) -> None:
    await refused([make_proof(new_key(), header={"jwk": jwk})])


async def test_a_signature_by_another_key_is_refused() -> None:
    proof = make_proof(new_key(), header={"jwk": public_jwk(new_key())})
    assert "signature" in (await refused([proof])).description


async def test_an_algorithm_that_disagrees_with_the_jwk_curve_is_refused() -> None:
    signing_key = ec.generate_private_key(ec.SECP384R1())
    header = {"typ": "dpop+jwt", "alg": "ES384", "jwk": public_jwk(new_key())}
    claims = {"jti": "j", "htm": "POST", "htu": URI, "iat": NOW}
    assert (
        "signature"
        in (await refused([sign_with_alg(signing_key, "ES384", header, claims)])).description
    )


async def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = make_proof(new_key()).split(".")
    claims = b64url_encode(json.dumps({"jti": "j", "htm": "POST", "htu": URI, "iat": NOW}).encode())
    await refused([f"{header}.{claims}.{signature}"])


# Claims (checks 3, 8, 9 and 11)


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
async def test_a_proof_lacking_a_required_claim_is_refused(claim: str) -> None:
    error = await refused([make_proof(new_key(), without=(claim,))])
    assert claim in error.description


@pytest.mark.parametrize(
    "claims",
    [{"jti": ""}, {"jti": 7}, {"iat": "1800000000"}, {"iat": True}, {"htm": ["POST"]}],
)
async def test_a_claim_of_the_wrong_type_is_refused(claims: dict[str, Any]) -> None:
    await refused([make_proof(new_key(), claims=claims)])


async def test_an_overlong_jti_is_refused() -> None:
    assert "jti" in (await refused([make_proof(new_key(), jti="j" * 129)])).description
    await verifier().verify([make_proof(new_key(), jti="j" * 128)], method="POST", uri=URI)


@pytest.mark.parametrize("htm", ["GET", "post", "PUT"])
async def test_a_proof_for_another_method_is_refused(htm: str) -> None:
    error = await refused([make_proof(new_key(), htm=htm)])
    assert "method" in error.description


@pytest.mark.parametrize(
    "htu",
    [
        "https://issuer.example.org/issuers/civil-registry/token",
        "https://issuer.example.org/issuers/transport-agency/credential",
        "http://issuer.example.org/issuers/civil-registry/credential",
        "https://issuer.example.org:8443/issuers/civil-registry/credential",
        "https://other.example.org/issuers/civil-registry/credential",
        "https://issuer.example.org/issuers/civil-registry/credential/",
        "https://issuer.example.org/issuers/civil-registry/../civil-registry/credential",
    ],
)
async def test_a_proof_for_another_uri_is_refused(htu: str) -> None:
    error = await refused([make_proof(new_key(), htu=htu)])
    assert "another URI" in error.description


@pytest.mark.parametrize(
    "htu",
    [
        "urn:example:credential",
        "https://user@issuer.example.org/issuers/civil-registry/credential",
        "https://issuer.example.org/issuers/civil-registry/cred\tential",
        "https://issuer.example.org:99999/issuers/civil-registry/credential",
        "https://issuer.example.org/issuers/civil-registry/%zzcredential",
        "https://issuer.example.org/" + "a" * 2100,
    ],
)
async def test_a_proof_with_an_invalid_htu_is_refused(htu: str) -> None:
    error = await refused([make_proof(new_key(), htu=htu)])
    assert "htu" in error.description


@pytest.mark.parametrize(
    "htu",
    [
        "HTTPS://ISSUER.example.org/issuers/civil-registry/credential",
        "https://issuer.example.org:443/issuers/civil-registry/credential",
        "https://issuer.example.org/issuers/civil%2Dregistry/credential",
        "https://issuer.example.org/issuers/civil-registry/credential?query=ignored#fragment",
    ],
)
async def test_a_proof_for_the_same_uri_written_otherwise_is_accepted(htu: str) -> None:
    await verifier().verify([make_proof(new_key(), htu=htu)], method="POST", uri=URI)


async def test_the_iat_must_fall_within_the_window() -> None:
    assert "too old" in (await refused([make_proof(new_key(), iat=NOW - 61)])).description
    assert "future" in (await refused([make_proof(new_key(), iat=NOW + 6)])).description
    for iat in (NOW - 60, NOW + 5, NOW - 0.5):
        await verifier().verify([make_proof(new_key(), iat=iat)], method="POST", uri=URI)
    strict = verifier(policy=DpopPolicy(max_age=10, future_leeway=0))
    with pytest.raises(InvalidDpopProof, match="too old"):
        await strict.verify([make_proof(new_key(), iat=NOW - 11)], method="POST", uri=URI)
    with pytest.raises(InvalidDpopProof, match="future"):
        await strict.verify([make_proof(new_key(), iat=NOW + 1)], method="POST", uri=URI)


# ath (check 12, §7)


async def test_a_proof_with_an_access_token_needs_its_ath() -> None:
    key = new_key()
    proof = make_proof(key, htm="GET")
    error = await refused([proof], method="GET", access_token=TOKEN)
    assert isinstance(error, InvalidDpopProofAtResource)
    assert "ath" in error.description
    wrong = make_proof(key, htm="GET", claims={"ath": access_token_hash("another-token")})
    error = await refused([wrong], method="GET", access_token=TOKEN)
    assert (error.status_code, error.challenge_scheme) == (401, "DPoP")
    right = make_proof(key, htm="GET", claims={"ath": access_token_hash(TOKEN)})
    result = await verifier().verify([right], method="GET", uri=URI, access_token=TOKEN)
    result.check_binding(jwk_thumbprint(public_jwk(key)))


async def test_refusals_at_the_token_endpoint_are_400_with_no_dpop_challenge() -> None:
    error = await refused([make_proof(new_key(), htm="GET")])
    assert type(error) is InvalidDpopProof
    assert error.status_code == 400
    assert error.to_body() == {
        "error": "invalid_dpop_proof",
        "error_description": "the DPoP proof is for another HTTP method",
    }


# Server nonces (check 10, §8, §9)


async def test_a_missing_nonce_is_answered_with_a_fresh_one_to_retry_with() -> None:
    key = new_key()
    checker = verifier()
    with pytest.raises(UseDpopNonce) as caught:
        await checker.verify([make_proof(key)], method="POST", uri=URI, nonce_server=SERVER)
    error = caught.value
    assert (type(error), error.status_code, error.error) == (UseDpopNonce, 400, "use_dpop_nonce")
    assert DpopNonces(SECRET, clock=FixedClock(NOW)).is_fresh(SERVER, error.dpop_nonce)
    retry = make_proof(key, jti="proof-2-2Hq9Xw0d", claims={"nonce": error.dpop_nonce})
    await checker.verify([retry], method="POST", uri=URI, nonce_server=SERVER)


async def test_a_stale_foreign_or_forged_nonce_is_answered_with_a_fresh_one() -> None:
    clock = FixedClock(NOW)
    nonces = DpopNonces(SECRET, clock=clock, lifetime=300)
    checker = DpopProofVerifier(MemorySeenOnce(), nonces, clock=clock)

    async def nonce_refused(nonce: object) -> None:
        proof = make_proof(new_key(), claims={"nonce": nonce}, iat=clock.now())
        with pytest.raises(UseDpopNonce, match="not valid or has expired") as caught:
            await checker.verify([proof], method="POST", uri=URI, nonce_server=SERVER)
        assert nonces.is_fresh(SERVER, caught.value.dpop_nonce)

    await nonce_refused(nonces.issue("https://issuer.example.org/issuers/transport-agency"))
    await nonce_refused(DpopNonces(b"o" * 32, clock=clock).issue(SERVER))
    await nonce_refused("eyJ7S_zG.eyJH0-Z.HX4w-7v")
    await nonce_refused(12345)
    nonce = nonces.issue(SERVER)
    clock.advance(299)
    proof = make_proof(new_key(), claims={"nonce": nonce}, iat=clock.now())
    await checker.verify([proof], method="POST", uri=URI, nonce_server=SERVER)
    clock.advance(1)
    await nonce_refused(nonce)


async def test_a_resource_asks_for_a_nonce_with_401() -> None:
    proof = make_proof(new_key(), htm="GET", claims={"ath": access_token_hash(TOKEN)})
    with pytest.raises(UseDpopNonceAtResource) as caught:
        await verifier().verify(
            [proof], method="GET", uri=URI, access_token=TOKEN, nonce_server=SERVER
        )
    assert (caught.value.status_code, caught.value.challenge_scheme) == (401, "DPoP")
    assert caught.value.to_body()["error"] == "use_dpop_nonce"


async def test_a_proof_refused_for_its_nonce_can_be_sent_again_with_one() -> None:
    """The nonce is checked before the jti is recorded: the client's retry with the same
    jti (a new proof carrying the nonce) is not taken for a replay."""
    key = new_key()
    checker = verifier()
    with pytest.raises(UseDpopNonce) as caught:
        await checker.verify([make_proof(key)], method="POST", uri=URI, nonce_server=SERVER)
    retry = make_proof(key, claims={"nonce": caught.value.dpop_nonce})
    await checker.verify([retry], method="POST", uri=URI, nonce_server=SERVER)
