"""Everything the wallet's use cases share, built once by ``app`` and passed in."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from core.audit.trail import AuditTrail
from core.clock import SYSTEM_CLOCK, Clock
from core.http.published_documents import PublishedDocuments
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.web_push import VapidKey
from wallet.domain import Account, Flow, StoredCredential, TooManyUnfinished
from wallet.ports import IdentityCheck, Mediations, Outbound, WalletStore
from wallet.services.notification_hub import NotificationHub
from wallet.services.sealing import AccountBox, AccountVault
from wallet.services.server_held_keys import ServerHeldKeys
from wallet.services.wallet_provider import WalletProvider


@dataclass(frozen=True, slots=True)
class WalletPolicy:
    access_token_lifetime: int = 300
    refresh_token_lifetime: int = 30 * 24 * 3600
    challenge_lifetime: int = 300
    flow_lifetime: int = 600
    #: How many instances of one credential to ask for when the issuer offers batches;
    #: each gets its own holder key, so presentations to different verifiers do not link.
    batch_size: int = 3
    activity_limit: int = 1000
    #: Unfinished offers and presentations one citizen may have at once.
    max_unfinished_flows: int = 20
    #: How long the wallet keeps asking for a deferred credential, in seconds.
    pending_lifetime: int = 30 * 24 * 3600
    #: Seconds at least between two questions to an issuer about a deferred credential,
    #: whatever ``interval`` it names (and at most a day apart).
    min_deferred_interval: int = 5
    #: Pending issuances the deferred-credential poller asks about in one pass.
    deferred_per_pass: int = 50
    #: Seconds the poller sleeps at most, waiting for the next pending issuance to be due:
    #: it sees those other workers made meanwhile.
    deferred_poll_longest: float = 60.0
    #: Seconds at least between two of its passes, whatever woke it.
    deferred_poll_shortest: float = 1.0
    #: A one-time credential gets a fresh batch when fewer unshown instances remain.
    renew_below: int = 1
    #: One-time credentials the housekeeping renews in one pass, and how long a failed
    #: renewal waits before it is tried again (seconds).
    renewals_per_pass: int = 50
    renewal_retry: int = 3600
    #: Days before a held credential's ``exp`` that the citizen is told it expires soon.
    expiry_notice_days: int = 30
    #: Seconds between two fetches of one watched status list: its ``ttl``, within these.
    watch_floor: float = 60.0
    watch_ceiling: float = 86400.0
    #: Status lists fetched, credentials taken into the watching, and expiry notices given
    #: in one pass of the status-list watching.
    watch_lists_per_pass: int = 200
    watch_backfill_per_pass: int = 500
    expiry_notices_per_pass: int = 500
    #: Notifications on one page of ``GET /wallet/notifications`` at most.
    notifications_page_max: int = 100
    #: Browsers one citizen may subscribe to Web Push.
    push_subscriptions_per_account: int = 10
    #: Live streams: seconds between two looks at the store, between two keep-alive
    #: comments; a stream ends after ``access_token_lifetime`` (the client opens another
    #: with its fresh token).
    stream_poll: float = 2.0
    stream_keepalive: float = 15.0
    #: How long a citizen's consent lets a mediator act (``IDWALLET_MEDIATION_MINUTES``),
    #: and how long a mediator's help request waits for it, in seconds.
    mediation_lifetime: int = 30 * 60
    help_request_lifetime: int = 300


@dataclass(slots=True)
class WalletContext:
    store: WalletStore
    outbound: Outbound
    documents: PublishedDocuments
    vault: AccountVault
    #: Trust anchors for issuers' credentials and verifiers' request objects: the
    #: deployment's own anchor and those of ``IDWALLET_WALLET_TRUST_ANCHORS``.
    anchors: list[x509.Certificate]
    #: Issuer keys by ``x5c`` chains to ``anchors`` (credentials and status lists).
    issuer_trust: X5cIssuerKeys
    #: Verifiers' request-object keys by ``x5c`` chains to ``anchors``; validated chains
    #: are remembered until they expire, as for issuers.
    verifier_trust: X5cIssuerKeys
    public_base_url: str
    token_secret: bytes
    #: The deployment's audit trail (``core.audit``): what mediators do for citizens.
    audit: AuditTrail
    #: Citizen spaces, mediators, help requests and mediations (docs/mediators.md).
    mediations: Mediations
    #: Keys the status-list watch index, what was told of each credential and the push
    #: endpoints' hashes (derived from the key-encryption key, never stored): required,
    #: an empty key would make the hashes anyone's to compute.
    watch_secret: bytes
    policy: WalletPolicy = field(default_factory=WalletPolicy)
    #: Custom URI schemes (apps on the phone) a verifier may send the citizen back to,
    #: besides https and this deployment's own origin (``IDWALLET_WALLET_REDIRECT_SCHEMES``).
    redirect_schemes: frozenset[str] = frozenset()
    #: Status list tokens already verified, by URI and the token's hash.
    verified_status_lists: dict[tuple[str, str], Any] = field(default_factory=dict)
    clock: Clock = SYSTEM_CLOCK
    #: Where server-held keys are made and which vault signs with each (software, or the
    #: deployment's hardware security module: ``IDWALLET_KEY_PROVIDER_HOLDER``).
    server_keys: ServerHeldKeys = field(default_factory=ServerHeldKeys)
    #: The deployment as wallet provider: attests its instances' keys (None: it has none).
    wallet_provider: WalletProvider | None = None
    #: The deployment's consent counter, where a citizen consents to a mediator by
    #: presenting their national ID (None: only the code in the wallet).
    identity_check: IdentityCheck | None = None
    #: Issuers the citizen can ask for credentials: the deployment's agencies and those of
    #: ``IDWALLET_WALLET_ISSUERS``.
    known_issuers: tuple[str, ...] = ()
    #: The newest DPoP nonce each server handed this worker, until the time given.
    dpop_nonces: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: Their listings, by issuer and language, until the time given.
    issuer_listings: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)
    #: Set when this worker leaves an issuance pending (``end_claim``): wakes its
    #: deferred-credential poller to sleep until that one is due.
    pending_changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: This worker's live notification streams and push deliveries.
    notices: NotificationHub = field(default_factory=NotificationHub)
    #: The deployment's Web Push key (None: Web Push is off).
    vapid: VapidKey | None = None

    def __post_init__(self) -> None:
        if len(self.watch_secret) < 32:
            raise ValueError("watch_secret must be a key of 32 bytes at least")

    @property
    def audience(self) -> str:
        """The ``aud`` of device proofs and access tokens: this wallet's API."""
        return f"{self.public_base_url}/wallet"

    async def keep_flow(self, flow: Flow) -> None:
        """Store an offer or presentation flow until its next step, within the citizen's
        limit of unfinished ones."""
        if not await self.store.flows.add(flow, self.clock.now(), self.policy.max_unfinished_flows):
            raise self._too_many()

    async def keep_flow_listing(self, flow: Flow) -> list[StoredCredential]:
        """``keep_flow``, and the citizen's credentials read in the same round trip."""
        listed = await self.store.flows.add_listing(
            flow, self.clock.now(), self.policy.max_unfinished_flows
        )
        if listed is None:
            raise self._too_many()
        return listed

    def _too_many(self) -> TooManyUnfinished:
        return TooManyUnfinished(
            f"you have {self.policy.max_unfinished_flows} unfinished offers and presentations"
            "; finish or decline some, or wait until they expire"
        )

    async def box(self, account_id: str) -> AccountBox:
        account = _SIGNED_IN.get()
        if account is None or account.account_id != account_id:
            account = await self.store.accounts.get(account_id)
        if account is None:
            raise LookupError("no such account")
        return self.vault.box(account_id, account.wrapped_data_key)


#: The account of the request's checked session, read with the check itself: the box of
#: that account needs no second read within the request. Each request runs in a task of
#: its own, whose context starts without it.
_SIGNED_IN: ContextVar[Account | None] = ContextVar("signed_in_account", default=None)


def signed_in(account: Account) -> None:
    """The account whose session this request's check found (``sessions.authenticate``)."""
    _SIGNED_IN.set(account)
