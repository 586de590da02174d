"""What an offer flow keeps, sealed, between the citizen's steps (OpenID4VCI 1.0): the
offer and where the issuer answers, from ``scan`` (or ``start_issuance``); in the
authorization code flow, what the redirect back from the issuer is checked against and
the keys the wallet instance proves itself with (``AuthorizationPlan``); the access token,
the holder keys and the prepared credential requests, from ``accept`` or
``finish_authorization``; read back by each step."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from core.oid4vci import TxCode
from core.oid4vci_metadata import KeyAttestationsRequired
from wallet.domain import FlowState, HolderKey, NotFound
from wallet.services.activity_messages import AssistedBy
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import KeptHolderKey
from wallet.services.instance_keys import InstanceKeys, InstanceKeyUse
from wallet.services.response_encryption import EncryptionPlan


class OfferedConfiguration(msgspec.Struct, kw_only=True):
    """A configuration of the offer as the issuer's metadata describes it, with its
    display data already sanitized (``wallet.services.display``)."""

    vct: str | None
    display: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    #: ``dc+sd-jwt`` or ``mso_mdoc`` (with its ``doctype``, Appendix A.2.2).
    format: str = "dc+sd-jwt"
    doctype: str | None = None
    #: §12.2.4: the key attestation levels the issuer requires for ``jwt`` proofs (None:
    #: it requires no key attestation).
    key_attestations_required: KeyAttestationsRequired | None = None


class PreparedCredentialRequest(msgspec.Struct, kw_only=True):
    """One credential request (§8.2): its key proofs' signing inputs, one per key."""

    configuration_id: str
    key_ids: list[str]
    signing_inputs: list[str]


class AuthorizationPlan(msgspec.Struct, kw_only=True):
    """The authorization code flow of one issuance (OpenID4VCI 1.0 §5, HAIP 1.0 §4)."""

    #: The authorization server's issuer identifier: the ``iss`` of its redirect (RFC
    #: 9207) and the ``aud`` of the attestation's proof of possession.
    authorization_server: str
    authorization_endpoint: str
    #: RFC 9126: where the request is pushed (None: sent in the authorization URL).
    par_endpoint: str | None
    #: The offer's ``issuer_state`` (§4.1.1), sent back with the request.
    issuer_state: str | None
    #: The configuration's ``scope``, asked for instead of ``authorization_details``.
    scope: str | None
    redirect_uri: str
    client_id: str
    #: The secret part of ``state`` (the flow id is the other), compared on return.
    state_secret: str
    #: RFC 7636: the PKCE verifier of the S256 challenge sent.
    code_verifier: str
    #: Whether the authorization server takes wallet attestations (and so gets them).
    attested: bool
    #: Whether its tokens are DPoP-bound (it publishes DPoP algorithms).
    dpop: bool
    keys: InstanceKeys
    #: The last ``DPoP-Nonce`` each server handed out, by endpoint origin.
    dpop_nonces: dict[str, str] = msgspec.field(default_factory=dict)
    #: The custody the citizen chose when starting; holder keys of a phone may follow.
    custody: str = "server"
    #: From the token response (§6.2): the identifier to ask each configuration by.
    credential_identifiers: dict[str, str] = msgspec.field(default_factory=dict)
    #: The authorization code of the redirect, kept while the phone signs the proofs of
    #: the token request (keys on the phone).
    code: str | None = None
    #: Proofs the phone signed for the requests of the step under way, by slot
    #: (``sender_constrained.pop_slot`` and ``dpop_slot``), each used once.
    presigned: dict[str, list[str]] = msgspec.field(default_factory=dict)
    #: The authorization server's token endpoint (None in flows kept before it was kept).
    token_endpoint: str | None = None

    def nonce_scope(self, endpoint: str) -> str:
        """Whose nonce a request to ``endpoint`` carries: the authorization server's at its
        pushed-request and token endpoints (RFC 9449 §8), else the resource server's
        (§9), the issuer the endpoint belongs to. The two keep nonces of their own even
        where their endpoints share a path."""
        if endpoint in (self.par_endpoint, self.token_endpoint):
            return f"authorization server {self.authorization_server}"
        return server_of(endpoint)

    def remember_nonce(self, endpoint: str, nonce: str) -> None:
        """The newest ``DPoP-Nonce`` of the server at ``endpoint`` (RFC 9449 §8.2, §9)."""
        self.dpop_nonces[self.nonce_scope(endpoint)] = nonce

    def nonce_for(self, endpoint: str) -> str | None:
        return self.dpop_nonces.get(self.nonce_scope(endpoint))


