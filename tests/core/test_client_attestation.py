"""Wallet attestations as client authentication (Attestation-Based Client Authentication
draft -07 and -10, OpenID4VCI 1.0 Appendix E, HAIP 1.0): each rule refused with its error
code, signed vectors made with a throwaway wallet-provider CA, and the specs' examples."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from msgspec import UNSET

from core.client_attestation import (
    CLIENT_ATTESTATION_POP_TYP,
    CLIENT_ATTESTATION_TYP,
    MAX_CLIENT_ATTESTATION_BYTES,
    POP_JTI_SCOPE,
    AttestationChallenges,
    AttestationStatus,
    AttestationStatusListReference,
    AttestedClient,
    ClientAttestationPolicy,
    ClientAttestationPresentation,
    ClientAttestationVerifier,
    VerifiedClientAttestation,
    WalletAttestationClaims,
    read_client_attestation_headers,
    read_concatenated_client_attestation,
)
from core.clock import FixedClock
from core.encoding import b64url_encode, json_dumps_bytes
from core.errors import (
    InvalidClient,
    InvalidClientAttestation,
    ProtocolError,
    UseAttestationChallenge,
    UseFreshAttestation,
)
from core.jose.jwk import jwk_thumbprint, public_key_from_jwk
from core.jose.jws import decode_unverified, sign_compact, verify_decoded
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    ValidatedChains,
    leaf_public_key,
    parse_x5c,
    to_x5c,
)
from core.messages import convert_message
from tests.support.wallet_provider import CLIENT_ID, PROVIDER, WalletProvider, new_instance
from tests.support.wallet_provider import pop as make_pop

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
AS_ISSUER = "https://id.example.gov/issuers/civil-registry"
SECRET = b"s" * 32
VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "client_attestation" / "examples.json").read_text()
)
#: Shared by every server of this module, as an agency shares one across requests: each
#: refusal below is decided with the providers' chains already remembered.
CHAINS = ValidatedChains()


class MemorySeenOnce:
    """``core.replay.SeenOnce`` in a dict, for these tests only."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], float] = {}

    async def first_use(self, scope: str, value: str, keep_until: float) -> bool:
        if (scope, value) in self.kept:
            return False
        self.kept[(scope, value)] = keep_until
        return True


def pop(signer: SoftwareSigner, *, typ: str = CLIENT_ATTESTATION_POP_TYP, **claims: Any) -> str:
    return make_pop(signer, audience=AS_ISSUER, issued_at=NOW.timestamp(), typ=typ, **claims)


@pytest.fixture(scope="module")
def provider() -> WalletProvider:
    return WalletProvider(now=NOW)


@pytest.fixture(scope="module")
def instance() -> SoftwareSigner:
    return new_instance()


class Server:
    def __init__(self, provider: WalletProvider, **policy: Any) -> None:
        self.clock = FixedClock(NOW.timestamp())
        self.seen = MemorySeenOnce()
        self.challenges = AttestationChallenges(SECRET, issuer=AS_ISSUER, clock=self.clock)
        self.verifier = ClientAttestationVerifier(
            ClientAttestationPolicy(
                issuer=AS_ISSUER, wallet_provider_anchors=(provider.root,), **policy
            ),
            seen_once=self.seen,
            challenges=self.challenges,
            clock=self.clock,
            chains=CHAINS,
        )

    async def verify(
        self, attestation: str, proof: str, client_id: str | None = CLIENT_ID
    ) -> AttestedClient:
        return await self.verifier.verify(
            ClientAttestationPresentation(attestation, proof), client_id=client_id
        )


async def refused(
    server: Server,
    attestation: str,
    proof: str,
    *,
    code: str = "invalid_client_attestation",
    client_id: str | None = CLIENT_ID,
) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        await server.verify(attestation, proof, client_id)
    assert caught.value.error == code, caught.value.description
    return caught.value


# -- accepted -------------------------------------------------------------------------


