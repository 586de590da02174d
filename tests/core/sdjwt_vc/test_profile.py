"""SD-JWT VC: issuing with the profile rules, verifying with issuer keys discovered by
x5c or JWT VC Issuer Metadata (SECURITY-CASES V10, V17), type metadata."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.clock import FixedClock
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)
from core.sdjwt.errors import UnexpectedKeyBinding
from core.sdjwt.key_binding import KeyBindingRequest, bind
from core.sdjwt.present import present
from core.sdjwt.verify import KeyBindingPolicy
from core.sdjwt_vc.issuer_keys import (
    IssuerKeyError,
    IssuerKeyPolicy,
    MetadataIssuerKeys,
    X5cIssuerKeys,
    jwt_vc_issuer_metadata_url,
)
from core.sdjwt_vc.profile import SdJwtVcError, issue_sd_jwt_vc, verify_sd_jwt_vc
from core.sdjwt_vc.type_metadata import TypeMetadataError, parse_type_metadata
from core.status_list.token import StatusReference

NOW = dt.datetime.now(dt.UTC)
ISS = "https://id.example.gov/issuers/civil-registry"
VCT = "https://id.example.gov/credentials/national_id"
AUD = "x509_hash:abc"
NONCE = "nonce-0123456789abcdef"
VECTORS = Path(__file__).parents[2] / "vectors" / "sdjwt"


class Deployment:
    def __init__(self) -> None:
        self.anchor_key = ec.generate_private_key(ec.SECP256R1())
        self.anchor = create_trust_anchor(
            SoftwareSigner(self.anchor_key), common_name="Test anchor", now=NOW
        )

    def issuer(self, uris: tuple[str, ...] = (ISS,), dns: tuple[str, ...] = ()) -> SoftwareSigner:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue_access_certificate(
            AccessCertificateRequest(common_name="Civil Registry", uris=uris, dns_names=dns),
            key.public_key(),
            anchor_signer=SoftwareSigner(self.anchor_key),
            anchor=self.anchor,
            now=NOW,
        )
        return SoftwareSigner(key, x5c=to_x5c([cert]))


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment()


HOLDER = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))


def _issue(signer: SoftwareSigner, **overrides: Any) -> str:
    options: dict[str, Any] = {
        "vct": VCT,
        "issuer": ISS,
        "holder_jwk": HOLDER.public_jwk(),
        "disclosable": [("given_name",), ("age_over_18",)],
        "issued_at": int(time.time()),
        "expires_at": int(time.time()) + 86400,
        "status": StatusReference(12, "https://id.example.gov/status/1"),
    }
    options.update(overrides)
    return issue_sd_jwt_vc(
        {"given_name": "Erika", "age_over_18": True}, signer, **options
    ).serialize()


def _present(issued: str, paths: list[tuple[str, ...]]) -> str:
    parts = present(issued, paths)
    return bind(parts.sd_jwt, KeyBindingRequest(AUD, NONCE, int(time.time())), HOLDER)


async def test_issue_present_verify_with_x5c(deployment: Deployment) -> None:
    issued = _issue(deployment.issuer())
    keys = X5cIssuerKeys([deployment.anchor])
    held = await verify_sd_jwt_vc(issued, issuer_keys=keys, key_binding=None, issued=True)
    assert held.claims["given_name"] == "Erika"
    credential = await verify_sd_jwt_vc(
        _present(issued, [("age_over_18",)]),
        issuer_keys=keys,
        key_binding=KeyBindingPolicy(audience=AUD, nonce=NONCE),
    )
    assert credential.vct == VCT
    assert credential.issuer == ISS
    assert credential.status == StatusReference(12, "https://id.example.gov/status/1")
    assert credential.claims["age_over_18"] is True
    assert "given_name" not in credential.claims
    assert credential.issuer_key.method == "x5c"


async def test_holder_refuses_a_credential_that_arrives_with_key_binding(
    deployment: Deployment,
) -> None:
    presented = _present(_issue(deployment.issuer()), [("age_over_18",)])
    with pytest.raises(UnexpectedKeyBinding):
        await verify_sd_jwt_vc(
            presented, issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None, issued=True
        )


async def test_v17_chain_to_an_unknown_root(deployment: Deployment) -> None:
    other = Deployment()
    issued = _issue(other.issuer())
    with pytest.raises(IssuerKeyError):
        await verify_sd_jwt_vc(
            issued, issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )


async def test_v17_self_signed_leaf(deployment: Deployment) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    self_signed = create_trust_anchor(SoftwareSigner(key), common_name="Me", now=NOW)
    issued = _issue(SoftwareSigner(key, x5c=to_x5c([self_signed])))
    with pytest.raises(IssuerKeyError):
        await verify_sd_jwt_vc(
            issued, issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )


async def test_v17_x5c_and_iss_naming_different_issuers(deployment: Deployment) -> None:
    issued = _issue(deployment.issuer(uris=("https://other.example.gov/issuers/transport",)))
    with pytest.raises(IssuerKeyError, match="iss"):
        await verify_sd_jwt_vc(
            issued, issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )


async def test_x5c_dns_name_may_name_the_issuer_host(deployment: Deployment) -> None:
    issued = _issue(deployment.issuer(uris=(), dns=("id.example.gov",)))
    credential = await verify_sd_jwt_vc(
        issued, issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
    )
    assert credential.issuer == ISS


async def test_signature_by_another_key_than_the_certificate(deployment: Deployment) -> None:
    certified = deployment.issuer()
    impostor = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()), x5c=certified.x5c)
    with pytest.raises(Exception) as raised:
        await verify_sd_jwt_vc(
            _issue(impostor), issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )
    assert "does not verify" in str(raised.value)


def test_never_disclosable_claims_cannot_be_made_disclosable(deployment: Deployment) -> None:
    for path in [("iss",), ("vct",), ("cnf",), ("status",), ("exp",), ("iat",)]:
        with pytest.raises(SdJwtVcError):
            _issue(deployment.issuer(), disclosable=[path])
    with pytest.raises(SdJwtVcError):
        issue_sd_jwt_vc(
            {"vct": "urn:evil"},
            deployment.issuer(),
            vct=VCT,
            issuer=ISS,
            holder_jwk=None,
            disclosable=[],
            issued_at=1,
        )


async def test_v10_a_disclosed_registered_claim_is_refused(deployment: Deployment) -> None:
    # An issuer (not ours) that hides "status" behind a Disclosure: the verifier refuses it.
    from core.sdjwt.issue import issue_sd_jwt

    signer = deployment.issuer()
    claims = {
        "iss": ISS,
        "vct": VCT,
        "cnf": {"jwk": HOLDER.public_jwk()},
        "status": {"status_list": {"idx": 1, "uri": "u"}},
    }
    issued = issue_sd_jwt(
        claims, signer, disclosable=[("status",)], typ="dc+sd-jwt", include_x5c=True
    ).serialize()
    with pytest.raises(SdJwtVcError, match="status"):
        await verify_sd_jwt_vc(
            issued, issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )


async def test_vct_is_required(deployment: Deployment) -> None:
    signer = deployment.issuer()
    jwt = sign_compact(
        {"iss": ISS, "cnf": {"jwk": HOLDER.public_jwk()}}, signer, typ="dc+sd-jwt", include_x5c=True
    )
    with pytest.raises(SdJwtVcError, match="vct"):
        await verify_sd_jwt_vc(
            jwt + "~", issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )


async def test_wrong_typ_is_refused(deployment: Deployment) -> None:
    signer = deployment.issuer()
    jwt = sign_compact({"iss": ISS, "vct": VCT}, signer, typ="vc+sd-jwt", include_x5c=True)
    with pytest.raises(Exception, match="typ"):
        await verify_sd_jwt_vc(
            jwt + "~", issuer_keys=X5cIssuerKeys([deployment.anchor]), key_binding=None
        )


# JWT VC Issuer Metadata (§4)
def test_metadata_url_construction() -> None:
    assert (
        jwt_vc_issuer_metadata_url("https://example.com")
        == "https://example.com/.well-known/jwt-vc-issuer"
    )
    assert (
        jwt_vc_issuer_metadata_url("https://example.com/tenant/1234/")
        == "https://example.com/.well-known/jwt-vc-issuer/tenant/1234"
    )
    for bad in [
        "http://example.com",
        "https://example.com/?q=1",
        "https://example.com/#f",
        "example.com",
    ]:
        with pytest.raises(IssuerKeyError):
            jwt_vc_issuer_metadata_url(bad)


def _fetcher(documents: dict[str, Any]) -> Any:
    async def fetch(url: str) -> Any:
        if url not in documents:
            raise IssuerKeyError(f"no document at {url}")
        return documents[url]

    return fetch


async def test_spec_example_verifies_through_issuer_metadata() -> None:
    vectors = json.loads((VECTORS / "sd_jwt_vc_examples.json").read_text())
    case = next(c for c in vectors["cases"] if c["name"] == "vc_presentation_with_key_binding")
    # The example credential names iss https://example.com/issuer; the §4.2 example metadata
    # is for https://example.com. Serve the same key set for the credential's issuer.
    metadata = {**vectors["jwt_vc_issuer_metadata"], "issuer": "https://example.com/issuer"}
    keys = MetadataIssuerKeys(
        _fetcher({"https://example.com/.well-known/jwt-vc-issuer/issuer": metadata})
    )
    credential = await verify_sd_jwt_vc(
        case["sd_jwt"],
        issuer_keys=IssuerKeyPolicy(metadata=keys),
        key_binding=KeyBindingPolicy(
            audience=case["key_binding"]["aud"], nonce=case["key_binding"]["nonce"]
        ),
        clock=FixedClock(case["key_binding"]["at"]),
    )
    assert credential.claims == case["expected_claims"]
    assert credential.issuer_key.method == "jwt-vc-issuer-metadata"


@pytest.mark.parametrize(
    "metadata",
    [
        {"issuer": "https://example.com", "jwks": {"keys": []}},  # V17: issuer differs from iss
        {"issuer": "https://example.com/issuer"},  # neither jwks nor jwks_uri
        {
            "issuer": "https://example.com/issuer",
            "jwks": {"keys": []},
            "jwks_uri": "https://example.com/jwks",
        },
        {"issuer": "https://example.com/issuer", "jwks_uri": "http://example.com/jwks"},
        {"issuer": "https://example.com/issuer", "jwks": {"keys": []}},  # kid not found
        {"issuer": "https://example.com/issuer", "jwks": "nope"},
        ["not", "an", "object"],
    ],
)
async def test_v17_bad_issuer_metadata(metadata: Any) -> None:
    vectors = json.loads((VECTORS / "sd_jwt_vc_examples.json").read_text())
    case = next(c for c in vectors["cases"] if c["name"] == "vc_issuance")
    keys = MetadataIssuerKeys(
        _fetcher({"https://example.com/.well-known/jwt-vc-issuer/issuer": metadata})
    )
    with pytest.raises(IssuerKeyError):
        await verify_sd_jwt_vc(
            case["sd_jwt"], issuer_keys=keys, key_binding=None, clock=FixedClock(1_700_000_000)
        )


async def test_policy_refuses_mechanisms_it_does_not_permit(deployment: Deployment) -> None:
    issued = _issue(deployment.issuer())
    metadata_only = IssuerKeyPolicy(metadata=MetadataIssuerKeys(_fetcher({})))
    with pytest.raises(IssuerKeyError, match="not a permitted"):
        await verify_sd_jwt_vc(issued, issuer_keys=metadata_only, key_binding=None)
    no_x5c = _issue(SoftwareSigner(ec.generate_private_key(ec.SECP256R1())), include_x5c=False)
    x5c_only = IssuerKeyPolicy(x5c=X5cIssuerKeys([deployment.anchor]))
    with pytest.raises(IssuerKeyError):
        await verify_sd_jwt_vc(no_x5c, issuer_keys=x5c_only, key_binding=None)


# Type Metadata (§5)
TYPE_METADATA = {
    "vct": VCT,
    "name": "National ID",
    "display": [
        {"locale": "en-GB", "name": "National identity card"},
        {"locale": "de", "name": "Personalausweis", "description": "Amtlicher Ausweis"},
    ],
    "claims": [
        {
            "path": ["given_name"],
            "display": [
                {"locale": "en", "label": "Given name"},
                {"locale": "de", "label": "Vorname"},
            ],
            "sd": "always",
        },
        {"path": ["address", "locality"], "mandatory": True},
    ],
    "unknown_future_member": {"ignored": True},
}


def test_type_metadata_display_by_locale() -> None:
    metadata = parse_type_metadata(TYPE_METADATA, expected_vct=VCT)
    assert metadata.display_for(["de-AT"]).name == "Personalausweis"  # type: ignore[union-attr]
    assert metadata.display_for(["fr"]).name == "National identity card"  # type: ignore[union-attr]
    claim = metadata.claim(["given_name"])
    assert claim is not None and claim.sd == "always"
    assert metadata.claim(["address", "locality"]).mandatory  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    [
        {"vct": 5},
        {"claims": [{"path": []}]},
        {"claims": [{"path": ["a"], "sd": "sometimes"}]},
        {"display": [{"locale": "en"}]},
    ],
)
def test_invalid_type_metadata(change: dict[str, Any]) -> None:
    with pytest.raises(TypeMetadataError):
        parse_type_metadata({**TYPE_METADATA, **change})


def test_type_metadata_for_another_vct() -> None:
    with pytest.raises(TypeMetadataError):
        parse_type_metadata(TYPE_METADATA, expected_vct="urn:other")


async def test_a_remembered_chain_stops_counting_when_it_expires(deployment: Deployment) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_access_certificate(
        AccessCertificateRequest(common_name="Short-lived", uris=(ISS,), valid_days=1),
        key.public_key(),
        anchor_signer=SoftwareSigner(deployment.anchor_key),
        anchor=deployment.anchor,
        now=NOW,
    )
    issued = _issue(SoftwareSigner(key, x5c=to_x5c([cert])), expires_at=None)
    clock = FixedClock(time.time())  # the credential is issued now, not at import
    keys = X5cIssuerKeys([deployment.anchor], clock=clock)
    await verify_sd_jwt_vc(issued, issuer_keys=keys, key_binding=None, clock=clock)
    await verify_sd_jwt_vc(issued, issuer_keys=keys, key_binding=None, clock=clock)  # from memory
    clock.advance(2 * 86400)
    with pytest.raises(IssuerKeyError):
        await verify_sd_jwt_vc(issued, issuer_keys=keys, key_binding=None, clock=clock)


async def test_a_remembered_chain_still_binds_iss_every_time(deployment: Deployment) -> None:
    # The chain and its names are remembered; whether they name this credential's iss is
    # checked for every credential.
    signer = deployment.issuer(uris=(ISS,), dns=("id.example.gov",))
    keys = X5cIssuerKeys([deployment.anchor])
    await verify_sd_jwt_vc(_issue(signer), issuer_keys=keys, key_binding=None)
    by_host = _issue(signer, issuer="https://id.example.gov/issuers/another-path")
    credential = await verify_sd_jwt_vc(by_host, issuer_keys=keys, key_binding=None)
    assert credential.issuer == "https://id.example.gov/issuers/another-path"
    for other in ("https://other.example.gov/issuers/civil-registry", "http://id.example.gov/x"):
        with pytest.raises(IssuerKeyError, match="iss"):
            await verify_sd_jwt_vc(_issue(signer, issuer=other), issuer_keys=keys, key_binding=None)
