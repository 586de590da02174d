"""SD-JWT VC issue / present / verify of the 12-claim national ID: idwallet beside the
reference ``sd-jwt`` package and beside raw ``cryptography`` ES256."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from bench.measure import Measurement, measure_together
from bench.national_id import AUDIENCE, DISCLOSABLE, ISSUER, NONCE, PRESENTED, SUBJECT, VCT
from core.encoding import b64url_decode, strict_json_loads
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)
from core.sdjwt.key_binding import KeyBindingRequest, bind
from core.sdjwt.present import present
from core.sdjwt.verify import KeyBindingPolicy
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import issue_sd_jwt_vc, verify_sd_jwt_vc
from core.status_list.token import StatusReference

T = TypeVar("T")
STATUS = StatusReference(4711, "https://id.example.gov/status-lists/civil-registry/1")


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine that never suspends (all keys local), without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("the benchmarked coroutine suspended")


@dataclass(frozen=True)
class SdJwtResults:
    ours: dict[str, Measurement]
    reference: dict[str, Measurement]
    raw: dict[str, Measurement]
    issued_bytes: int
    presented_bytes: int
    verify_parts: dict[str, Measurement]


def _reference_claims(now: int, holder_cnf: dict[str, Any]) -> dict[Any, Any]:
    claims: dict[Any, Any] = {
        "iss": ISSUER,
        "iat": now,
        "exp": now + 86400 * 365,
        "vct": VCT,
        "status": STATUS.to_claim(),
    }
    for name, value in SUBJECT.items():
        if isinstance(value, dict):
            claims[SDObj(name)] = {SDObj(k): v for k, v in value.items()}
        else:
            claims[SDObj(name)] = value
    return claims


def run() -> SdJwtResults:
    now = int(time.time())
    anchor_key = ec.generate_private_key(ec.SECP256R1())
    anchor = create_trust_anchor(
        SoftwareSigner(anchor_key), common_name="Benchmark anchor", now=dt.datetime.now(dt.UTC)
    )
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_access_certificate(
        AccessCertificateRequest(common_name="Civil Registry", uris=(ISSUER,)),
        issuer_key.public_key(),
        anchor_signer=SoftwareSigner(anchor_key),
        anchor=anchor,
        now=dt.datetime.now(dt.UTC),
    )
    x5c = to_x5c([certificate])
    issuer = SoftwareSigner(issuer_key, x5c=x5c)
    holder_key = ec.generate_private_key(ec.SECP256R1())
    holder = SoftwareSigner(holder_key)
    issuer_keys = X5cIssuerKeys([anchor])
    policy = KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE)

    def our_issue() -> str:
        return issue_sd_jwt_vc(
            SUBJECT,
            issuer,
            vct=VCT,
            issuer=ISSUER,
            holder_jwk=holder.public_jwk(),
            disclosable=DISCLOSABLE,
            issued_at=now,
            expires_at=now + 86400 * 365,
            status=STATUS,
        ).serialize()

    issued = our_issue()

    def our_present() -> str:
        parts = present(issued, PRESENTED)
        return bind(parts.sd_jwt, KeyBindingRequest(AUDIENCE, NONCE, int(time.time())), holder)

    presentation = our_present()

    def our_verify() -> object:
        return run_now(verify_sd_jwt_vc(presentation, issuer_keys=issuer_keys, key_binding=policy))

    verified = our_verify()
    assert verified is not None

    ref_issuer_jwk = JWK.from_pyca(issuer_key)
    ref_holder_jwk = JWK.from_pyca(holder_key)
    ref_public_issuer = JWK.from_pyca(issuer_key.public_key())
    ref_header = {"typ": "dc+sd-jwt", "x5c": list(x5c)}

    def reference_issue() -> str:
        result: str = SDJWTIssuer(
            _reference_claims(now, holder.public_jwk()),
            ref_issuer_jwk,
            ref_holder_jwk,
            add_decoy_claims=True,
            extra_header_parameters=ref_header,
        ).sd_jwt_issuance
        return result

    ref_issued = reference_issue()
    to_disclose = {
        "given_name": True,
        "family_name": True,
        "age_over_18": True,
        "address": {"locality": True},
    }

    def reference_present() -> str:
        holder_view = SDJWTHolder(ref_issued)
        holder_view.create_presentation(
            to_disclose, nonce=NONCE, aud=AUDIENCE, holder_key=ref_holder_jwk, sign_alg="ES256"
        )
        result: str = holder_view.sd_jwt_presentation
        return result

    ref_presentation = reference_present()

    def reference_verify() -> object:
        verifier = SDJWTVerifier(
            ref_presentation,
            lambda iss, header: ref_public_issuer,
            expected_aud=AUDIENCE,
            expected_nonce=NONCE,
        )
        return verifier.get_verified_payload()

    payload = reference_verify()
    assert isinstance(payload, dict) and payload["address"] == {"locality": "Köln"}

    signing_input = issued.split("~", 1)[0].rsplit(".", 1)[0].encode("ascii")
    der_signature = issuer_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    issuer_public = issuer_key.public_key()

    def raw_sign() -> bytes:
        return issuer_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))

    def raw_verify() -> None:
        issuer_public.verify(der_signature, signing_input, ec.ECDSA(hashes.SHA256()))

    # Where full verify spends its time: the parsing work it cannot skip, measured alone.
    issuer_jwt, *disclosures, kb_jwt = presentation.split("~")
    _, issuer_payload, issuer_signature = issuer_jwt.split(".")
    _, kb_payload, kb_signature = kb_jwt.split(".")
    segments = [issuer_payload, issuer_signature, kb_payload, kb_signature, *disclosures]
    documents = [b64url_decode(s) for s in (issuer_payload, kb_payload, *disclosures)]
    sd_jwt_part = presentation[: len(presentation) - len(kb_jwt)]

    def decode_segments() -> None:
        for segment in segments:
            b64url_decode(segment)

    def parse_documents() -> None:
        for document in documents:
            strict_json_loads(document)

    def hash_disclosures() -> None:
        for disclosure in disclosures:
            hashlib.sha256(disclosure.encode("ascii")).digest()
        hashlib.sha256(sd_jwt_part.encode("ascii")).digest()

    parts = measure_together(
        {
            f"base64url decoding of {len(segments)} segments": decode_segments,
            f"strict JSON parsing of {len(documents)} documents": parse_documents,
            f"SHA-256 of {len(disclosures)} Disclosures and sd_hash": hash_disclosures,
        }
    )
    measured = measure_together(
        {
            "idwallet issue": our_issue,
            "sd-jwt reference issue": reference_issue,
            "idwallet present (4 claims + KB-JWT)": our_present,
            "sd-jwt reference present (4 claims + KB-JWT)": reference_present,
            "idwallet full verify": our_verify,
            "sd-jwt reference verify": reference_verify,
            "cryptography ES256 sign": raw_sign,
            "cryptography ES256 verify": raw_verify,
        }
    )
    return SdJwtResults(
        ours={
            "issue": measured["idwallet issue"],
            "present": measured["idwallet present (4 claims + KB-JWT)"],
            "verify": measured["idwallet full verify"],
        },
        reference={
            "issue": measured["sd-jwt reference issue"],
            "present": measured["sd-jwt reference present (4 claims + KB-JWT)"],
            "verify": measured["sd-jwt reference verify"],
        },
        raw={
            "sign": measured["cryptography ES256 sign"],
            "verify": measured["cryptography ES256 verify"],
        },
        issued_bytes=len(issued),
        presented_bytes=len(presentation),
        verify_parts=parts,
    )
