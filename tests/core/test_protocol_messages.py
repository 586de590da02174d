"""The protocol message structs against the specifications' own examples (OpenID4VCI 1.0
§4.1.1, §6.2, §7.2, §8.2, §8.3, §9.1, §9.2, §11.1; RFC 6749 §5.1, §5.2), each read and written back
unchanged, and against what each section forbids, refused with the section's error code."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from core.errors import (
    InvalidCredentialRequest,
    InvalidNotificationRequest,
    InvalidProof,
    InvalidRequest,
)
from core.messages import Message, convert_message, decode_message, to_plain
from core.oauth import ErrorResponse, TokenRequest, TokenResponse
from core.oid4vci import (
    CredentialOffer,
    CredentialRequest,
    CredentialResponse,
    DeferredCredentialRequest,
    NonceResponse,
    NotificationRequest,
)

PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"

# OpenID4VCI 1.0 §4.1.1 (examples/credential_offer_multiple_credentials.json)
OFFER = {
    "credential_issuer": "https://credential-issuer.example.com",
    "credential_configuration_ids": ["UniversityDegreeCredential", "org.iso.18013.5.1.mDL"],
    "grants": {
        "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
            "pre-authorized_code": "oaKazRN8I0IbtZ0C7JuMn5",
            "tx_code": {
                "length": 4,
                "input_mode": "numeric",
                "description": "Please provide the one-time code that was sent via e-mail",
            },
        }
    },
}
# §4.1.1 authorization code grant
OFFER_AUTHORIZATION_CODE = {
    "credential_issuer": "https://credential-issuer.example.com",
    "credential_configuration_ids": ["UniversityDegreeCredential"],
    "grants": {"authorization_code": {"issuer_state": "eyJhbGciOiJSU0Et...FYUaBy"}},
}
# RFC 6749 §5.1 as OpenID4VCI 1.0 §6.2 uses it
TOKEN_RESPONSE = {
    "access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6Ikp..sHQ",
    "token_type": "Bearer",
    "expires_in": 86400,
}
# §7.2
NONCE_RESPONSE = {"c_nonce": "wKI4LT17ac15ES9bw8ac4"}
# §8.2, both jwt examples
CREDENTIAL_REQUESTS: list[dict[str, Any]] = [
    {
        "credential_configuration_id": "org.iso.18013.5.1.mDL",
        "proofs": {
            "jwt": ["eyJraWQiOiJkaWQ6ZXhhbXBsZTplYmZlYjFmNzEyZWJjNmYxYzI3NmUxMmVjMjEva2V5cy8x"]
        },
    },
    {
        "credential_identifier": "CivilEngineeringDegree-2023",
        "proofs": {
            "jwt": ["eyJ0eXAiOiJvcGVuaWQ0dmNpLXByb29mK2p3dCIs", "eyJraWQiOiJkaWQ6ZXhhbXBsZTpl"]
        },
    },
]
# §8.3, the three examples
CREDENTIAL_RESPONSES: list[dict[str, Any]] = [
    {"credentials": [{"credential": "LUpixVCWJk0eOt4CXQe1NXK....WZwmhmn9OQp6YxX0a2L"}]},
    {
        "credentials": [
            {"credential": "LUpixVCWJk0eOt4CXQe1NXK....WZwmhmn9OQp6YxX0a2L"},
            {"credential": "YXNkZnNhZGZkamZqZGFza23....29tZTIzMjMyMzIzMjMy"},
        ],
        "notification_id": "3fwe98js",
    },
    {"transaction_id": "8xLOxBtZp8", "interval": 3600},
]
# §9.1
DEFERRED_REQUEST = {"transaction_id": "8xLOxBtZp8"}
# §9.2, both examples
DEFERRED_RESPONSES: list[dict[str, Any]] = [
    CREDENTIAL_RESPONSES[1],
    {"transaction_id": "8xLOxBtZp8", "interval": 86400},
]
# §11.1
NOTIFICATIONS: list[dict[str, Any]] = [
    {"notification_id": "3fwe98js", "event": "credential_accepted"},
    {
        "notification_id": "3fwe98js",
        "event": "credential_failure",
        "event_description": "Could not store the Credential. Out of storage.",
    },
]
# RFC 6749 §5.2 as OpenID4VCI 1.0 §6.3 shows it
ERROR = {"error": "invalid_request"}

VECTORS: list[tuple[type[Message], dict[str, Any]]] = [
    (CredentialOffer, OFFER),
    (CredentialOffer, OFFER_AUTHORIZATION_CODE),
    (TokenResponse, TOKEN_RESPONSE),
    (NonceResponse, NONCE_RESPONSE),
    *((CredentialRequest, v) for v in CREDENTIAL_REQUESTS),
    *((CredentialResponse, v) for v in CREDENTIAL_RESPONSES),
    (DeferredCredentialRequest, DEFERRED_REQUEST),
    *((CredentialResponse, v) for v in DEFERRED_RESPONSES),
    *((NotificationRequest, v) for v in NOTIFICATIONS),
    (ErrorResponse, ERROR),
]


@pytest.mark.parametrize(("message_type", "vector"), VECTORS)
def test_the_specifications_examples_round_trip(
    message_type: type[Message], vector: dict[str, Any]
) -> None:
    message = decode_message(json.dumps(vector), message_type)
    assert to_plain(message) == vector
    assert json.loads(msgspec.json.encode(message)) == vector


def test_unrecognized_members_are_ignored_where_the_specification_says_so() -> None:
    offer = convert_message({**OFFER, "future_member": {"x": 1}}, CredentialOffer)
    assert "future_member" not in to_plain(offer)
    request = convert_message({**CREDENTIAL_REQUESTS[0], "extension": True}, CredentialRequest)
    assert request.jwt_proofs() == CREDENTIAL_REQUESTS[0]["proofs"]["jwt"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"credential_configuration_ids": ["a"]}, InvalidRequest),  # no credential_issuer
        ({**OFFER, "credential_configuration_ids": []}, InvalidRequest),
        ({**OFFER, "credential_configuration_ids": ["a", "a"]}, InvalidRequest),
        ({**OFFER, "grants": {PRE: {"tx_code": {}}}}, InvalidRequest),  # no code
        (
            {
                **OFFER,
                "grants": {PRE: {"pre-authorized_code": "c", "tx_code": {"input_mode": "x"}}},
            },
            InvalidRequest,
        ),
        (
            {
                **OFFER,
                "grants": {
                    PRE: {"pre-authorized_code": "c", "tx_code": {"description": "d" * 301}}
                },
            },
            InvalidRequest,
        ),
    ],
)
def test_offers_that_break_section_4_1_1(value: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        convert_message(value, CredentialOffer)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"proofs": {"jwt": ["x"]}}, InvalidCredentialRequest),  # neither identifier
        (
            {
                "credential_identifier": "a",
                "credential_configuration_id": "b",
                "proofs": {"jwt": ["x"]},
            },
            InvalidCredentialRequest,
        ),
        (
            {"credential_configuration_id": "b", "proof": {"proof_type": "jwt"}},
            InvalidCredentialRequest,
        ),
        (
            {"credential_configuration_id": "b", "proofs": {"jwt": ["x"], "attestation": ["y"]}},
            InvalidProof,
        ),
        ({"credential_configuration_id": "b", "proofs": {"jwt": []}}, InvalidProof),
        ({"credential_configuration_id": "b", "proofs": ["x"]}, InvalidProof),
        ({"credential_configuration_id": 7, "proofs": {"jwt": ["x"]}}, InvalidCredentialRequest),
        ({"credential_configuration_id": "", "proofs": {"jwt": ["x"]}}, InvalidCredentialRequest),
        ([1, 2], InvalidCredentialRequest),
    ],
)
def test_credential_requests_that_break_section_8_2(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        convert_message(value, CredentialRequest)
    assert type(raised.value) is error


def test_a_proof_type_other_than_jwt_is_invalid_proof() -> None:
    request = convert_message(
        {"credential_configuration_id": "b", "proofs": {"di_vp": [{"type": "x"}]}},
        CredentialRequest,
    )
    with pytest.raises(InvalidProof):
        request.jwt_proofs()


def test_the_attestation_proof_type_holds_exactly_one_key_attestation() -> None:
    request = convert_message(
        {"credential_configuration_id": "b", "proofs": {"attestation": ["a.b.c"]}},
        CredentialRequest,
    )
    assert request.proof_type == "attestation"
    assert request.attestation_proof() == "a.b.c"
    with pytest.raises(InvalidProof):
        request.jwt_proofs()
    for values in (["a.b.c", "d.e.f"], [{"jwt": "a.b.c"}]):
        two = convert_message(
            {"credential_configuration_id": "b", "proofs": {"attestation": values}},
            CredentialRequest,
        )
        with pytest.raises(InvalidProof, match="exactly one key attestation"):
            two.attestation_proof()
    jwt = convert_message(CREDENTIAL_REQUESTS[0], CredentialRequest)
    assert jwt.proof_type == "jwt"
    with pytest.raises(InvalidProof, match="attestation"):
        jwt.attestation_proof()
    assert (
        convert_message({"credential_configuration_id": "b"}, CredentialRequest).proof_type is None
    )


def test_malformed_bodies_are_described_with_their_path_in_our_words() -> None:
    with pytest.raises(InvalidProof) as raised:
        decode_message(
            b'{"credential_configuration_id": "b", "proofs": {"jwt": "x"}}', CredentialRequest
        )
    assert str(raised.value) == "$.proofs[...]: expected an array, got a string"
    with pytest.raises(InvalidCredentialRequest, match="duplicate"):
        decode_message(
            b'{"credential_configuration_id": "a", "credential_configuration_id": "b"}',
            CredentialRequest,
        )
    with pytest.raises(InvalidCredentialRequest, match="not acceptable JSON"):
        decode_message(b'{"credential_configuration_id": NaN}', CredentialRequest)


@pytest.mark.parametrize(
    "value",
    [
        {"notification_id": "n"},
        {"notification_id": "n", "event": "credential_lost"},
        {
            "notification_id": "n",
            "event": "credential_failure",
            "event_description": 'quote " here',
        },
        {"notification_id": "n", "event": "credential_failure", "event_description": "x" * 1001},
    ],
)
def test_notifications_that_break_section_11_1(value: dict[str, Any]) -> None:
    with pytest.raises(InvalidNotificationRequest):
        convert_message(value, NotificationRequest)


def test_deferred_and_immediate_responses_exclude_each_other() -> None:
    with pytest.raises(InvalidRequest):
        convert_message(
            {**CREDENTIAL_RESPONSES[0], "transaction_id": "t", "interval": 5}, CredentialResponse
        )
    with pytest.raises(InvalidRequest):
        convert_message({"transaction_id": "t"}, CredentialResponse)


@pytest.mark.parametrize(
    "value",
    [{}, {"transaction_id": ""}, {"transaction_id": 8}, {"transaction_id": "x" * 257}, []],
)
def test_deferred_requests_that_break_section_9_1(value: Any) -> None:
    """§9.3: a malformed Deferred Credential Request is answered as §8.3.1.2 says."""
    with pytest.raises(InvalidCredentialRequest):
        convert_message(value, DeferredCredentialRequest)


def test_token_request_names_the_pre_authorized_code_as_the_specification_does() -> None:
    request = convert_message(
        {"grant_type": PRE, "pre-authorized_code": "SplxlOBeZQQYbYS6WxSbIA", "tx_code": "493536"},
        TokenRequest,
    )
    assert request.pre_authorized_code == "SplxlOBeZQQYbYS6WxSbIA"
    assert request.tx_code == "493536"
