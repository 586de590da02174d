"""Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4) as one typed message: what an
agency publishes about itself, and what the wallet reads from any issuer.

Members this deployment does not know are ignored, as §12.2.4 asks of the wallet
("The Wallet MUST ignore any unrecognized parameters"). Format-specific members of a
credential configuration (``vct`` for ``dc+sd-jwt``, Appendix A.3.2; ``doctype`` for
``mso_mdoc``, Appendix A.2.2) sit on the one configuration struct, so a wallet reads an
issuer that offers several formats without refusing the ones it does not hold.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import InvalidRequest
from core.messages import Message

_Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
_NonEmptyStrings = Annotated[list[str], msgspec.Meta(min_length=1)]
#: JOSE names for JSON formats, COSE integers for ``mso_mdoc`` (Appendix A.2.2).
_Algorithms = Annotated[list[str | int], msgspec.Meta(min_length=1)]
#: §9 (Claims Path Pointer): a non-empty array of strings, nulls and non-negative integers.
ClaimsPathPointer = Annotated[
    list[str | Annotated[int, msgspec.Meta(ge=0)] | None], msgspec.Meta(min_length=1)
]


class Logo(Message):
    uri: str
    alt_text: str | UnsetType = UNSET


class BackgroundImage(Message):
    uri: str


class IssuerDisplay(Message):
    """§12.2.4 ``display`` of the Credential Issuer: each member optional."""

    name: str | UnsetType = UNSET
    locale: str | UnsetType = UNSET
    logo: Logo | UnsetType = UNSET


class CredentialDisplay(Message):
    """§12.2.4 ``credential_metadata.display``: ``name`` is required."""

    name: str
    locale: str | UnsetType = UNSET
    logo: Logo | UnsetType = UNSET
    description: str | UnsetType = UNSET
    background_color: str | UnsetType = UNSET
    background_image: BackgroundImage | UnsetType = UNSET
    text_color: str | UnsetType = UNSET


class ClaimDescriptionDisplay(Message):
    """Appendix B.2: a claim's name in one language; both members optional."""

    name: str | UnsetType = UNSET
    locale: str | UnsetType = UNSET


class ClaimDescription(Message):
    """Appendix B.2: a claims description object."""

    path: ClaimsPathPointer
    mandatory: bool | UnsetType = UNSET
    display: Annotated[list[ClaimDescriptionDisplay], msgspec.Meta(min_length=1)] | UnsetType = (
        UNSET
    )


class CredentialMetadata(Message):
    display: Annotated[list[CredentialDisplay], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    claims: Annotated[list[ClaimDescription], msgspec.Meta(min_length=1)] | UnsetType = UNSET


class KeyAttestationsRequired(Message):
    """§12.2.4 and Appendix D.2: the key storage and user authentication levels accepted;
    empty means any key attestation."""

    key_storage: _NonEmptyStrings | UnsetType = UNSET
    user_authentication: _NonEmptyStrings | UnsetType = UNSET


class ProofTypeMetadata(Message):
    proof_signing_alg_values_supported: _Algorithms
    key_attestations_required: KeyAttestationsRequired | UnsetType = UNSET


class CredentialConfiguration(Message):
    """One entry of ``credential_configurations_supported``. §12.2.4 wants
    ``proof_types_supported`` wherever ``cryptographic_binding_methods_supported`` is,
    but its own ``mso_mdoc`` example (Appendix A.2.2) leaves it out: the wallet checks
    what it needs of the configurations it is offered, and reads the others as given."""

    format: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    scope: str | UnsetType = UNSET
    credential_signing_alg_values_supported: _Algorithms | UnsetType = UNSET
    cryptographic_binding_methods_supported: _NonEmptyStrings | UnsetType = UNSET
    proof_types_supported: (
        Annotated[dict[str, ProofTypeMetadata], msgspec.Meta(min_length=1)] | UnsetType
    ) = UNSET
    credential_metadata: CredentialMetadata | UnsetType = UNSET
    #: ``dc+sd-jwt`` (Appendix A.3.2).
    vct: str | UnsetType = UNSET
    #: ``mso_mdoc`` (Appendix A.2.2).
    doctype: str | UnsetType = UNSET


class CredentialRequestEncryptionMetadata(Message):
    #: A JWK Set (§12.2.4); the section's own example gives the array of keys alone.
    jwks: dict[str, Any] | list[dict[str, Any]]
    enc_values_supported: _NonEmptyStrings
    encryption_required: bool
    zip_values_supported: _NonEmptyStrings | UnsetType = UNSET


class CredentialResponseEncryptionMetadata(Message):
    alg_values_supported: _NonEmptyStrings
    enc_values_supported: _NonEmptyStrings
    encryption_required: bool
    zip_values_supported: _NonEmptyStrings | UnsetType = UNSET


class BatchCredentialIssuance(Message):
    batch_size: Annotated[int, msgspec.Meta(ge=2)]


class CredentialIssuerMetadata(Message, kw_only=True):
    """§12.2.4. The wallet compares ``credential_issuer`` with the identifier it fetched
    the document for before using anything in it."""

    malformed = InvalidRequest

    credential_issuer: _Url
    credential_endpoint: _Url
    credential_configurations_supported: dict[str, CredentialConfiguration]
    authorization_servers: Annotated[list[_Url], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    nonce_endpoint: _Url | UnsetType = UNSET
    deferred_credential_endpoint: _Url | UnsetType = UNSET
    notification_endpoint: _Url | UnsetType = UNSET
    credential_request_encryption: CredentialRequestEncryptionMetadata | UnsetType = UNSET
    credential_response_encryption: CredentialResponseEncryptionMetadata | UnsetType = UNSET
    batch_credential_issuance: BatchCredentialIssuance | UnsetType = UNSET
    display: Annotated[list[IssuerDisplay], msgspec.Meta(min_length=1)] | UnsetType = UNSET


class SignedMetadataClaims(CredentialIssuerMetadata, kw_only=True):
    """§12.2.3: the metadata as the claims of a JWT about the issuer (``sub``)."""

    sub: _Url
    iss: str | UnsetType = UNSET
    iat: int
    exp: int | UnsetType = UNSET


def well_known_url(identifier: str, segment: str) -> str:
    """RFC 8414 §3.1 / OpenID4VCI 1.0 §12.2.2: ``<scheme>://<host>/.well-known/<segment>``
    followed by the identifier's path. ``ValueError`` for an identifier that is not a URL
    without query or fragment (§12.2.1)."""
    parts = urlsplit(identifier)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("the identifier is not a URL without query or fragment")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{segment}{parts.path.rstrip('/')}"
