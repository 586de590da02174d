"""The Authorization Request struct (OpenID4VP 1.0 §5) against the specification's own
request object payloads, each read and written back unchanged, and against what §5, §5.1,
§5.2 and §8.2 forbid, refused with the code the wallet answers it with. Where an example
elides the DCQL query (``{...}``), the §7.4 example query stands in."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from core.errors import InvalidRequest, InvalidRequestObject
from core.messages import convert_message, decode_message, to_plain
from core.oid4vp import (
    AuthorizationRequest,
    ClientMetadata,
    WalletMetadata,
    client_names,
    named_client_metadata,
)

# §7.4 (examples/query_lang/simple.json)
DCQL_QUERY = {
    "credentials": [
        {
            "id": "my_credential",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
            "claims": [
                {"path": ["last_name"]},
                {"path": ["first_name"]},
                {"path": ["address", "street_address"]},
            ],
        }
    ]
}
# §5.4: the decoded payload of a request object passed by value (the example's own typo in
# redirect_uri kept: the struct does not judge URIs, the wallet does)
BY_VALUE = {
    "iss": "redirect_uri:https://client.example.org/cb",
    "aud": "https://self-issued.me/v2",
    "response_type": "vp_token",
    "client_id": "redirect_uri:https://client.example.org/cb",
    "redirect_uri": "https//client.example.org/cb",
    "dcql_query": {
        "credentials": [
            {
                "id": "some_identity_credential",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
                "claims": [{"path": ["last_name"]}, {"path": ["first_name"]}],
            }
        ]
    },
    "nonce": "n-0S6_WzA2Mj",
}
# §5.9.3 (examples/request/request_object_client_id_did.json)
DECENTRALIZED_IDENTIFIER = {
    "client_id": "decentralized_identifier:did:example:123",
    "response_type": "vp_token",
    "redirect_uri": "https://client.example.org/callback",
    "nonce": "n-0S6_WzA2Mj",
    "dcql_query": DCQL_QUERY,
    "client_metadata": {
        "vp_formats_supported": {
            "dc+sd-jwt": {
                "sd-jwt_alg_values": ["ES256", "ES384"],
                "kb-jwt_alg_values": ["ES256", "ES384"],
            }
        }
    },
}
# §5.10.1: the request object answered to a request URI POST
REQUEST_URI_RESPONSE = {
    "client_id": "x509_san_dns:client.example.org",
    "response_uri": "https://client.example.org/post",
    "response_type": "vp_token",
    "response_mode": "direct_post",
    "dcql_query": DCQL_QUERY,
    "nonce": "n-0S6_WzA2Mj",
    "wallet_nonce": "qPmxiNFCR3QTm19POc8u",
    "state": "eyJhb...6-sVA",
}
# §8.2: a request object with response mode direct_post
DIRECT_POST = {
    "client_id": "redirect_uri:https://client.example.org/post",
    "response_uri": "https://client.example.org/post",
    "response_type": "vp_token",
    "response_mode": "direct_post",
    "dcql_query": DCQL_QUERY,
    "nonce": "n-0S6_WzA2Mj",
    "state": "eyJhb...6-sVA",
}
# §5.1: verifier_info (the example attestation) and transaction_data (the example
# transaction data object, base64url-encoded)
WITH_ATTACHMENTS = {
    **REQUEST_URI_RESPONSE,
    "verifier_info": [
        {
            "format": "jwt",
            "data": "eyJhbGciOiJFUzI1...EF0RBtvPClL71TWHlIQ",
            "credential_ids": ["id_card"],
        }
    ],
    "transaction_data": [
        "eyJ0eXBlIjoiZXhhbXBsZV90eXBlIiwiY3JlZGVudGlhbF9pZHMiOlsiaWRfY2FyZF9jcmVkZW50aWFsIl19"
    ],
}

VECTORS = [BY_VALUE, DECENTRALIZED_IDENTIFIER, REQUEST_URI_RESPONSE, DIRECT_POST, WITH_ATTACHMENTS]


@pytest.mark.parametrize("vector", VECTORS)
def test_the_specification_request_objects_round_trip(vector: dict[str, Any]) -> None:
    request = decode_message(json.dumps(vector), AuthorizationRequest)
    assert to_plain(request) == vector
    assert json.loads(msgspec.json.encode(request)) == vector


def test_what_the_wallet_reads_is_typed() -> None:
    request = convert_message(WITH_ATTACHMENTS, AuthorizationRequest)
    assert request.response_mode == "direct_post"
    assert request.wallet_nonce == "qPmxiNFCR3QTm19POc8u"
    assert not isinstance(request.verifier_info, msgspec.UnsetType)
    assert request.verifier_info[0].credential_ids == ["id_card"]
    assert request.iat is msgspec.UNSET and request.scope is msgspec.UNSET


def test_unrecognized_members_are_ignored() -> None:
    """§5: "The Wallet MUST ignore any unrecognized parameters"."""
    request = convert_message(
        {**DIRECT_POST, "request_uri_method": "post", "expected_origins": ["x"]},
        AuthorizationRequest,
    )
    assert to_plain(request) == DIRECT_POST


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in DIRECT_POST.items() if k != name}


@pytest.mark.parametrize(
    ("value", "error"),
    [
        # §8.2: response_uri is required with direct_post, and excludes redirect_uri
        (_without("response_uri"), InvalidRequest),
        ({**_without("response_uri"), "response_mode": "direct_post.jwt"}, InvalidRequest),
        ({**DIRECT_POST, "redirect_uri": "https://client.example.org/cb"}, InvalidRequest),
        ({**BY_VALUE, "response_uri": "https://client.example.org/post"}, InvalidRequest),
        # §5.1: a dcql_query or a scope, not both
        (_without("dcql_query"), InvalidRequest),
        ({**DIRECT_POST, "scope": "com.example.healthCardCredential_presentation"}, InvalidRequest),
        # §5.6, §5.2: the response type, a URL-safe nonce and state
        ({**DIRECT_POST, "response_type": "code"}, InvalidRequest),
        (_without("nonce"), InvalidRequest),
        ({**DIRECT_POST, "nonce": ""}, InvalidRequest),
        ({**DIRECT_POST, "nonce": "n 0S6"}, InvalidRequest),
        ({**DIRECT_POST, "state": "a+b/c="}, InvalidRequest),
        ({**DIRECT_POST, "dcql_query": "credentials"}, InvalidRequest),
        ({**DIRECT_POST, "client_metadata": []}, InvalidRequest),
        ({**DIRECT_POST, "transaction_data": []}, InvalidRequest),
        ({**DIRECT_POST, "verifier_info": [{"format": "jwt"}]}, InvalidRequest),
        # the claims of the request object itself (RFC 9101 §4, §5.8, §5.10.1)
        (_without("client_id"), InvalidRequestObject),
        ({**DIRECT_POST, "client_id": 7}, InvalidRequestObject),
        ({**DIRECT_POST, "aud": 7}, InvalidRequestObject),
        ({**DIRECT_POST, "exp": "1700000000"}, InvalidRequestObject),
        ({**DIRECT_POST, "iat": True}, InvalidRequestObject),
        ({**DIRECT_POST, "wallet_nonce": ""}, InvalidRequestObject),
    ],
)
def test_what_the_specification_forbids_is_refused_with_its_code(
    value: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as refused:
        convert_message(value, AuthorizationRequest)
    assert type(refused.value) is error


def test_a_request_object_payload_that_is_no_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        decode_message(b"[]", AuthorizationRequest)


def test_numeric_dates_stay_the_numbers_they_were() -> None:
    request = convert_message(
        {
            **DIRECT_POST,
            "iat": 1700000000,
            "exp": 1700000300.5,
            "aud": ["https://self-issued.me/v2"],
        },
        AuthorizationRequest,
    )
    assert (request.iat, request.exp) == (1700000000, 1700000300.5)
    assert to_plain(request)["iat"] == 1700000000


# §8.3: a verifier's keys for encrypted responses and its content encryptions
CLIENT_METADATA_ENCRYPTION = {
    "jwks": {
        "keys": [
            {
                "kty": "EC",
                "kid": "ac",
                "use": "enc",
                "crv": "P-256",
                "alg": "ECDH-ES",
                "x": "YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk",
                "y": "Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk",
            },
            {
                "kty": "OKP",
                "kid": "jc",
                "use": "enc",
                "crv": "X25519",
                "alg": "ECDH-ES",
                "x": "WPX7wnwq10hFNK9aDSyG1QlLswE_CJY14LdhcFUIVVc",
            },
        ]
    },
    "encrypted_response_enc_values_supported": ["A128GCM", "A128CBC-HS256"],
}
# §5.9.3 (the redirect_uri prefix example)
CLIENT_METADATA_FORMATS = {
    "vp_formats_supported": {
        "dc+sd-jwt": {
            "sd-jwt_alg_values": ["ES256", "ES384"],
            "kb-jwt_alg_values": ["ES256", "ES384"],
        }
    }
}


@pytest.mark.parametrize("vector", [CLIENT_METADATA_ENCRYPTION, CLIENT_METADATA_FORMATS])
def test_the_specification_client_metadata_round_trips(vector: dict[str, Any]) -> None:
    assert to_plain(convert_message(vector, ClientMetadata)) == vector


def test_the_verifier_name_in_each_language_travels_beside_the_typed_members() -> None:
    """RFC 7591 §2.2: ``client_name#<tag>`` members cannot be fields; they are read and
    written beside the struct."""
    sent = named_client_metadata(
        ClientMetadata(client_name="City Library", vp_formats_supported={"dc+sd-jwt": {}}),
        {"de": "Stadtbibliothek", "fr": "Bibliothèque municipale"},
    )
    assert sent["client_name#de"] == "Stadtbibliothek"
    assert client_names(sent) == {"de": "Stadtbibliothek", "fr": "Bibliothèque municipale"}
    assert convert_message(sent, ClientMetadata).client_name == "City Library"


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"jwks": {"keys": "not a list"}}, "$.jwks.keys"),
        ({"vp_formats_supported": ["dc+sd-jwt"]}, "$.vp_formats_supported"),
        ({"encrypted_response_enc_values_supported": []}, "$.encrypted_response_enc_values"),
    ],
)
def test_client_metadata_that_breaks_its_sections_is_refused_with_its_path(
    value: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        convert_message(value, ClientMetadata)
    assert refused.value.description.startswith(where)


# §5.10.1: the wallet_metadata of the request URI POST example
WALLET_METADATA = {
    "vp_formats_supported": {
        "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
    }
}


def test_the_specification_wallet_metadata_round_trips() -> None:
    assert to_plain(decode_message(json.dumps(WALLET_METADATA), WalletMetadata)) == WALLET_METADATA


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({}, "$: missing the required member vp_formats_supported"),
        ({**WALLET_METADATA, "client_id_prefixes_supported": []}, "$.client_id_prefixes"),
        ({"vp_formats_supported": ["dc+sd-jwt"]}, "$.vp_formats_supported"),
    ],
)
def test_wallet_metadata_that_breaks_section_10_is_refused(value: Any, where: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_message(json.dumps(value), WalletMetadata)
    assert refused.value.description.startswith(where)
