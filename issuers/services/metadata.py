"""What an agency publishes about itself for any wallet:

- Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4), optionally signed (§12.2.3), with
  what the agency supports and requires of encrypted requests and responses (§10);
- OAuth 2.0 Authorization Server Metadata (RFC 8414; OpenID4VCI 1.0 §12.3);
- JWT VC Issuer Metadata (SD-JWT VC §4);
- SD-JWT VC Type Metadata for each ``vct`` (SD-JWT VC §5).

A logo that is an image of the catalog is published as an ``https`` URL under the agency's
identifier where the public base URL is ``https`` (the agency serves it there), and inlined
as a ``data:`` URL (``data:image/png;base64,…``) otherwise (a development server on plain ``http``,
whose URLs no wallet would fetch). Both forms are accepted by every wallet library; an
``image/svg+xml`` data URL is not.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any

from msgspec import UNSET

from core.client_attestation import ATTESTATION_AUTH_METHOD
from core.dpop import DPOP_ALGORITHMS
from core.jose.jwk import JwkSet
from core.jose.jws import sign_compact
from core.keys.signer import Signer
from core.language import preferred_subset
from core.messages import to_plain
from core.oauth import (
    AUTHORIZATION_CODE_GRANT,
    OPENID_CREDENTIAL,
    PKCE_METHOD,
    PRE_AUTHORIZED_GRANT,
    REFRESH_TOKEN_GRANT,
    AuthorizationServerMetadata,
)
from core.oid4vci_encryption import ALG_VALUES_SUPPORTED, ENC_VALUES_SUPPORTED
from core.oid4vci_metadata import (
    BatchCredentialIssuance,
    ClaimDescription,
    ClaimDescriptionDisplay,
    CredentialDisplay,
    CredentialIssuerMetadata,
    CredentialMetadata,
    CredentialRequestEncryptionMetadata,
    CredentialResponseEncryptionMetadata,
    IssuerDisplay,
    KeyAttestationsRequired,
    ProofTypeMetadata,
)
from core.oid4vci_metadata import (
    CredentialConfiguration as ConfigurationMetadata,
)
from core.oid4vci_metadata import Logo as LogoMetadata
from core.sdjwt_vc.issuer_keys import JwtVcIssuerMetadata
from core.sdjwt_vc.type_metadata import ClaimDisplay as TypeClaimDisplay
from core.sdjwt_vc.type_metadata import ClaimMetadata, TypeDisplay, TypeMetadata
from issuers.domain import (
    MDOC_FORMAT,
    SD_JWT_VC_FORMAT,
    Agency,
    ClaimLabel,
    CredentialConfiguration,
    Display,
    KeyAttestationRequirement,
    Logo,
    LogoImage,
)

SIGNED_METADATA_TYP = "openidvci-issuer-metadata+jwt"
SIGNED_METADATA_LIFETIME = 24 * 3600
BATCH_SIZE = 10
SIGNING_ALGORITHMS = ["ES256"]
#: COSE algorithm identifiers of ``issuerAuth`` (OpenID4VCI 1.0 Appendix A.2.2).
MDOC_SIGNING_ALGORITHMS = [-7, -9]
JWT_PROOF = "jwt"
ATTESTATION_PROOF = "attestation"


def endpoint(agency: Agency, base_url: str, name: str) -> str:
    return f"{agency.identifier(base_url)}/{name}"


def image_url(agency: Agency, base_url: str, image: LogoImage) -> str:
    """Where the agency serves an image of its catalog."""
    return endpoint(agency, base_url, f"images/{image.name}")


def _logo(agency: Agency, base_url: str, logo: Logo) -> dict[str, str]:
    """``uri`` of a logo, with ``uri#integrity`` (SD-JWT VC §6) for an image served here."""
    if logo.image is None:
        if logo.uri is None:  # the catalog allows exactly one of the two
            raise ValueError("a logo with neither an image nor a uri")
        return {"uri": logo.uri}
    if base_url.startswith("https://"):
        return {
            "uri": image_url(agency, base_url, logo.image),
            "uri#integrity": logo.image.integrity,
        }
    inline = base64.b64encode(logo.image.content).decode("ascii")
    return {"uri": f"data:{logo.image.media_type};base64,{inline}"}


