"""Spec examples as vectors (tests/vectors/mdoc): OpenID4VP 1.0 B.2.6 SessionTranscripts,
byte for byte, and Token Status List draft-14 §6.3.2's IssuerAuth read and verified."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from core.mdoc.cbor import decode, encode
from core.mdoc.cose_sign1 import parse_cose_sign1, verify_sign1, x5chain_certificates
from core.mdoc.errors import IssuerSignatureInvalid
from core.mdoc.issuer_signed import mso_payload
from core.mdoc.mso import parse_mso
from core.mdoc.session_transcript import (
    jwk_thumbprint_bytes,
    openid4vp_dc_api_session_transcript,
    openid4vp_handover_info,
    openid4vp_session_transcript,
)
from core.status_list.token import StatusReference

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "mdoc" / "openid4vp_and_status_list.json").read_text()
)


def test_openid4vp_redirect_session_transcript() -> None:
    vector = VECTORS["openid4vp_redirects"]
    assert jwk_thumbprint_bytes(vector["encryption_jwk"]).hex() == vector["jwk_thumbprint_hex"]
    parameters = {
        "client_id": vector["client_id"],
        "nonce": vector["nonce"],
        "response_uri": vector["response_uri"],
        "encryption_jwk": vector["encryption_jwk"],
    }
    assert openid4vp_handover_info(**parameters).hex() == vector["handover_info_hex"]
    transcript = openid4vp_session_transcript(**parameters)
    assert transcript.hex() == vector["session_transcript_hex"]
    assert encode(decode(transcript)[2]).hex() == vector["handover_hex"]


def test_openid4vp_dc_api_session_transcript() -> None:
    vector = VECTORS["openid4vp_dc_api"]
    transcript = openid4vp_dc_api_session_transcript(
        origin=vector["origin"], nonce=vector["nonce"], encryption_jwk=vector["encryption_jwk"]
    )
    assert transcript.hex() == vector["session_transcript_hex"]
    assert encode(decode(transcript)[2]).hex() == vector["handover_hex"]


def test_unencrypted_response_has_a_null_thumbprint() -> None:
    info = openid4vp_handover_info(
        client_id="x509_hash:abc", nonce="n", response_uri="https://v.example/r"
    )
    assert decode(info) == ["x509_hash:abc", "n", None, "https://v.example/r"]


def test_dc_api_origin_without_prefix() -> None:
    with pytest.raises(ValueError, match="origin:"):
        openid4vp_dc_api_session_transcript(origin="origin:https://example.com", nonce="n")


def test_token_status_list_issuer_auth_example() -> None:
    raw = bytes.fromhex(VECTORS["token_status_list_issuer_auth"]["issuer_auth_hex"])
    issuer_auth = parse_cose_sign1(decode(raw), "IssuerAuth")
    leaf = x5chain_certificates(issuer_auth, "IssuerAuth")[0]
    key = leaf.public_key()
    assert verify_sign1(issuer_auth, key, algorithms={-7}, error=IssuerSignatureInvalid) == -7  # type: ignore[arg-type]
    mso = parse_mso(mso_payload(issuer_auth, "IssuerAuth"))
    assert mso.status == StatusReference(412, "https://example.com/statuslists/1")
    assert mso.doc_type == "org.iso.18013.5.1.mDL"
    assert mso.digest_algorithm == "SHA-256"
    assert len(mso.value_digests["org.iso.18013.5.1"]) == 12
    assert mso.validity.valid_from == dt.datetime(2024, 10, 1, 13, 30, 2, tzinfo=dt.UTC)
    assert mso.device_key_jwk["crv"] == "P-256"