def server_of(endpoint: str) -> str:
    """Whose nonce an endpoint takes: the endpoint without its last path segment (the
    issuer or authorization server it belongs to), as several issuers may share an
    origin, each with nonces of its own."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/', 1)[0]}"


class ProofSlot(msgspec.Struct, kw_only=True):
    """A proof by a key of the wallet instance on the phone that a request of the step
    under way needs: its slot name, the key and the signing input the phone signs."""

    name: str
    use: InstanceKeyUse
    signing_input: str


class DeviceRound(msgspec.Struct, kw_only=True):
    """What the phone is asked to sign before the flow goes on: the step it resumes, and
    the instance keys' proofs of that step (after the holder keys' proofs of
    ``OfferFlow.requests``, when ``holder_proofs``)."""

    step: Literal["push", "token", "credentials", "deferred", "refresh"]
    slots: list[ProofSlot]
    holder_proofs: bool = False
    #: The holder keys' proof signatures (base64url) the phone gave in an earlier round of
    #: this step, kept when only the instance keys' proofs need signing again.
    holder_signatures: list[str] = msgspec.field(default_factory=list)
    #: How often this step was asked for again (a server's new DPoP nonce), bounded so
    #: that a server that never takes its own nonce cannot keep the phone signing.
    repeated: int = 0


class DeferredCredential(msgspec.Struct, kw_only=True):
    """A credential the issuer deferred (§8.3, §9): asked for again with its
    ``transaction_id`` no sooner than ``due_at``, bound to the keys of its request."""

    configuration_id: str
    transaction_id: str
    key_ids: list[str]
    interval: int
    due_at: float


class OfferFlow(msgspec.Struct, kw_only=True):
    issuer: str
    tx_code: TxCode | None
    token_endpoint: str
    credential_endpoint: str
    nonce_endpoint: str | None
    notification_endpoint: str | None
    issuer_display: list[dict[str, Any]]
    configurations: dict[str, OfferedConfiguration]
    #: Instances asked for per configuration (the issuer's batch size, within policy).
    instances: int
    pre_authorized_code: str | None = None
    authorization: AuthorizationPlan | None = None
    #: How credential requests and responses are encrypted (None: they are not).
    encryption: EncryptionPlan | None = None
    #: §12.2.4 ``deferred_credential_endpoint`` (None: the issuer defers nothing).
    deferred_endpoint: str | None = None
    #: §6.1 (RFC 6749 §6): to get a new access token when the one held has expired.
    refresh_token: str | None = None
    #: The credentials still to come.
    deferred: list[DeferredCredential] = msgspec.field(default_factory=list)
    access_token: str | None = None
    #: ``Bearer``, or ``DPoP`` for a token bound to ``authorization.keys.dpop``.
    token_type: str = "Bearer"  # noqa: S105 - a token type (RFC 6749 §7.1), no secret
    requests: list[PreparedCredentialRequest] = msgspec.field(default_factory=list)
    keys: list[KeptHolderKey] = msgspec.field(default_factory=list)
    #: With keys on the phone: what it signs before the flow goes on.
    round: DeviceRound | None = None
    #: The one-time credential this flow asks a fresh batch for (the phone renews it).
    renews: str | None = None
    #: Accepted through a mediation (docs/mediators.md): the credentials still to come are
    #: marked as received with that mediator's help when they arrive, whoever fetches them.
    assisted_by: AssistedBy | None = None

    @property
    def holder_keys_needed(self) -> int:
        return self.instances * len(self.configurations)

    @classmethod
    def opened(cls, content: dict[str, Any]) -> OfferFlow:
        """A flow's sealed content, opened; ``msgspec.ValidationError`` for another shape."""
        return msgspec.convert(content, cls)

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