def _images(agency: Agency) -> Iterator[LogoImage]:
    displays = [*agency.display, *(d for c in agency.configurations.values() for d in c.display)]
    for display in displays:
        if display.logo is not None and display.logo.image is not None:
            yield display.logo.image


def agency_image(agency: Agency, name: str) -> LogoImage | None:
    """An image named by one of the agency's logos; None for any other name."""
    return next((image for image in _images(agency) if image.name == name), None)


def _logo_metadata(agency: Agency, base_url: str, logo: Logo | None) -> LogoMetadata | None:
    """OpenID4VCI 1.0 §12.2.4 names only ``uri`` and ``alt_text`` for these logos."""
    if logo is None:
        return None
    return LogoMetadata(uri=_logo(agency, base_url, logo)["uri"], alt_text=logo.alt_text or UNSET)


def _issuer_display(agency: Agency, base_url: str, items: Sequence[Display]) -> list[IssuerDisplay]:
    return [
        IssuerDisplay(
            name=item.name,
            locale=item.locale,
            logo=_logo_metadata(agency, base_url, item.logo) or UNSET,
        )
        for item in items
    ]


def _credential_display(
    agency: Agency, base_url: str, items: Sequence[Display]
) -> list[CredentialDisplay]:
    return [
        CredentialDisplay(
            name=item.name,
            locale=item.locale,
            logo=_logo_metadata(agency, base_url, item.logo) or UNSET,
            description=item.description or UNSET,
            background_color=item.background_color or UNSET,
            text_color=item.text_color or UNSET,
        )
        for item in items
    ]


def key_attestations_required(
    requirement: KeyAttestationRequirement | None,
) -> KeyAttestationsRequired | None:
    """§12.2.4 ``key_attestations_required`` of a configuration; None where none is required
    (then the member "MUST NOT be present")."""
    if requirement is None:
        return None
    return KeyAttestationsRequired(
        key_storage=list(requirement.key_storage) or UNSET,
        user_authentication=list(requirement.user_authentication) or UNSET,
    )


def proof_types_supported(config: CredentialConfiguration) -> dict[str, ProofTypeMetadata]:
    """§12.2.4 ``proof_types_supported``: ``jwt`` proofs (Appendix F.1), and where the
    configuration requires key attestations, the ``attestation`` proof type (Appendix F.3)
    too, both stating the requirement (HAIP 1.0 §4.5.1 asks issuers to accept both)."""
    required = key_attestations_required(config.key_attestations_required)
    if required is None:
        return {
            JWT_PROOF: ProofTypeMetadata(
                proof_signing_alg_values_supported=list(SIGNING_ALGORITHMS)
            )
        }
    return {
        name: ProofTypeMetadata(
            proof_signing_alg_values_supported=list(SIGNING_ALGORITHMS),
            key_attestations_required=required,
        )
        for name in (JWT_PROOF, ATTESTATION_PROOF)
    }


def _labels(items: Sequence[ClaimLabel], preferred: Sequence[str]) -> list[ClaimDescriptionDisplay]:
    return [
        ClaimDescriptionDisplay(name=label.name, locale=label.locale)
        for label in preferred_subset(items, preferred)
    ]


