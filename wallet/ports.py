"""What the wallet's use cases need from storage, from the network and from the key store,
as small protocols.

Every method that reads or changes a citizen's data takes the ``account_id``: a lookup of
another account's object finds nothing (the API answers 404, never 403).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from core.http.client import FetchedDocument
from core.keys.signer import Signer
from wallet.domain import (
    Account,
    ActivityEntry,
    Device,
    ExpiryDue,
    Flow,
    FlowKind,
    FlowState,
    HelpRequest,
    HolderKey,
    Mediation,
    MediationSpace,
    Mediator,
    Notice,
    PendingWatch,
    SpentChallenge,
    StoredCredential,
    StoredNotification,
    StoredPushSubscription,
    WatchedList,
)


class Accounts(Protocol):
    async def create(self, account: Account, device: Device) -> None:
        """The account with its first device, in one transaction."""

    async def get(self, account_id: str) -> Account | None: ...

    async def delete(self, account_id: str) -> bool:
        """Erase the account and everything it owns, in one transaction."""


class Devices(Protocol):
    async def add(self, device: Device) -> None: ...

    async def session_account(self, account_id: str, device_id: str) -> Account | None:
        """The account, when ``device_id`` is its device and not revoked: one read for the
        check every authenticated request makes and the wrapped key it then needs."""

    async def by_thumbprint(self, thumbprint: str) -> Device | None: ...

    async def by_device_id(self, device_id: str) -> Device | None: ...

    async def get(self, account_id: str, device_id: str) -> Device | None: ...

    async def list(self, account_id: str) -> list[Device]: ...

    async def revoke(self, account_id: str, device_id: str, at: float) -> bool:
        """Revoke the device and every refresh token it holds; False if not found."""


class Challenges(Protocol):
    """Sign-in challenges are handed out without storing anything; a used one is kept here
    until it expires."""

    async def spend(self, challenge: SpentChallenge) -> bool:
        """One atomic statement: True for exactly one caller per unexpired challenge."""

    async def purge(self, now: float) -> int:
        """Forget spent challenges that have expired."""


class RefreshTokens(Protocol):
    async def issue(
        self,
        token_hash: str,
        *,
        family_id: str,
        account_id: str,
        device_id: str,
        expires_at: float,
        spending: SpentChallenge | None = None,
    ) -> bool:
        """Store a new refresh token; with ``spending``, only if that challenge is spent by
        this call, in the same statement (False: it was spent before, nothing stored)."""

    async def rotate(self, token_hash: str, now: float) -> tuple[str, str, str] | None:
        """Mark the token used; its (family, account, device) for exactly one caller of a
        live token. None otherwise; a token already rotated revokes its whole family."""

    async def purge(self, now: float) -> int:
        """Forget expired refresh tokens."""


class HolderKeys(Protocol):
    async def add(self, keys: Sequence[HolderKey]) -> None: ...

    async def get(self, account_id: str, holder_key_ids: Sequence[str]) -> list[HolderKey]: ...


class Credentials(Protocol):
    async def add(self, credential: StoredCredential) -> None: ...

    async def listings(self, account_id: str) -> list[StoredCredential]:
        """The account's credentials as ``list`` orders them, for showing a list: each
        with its sealed listing and an empty ``sealed`` record, or, where no listing was
        kept yet, with its record to derive one from."""

    async def list(self, account_id: str) -> list[StoredCredential]: ...

    async def keep_listing(self, account_id: str, credential_id: str, sealed: bytes) -> None:
        """The sealed listing of a record stored without one, unless one was kept since
        (a new record always comes with its own)."""

    async def get(self, account_id: str, credential_id: str) -> StoredCredential | None: ...

    async def count_presentation(self, account_id: str, credential_id: str) -> None: ...

    async def replace(
        self,
        account_id: str,
        credential_id: str,
        sealed: bytes,
        *,
        sealed_listing: bytes,
        expected_presentations: int,
        renew_from: int | None,
    ) -> bool:
        """New sealed content (a fresh batch) and its listing, unless the credential was
        shown since it was read (``expected_presentations``): one compare-and-set."""

    async def renewal_due(self, now: float, limit: int) -> Sequence[tuple[str, str]]:
        """(account id, credential id) of one-time credentials due for a fresh batch."""

    async def postpone_renewal(self, account_id: str, credential_id: str, until: float) -> None:
        """A renewal that failed: not tried again before ``until``."""

    async def delete(self, account_id: str, credential_id: str) -> bool: ...


class Flows(Protocol):
    async def claim(
        self, account_id: str, flow_id: str, kind: FlowKind, expected: FlowState, now: float
    ) -> Flow | None:
        """One conditional update: the unexpired flow of ``kind`` and this account moved
        from ``expected`` to ``busy``, and returned as the step found it (in ``expected``;
        ``due_at`` cleared); None when it is not there in that state (``get`` tells why)."""

    async def claim_listing(
        self,
        account_id: str,
        flow_id: str,
        kind: FlowKind,
        expected: FlowState,
        now: float,
        *,
        contents: bool = True,
    ) -> tuple[Flow, list[StoredCredential]] | None:
        """``claim``, and the account's credentials as ``Credentials.list`` gives them, in
        one round trip; without ``contents``, their sealed records are left out (empty),
        which is enough to know which are still held."""

    async def submit(
        self, account_id: str, flow_id: str, shown: Sequence[str], entry: ActivityEntry
    ) -> bool:
        """A presentation delivered, in one transaction: its busy flow moved to
        ``submitted``, each credential of ``shown`` counted once more per time it is named,
        and the activity entry stored; False when the flow was no longer busy (expired and
        purged while the step held it), the rest being stored all the same."""

    async def add(self, flow: Flow, now: float, cap: int) -> bool:
        """Store the flow unless its account has ``cap`` unfinished ones (False then)."""

    async def add_listing(self, flow: Flow, now: float, cap: int) -> list[StoredCredential] | None:
        """``add``, and the account's credentials as ``Credentials.list`` gives them, in
        one round trip; None when the flow was not stored."""

    async def get(self, account_id: str, flow_id: str, now: float) -> Flow | None:
        """An unexpired flow of this account."""

    async def move(
        self,
        account_id: str,
        flow_id: str,
        *,
        expected: FlowState,
        state: FlowState,
        sealed: bytes | None = None,
        expires_at: float | None = None,
        due_at: float | None = None,
    ) -> bool:
        """Compare-and-set on the state (one statement); False if another step won. A
        move sets ``due_at`` (None but for ``pending``) and, when given, ``expires_at``."""

    async def pending(self, account_id: str, now: float) -> list[Flow]:
        """The account's unexpired ``pending`` flows, the next due first."""

    async def in_state(self, account_id: str, state: FlowState, now: float) -> list[Flow]:
        """The account's unexpired flows in ``state`` (as many as its cap of unfinished
        flows allows), the soonest to expire first."""

    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        """(account id, flow id) of ``pending`` flows due by ``now``, the longest due first."""

    async def next_due(self, now: float) -> float | None:
        """When the earliest unexpired ``pending`` flow is due (a time already past when
        one is overdue); None when no flow is pending."""

    async def purge(self, before: float) -> int: ...


