"""Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4) and Authorization Server Metadata
(RFC 8414 §2) against the specifications' own examples: each read and written back
unchanged, unknown members ignored, and what the sections require refused with the path
of what is wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.errors import InvalidRequest
from core.messages import convert_message, to_plain
from core.oauth import AuthorizationServerMetadata
from core.oid4vci_metadata import CredentialIssuerMetadata, SignedMetadataClaims

_CLAIMS: list[dict[str, Any]] = [
    {
        "path": ["given_name"],
        "display": [
            {"name": "Given Name", "locale": "en-US"},
            {"name": "Vorname", "locale": "de-DE"},
        ],
    },
    {
        "path": ["family_name"],
        "display": [
            {"name": "Surname", "locale": "en-US"},
            {"name": "Nachname", "locale": "de-DE"},
        ],
    },
    {"path": ["email"]},
    {"path": ["phone_number"]},
    {
        "path": ["address"],
        "display": [
            {"name": "Place of residence", "locale": "en-US"},
            {"name": "Wohnsitz", "locale": "de-DE"},
        ],
    },
    {"path": ["address", "street_address"]},
    {"path": ["address", "locality"]},
    {"path": ["address", "region"]},
    {"path": ["address", "country"]},
    {"path": ["birthdate"]},
    {"path": ["is_over_18"]},
    {"path": ["is_over_21"]},
    {"path": ["is_over_65"]},
]

_SD_JWT_CONFIGURATION: dict[str, Any] = {
    "format": "dc+sd-jwt",
    "scope": "SD_JWT_VC_example_in_OpenID4VCI",
    "credential_signing_alg_values_supported": ["ES256"],
    "cryptographic_binding_methods_supported": ["jwk"],
    "proof_types_supported": {
        "jwt": {
            "proof_signing_alg_values_supported": ["ES256"],
            "key_attestations_required": {
                "key_storage": ["iso_18045_moderate"],
                "user_authentication": ["iso_18045_moderate"],
            },
        }
    },
    "vct": "SD_JWT_VC_example_in_OpenID4VCI",
    "credential_metadata": {
        "display": [
            {
                "name": "IdentityCredential",
                "locale": "en-US",
                "logo": {
                    "uri": "https://university.example.edu/public/logo_credential.png",
                    "alt_text": "a square logo of a university credential",
                },
                "description": "A credential that signals the membership of a university",
                "background_color": "#12107c",
                "text_color": "#FFFFFF",
            }
        ],
        "claims": _CLAIMS,
    },
}

# Appendix I.1 (examples/credential_issuer_metadata_sd_jwt_long.json)
SD_JWT_LONG: dict[str, Any] = {
    "credential_issuer": "https://credential-issuer.example.com",
    "authorization_servers": ["https://server.example.com"],
    "credential_endpoint": "https://credential-issuer.example.com/credential",
    "nonce_endpoint": "https://credential-issuer.example.com/nonce",
    "deferred_credential_endpoint": "https://credential-issuer.example.com/deferred_credential",
    "notification_endpoint": "https://credential-issuer.example.com/notification",
    "credential_request_encryption": {
        "jwks": [
            {
                "kty": "EC",
                "kid": "ac",
                "use": "enc",
                "crv": "P-256",
                "alg": "ECDH-ES",
                "x": "YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk",
                "y": "Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk",
            }
        ],
        "enc_values_supported": ["A128GCM"],
        "zip_values_supported": ["DEF"],
        "encryption_required": True,
    },
    "credential_response_encryption": {
        "alg_values_supported": ["ECDH-ES"],
        "enc_values_supported": ["A128GCM"],
        "zip_values_supported": ["DEF"],
        "encryption_required": True,
    },
    "batch_credential_issuance": {"batch_size": 10},
    "display": [
        {
            "name": "Example University",
            "locale": "en-US",
            "logo": {
                "uri": "https://university.example.edu/public/logo.png",
                "alt_text": "a square logo of a university",
            },
        },
        {
            "name": "Example Université",
            "locale": "fr-FR",
            "logo": {
                "uri": "https://university.example.edu/public/logo.png",
                "alt_text": "Un logo universitaire carré",
            },
        },
    ],
    "credential_configurations_supported": {
        "SD_JWT_VC_example_in_OpenID4VCI": _SD_JWT_CONFIGURATION
    },
}

# Appendix A.2.2 (examples/credential_metadata_mso_mdoc.json), in an issuer's metadata
MDOC_CONFIGURATION: dict[str, Any] = {
    "format": "mso_mdoc",
    "doctype": "org.iso.18013.5.1.mDL",
    "cryptographic_binding_methods_supported": ["cose_key"],
    "credential_signing_alg_values_supported": [-7, -9],
    "credential_metadata": {
        "display": [
            {
                "name": "Mobile Driving License",
                "locale": "en-US",
                "logo": {
                    "uri": "https://state.example.org/public/mdl.png",
                    "alt_text": "state mobile driving license",
                },
                "background_color": "#12107c",
                "text_color": "#FFFFFF",
            },
            {
                "name": "モバイル運転免許証",
                "locale": "ja-JP",
                "logo": {
                    "uri": "https://state.example.org/public/mdl.png",
                    "alt_text": "米国州発行のモバイル運転免許証",
                },
                "background_color": "#12107c",
                "text_color": "#FFFFFF",
            },
        ],
        "claims": [
            {
                "path": ["org.iso.18013.5.1", "given_name"],
                "display": [
                    {"name": "Given Name", "locale": "en-US"},
                    {"name": "名前", "locale": "ja-JP"},
                ],
            },
            {
                "path": ["org.iso.18013.5.1", "family_name"],
                "display": [{"name": "Surname", "locale": "en-US"}],
            },
            {"path": ["org.iso.18013.5.1", "birth_date"], "mandatory": True},
            {"path": ["org.iso.18013.5.1.aamva", "organ_donor"]},
        ],
    },
}

# Appendix I.1, the signed form (examples/credential_issuer_metadata_sd_jwt_jwt.txt): its
# claims, as the JWT carries them
SIGNED_CLAIMS: dict[str, Any] = {
    "sub": "https://credential-issuer.example.com",
    "iat": 1516239022,
    "credential_issuer": "https://credential-issuer.example.com",
    "authorization_servers": ["https://server.example.com"],
    "credential_endpoint": "https://credential-issuer.example.com/credential",
    "deferred_credential_endpoint": "https://credential-issuer.example.com/deferred_credential",
    "credential_response_encryption": {
        "alg_values_supported": ["ECDH-ES"],
        "enc_values_supported": ["A128GCM"],
        "encryption_required": False,
    },
    "display": [
        {"name": "Example University", "locale": "en-US"},
        {"name": "Example Université", "locale": "fr-FR"},
    ],
    "credential_configurations_supported": {
        "SD_JWT_VC_example_in_OpenID4VCI": {
            **_SD_JWT_CONFIGURATION,
            "credential_metadata": {
                "display": [
                    {
                        "name": "IdentityCredential",
                        "logo": {
                            "uri": "https://university.example.edu/public/logo.png",
                            "alt_text": "a square logo of a university",
                        },
                        "locale": "en-US",
                        "background_color": "#12107c",
                        "text_color": "#FFFFFF",
                    }
                ],
                "claims": _CLAIMS,
            },
        }
    },
}

# RFC 8414 §3.2
AS_METADATA: dict[str, Any] = {
    "issuer": "https://server.example.com",
    "authorization_endpoint": "https://server.example.com/authorize",
    "token_endpoint": "https://server.example.com/token",
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
    "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
    "jwks_uri": "https://server.example.com/jwks.json",
    "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
    "response_types_supported": ["code", "code token"],
}
AS_METADATA_UNUSED = {
    "userinfo_endpoint": "https://server.example.com/userinfo",
    "registration_endpoint": "https://server.example.com/register",
    "service_documentation": "http://server.example.com/service_documentation.html",
    "ui_locales_supported": ["en-US", "en-GB", "en-CA", "fr-FR", "fr-CA"],
}
# OpenID4VCI 1.0 §12.3 with the members the HAIP profile reads (RFC 9126, 9449, 9207)
AS_METADATA_HAIP: dict[str, Any] = {
    "issuer": "https://server.example.com",
    "authorization_endpoint": "https://server.example.com/authorize",
    "token_endpoint": "https://server.example.com/token",
    "pushed_authorization_request_endpoint": "https://server.example.com/par",
    "require_pushed_authorization_requests": True,
    "code_challenge_methods_supported": ["S256"],
    "dpop_signing_alg_values_supported": ["ES256"],
    "authorization_response_iss_parameter_supported": True,
    "authorization_details_types_supported": ["openid_credential"],
    "grant_types_supported": [
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:pre-authorized_code",
    ],
    "pre-authorized_grant_anonymous_access_supported": True,
}


@pytest.mark.parametrize(
    ("value", "message_type"),
    [
        (SD_JWT_LONG, CredentialIssuerMetadata),
        (
            {
                **SD_JWT_LONG,
                "credential_configurations_supported": {
                    "org.iso.18013.5.1.mDL": MDOC_CONFIGURATION
                },
            },
            CredentialIssuerMetadata,
        ),
        (SIGNED_CLAIMS, SignedMetadataClaims),
        (AS_METADATA, AuthorizationServerMetadata),
        (AS_METADATA_HAIP, AuthorizationServerMetadata),
    ],
    ids=["sd-jwt-long", "mso-mdoc", "signed", "rfc8414", "haip"],
)
def test_the_specifications_examples_round_trip(value: dict[str, Any], message_type: type) -> None:
    assert to_plain(convert_message(copy.deepcopy(value), message_type)) == value


def test_unrecognized_members_are_ignored_as_both_specifications_say() -> None:
    read = convert_message({**AS_METADATA, **AS_METADATA_UNUSED}, AuthorizationServerMetadata)
    assert to_plain(read) == AS_METADATA
    extended = copy.deepcopy(SD_JWT_LONG)
    extended["signed_metadata"] = "eyJ..."
    extended["credential_configurations_supported"]["SD_JWT_VC_example_in_OpenID4VCI"][
        "claims_in_some_profile"
    ] = {"x": 1}
    assert to_plain(convert_message(extended, CredentialIssuerMetadata)) == SD_JWT_LONG


def _without(value: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(value)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(value: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(value), **change}


_CONFIG = ("credential_configurations_supported", "SD_JWT_VC_example_in_OpenID4VCI")


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (_without(SD_JWT_LONG, "credential_issuer"), "$"),
        (_without(SD_JWT_LONG, "credential_endpoint"), "$"),
        (_without(SD_JWT_LONG, "credential_configurations_supported"), "$"),
        (_with(SD_JWT_LONG, {"authorization_servers": []}), "$.authorization_servers"),
        (_with(SD_JWT_LONG, {"batch_credential_issuance": {"batch_size": 1}}), "$.batch_"),
        (_with(SD_JWT_LONG, {"display": []}), "$.display"),
        (_without(SD_JWT_LONG, *_CONFIG, "format"), "$.credential_configurations_supported"),
        (
            _with(
                SD_JWT_LONG,
                {
                    "credential_configurations_supported": {
                        "x": {"format": "dc+sd-jwt", "credential_metadata": {"display": [{}]}}
                    }
                },
            ),
            "$.credential_configurations_supported",
        ),
        (
            _with(
                SD_JWT_LONG,
                {
                    "credential_configurations_supported": {
                        "x": {
                            "format": "dc+sd-jwt",
                            "credential_metadata": {"claims": [{"path": []}]},
                        }
                    }
                },
            ),
            "$.credential_configurations_supported",
        ),
        (
            _with(
                SD_JWT_LONG,
                {
                    "credential_configurations_supported": {
                        "x": {"format": "dc+sd-jwt", "proof_types_supported": {"jwt": {}}}
                    }
                },
            ),
            "$.credential_configurations_supported",
        ),
    ],
    ids=[
        "no-issuer",
        "no-credential-endpoint",
        "no-configurations",
        "empty-authorization-servers",
        "batch-size-1",
        "empty-display",
        "configuration-without-format",
        "credential-display-without-name",
        "empty-claims-path",
        "proof-type-without-algorithms",
    ],
)
def test_metadata_that_breaks_section_12_2_4_is_refused_with_its_path(
    value: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        convert_message(value, CredentialIssuerMetadata)
    assert refused.value.description.startswith(where)


def test_authorization_server_metadata_needs_its_issuer_and_non_empty_lists() -> None:
    with pytest.raises(InvalidRequest, match=r"^\$: missing the required member issuer"):
        convert_message(_without(AS_METADATA, "issuer"), AuthorizationServerMetadata)
    with pytest.raises(InvalidRequest, match=r"^\$\.grant_types_supported"):
        convert_message(
            _with(AS_METADATA, {"grant_types_supported": []}), AuthorizationServerMetadata
        )
    with pytest.raises(InvalidRequest, match=r"^\$\.token_endpoint: expected a string"):
        convert_message(_with(AS_METADATA, {"token_endpoint": 7}), AuthorizationServerMetadata)