async def test_a_valid_attestation_and_pop_authenticate_the_wallet(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    attestation = provider.attest(instance, ecosystem_claim={"level": "high"})
    proof = pop(instance)
    attested = await server.verify(attestation, proof)
    assert attested.client_id == CLIENT_ID
    assert attested.wallet_provider == "Example Wallet Provider"
    assert attested.cnf_jkt == jwk_thumbprint(instance.public_jwk())
    claims = attested.attestation
    assert claims.iss == PROVIDER
    assert claims.wallet_name == "Citizen Wallet"
    assert claims.wallet_link == "https://wallet.example.eu/about"
    assert isinstance(claims.status, AttestationStatus)
    assert isinstance(claims.status.status_list, AttestationStatusListReference)
    assert claims.status.status_list.idx == 7
    # The jti is kept, under its scope, until the end of the PoP's freshness window.
    ((scope, _value), keep_until) = next(iter(server.seen.kept.items()))
    assert scope == POP_JTI_SCOPE
    assert keep_until == NOW.timestamp() + 300 + 60


async def test_without_a_client_id_parameter_the_client_id_is_the_sub(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    attested = await Server(provider).verify(provider.attest(instance), pop(instance), None)
    assert attested.client_id == CLIENT_ID


async def test_draft_07_and_draft_10_shapes_are_both_accepted(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    now = int(NOW.timestamp())
    # -07: iss in both JWTs (the PoP's is the client_id), nbf.
    draft_07 = provider.attest(instance, nbf=now - 60)
    await server.verify(draft_07, pop(instance, iss=CLIENT_ID, nbf=now - 5))
    # -10: no iss anywhere, no nbf.
    draft_10 = provider.attest(instance, iss=None, wallet_name=None, wallet_link=None, status=None)
    attested = await server.verify(draft_10, pop(instance))
    assert attested.attestation.iss is UNSET
    assert attested.attestation.wallet_name is UNSET


async def test_an_audience_array_of_this_server_alone_is_accepted(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    await Server(provider).verify(provider.attest(instance), pop(instance, aud=[AS_ISSUER]))


# -- the attestation ------------------------------------------------------------------


async def test_a_chain_to_an_unknown_root_is_refused(instance: SoftwareSigner) -> None:
    trusted, stranger = WalletProvider(), WalletProvider("Stranger")
    error = await refused(Server(trusted), stranger.attest(instance), pop(instance))
    assert isinstance(error, InvalidClient)
    assert error.status_code == 401
    assert "trusted wallet provider" in error.description


async def test_a_chain_that_carries_the_anchor_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    header = {"x5c": list(to_x5c([provider.certificate, provider.root]))}
    await refused(Server(provider), provider.attest(instance, header=header), pop(instance))


async def test_an_attestation_without_x5c_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    token = sign_compact(
        {"sub": CLIENT_ID, "exp": int(NOW.timestamp()) + 60, "cnf": {"jwk": instance.public_jwk()}},
        provider.signer,
        typ=CLIENT_ATTESTATION_TYP,
    )
    error = await refused(Server(provider), token, pop(instance))
    assert "x5c" in error.description


async def test_an_expired_attestation_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    now = int(NOW.timestamp())
    server = Server(provider)
    await refused(server, provider.attest(instance, iat=now - 7200, exp=now - 120), pop(instance))
    await refused(server, provider.attest(instance, exp=None), pop(instance))


@pytest.mark.parametrize(
    ("claims", "complaint"),
    [
        ({"nbf": int(NOW.timestamp()) + 3600}, "not yet valid"),
        ({"iat": int(NOW.timestamp()) + 3600}, "issued in the future"),
        ({"exp": "tomorrow"}, "exp must be a NumericDate"),
        ({"iat": True}, "iat must be a NumericDate"),
        ({"sub": ""}, "$.sub"),
        ({"sub": 42}, "$.sub"),
        ({"iss": 42}, "$.iss"),
        ({"wallet_name": ["X"]}, "$.wallet_name"),
        ({"status": {"status_list": {"idx": -1, "uri": "https://x"}}}, "$.status.status_list.idx"),
    ],
)
async def test_unsound_attestation_claims_are_refused(
    provider: WalletProvider, instance: SoftwareSigner, claims: dict[str, Any], complaint: str
) -> None:
    error = await refused(Server(provider), provider.attest(instance, **claims), pop(instance))
    assert complaint in error.description


async def test_a_sub_other_than_the_client_id_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    error = await refused(server, provider.attest(instance), pop(instance), client_id="other")
    assert "client_id" in error.description
    other = provider.attest(instance, sub="https://other-wallet.example.eu")
    await refused(server, other, pop(instance))


async def test_the_attestation_typ_and_alg_are_allow_listed(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    await refused(server, provider.attest(instance, typ="JWT"), pop(instance))
    await refused(server, provider.attest(instance, typ=CLIENT_ATTESTATION_POP_TYP), pop(instance))
    for alg in ("none", "HS256", "ES384"):
        signed = provider.attest(instance, header={"alg": alg})
        error = await refused(server, signed, pop(instance))
        assert "not allowed" in error.description


async def test_a_cnf_that_is_not_a_public_jwk_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    private = {**instance.public_jwk(), "d": b64url_encode(b"\x01" * 32)}
    await refused(server, provider.attest(instance, cnf={"jwk": private}), pop(instance))
    await refused(server, provider.attest(instance, cnf={"jwk": {"kty": "oct"}}), pop(instance))
    await refused(server, provider.attest(instance, cnf={"jkt": "abc"}), pop(instance))


async def test_an_attestation_older_than_the_policy_accepts_needs_a_fresh_one(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider, max_attestation_age=3600)
    now = int(NOW.timestamp())
    await server.verify(provider.attest(instance, iat=now - 3000), pop(instance))
    error = await refused(
        server,
        provider.attest(instance, iat=now - 4000),
        pop(instance),
        code="use_fresh_attestation",
    )
    assert isinstance(error, UseFreshAttestation)
    await refused(
        server, provider.attest(instance, iat=None), pop(instance), code="use_fresh_attestation"
    )


async def test_a_tampered_attestation_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    header, payload, signature = provider.attest(instance).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "https://forged.example"
    forged = f"{header}.{b64url_encode(json_dumps_bytes(claims))}.{signature}"
    await refused(Server(provider), forged, pop(instance), client_id=None)


async def test_a_remembered_chain_vouches_for_no_signature(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    """Once the provider's chain is remembered, an attestation carrying it is still
    refused when its own signature does not verify: tampered, or signed by another key."""
    server = Server(provider)
    await server.verify(provider.attest(instance), pop(instance))
    header, payload, signature = provider.attest(instance).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["cnf"] = {"jwk": new_instance().public_jwk()}
    forged = f"{header}.{b64url_encode(json_dumps_bytes(claims))}.{signature}"
    await refused(server, forged, pop(instance))
    impostor = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()), x5c=provider.signer.x5c)
    signed_by_another = sign_compact(
        json.loads(base64.urlsafe_b64decode(payload + "==")),
        impostor,
        typ=CLIENT_ATTESTATION_TYP,
        include_kid=False,
        include_x5c=True,
    )
    assert signed_by_another.split(".")[0] == header  # the same chain in the same header
    await refused(server, signed_by_another, pop(instance))


# -- the proof of possession ----------------------------------------------------------


async def test_a_pop_for_another_audience_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    attestation = provider.attest(instance)
    for aud in ("https://other-issuer.example", [AS_ISSUER, "https://other.example"], None):
        error = await refused(server, attestation, pop(instance, aud=aud))
        assert "aud" in error.description


async def test_a_pop_not_signed_by_the_cnf_key_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    error = await refused(Server(provider), provider.attest(instance), pop(new_instance()))
    assert "does not verify" in error.description


async def test_a_pop_jti_is_single_use(provider: WalletProvider, instance: SoftwareSigner) -> None:
    server = Server(provider)
    attestation, proof = provider.attest(instance), pop(instance)
    await server.verify(attestation, proof)
    error = await refused(server, attestation, proof)
    assert "used before" in error.description
    # The same jti from another wallet instance is that instance's own.
    other = new_instance()
    jti = json.loads(base64.urlsafe_b64decode(proof.split(".")[1] + "=="))["jti"]
    await server.verify(provider.attest(other), pop(other, jti=jti))


async def test_check_hands_the_pop_jti_back_unused_with_its_refusal(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    """For a caller that uses the jti up with the change the authentication allows."""
    server = Server(provider)
    presentation = ClientAttestationPresentation(provider.attest(instance), pop(instance))
    checked = server.verifier.check(presentation, client_id=CLIENT_ID)
    assert server.seen.kept == {}
    assert checked.client.client_id == CLIENT_ID
    assert checked.client.cnf_jkt == jwk_thumbprint(instance.public_jwk())
    assert checked.pop_jti.scope == POP_JTI_SCOPE
    assert checked.pop_jti.keep_until == NOW.timestamp() + 300 + 60
    assert isinstance(checked.pop_jti.refusal, InvalidClientAttestation)
    assert await server.verifier.verify(presentation, client_id=CLIENT_ID) == checked.client
    assert list(server.seen.kept) == [(POP_JTI_SCOPE, checked.pop_jti.value)]
    error = await refused(server, presentation.attestation, presentation.pop)
    assert "used before" in error.description


@pytest.mark.parametrize("jti", [None, "", 42, "x" * 257])
async def test_a_pop_without_a_sound_jti_is_refused(
    provider: WalletProvider, instance: SoftwareSigner, jti: object
) -> None:
    await refused(Server(provider), provider.attest(instance), pop(instance, jti=jti))


async def test_a_stale_or_future_pop_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    attestation = provider.attest(instance)
    now = int(NOW.timestamp())
    error = await refused(server, attestation, pop(instance, iat=now - 301))
    assert "too old" in error.description
    await server.verify(attestation, pop(instance, iat=now - 299))
    await refused(server, attestation, pop(instance, iat=now + 120))
    await refused(server, attestation, pop(instance, iat=None))
    await refused(server, attestation, pop(instance, nbf=now + 120))
    await refused(server, attestation, pop(instance, exp=now - 120))
    # Nothing refused was remembered: only the one accepted PoP's jti is kept.
    assert len(server.seen.kept) == 1


async def test_a_pop_iss_other_than_the_client_id_is_refused(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    error = await refused(
        Server(provider), provider.attest(instance), pop(instance, iss="https://other.example")
    )
    assert "iss" in error.description


async def test_the_pop_typ_and_alg_are_allow_listed(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    attestation = provider.attest(instance)
    await refused(server, attestation, pop(instance, typ=CLIENT_ATTESTATION_TYP))
    await refused(server, attestation, pop(instance, typ="dpop+jwt"))
    p384 = SoftwareSigner(ec.generate_private_key(ec.SECP384R1()))
    await refused(server, provider.attest(p384), pop(p384))
    allowing = Server(provider, pop_algorithms=frozenset({"ES256", "ES384"}))
    await allowing.verify(provider.attest(p384), pop(p384))


# -- challenges -----------------------------------------------------------------------


async def test_a_required_challenge_must_be_present_and_current(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider, challenge_required=True)
    attestation = provider.attest(instance)
    missing = await refused(server, attestation, pop(instance), code="use_attestation_challenge")
    assert isinstance(missing, UseAttestationChallenge)
    assert missing.status_code == 400
    # The error carries a fresh challenge for the OAuth-Client-Attestation-Challenge header.
    assert server.challenges.valid_until(missing.challenge) is not None
    await server.verify(attestation, pop(instance, challenge=missing.challenge))

    for wrong in ("5c1a9e10-29ff-4c2b-ae73-57c0957c09c4", 42, ""):
        await refused(
            server, attestation, pop(instance, challenge=wrong), code="use_attestation_challenge"
        )
    elsewhere = AttestationChallenges(SECRET, issuer="https://other.example", clock=server.clock)
    await refused(
        server,
        attestation,
        pop(instance, challenge=elsewhere.issue()),
        code="use_attestation_challenge",
    )
    other_secret = AttestationChallenges(b"t" * 32, issuer=AS_ISSUER, clock=server.clock)
    await refused(
        server,
        attestation,
        pop(instance, challenge=other_secret.issue()),
        code="use_attestation_challenge",
    )


async def test_a_challenge_expires(provider: WalletProvider, instance: SoftwareSigner) -> None:
    server = Server(provider, challenge_required=True)
    challenge = server.challenges.issue()
    server.clock.advance(301)
    proof = pop(instance, challenge=challenge, iat=int(server.clock.now()))
    await refused(server, provider.attest(instance), proof, code="use_attestation_challenge")


async def test_an_offered_challenge_is_checked_even_where_none_is_required(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    server = Server(provider)
    attestation = provider.attest(instance)
    await server.verify(attestation, pop(instance))
    await server.verify(attestation, pop(instance, challenge=server.challenges.issue()))
    await refused(
        server, attestation, pop(instance, challenge="made-up"), code="use_attestation_challenge"
    )


def test_challenges_need_a_real_secret_and_a_challenge_issuer_when_required(
    provider: WalletProvider,
) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        AttestationChallenges(b"short", issuer=AS_ISSUER)
    policy = ClientAttestationPolicy(
        issuer=AS_ISSUER, wallet_provider_anchors=(provider.root,), challenge_required=True
    )
    with pytest.raises(ValueError, match="challenge issuer"):
        ClientAttestationVerifier(policy, seen_once=MemorySeenOnce())


@pytest.mark.parametrize(
    "policy",
    [
        {"wallet_provider_anchors": ()},
        {"attestation_algorithms": frozenset({"HS256"})},
        {"pop_algorithms": frozenset({"none"})},
        {"pop_algorithms": frozenset()},
        {"pop_lifetime": 0},
    ],
)
def test_a_policy_allows_only_registered_algorithms_and_needs_anchors(
    provider: WalletProvider, policy: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        ClientAttestationPolicy(
            **{"issuer": AS_ISSUER, "wallet_provider_anchors": (provider.root,), **policy}
        )


# -- how the two JWTs arrive ----------------------------------------------------------


@pytest.mark.parametrize(
    ("attestation_name", "pop_name"),
    [
        ("OAuth-Client-Attestation", "OAuth-Client-Attestation-PoP"),
        ("oauth-client-attestation", "oauth-client-attestation-pop"),
        ("OAUTH-CLIENT-ATTESTATION", "OAUTH-CLIENT-ATTESTATION-POP"),
    ],
)
async def test_the_headers_are_read_whatever_the_case_of_their_names(
    provider: WalletProvider, instance: SoftwareSigner, attestation_name: str, pop_name: str
) -> None:
    attestation, proof = provider.attest(instance), pop(instance)
    headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        (attestation_name, attestation),
    ]
    headers.append((pop_name, f" {proof} "))
    presentation = read_client_attestation_headers(headers)
    assert presentation == ClientAttestationPresentation(attestation, proof)
    # ASGI hands over bytes.
    raw = [(name.encode(), value.encode()) for name, value in headers]
    assert read_client_attestation_headers(raw) == presentation
    await Server(provider).verify(presentation.attestation, presentation.pop)


async def test_the_concatenated_serialization_of_draft_07_is_read(
    provider: WalletProvider, instance: SoftwareSigner
) -> None:
    attestation, proof = provider.attest(instance), pop(instance)
    presentation = read_concatenated_client_attestation(f"{attestation}~{proof}")
    assert presentation == ClientAttestationPresentation(attestation, proof)
    await Server(provider).verify(presentation.attestation, presentation.pop)
    for value in (attestation, f"{attestation}~{proof}~", f"{attestation}~", "~" + proof):
        with pytest.raises(InvalidClientAttestation):
            read_concatenated_client_attestation(value)


def test_a_request_without_the_headers_uses_another_method() -> None:
    assert read_client_attestation_headers([("authorization", "Basic eDp5")]) is None


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        ([("OAuth-Client-Attestation", "a.b.c")], "PoP"),
        ([("OAuth-Client-Attestation", "a.b.c"), ("DPoP", "d.e.f")], "PoP"),
        ([("OAuth-Client-Attestation-PoP", "a.b.c")], "without"),
        (
            [
                ("OAuth-Client-Attestation", "a.b.c"),
                ("oauth-client-attestation", "a.b.c"),
                ("OAuth-Client-Attestation-PoP", "a.b.c"),
            ],
            "exactly one",
        ),
        (
            [
                ("OAuth-Client-Attestation", "a.b.c"),
                ("OAuth-Client-Attestation-PoP", "a.b.c"),
                ("OAuth-Client-Attestation-PoP", "d.e.f"),
                ("OAuth-Client-Attestation-PoP", "g.h.i"),
            ],
            "exactly one",
        ),
        (
            [
                ("OAuth-Client-Attestation", "a.b.c, d.e.f"),
                ("OAuth-Client-Attestation-PoP", "a.b.c"),
            ],
            "single compact JWT",
        ),
        (
            [("OAuth-Client-Attestation", "a.b"), ("OAuth-Client-Attestation-PoP", "a.b.c")],
            "single compact JWT",
        ),
        (
            [("OAuth-Client-Attestation", "a.b.c"), ("OAuth-Client-Attestation-PoP", "")],
            "single compact JWT",
        ),
        (
            [
                ("OAuth-Client-Attestation", "a." * MAX_CLIENT_ATTESTATION_BYTES),
                ("OAuth-Client-Attestation-PoP", "a.b.c"),
            ],
            "larger than",
        ),
        (
            [("OAuth-Client-Attestation", "a.b.c"), ("OAuth-Client-Attestation-PoP", "a" * 5000)],
            "larger than",
        ),
    ],
)
def test_malformed_header_fields_are_refused(
    headers: list[tuple[str, str]], complaint: str
) -> None:
    with pytest.raises(InvalidClientAttestation) as caught:
        read_client_attestation_headers(headers)
    assert complaint in caught.value.description
    assert caught.value.status_code == 401


async def test_a_header_value_that_is_not_a_jwt_is_refused(provider: WalletProvider) -> None:
    error = await refused(Server(provider), "a.b.c", "a.b.c")
    assert "well-formed" in error.description


# -- the specifications' examples -----------------------------------------------------


def test_the_openid4vci_wallet_attestation_example_reads_as_the_claims_struct() -> None:
    vector = VECTORS["openid4vci_appendix_e"]
    parsed = decode_unverified(vector["jwt"])
    assert parsed.header["typ"] == CLIENT_ATTESTATION_TYP
    # Its signature verifies with the (self-signed) certificate it carries.
    (certificate,) = parse_x5c(parsed.header["x5c"])
    verified = verify_decoded(
        parsed, leaf_public_key(certificate), algorithms={"ES256"}, typ=CLIENT_ATTESTATION_TYP
    )
    claims = convert_message(verified.payload, WalletAttestationClaims)
    for name, value in vector["claims"].items():
        assert getattr(claims, name) == value
    assert public_key_from_jwk(claims.cnf.jwk) is not None


async def test_the_openid4vci_example_is_refused_for_its_self_signed_chain() -> None:
    vector = VECTORS["openid4vci_appendix_e"]
    (certificate,) = parse_x5c(decode_unverified(vector["jwt"]).header["x5c"])
    server = Server(WalletProvider())
    server.clock.at = vector["claims"]["nbf"] + 60
    verifier = ClientAttestationVerifier(
        ClientAttestationPolicy(issuer=AS_ISSUER, wallet_provider_anchors=(certificate,)),
        seen_once=server.seen,
        clock=server.clock,
    )
    with pytest.raises(InvalidClientAttestation, match="trusted wallet provider"):
        verifier.verify_attestation(vector["jwt"], client_id=vector["claims"]["sub"])


async def test_the_draft_10_pop_example_verifies_with_its_attestation_cnf() -> None:
    vector = VECTORS["draft_10_headers"]
    attestation_payload = json.loads(
        base64.urlsafe_b64decode(vector["attestation"].split(".")[1] + "==")
    )
    claims = convert_message(attestation_payload, WalletAttestationClaims)
    key = public_key_from_jwk(claims.cnf.jwk)
    attested = VerifiedClientAttestation(
        claims=claims,
        wallet_provider_certificate=WalletProvider().certificate,
        instance_key=key,
        instance_key_thumbprint=jwk_thumbprint(claims.cnf.jwk),
    )
    clock = FixedClock(1772487595 + 10)
    seen = MemorySeenOnce()
    verifier = ClientAttestationVerifier(
        ClientAttestationPolicy(
            issuer=vector["audience"], wallet_provider_anchors=(WalletProvider().root,)
        ),
        seen_once=seen,
        clock=clock,
    )
    await verifier.verify_pop(vector["pop"], attested)
    assert len(seen.kept) == 1
    with pytest.raises(InvalidClientAttestation, match="used before"):
        await verifier.verify_pop(vector["pop"], attested)
    # The same PoP presented to a server that issues challenges: the example's challenge is
    # not one of ours.
    strict = ClientAttestationVerifier(
        ClientAttestationPolicy(
            issuer=vector["audience"], wallet_provider_anchors=(WalletProvider().root,)
        ),
        seen_once=MemorySeenOnce(),
        challenges=AttestationChallenges(SECRET, issuer=vector["audience"], clock=clock),
        clock=clock,
    )
    with pytest.raises(UseAttestationChallenge):
        await strict.verify_pop(vector["pop"], attested)
