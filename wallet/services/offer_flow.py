"""What an offer flow keeps, sealed, between the citizen's steps (OpenID4VCI 1.0): the
offer and where the issuer answers, from ``scan``; the access token, the holder keys and
the prepared credential requests, from ``accept``; read back by ``accept`` and
``complete``."""

from __future__ import annotations

from typing import Any

import msgspec

from core.encoding import b64url_decode, b64url_encode
from core.oid4vci import TxCode
from core.oid4vci_metadata import KeyAttestationsRequired
from wallet.domain import Custody, FlowState, HolderKey, NotFound
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext


class OfferedConfiguration(msgspec.Struct, kw_only=True):
    """A configuration of the offer as the issuer's metadata describes it, with its
    display data already sanitized (``wallet.services.display``)."""

    vct: str | None
    display: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    #: §12.2.4: the key attestation levels the issuer requires for ``jwt`` proofs (None:
    #: it requires no key attestation).
    key_attestations_required: KeyAttestationsRequired | None = None


class KeptHolderKey(msgspec.Struct, kw_only=True):
    """A holder key made for this offer; stored with the credential once received."""

    holder_key_id: str
    custody: Custody
    public_jwk: dict[str, str]
    sealed_private_key: str | None

    @classmethod
    def of(cls, key: HolderKey) -> KeptHolderKey:
        sealed = key.sealed_private_key
        return cls(
            holder_key_id=key.holder_key_id,
            custody=key.custody,
            public_jwk=key.public_jwk,
            sealed_private_key=None if sealed is None else b64url_encode(sealed),
        )

    def holder_key(self, account_id: str, now: float) -> HolderKey:
        sealed = self.sealed_private_key
        return HolderKey(
            self.holder_key_id,
            account_id,
            self.custody,
            self.public_jwk,
            None if sealed is None else b64url_decode(sealed),
            now,
        )


class PreparedCredentialRequest(msgspec.Struct, kw_only=True):
    """One credential request (§8.2): its key proofs' signing inputs, one per key."""

    configuration_id: str
    key_ids: list[str]
    signing_inputs: list[str]


class OfferFlow(msgspec.Struct, kw_only=True):
    issuer: str
    pre_authorized_code: str
    tx_code: TxCode | None
    token_endpoint: str
    credential_endpoint: str
    nonce_endpoint: str | None
    notification_endpoint: str | None
    issuer_display: list[dict[str, Any]]
    configurations: dict[str, OfferedConfiguration]
    #: Instances asked for per configuration (the issuer's batch size, within policy).
    instances: int
    access_token: str | None = None
    requests: list[PreparedCredentialRequest] = msgspec.field(default_factory=list)
    keys: list[KeptHolderKey] = msgspec.field(default_factory=list)

    @property
    def holder_keys_needed(self) -> int:
        return self.instances * len(self.configurations)

    def content(self) -> dict[str, Any]:
        """What ``claim_flow`` seals."""
        plain: dict[str, Any] = msgspec.to_builtins(self)
        return plain

    def holder_keys(self, account_id: str, now: float) -> list[HolderKey]:
        return [key.holder_key(account_id, now) for key in self.keys]


async def read_offer_flow(context: WalletContext, claimed: ClaimedFlow) -> OfferFlow:
    """The claimed flow's content; a flow kept in another shape (by an earlier version,
    across an upgrade) cannot go on: it is failed and reported as gone."""
    try:
        return msgspec.convert(claimed.content, OfferFlow)
    except msgspec.ValidationError:
        await end_claim(context, claimed, FlowState.FAILED)
        raise NotFound("no such offer") from None