class Activity(Protocol):
    async def add(self, entry: ActivityEntry) -> None: ...

    async def add_once(self, entry: ActivityEntry) -> bool:
        """Store ``entry`` unless one of its id is stored already; whether it was."""

    async def list(self, account_id: str, limit: int) -> list[ActivityEntry]: ...


class Notifications(Protocol):
    async def add(self, notification: StoredNotification) -> None: ...

    async def page(
        self, account_id: str, limit: int, before: str | None = None
    ) -> list[StoredNotification]:
        """Newest first, at most ``limit``; older than the notification ``before`` names."""

    async def since(self, account_id: str, at: float, limit: int) -> list[StoredNotification]:
        """Those made at ``at`` or later, oldest first (what a live stream sends next)."""

    async def unread(self, account_id: str) -> int: ...

    async def mark_read(self, account_id: str, notification_id: str, at: float) -> bool:
        """False when it is not this account's (already read stays read: True)."""

    async def mark_all_read(self, account_id: str, at: float) -> int: ...

    async def get(self, account_id: str, notification_id: str) -> StoredNotification | None: ...


class PushSubscriptions(Protocol):
    async def add(self, subscription: StoredPushSubscription, cap: int) -> bool:
        """Store it (replacing the row of the same endpoint) unless the account has
        ``cap`` subscriptions already besides that endpoint's (False then, and nothing
        changed)."""

    async def list(self, account_id: str) -> list[StoredPushSubscription]: ...

    async def delete(self, account_id: str, subscription_id: str) -> bool: ...

    async def delete_for_device(self, account_id: str, device_id: str) -> int:
        """Those the device subscribed (it was revoked)."""


