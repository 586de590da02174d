"""Key attestations at the Credential Endpoint (OpenID4VCI 1.0 Appendix D, F.1, F.3;
§12.2.4 ``key_attestations_required``), over HTTP on SQLite and PostgreSQL: the national ID
is made to require them in the test (the demo catalog does not), with a throwaway wallet
provider's root among the issuer's trusted anchors."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from core.encoding import b64url_decode, b64url_encode, json_dumps_bytes
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from issuers.domain import KeyAttestationRequirement
from issuers.services.context import IssuerContext
from issuers.services.metadata import BATCH_SIZE
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.invariants import count_rows
from tests.support.key_attestations import NO_EXP, WalletProvider

ISSUER = f"{PUBLIC_BASE_URL}/issuers/civil-registry"
#: A credential that requires no key attestation.
LICENCE = ("transport-agency", "driving_licence")
LICENCE_ISSUER = f"{PUBLIC_BASE_URL}/issuers/transport-agency"
REQUIREMENT = KeyAttestationRequirement(key_storage=("iso_18045_high", "iso_18045_moderate"))


@pytest.fixture(scope="module")
def provider() -> WalletProvider:
    return WalletProvider.create()


def _trusting(client: TestClient[Any], provider: WalletProvider | None = None) -> None:
    """The issuer trusts ``provider`` for key attestations, and no other (not even the
    deployment's own wallet provider); None: it trusts none."""
    context: IssuerContext = client.app.state.issuers
    client.app.state.issuers = dataclasses.replace(
        context, wallet_provider_anchors=() if provider is None else (provider.anchor,)
    )


def _requiring(
    client: TestClient[Any],
    provider: WalletProvider,
    requirement: KeyAttestationRequirement = REQUIREMENT,
) -> None:
    """The national ID requires key attestations meeting ``requirement``."""
    _trusting(client, provider)
    context: IssuerContext = client.app.state.issuers
    agency = context.agencies["civil-registry"]
    national_id = dataclasses.replace(
        agency.configurations["national_id"], key_attestations_required=requirement
    )
    agency = dataclasses.replace(
        agency, configurations={**agency.configurations, "national_id": national_id}
    )
    client.app.state.issuers = dataclasses.replace(
        context, agencies={**context.agencies, agency.issuer_id: agency}
    )


@dataclasses.dataclass
class _Session:
    """An access token for an offer, and a fresh ``c_nonce``."""

    wallet: Wallet
    metadata: dict[str, Any]
    access_token: str
    nonce: str
    configuration_id: str

    @classmethod
    def start(
        cls,
        client: TestClient[Any],
        issuer_id: str = "civil-registry",
        configuration_id: str = "national_id",
    ) -> _Session:
        claims = CITIZEN if configuration_id == "national_id" else DRIVER
        created = create_offer(client, issuer_id, configuration_id, claims)
        offer = read_offer(client, created["offer_uri"])
        wallet = Wallet(client)
        metadata = wallet.metadata(offer["credential_issuer"])
        token = wallet.token(offer)
        assert token.status_code == 200, token.text
        nonce = wallet.nonce(metadata)
        return cls(wallet, metadata, token.json()["access_token"], nonce, configuration_id)

    def request(self, proofs: Mapping[str, list[Any]]) -> Any:
        return self.wallet.credential(
            self.metadata,
            self.access_token,
            {"credential_configuration_id": self.configuration_id, "proofs": dict(proofs)},
        )


def _holder() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))


def _attested_proof(
    holder: SoftwareSigner, nonce: str, attestation: str, audience: str = ISSUER
) -> str:
    return proof(holder, audience, nonce, header={"key_attestation": attestation})


def _bound_keys(response: Any) -> list[dict[str, Any]]:
    """The ``cnf.jwk`` of each issued credential."""
    assert response.status_code == 200, response.text
    keys = []
    for issued in response.json()["credentials"]:
        issuer_signed = issued["credential"].split("~", 1)[0]
        payload = json.loads(b64url_decode(issuer_signed.split(".")[1]))
        keys.append(payload["cnf"]["jwk"])
    return keys


def _issued(client: TestClient[Any]) -> int:
    url = client.app.state.deployment.settings.database_url
    return count_rows(url, "SELECT count(*) FROM issuer_credentials")