def _configuration(
    agency: Agency, base_url: str, config: CredentialConfiguration, preferred: Sequence[str]
) -> ConfigurationMetadata:
    claims = [
        ClaimDescription(
            path=list(claim.path),
            mandatory=True if claim.mandatory else UNSET,
            display=_labels(claim.display, preferred) or UNSET,
        )
        for claim in config.claims
    ]
    metadata = CredentialMetadata(
        display=_credential_display(agency, base_url, preferred_subset(config.display, preferred))
        or UNSET,
        claims=claims or UNSET,
    )
    if config.format == MDOC_FORMAT:
        # Appendix A.2.2: the docType; the device key is a COSE_Key; issuerAuth is ES256
        # (-7), which with a P-256 key is also the fully specified ESP256 (-9)
        return ConfigurationMetadata(
            format=MDOC_FORMAT,
            scope=config.id,
            doctype=config.doctype or UNSET,
            cryptographic_binding_methods_supported=["cose_key"],
            credential_signing_alg_values_supported=list(MDOC_SIGNING_ALGORITHMS),
            proof_types_supported=proof_types_supported(config),
            credential_metadata=metadata,
        )
    return ConfigurationMetadata(
        format=SD_JWT_VC_FORMAT,
        scope=config.id,
        vct=agency.vct(base_url, config.id),
        cryptographic_binding_methods_supported=["jwk"],
        credential_signing_alg_values_supported=list(SIGNING_ALGORITHMS),
        proof_types_supported=proof_types_supported(config),
        credential_metadata=metadata,
    )


def credential_request_encryption(
    agency: Agency, request_key: dict[str, str]
) -> CredentialRequestEncryptionMetadata:
    """§12.2.4 ``credential_request_encryption``: the agency's public key for encrypted
    requests as a JWK Set (RFC 7517 §5; the key carries its ``kid``, ``use: enc`` and
    ``alg: ECDH-ES``), the ``enc`` values it decrypts, no compression."""
    return CredentialRequestEncryptionMetadata(
        jwks={"keys": [request_key]},
        enc_values_supported=list(ENC_VALUES_SUPPORTED),
        encryption_required=agency.encryption_required,
    )


def credential_response_encryption(agency: Agency) -> CredentialResponseEncryptionMetadata:
    """§12.2.4 ``credential_response_encryption``: ECDH-ES with A128GCM or A256GCM (HAIP
    1.0), no compression."""
    return CredentialResponseEncryptionMetadata(
        alg_values_supported=list(ALG_VALUES_SUPPORTED),
        enc_values_supported=list(ENC_VALUES_SUPPORTED),
        encryption_required=agency.encryption_required,
    )


def credential_issuer_metadata(
    agency: Agency,
    base_url: str,
    preferred: Sequence[str] = (),
    *,
    request_key: dict[str, str],
) -> tuple[CredentialIssuerMetadata, list[str]]:
    """The metadata, and the locales it carries (for ``Content-Language``);
    ``request_key`` is the public JWK of the agency's key for encrypted requests."""
    display = preferred_subset(agency.display, preferred)
    metadata = CredentialIssuerMetadata(
        credential_issuer=agency.identifier(base_url),
        credential_endpoint=endpoint(agency, base_url, "credential"),
        nonce_endpoint=endpoint(agency, base_url, "nonce"),
        # §12.2.4: announced where some credential waits for a clerk's approval (§9)
        deferred_credential_endpoint=endpoint(agency, base_url, "deferred_credential")
        if agency.defers_issuance
        else UNSET,
        notification_endpoint=endpoint(agency, base_url, "notification"),
        credential_request_encryption=credential_request_encryption(agency, request_key),
        credential_response_encryption=credential_response_encryption(agency),
        batch_credential_issuance=BatchCredentialIssuance(batch_size=BATCH_SIZE),
        display=_issuer_display(agency, base_url, display) or UNSET,
        credential_configurations_supported={
            config_id: _configuration(agency, base_url, config, preferred)
            for config_id, config in agency.configurations.items()
        },
    )
    return metadata, [d.locale for d in display]


def signed_credential_issuer_metadata(
    metadata: CredentialIssuerMetadata, signer: Signer, *, issued_at: int
) -> str:
    """§12.2.3: the metadata as top-level claims of a JWT, ``sub`` = the issuer identifier."""
    payload = {
        **to_plain(metadata),
        "sub": metadata.credential_issuer,
        "iss": metadata.credential_issuer,
        "iat": issued_at,
        "exp": issued_at + SIGNED_METADATA_LIFETIME,
    }
    return sign_compact(payload, signer, typ=SIGNED_METADATA_TYP, include_x5c=bool(signer.x5c))