class StatusWatching(Protocol):
    """The deployment-wide status-list watching (``watch_statuses``)."""

    async def watch(
        self,
        account_id: str,
        credential_id: str,
        *,
        lists: Sequence[tuple[str, str, str]],
        watch_keys: Sequence[str],
        expires_at: float | None,
        first_notice_at: float | None,
        needed_until: float,
        now: float,
    ) -> None:
        """The credential's watch rows replaced by ``watch_keys`` and its expiry row set
        (the notice stage kept unless ``expires_at`` is later, ``expiry_plan``; what was
        told kept), the credential marked to be looked at; each of ``lists`` (list key,
        uri, issuer) watched until ``needed_until`` at least (new ones fetched at
        ``now``)."""

    async def unwatch(self, account_id: str, credential_id: str) -> None: ...

    async def unwatched(self, limit: int, *, indexed_before: float) -> list[tuple[str, str]]:
        """(account id, credential id) of held credentials not watched yet (stored before
        the watching began), or without ``exp`` and last indexed before
        ``indexed_before``."""

    async def due_lists(self, now: float, limit: int) -> list[WatchedList]: ...

    async def fetched(
        self,
        list_key: str,
        *,
        seen_digest: str | None,
        next_fetch_at: float,
        failures: int,
        at: float,
    ) -> bool:
        """After a fetch that found the version seen, or a failure (``failures`` > 0):
        only while the list's recorded version is still ``seen_digest``."""

    async def claim_list(
        self,
        list_key: str,
        *,
        seen_digest: str | None,
        last_list: str,
        last_digest: str,
        next_fetch_at: float,
        at: float,
        concerned: Sequence[str],
    ) -> bool:
        """Record the list's new version, and mark the ``concerned`` credentials to be
        looked at, in one transaction: True for the one caller that replaces
        ``seen_digest``."""

    async def last_lists(self, list_keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(digest, ``status_list`` JSON) of the given lists that were fetched."""

    async def watchers(self, watch_keys: Sequence[str]) -> list[tuple[str, str, str]]:
        """(watch key, account id, credential id) of the given keys that are watched."""

    async def pending(self, after: str, limit: int) -> list[PendingWatch]:
        """Marked credentials, by credential id from after ``after``."""

    async def settle(
        self,
        credential_id: str,
        *,
        pending: int,
        told: str | None,
        becomes: str | None,
        notice: Notice | None,
    ) -> bool:
        """Compare-and-set on what was told and on the mark: when both are still as
        seen, what was told becomes ``becomes``, the mark is cleared and ``notice`` is
        written, in one transaction (False, and nothing written, otherwise)."""

    async def forget_lists(self, now: float) -> int:
        """Lists no held credential needs any more."""

    async def expiry_due(self, now: float, limit: int) -> list[ExpiryDue]: ...

    async def expiry_noticed(
        self,
        credential_id: str,
        stage: int,
        *,
        next_stage: int,
        due_at: float | None,
        notice: Notice | None,
    ) -> bool:
        """Compare-and-set on the stage, with ``notice`` written in the same transaction:
        True for the one caller that moves it."""

    async def lease(self, name: str, holder: str, now: float, seconds: float) -> bool:
        """Hold the named task until ``now + seconds``: True while no other holder's
        lease is live (one statement decides)."""


class WalletStore(Protocol):
    @property
    def accounts(self) -> Accounts: ...

    @property
    def devices(self) -> Devices: ...

    @property
    def challenges(self) -> Challenges: ...

    @property
    def refresh_tokens(self) -> RefreshTokens: ...

    @property
    def holder_keys(self) -> HolderKeys: ...

    @property
    def credentials(self) -> Credentials: ...

    @property
    def flows(self) -> Flows: ...

    @property
    def activity(self) -> Activity: ...

    @property
    def notifications(self) -> Notifications: ...

    @property
    def push_subscriptions(self) -> PushSubscriptions: ...

    @property
    def status_watching(self) -> StatusWatching: ...


class Outbound(Protocol):
    """The deployment's guarded outbound HTTP client (``core.http.client``)."""

    def check_url(self, url: str) -> None: ...

    async def vet(self, url: str) -> None: ...

    def serves_locally(self, url: str) -> bool:
        """Whether ``url`` is on an origin this deployment serves itself, in process."""

    async def fetch(
        self, url: str, *, accept: str, max_bytes: int = ..., max_redirects: int = ...
    ) -> FetchedDocument: ...

    async def send(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        form: Mapping[str, str] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = ...,
    ) -> FetchedDocument: ...


class HolderKeyVault(Protocol):
    """Where server-held holder keys are made and sign: in this process (software keys),
    or in the deployment's hardware security module (``core.keys.wrapped_keys``). A key's
    private part leaves the vault only as its *kept* bytes, which the wallet seals under
    the account's data key; the vault needs them back, with the public key on record, to
    sign. A vault that cannot be reached raises ``KeyStoreUnavailable`` (503)."""

    def new_key(self) -> tuple[dict[str, str], bytes]:
        """A fresh P-256 key: its public JWK and its kept bytes."""

    def signer(self, kept: bytes, public_jwk: Mapping[str, str], kid: str) -> Signer:
        """The signer of a key this vault made."""


class Mediations(Protocol):
    """Citizen spaces, their mediators, help requests and mediations (docs/mediators.md).
    Secrets (a mediator's key, a help request's code, a mediation token) are stored only
    as their SHA-256."""

    async def add_space(self, space: MediationSpace) -> bool:
        """False if the space id is taken."""

    async def add_mediator(
        self, mediator_id: str, space_id: str, name: str, languages: Sequence[str], key_hash: str
    ) -> bool:
        """False if the mediator id is taken or the space is unknown."""

    async def mediator_by_key(self, key_hash: str) -> Mediator | None:
        """The mediator whose key this is; None for a removed mediator."""

    async def replace_mediator_key(self, mediator_id: str, key_hash: str, now: float) -> bool:
        """The mediator's new key (the old one stops opening anything), and its help
        requests no citizen consented to yet expire; False for no such (or a removed)
        mediator."""

    async def remove_mediator(
        self, mediator_id: str, now: float
    ) -> tuple[Mediator, list[Mediation]] | None:
        """Remove the mediator's key, end its live mediations and expire its unconsented
        help requests, in one transaction: the mediator and the mediations ended; None for
        no such (or an already removed) mediator."""

    async def spaces(self) -> list[tuple[MediationSpace, list[Mediator]]]: ...

    async def add_help_request(
        self,
        request_id: str,
        mediator_id: str,
        *,
        code_hash: str,
        token_hash: str,
        expires_at: float,
        answer_hash: str | None = None,
        transaction_id: str | None = None,
    ) -> None:
        """``answer_hash``: the consent is a presentation to that response URI (its
        SHA-256), of the verifier's ``transaction_id``; else it is the code."""

    async def help_request(self, mediator_id: str, request_id: str) -> HelpRequest | None:
        """The mediator's own request, expired or not."""

    async def withdraw_help_request(self, mediator_id: str, request_id: str, now: float) -> bool:
        """The mediator's request, unexpired and not consented to, expires now (one
        conditional update: a consent racing it wins or loses as a whole); whether it
        did."""

    async def help_request_by_code(self, code_hash: str, now: float) -> HelpRequest | None:
        """An unexpired request no citizen consented to yet."""

    async def consent(
        self, code_hash: str, account_id: str, mediation_id: str, *, now: float, lifetime: float
    ) -> Mediation | None:
        """One atomic claim of the request: the mediation it starts, for exactly one
        caller of an unexpired, unconsented code; None for every other."""

    async def consent_by_answer(
        self, answer_hash: str, account_id: str, mediation_id: str, *, now: float, lifetime: float
    ) -> Mediation | None:
        """As ``consent``, for the help request answered by a presentation to the response
        URI whose SHA-256 is ``answer_hash``."""

    async def mediation_by_token(self, token_hash: str) -> Mediation | None: ...

    async def mediation(self, mediation_id: str) -> Mediation | None: ...

    async def live_mediations(self, account_id: str, now: float) -> list[Mediation]: ...

    async def end(
        self,
        mediation_id: str,
        now: float,
        *,
        account_id: str | None = None,
        mediator_id: str | None = None,
    ) -> bool:
        """End a live mediation of that account (or of that mediator); False if none."""

    async def purge(self, now: float) -> int:
        """Forget expired help requests and mediations ended or expired a day ago."""


class IdentityCheck(Protocol):
    """The deployment's consent counter (a verifier tenant) over its public counter API:
    asks a citizen's wallet for the national ID, and tells what it proved."""

    async def ask(self) -> tuple[str, str, str]:
        """A new presentation request: its transaction id, its ``openid4vp://`` URI and
        its ``request_uri``."""

    async def proven_names(self, transaction_id: str) -> dict[str, str] | None:
        """The given and family name the verified presentation proved; None until then."""

    def answers_to(self, response_uri: str) -> bool:
        """Whether a presentation posted to ``response_uri`` answers this counter."""