def _refused(client: TestClient[Any], response: Any, error: str, description: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error, body
    assert description in body["error_description"], body
    assert _issued(client) == 0


def test_the_metadata_states_the_requirement_for_both_proof_types(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    metadata = Wallet(client).metadata(ISSUER)
    proof_types = metadata["credential_configurations_supported"]["national_id"][
        "proof_types_supported"
    ]
    expected = {
        "proof_signing_alg_values_supported": ["ES256"],
        "key_attestations_required": {"key_storage": ["iso_18045_high", "iso_18045_moderate"]},
    }
    assert proof_types == {"jwt": expected, "attestation": expected}
    _requiring(client, provider, KeyAttestationRequirement())
    metadata = Wallet(client).metadata(ISSUER)
    proof_types = metadata["credential_configurations_supported"]["national_id"][
        "proof_types_supported"
    ]
    assert proof_types["attestation"]["key_attestations_required"] == {}


def test_an_attested_jwt_proof_binds_a_credential_to_each_attested_key_its_own_first(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    """Appendix F.1: the issuer SHOULD issue a credential for each key in attested_keys."""
    _requiring(client, provider)
    session = _Session.start(client)
    holder, other = _holder(), _holder()
    attestation = provider.attest([other.public_jwk(), holder.public_jwk()], nonce=session.nonce)
    response = session.request({"jwt": [_attested_proof(holder, session.nonce, attestation)]})
    assert _bound_keys(response) == [holder.public_jwk(), other.public_jwk()]


def test_a_did_jwk_proof_key_is_matched_against_the_attested_keys(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    session = _Session.start(client)
    holder = _holder()
    attestation = provider.attest([holder.public_jwk()], nonce=session.nonce)
    kid = "did:jwk:" + b64url_encode(json_dumps_bytes(holder.public_jwk())) + "#0"
    signed = sign_compact(
        {"aud": ISSUER, "iat": int(time.time()), "nonce": session.nonce},
        holder,
        typ="openid4vci-proof+jwt",
        header={"kid": kid, "key_attestation": attestation},
        include_kid=False,
    )
    assert _bound_keys(session.request({"jwt": [signed]})) == [holder.public_jwk()]


def test_a_batch_of_jwt_proofs_may_share_one_attestation(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    session = _Session.start(client)
    holders = [_holder() for _ in range(3)]
    attestation = provider.attest([h.public_jwk() for h in holders], nonce=session.nonce)
    proofs = [_attested_proof(h, session.nonce, attestation) for h in holders]
    bound = _bound_keys(session.request({"jwt": proofs}))
    assert bound == [h.public_jwk() for h in holders]


def test_the_attestation_proof_type_issues_one_credential_per_attested_key(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    session = _Session.start(client)
    keys = [_holder().public_jwk() for _ in range(3)]
    response = session.request({"attestation": [provider.attest(keys, nonce=session.nonce)]})
    assert _bound_keys(response) == keys
    assert _issued(client) == 3


def test_an_attestation_proof_binds_at_most_the_batch_size(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    session = _Session.start(client)
    keys = [_holder().public_jwk() for _ in range(BATCH_SIZE + 2)]
    response = session.request({"attestation": [provider.attest(keys, nonce=session.nonce)]})
    assert _bound_keys(response) == keys[:BATCH_SIZE]


def test_an_attestation_proof_uses_its_c_nonce_up(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    first = _Session.start(client)
    attestation = provider.attest([_holder().public_jwk()], nonce=first.nonce)
    assert first.request({"attestation": [attestation]}).status_code == 200
    second = _Session.start(client)
    again = second.request({"attestation": [attestation]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_nonce"


def _holder_and_attestation(
    provider: WalletProvider, nonce: str, **options: Any
) -> tuple[SoftwareSigner, str]:
    holder = _holder()
    return holder, provider.attest([holder.public_jwk()], nonce=nonce, **options)


@pytest.mark.parametrize(
    ("case", "description"),
    [
        ("no attestation", "this credential needs a key attestation for each key"),
        ("untrusted chain", "does not lead to a trusted wallet provider"),
        ("stale iat", "the key attestation is too old"),
        ("proof key not attested", "the proof's key is not among"),
        ("insufficient key_storage", "(key_storage one of iso_18045_high, iso_18045_moderate)"),
        ("no user_authentication", "(user_authentication one of iso_18045_high)"),
        ("attestation without nonce", "no c_nonce"),
        ("attestation without exp", "needs exp"),
        ("one of two proofs unattested", "this credential needs a key attestation"),
    ],
)
def test_a_jwt_proof_without_an_acceptable_attestation_is_refused(
    client: TestClient[Any], provider: WalletProvider, case: str, description: str
) -> None:
    requirement = REQUIREMENT
    if case == "no user_authentication":
        requirement = KeyAttestationRequirement(user_authentication=("iso_18045_high",))
    _requiring(client, provider, requirement)
    session = _Session.start(client)
    nonce = session.nonce
    holder, attestation = _holder_and_attestation(provider, nonce)
    proofs = [_attested_proof(holder, nonce, attestation)]
    if case == "no attestation":
        proofs = [proof(holder, ISSUER, nonce, attested=False)]
    elif case == "untrusted chain":
        holder, attestation = _holder_and_attestation(WalletProvider.create("Unknown"), nonce)
        proofs = [_attested_proof(holder, nonce, attestation)]
    elif case == "stale iat":
        holder, attestation = _holder_and_attestation(provider, nonce, iat=time.time() - 3600)
        proofs = [_attested_proof(holder, nonce, attestation)]
    elif case == "proof key not attested":
        proofs = [_attested_proof(_holder(), nonce, attestation)]
    elif case == "insufficient key_storage":
        holder, attestation = _holder_and_attestation(
            provider, nonce, key_storage=["iso_18045_basic"]
        )
        proofs = [_attested_proof(holder, nonce, attestation)]
    elif case == "attestation without nonce":
        holder, attestation = _holder_and_attestation(provider, None)  # type: ignore[arg-type]
        proofs = [_attested_proof(holder, nonce, attestation)]
    elif case == "attestation without exp":
        holder, attestation = _holder_and_attestation(provider, nonce, exp=NO_EXP)
        proofs = [_attested_proof(holder, nonce, attestation)]
    elif case == "one of two proofs unattested":
        proofs.append(proof(_holder(), ISSUER, nonce, attested=False))
    _refused(client, session.request({"jwt": proofs}), "invalid_proof", description)
    # Nothing was issued and the access token is still good for an acceptable proof.
    good_holder, good = _holder_and_attestation(
        provider, nonce, key_storage=["iso_18045_high"], user_authentication=["iso_18045_high"]
    )
    response = session.request({"jwt": [_attested_proof(good_holder, nonce, good)]})
    assert _bound_keys(response) == [good_holder.public_jwk()]


def _attestation_for_case(
    case: str, provider: WalletProvider, nonce: str, keys: Sequence[dict[str, str]]
) -> str:
    if case == "untrusted chain":
        return WalletProvider.create("Unknown").attest(keys, nonce=nonce)
    if case == "stale iat":
        return provider.attest(keys, nonce=nonce, iat=time.time() - 3600)
    if case == "insufficient key_storage":
        return provider.attest(keys, nonce=nonce, key_storage=["iso_18045_enhanced-basic"])
    if case == "no nonce":
        return provider.attest(keys)
    if case == "key for another algorithm":
        p384 = SoftwareSigner(ec.generate_private_key(ec.SECP384R1())).public_jwk()
        return provider.attest([*keys, p384], nonce=nonce)
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "description"),
    [
        ("untrusted chain", "does not lead to a trusted wallet provider"),
        ("stale iat", "the key attestation is too old"),
        ("insufficient key_storage", "(key_storage one of iso_18045_high, iso_18045_moderate)"),
        ("no nonce", "no c_nonce"),
        ("key for another algorithm", "attested_keys[1] is not a key for ES256"),
    ],
)
def test_an_unacceptable_attestation_proof_is_refused(
    client: TestClient[Any], provider: WalletProvider, case: str, description: str
) -> None:
    _requiring(client, provider)
    session = _Session.start(client)
    keys = [_holder().public_jwk()]
    attestation = _attestation_for_case(case, provider, session.nonce, keys)
    _refused(client, session.request({"attestation": [attestation]}), "invalid_proof", description)


def test_an_attestation_proof_with_a_foreign_c_nonce_is_invalid_nonce(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _requiring(client, provider)
    session = _Session.start(client)
    transport = Wallet(client).metadata(f"{PUBLIC_BASE_URL}/issuers/transport-agency")
    foreign = session.wallet.nonce(transport)
    attestation = provider.attest([_holder().public_jwk()], nonce=foreign)
    _refused(client, session.request({"attestation": [attestation]}), "invalid_nonce", "c_nonce")


def test_the_attestation_proof_type_is_refused_where_none_is_required(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    _trusting(client, provider)
    session = _Session.start(client, *LICENCE)
    attestation = provider.attest([_holder().public_jwk()], nonce=session.nonce)
    _refused(
        client,
        session.request({"attestation": [attestation]}),
        "invalid_proof",
        "accepts the proof types jwt",
    )


def test_an_attestation_sent_where_none_is_required_is_still_checked(
    client: TestClient[Any], provider: WalletProvider
) -> None:
    """A proof stating more than it needs to is refused when that statement is false."""
    _trusting(client)  # no wallet provider trusted at all
    session = _Session.start(client, *LICENCE)
    holder, attestation = _holder_and_attestation(provider, session.nonce)
    attested = _attested_proof(holder, session.nonce, attestation, LICENCE_ISSUER)
    _refused(
        client,
        session.request({"jwt": [attested]}),
        "invalid_proof",
        "no wallet provider is trusted",
    )
    _trusting(client, provider)
    response = session.request({"jwt": [attested]})
    assert _bound_keys(response) == [holder.public_jwk()]
