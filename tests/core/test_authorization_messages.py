"""The messages of the authorization code flow against the specifications' examples: the
pushed authorization request (RFC 9126 §2.1, with PKCE of RFC 7636 and the
``authorization_details`` of OpenID4VCI 1.0 §5.1.1), its answer (RFC 9126 §2.2), the
authorization response with ``iss`` (RFC 9207 §2), and the token response carrying
``authorization_details`` (OpenID4VCI 1.0 §6.2); and what those sections forbid, refused
with the code they name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from msgspec import UNSET

from core.errors import (
    InvalidAuthorizationDetails,
    InvalidRequest,
    RequestNotSupported,
    UnsupportedResponseType,
)
from core.messages import convert_message, to_plain
from core.oauth import (
    AuthorizationCodeResponse,
    PushedAuthorizationRequest,
    PushedAuthorizationResponse,
    TokenRequest,
    TokenResponse,
    pkce_challenge_of,
    pkce_matches,
    pkce_s256_challenge,
)

# OpenID4VCI 1.0 §5.1.1 (examples/authorization_details.json, _with_as, _multiple)
DETAILS = [
    {"type": "openid_credential", "credential_configuration_id": "UniversityDegreeCredential"}
]
DETAILS_WITH_AS = [
    {
        "type": "openid_credential",
        "locations": ["https://credential-issuer.example.com"],
        "credential_configuration_id": "UniversityDegreeCredential",
    }
]
DETAILS_MULTIPLE = [
    {"type": "openid_credential", "credential_configuration_id": "UniversityDegreeCredential"},
    {"type": "openid_credential", "credential_configuration_id": "org.iso.18013.5.1.mDL"},
]
# §5.1.1: the authorization request of the example (its parameters, pushed)
PUSHED = {
    "response_type": "code",
    "client_id": "s6BhdRkqt3",
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
    "redirect_uri": "https://wallet.example.org/cb",
}
# RFC 9126 §2.2
PUSHED_ANSWER = {
    "request_uri": "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c",
    "expires_in": 60,
}
# RFC 9207 §2 (the parameters of the redirect)
AUTHORIZATION_RESPONSE = {
    "code": "x1848ZT64p4IirMPT0R-X3141MFPTuBX-VFL_cvaplMH58",
    "state": "ZWVlNDBlYzA1NjdkMDNhYjg3ZjUxZjAyNGQzMTM2NzI",
    "iss": "https://honest.as.example",
}
# OpenID4VCI 1.0 §6.2
TOKEN_RESPONSE = {
    "access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6Ikp..sHQ",
    "token_type": "Bearer",
    "expires_in": 86400,
    "authorization_details": [
        {
            "type": "openid_credential",
            "credential_configuration_id": "UniversityDegreeCredential",
            "credential_identifiers": [
                "CivilEngineeringDegree-2023",
                "ElectricalEngineeringDegree-2023",
            ],
        }
    ],
}


@pytest.mark.parametrize("details", [DETAILS, DETAILS_WITH_AS, DETAILS_MULTIPLE])
def test_a_pushed_request_carries_the_specifications_authorization_details(
    details: list[dict[str, Any]],
) -> None:
    pushed = convert_message(
        {**PUSHED, "authorization_details": json.dumps(details)}, PushedAuthorizationRequest
    )
    pushed.check()
    assert [to_plain(d) for d in pushed.details()] == details


def test_a_pushed_request_by_scope_and_its_answer() -> None:
    pushed = convert_message(
        {**PUSHED, "scope": "national_id driving_licence", "state": "af0ifjsldkj"},
        PushedAuthorizationRequest,
    )
    assert pushed.scopes() == ["national_id", "driving_licence"]
    assert to_plain(convert_message(PUSHED_ANSWER, PushedAuthorizationResponse)) == PUSHED_ANSWER


@pytest.mark.parametrize(
    ("vector", "message_type"),
    [(AUTHORIZATION_RESPONSE, AuthorizationCodeResponse), (TOKEN_RESPONSE, TokenResponse)],
)
def test_the_specifications_answers_round_trip(vector: dict[str, Any], message_type: type) -> None:
    assert to_plain(convert_message(vector, message_type)) == vector


@pytest.mark.parametrize(
    ("change", "error", "said"),
    [
        ({"code_challenge": None}, InvalidRequest, "PKCE is required"),
        ({"code_challenge_method": "plain"}, InvalidRequest, "S256"),
        ({"code_challenge_method": None}, InvalidRequest, "S256"),
        ({"code_challenge": "short"}, InvalidRequest, "$.code_challenge"),
        ({"response_type": "token"}, UnsupportedResponseType, "code"),
        ({"request_uri": "urn:x"}, InvalidRequest, "must not be pushed"),
        ({"request": "eyJ..."}, RequestNotSupported, "request objects"),
        ({"authorization_details": None, "scope": None}, InvalidRequest, "scope or authorization"),
        ({"authorization_details": "[{"}, InvalidAuthorizationDetails, "not acceptable JSON"),
        ({"authorization_details": "[]"}, InvalidAuthorizationDetails, "non-empty array"),
        (
            {
                "authorization_details": json.dumps(
                    [{"type": "payment_initiation", "credential_configuration_id": "x"}]
                )
            },
            InvalidAuthorizationDetails,
            "payment_initiation",
        ),
        (
            {"authorization_details": json.dumps([{"type": "openid_credential"}])},
            InvalidAuthorizationDetails,
            "credential_configuration_id",
        ),
    ],
    ids=[
        "no-pkce",
        "pkce-plain",
        "pkce-no-method",
        "pkce-too-short",
        "implicit",
        "request-uri-pushed",
        "request-object",
        "nothing-asked",
        "details-not-json",
        "details-empty",
        "details-other-type",
        "details-no-configuration",
    ],
)
def test_pushed_requests_that_break_their_sections_are_refused_with_their_code(
    change: dict[str, Any], error: type[Exception], said: str
) -> None:
    value = {**PUSHED, "authorization_details": json.dumps(DETAILS), **change}
    value = {k: v for k, v in value.items() if v is not None}
    with pytest.raises(error, match=None) as refused:
        convert_message(value, PushedAuthorizationRequest)
    assert said in str(refused.value)


def test_the_token_request_reads_refresh_tokens_and_authorization_details() -> None:
    request = convert_message(
        {
            "grant_type": "refresh_token",
            "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA",
            "authorization_details": json.dumps(DETAILS),
        },
        TokenRequest,
    )
    assert request.refresh_token == "tGzv3JOkF0XG5Qx2TlKWIA"
    assert [d.credential_configuration_id for d in request.details()] == [
        "UniversityDegreeCredential"
    ]


def test_pkce_s256_as_rfc_7636_appendix_b_computes_it() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_s256_challenge(verifier) == challenge
    assert pkce_matches(verifier, challenge)
    assert not pkce_matches(verifier[:-1] + "l", challenge)
    assert not pkce_matches("too-short", pkce_s256_challenge("too-short"))
    assert not pkce_matches(verifier + " ", challenge)
    # what a code's exchange matches against: a malformed or missing verifier matches none
    assert pkce_challenge_of(verifier) == challenge
    assert pkce_challenge_of("too-short") is None
    assert pkce_challenge_of(UNSET) is None
