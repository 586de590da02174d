"""OpenID4VCI 1.0 messages: the Credential Offer (§4.1.1), the Nonce Response (§7.2),
the Credential Request and Response (§8.2, §8.3), the Deferred Credential Request (§9.1),
the Notification Request (§11.1) and the parts of Credential Issuer Metadata (§12.2.4) a
wallet reads. Unrecognized members
are ignored, as each of these sections asks of the receiver."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import (
    InvalidCredentialRequest,
    InvalidEncryptionParameters,
    InvalidNotificationRequest,
    InvalidProof,
    InvalidRequest,
)
from core.messages import LocalizedName, Message
from core.oauth import ERROR_DESCRIPTION_PATTERN, PRE_AUTHORIZED_GRANT

_Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


# §4.1.1 Credential Offer ------------------------------------------------------------


class TxCode(Message):
    """§4.1.1: what the wallet should ask the citizen for; may be empty."""

    input_mode: Literal["numeric", "text"] | UnsetType = UNSET
    length: Annotated[int, msgspec.Meta(ge=1, le=32)] | UnsetType = UNSET
    description: Annotated[str, msgspec.Meta(max_length=300)] | UnsetType = UNSET


class PreAuthorizedCodeGrant(Message):
    pre_authorized_code: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] = msgspec.field(
        name="pre-authorized_code"
    )
    tx_code: TxCode | UnsetType = UNSET
    authorization_server: str | UnsetType = UNSET


class AuthorizationCodeGrant(Message):
    issuer_state: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | UnsetType = UNSET
    authorization_server: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | UnsetType
    ) = UNSET


class Grants(Message):
    pre_authorized_code: PreAuthorizedCodeGrant | UnsetType = msgspec.field(
        default=UNSET, name=PRE_AUTHORIZED_GRANT
    )
    authorization_code: AuthorizationCodeGrant | UnsetType = UNSET


class CredentialOffer(Message):
    """§4.1.1. ``credential_configuration_ids`` is a non-empty array of unique strings."""

    malformed = InvalidRequest

    credential_issuer: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    credential_configuration_ids: Annotated[list[_Identifier], msgspec.Meta(min_length=1)]
    grants: Grants | UnsetType = UNSET

    def check(self) -> None:
        if len(set(self.credential_configuration_ids)) != len(self.credential_configuration_ids):
            raise InvalidRequest("credential_configuration_ids must be unique")


# §7.2 Nonce Response -----------------------------------------------------------------


class NonceResponse(Message):
    c_nonce: str


# §8.2 Credential Request -------------------------------------------------------------


class CredentialResponseEncryption(Message):
    """§8.2: the wallet's key and algorithms for an encrypted response; what an issuer
    accepts is checked by ``core.oid4vci_encryption``."""

    jwk: dict[str, Any]
    enc: str
    zip: str | UnsetType = UNSET


#: Proof types by name (§8.2, Appendix F); each a non-empty array.
Proofs = dict[str, Annotated[list[Any], msgspec.Meta(min_length=1)]]


class CredentialRequest(Message):
    """§8.2. Exactly one of ``credential_identifier`` and ``credential_configuration_id``;
    ``proofs`` holds exactly one proof type. The draft-era ``proof`` member is refused
    rather than ignored: a wallet sending it expects a binding this issuer would not make."""

    malformed = InvalidCredentialRequest

    credential_identifier: _Identifier | UnsetType = UNSET
    credential_configuration_id: _Identifier | UnsetType = UNSET
    proofs: Proofs | UnsetType = UNSET
    credential_response_encryption: CredentialResponseEncryption | UnsetType = UNSET
    proof: Annotated[
        Any, msgspec.Meta(description="Not accepted: the draft-era single proof; send proofs.")
    ] = UNSET

    @classmethod
    def rejection(cls, description: str) -> Exception:
        # §8.3.1.2: a proofs member that is not valid is invalid_proof, encryption
        # parameters that are not are invalid_encryption_parameters
        if description.startswith("$.proofs"):
            return InvalidProof(description)
        if description.startswith("$.credential_response_encryption"):
            return InvalidEncryptionParameters(description)
        return InvalidCredentialRequest(description)

    def check(self) -> None:
        if self.proof is not UNSET:
            raise InvalidCredentialRequest("send key proofs in proofs, not proof")
        has_identifier = self.credential_identifier is not UNSET
        if has_identifier and self.credential_configuration_id is not UNSET:
            raise InvalidCredentialRequest(
                "use credential_identifier or credential_configuration_id, not both"
            )
        if not has_identifier and self.credential_configuration_id is UNSET:
            raise InvalidCredentialRequest("credential_configuration_id is required")
        if not isinstance(self.proofs, UnsetType) and len(self.proofs) != 1:
            raise InvalidProof("proofs must hold exactly one proof type")

    @property
    def proof_type(self) -> str | None:
        """The one proof type ``proofs`` holds (``check`` allows no more); None without."""
        if isinstance(self.proofs, UnsetType):
            return None
        return next(iter(self.proofs))

    def jwt_proofs(self) -> list[str]:
        """The ``jwt`` proofs (§8.2; Appendix F.1)."""
        if self.proofs is UNSET:
            raise InvalidProof("proofs are required for this credential")
        values = self.proofs.get("jwt")
        if values is None:
            raise InvalidProof("proofs must hold exactly one proof type, jwt")
        if not all(isinstance(value, str) for value in values):
            raise InvalidProof("each jwt proof must be a compact JWS")
        return values

    def attestation_proof(self) -> str:
        """The ``attestation`` proof (§8.2; Appendix F.3): an array of exactly one key
        attestation JWT."""
        if self.proofs is UNSET:
            raise InvalidProof("proofs are required for this credential")
        values = self.proofs.get("attestation")
        if values is None:
            raise InvalidProof("proofs must hold exactly one proof type, attestation")
        if len(values) != 1 or not isinstance(values[0], str):
            raise InvalidProof(
                "an attestation proof is an array of exactly one key attestation JWT"
            )
        value: str = values[0]
        return value


# §8.3 Credential Response ------------------------------------------------------------


class IssuedCredential(Message):
    credential: str | dict[str, Any]


class RegisterRead(Message):
    """An extension of the Credential Response (§8.3 allows more members; wallets that do
    not know it ignore it): the issuer read the credential's data from a register for this
    issuance (the once-only principle), so the citizen's wallet can say so in its activity
    log. Absent where a clerk typed the data in."""

    register: Annotated[
        list[LocalizedName],
        msgspec.Meta(
            description="The register's name per locale (empty: the issuer's own).", max_length=20
        ),
    ]
    purpose: Annotated[
        str,
        msgspec.Meta(
            max_length=64,
            description="Why it was read: issue_credential, refresh_credential (a "
            "fresh batch of a credential) or identify_citizen (who showed the identity "
            "claims of a presentation during issuance).",
            examples=["issue_credential"],
        ),
    ]
    read_at: Annotated[int, msgspec.Meta(ge=0, description="When, in seconds since the epoch.")]
    id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description="The read's identifier: the same read named in the response "
                "for each format of an offer of several carries the same one.",
            ),
        ]
        | UnsetType
    ) = UNSET


class CredentialResponse(Message):
    """§8.3: the credentials, or a ``transaction_id`` for deferred issuance."""

    credentials: Annotated[list[IssuedCredential], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    transaction_id: str | UnsetType = UNSET
    interval: Annotated[int, msgspec.Meta(gt=0)] | UnsetType = UNSET
    notification_id: str | UnsetType = UNSET
    register_reads: (
        Annotated[
            list[RegisterRead],
            msgspec.Meta(
                max_length=10,
                description="Extension: the registers the issuer read this credential's "
                "data from for this issuance (ignored by wallets that do not know it).",
            ),
        ]
        | UnsetType
    ) = UNSET

    def check(self) -> None:
        if (self.credentials is UNSET) == (self.transaction_id is UNSET):
            raise InvalidRequest("a credential response holds credentials or a transaction_id")
        if self.transaction_id is not UNSET and self.interval is UNSET:
            raise InvalidRequest("a deferred credential response needs an interval")


# §9.1 Deferred Credential Request ----------------------------------------------------


class DeferredCredentialRequest(Message):
    """§9.1: the ``transaction_id`` of a deferred credential response (§8.3). A malformed
    request is ``invalid_credential_request`` (§9.3 refers to §8.3.1.2)."""

    malformed = InvalidCredentialRequest

    transaction_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    credential_response_encryption: CredentialResponseEncryption | UnsetType = UNSET


# §11.1 Notification Request ----------------------------------------------------------

NotificationEvent = Literal["credential_accepted", "credential_failure", "credential_deleted"]


class NotificationRequest(Message):
    malformed = InvalidNotificationRequest

    notification_id: _Identifier
    event: NotificationEvent
    event_description: (
        Annotated[str, msgspec.Meta(max_length=1000, pattern=ERROR_DESCRIPTION_PATTERN)] | UnsetType
    ) = UNSET