def authorization_server_metadata(agency: Agency, base_url: str) -> AuthorizationServerMetadata:
    """RFC 8414 metadata of the agency's own authorization server: the pre-authorized code
    grant without client authentication (OpenID4VCI 1.0 §12.3), and the authorization code
    flow with pushed requests (RFC 9126 §5), PKCE S256, ``iss`` in the response (RFC 9207
    §3), wallet attestations as client authentication and DPoP-bound tokens (HAIP 1.0 §4,
    RFC 9449 §5.1)."""
    return AuthorizationServerMetadata(
        issuer=agency.identifier(base_url),
        authorization_endpoint=endpoint(agency, base_url, "authorize"),
        token_endpoint=endpoint(agency, base_url, "token"),
        pushed_authorization_request_endpoint=endpoint(agency, base_url, "par"),
        require_pushed_authorization_requests=True,
        response_types_supported=["code"],
        scopes_supported=list(agency.configurations),
        grant_types_supported=[
            AUTHORIZATION_CODE_GRANT,
            PRE_AUTHORIZED_GRANT,
            *([REFRESH_TOKEN_GRANT] if agency.refresh_token_lifetime > 0 else []),
        ],
        revocation_endpoint=endpoint(agency, base_url, "revoke"),
        revocation_endpoint_auth_methods_supported=["none"],
        code_challenge_methods_supported=[PKCE_METHOD],
        authorization_response_iss_parameter_supported=True,
        authorization_details_types_supported=[OPENID_CREDENTIAL],
        token_endpoint_auth_methods_supported=["none", ATTESTATION_AUTH_METHOD],
        client_attestation_signing_alg_values_supported=["ES256"],
        client_attestation_pop_signing_alg_values_supported=["ES256"],
        dpop_signing_alg_values_supported=sorted(DPOP_ALGORITHMS),
        pre_authorized_grant_anonymous_access_supported=True,
    )


def jwt_vc_issuer_metadata(
    agency: Agency, base_url: str, jwks: list[dict[str, str]]
) -> JwtVcIssuerMetadata:
    """SD-JWT VC §4.2: the issuer and its keys (retired keys stay listed, so what they
    signed keeps verifying)."""
    return JwtVcIssuerMetadata(issuer=agency.identifier(base_url), jwks=JwkSet(keys=list(jwks)))


def type_metadata(agency: Agency, base_url: str, config: CredentialConfiguration) -> TypeMetadata:
    """SD-JWT VC §5.2 Type Metadata for one configuration."""
    english = next((d for d in config.display if d.locale.split("-")[0] == "en"), config.display[0])
    display = []
    for item in config.display:
        rendering: dict[str, Any] = {}
        if item.background_color:
            rendering["background_color"] = item.background_color
        if item.text_color:
            rendering["text_color"] = item.text_color
        if item.logo:
            rendering["logo"] = {
                **_logo(agency, base_url, item.logo),
                "alt_text": item.logo.alt_text or item.name,
            }
        display.append(
            TypeDisplay(
                locale=item.locale,
                name=item.name,
                description=item.description or UNSET,
                rendering={"simple": rendering} if rendering else UNSET,
            )
        )
    claims = [
        ClaimMetadata(
            path=list(claim.path),
            sd="always" if claim.selectively_disclosable else "never",
            mandatory=claim.mandatory,
            display=[
                TypeClaimDisplay(locale=label.locale, label=label.name) for label in claim.display
            ]
            or UNSET,
        )
        for claim in config.claims
    ]
    return TypeMetadata(
        vct=agency.vct(base_url, config.id),
        name=english.name,
        description=english.description or english.name,
        display=display,
        claims=claims,
    )
