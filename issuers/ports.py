"""What the issuer role needs from the outside, as small protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.keys.decrypter import Decrypter
from core.keys.signer import Signer
from core.replay import SingleUse
from core.status_list.token import StatusReference
from issuers.domain import (
    AccessGrant,
    Agency,
    Application,
    ApplicationState,
    AskedPresentation,
    AuditEvent,
    Authorization,
    AuthorizationState,
    CodeIssue,
    CredentialSelector,
    DeliveredResponse,
    FirstRefreshToken,
    IssuedCredential,
    Offer,
    PresentationAnswer,
    RedeemedCode,
    RefreshToken,
    RegisterQuery,
    RegisterRecord,
    StatusListState,
)


class IssuerKeys(Protocol):
    """Each agency's signing key, certified under the deployment trust anchor, and its key
    for encrypted credential requests."""

    async def signer(self, issuer_id: str) -> Signer:
        """The agency's active signer; its ``x5c`` is the access certificate chain."""
        ...

    async def jwks(self, issuer_id: str) -> list[dict[str, str]]:
        """Public JWKs of the agency's keys, current and retired."""
        ...

    async def decrypter(self, issuer_id: str, *, fresh: bool = False) -> Decrypter:
        """The agency's active key for encrypted credential requests (created on first
        use); ``fresh`` looks past what this process remembers (a rotation elsewhere)."""
        ...


class OfferStore(Protocol):
    async def add(self, offer: Offer, *, audit: AuditEvent | None = None) -> None:
        """The offer; with ``audit``, the audit entry of its making in the same
        transaction (both are kept, or neither)."""
        ...

    async def note_identified(self, issuer_id: str, offer_id: str, at: float) -> None:
        """The register was asked who the citizen is, at ``at``, before this offer (made
        earlier, by a clerk) is redeemed: the credential's answer names that read too. A
        time already noted stays."""
        ...

    async def add_with_code(self, offer: Offer, audit: AuditEvent, code: CodeIssue) -> bool:
        """The offer a citizen's authorization will redeem, its audit entry, and the
        authorization's move to ``code_issued`` for it (``offer_id`` the offer's), in one
        transaction: all are kept, or none when the authorization could not move (another
        request moved it, or it ran out). Whether it moved."""
        ...

    async def count_pending(self, issuer_id: str, now: float, limit: int) -> int:
        """The agency's live, unredeemed offers, counting no further than ``limit``."""

    async def redeem_without_tx_code(
        self, code_hash: str, now: float, grant: AccessGrant
    ) -> Offer | None:
        """``redeem`` for offers that have no transaction code (the common case, one step)."""
        ...

    async def get(self, issuer_id: str, offer_id: str) -> Offer | None: ...

    async def for_subject(self, issuer_id: str, subject_id: str) -> list[Offer]: ...

    async def get_by_code(self, code_hash: str) -> Offer | None: ...

    async def reserve_tx_code_attempt(
        self, code_hash: str, issuer_id: str, now: float
    ) -> Offer | None:
        """Atomically count one transaction-code attempt of a live, unredeemed offer that
        has a transaction code. None when there is no such offer or its attempts are used up."""
        ...

    async def redeem(self, code_hash: str, now: float, grant: AccessGrant) -> Offer | None:
        """Atomically move the live offer of ``grant.issuer_id`` from ``offered`` to
        ``redeemed`` (the caller checked that move against ``OFFER_MOVES``) and store the
        access grant; exactly one caller wins. None for everyone else (already redeemed,
        expired, unknown)."""
        ...


class AuthorizationStore(Protocol):
    """Wallets' authorizations in the authorization code flow.

    Where a method takes ``spend``, the single-use values of the request (``core.replay``)
    are used up in the same statement or transaction as its change, all those seen for
    the first time even when another was used before; ``UsedBefore`` names the first one
    used before, and the change is then not made."""

    async def add(
        self, authorization: Authorization, *, spend: Sequence[SingleUse] = ()
    ) -> None: ...

    async def by_request_uri(
        self, issuer_id: str, request_uri_hash: str
    ) -> Authorization | None: ...

    async def by_code(self, issuer_id: str, code_hash: str) -> Authorization | None: ...

    async def get(self, issuer_id: str, authorization_id: str) -> Authorization | None: ...

    async def take_pushed(
        self,
        issuer_id: str,
        request_uri_hash: str,
        *,
        client_id: str,
        now: float,
        state: AuthorizationState,
        expires_at: float,
    ) -> Authorization | None:
        """The pushed request of this client, moved from ``pushed`` (unexpired at ``now``)
        to ``state`` and ``expires_at`` by one compare-and-set, as it is after the move;
        None when there is no such request to move. Exactly one racing caller wins."""
        ...

    async def move(
        self,
        authorization_id: str,
        *,
        expected: AuthorizationState,
        state: AuthorizationState,
        now: float,
        expires_at: float | None = None,
        subject_id: str | None = None,
        code_hash: str | None = None,
        offer_id: str | None = None,
    ) -> bool:
        """Compare-and-set from ``expected`` (unexpired at ``now``) to ``state`` (the caller
        checked the move against ``AUTHORIZATION_MOVES``); exactly one racing caller wins."""
        ...

    async def set_presentation(
        self, authorization_id: str, presentation: str, *, now: float
    ) -> bool:
        """Keep the presentation the citizen's wallet was asked for on an authorization
        that is ``authenticating`` (unexpired at ``now``); False when it is not."""
        ...

    async def redeem_code(
        self,
        issuer_id: str,
        code_hash: str,
        *,
        now: float,
        client_id: str | None,
        redirect_uri: str | None,
        code_challenge: str | None,
        dpop_jkt: str,
        grant: AccessGrant,
        refresh_token: FirstRefreshToken | None,
        spend: Sequence[SingleUse] = (),
    ) -> RedeemedCode | None:
        """The code's exchange in one step (the caller checked the moves against
        ``AUTHORIZATION_MOVES`` and ``OFFER_MOVES``): the authorization of this code hash,
        ``code_issued`` and unexpired at ``now``, pushed by ``client_id`` with
        ``redirect_uri`` and the PKCE ``code_challenge`` the verifier hashes to (None for
        any of them, as for a malformed verifier, matches nothing), bound to no key or to
        ``dpop_jkt``, and with an offer, moves to ``redeemed`` by one compare-and-set; then
        its offer (live, unredeemed, without a transaction code) is redeemed with ``grant``
        (for that offer), and ``refresh_token`` kept for the authorization's citizen and
        client. None when no authorization matched (read ``by_code`` to find out why);
        exactly one racing caller wins."""
        ...

    async def purge(self, before: float) -> int: ...


class PresentationCounter(Protocol):
    """The agencies' counters for presentation during issuance, over the verifier's
    public counter API (as any counter uses it); raises ``CounterUnavailable``."""

    async def ask(
        self, verifier_id: str, template: str, *, same_device_return: str | None = None
    ) -> AskedPresentation:
        """A new request for the counter's check ``template``; with
        ``same_device_return``, a same-device request whose wallet sends the browser
        back there with the ``response_code``."""
        ...

    async def answer(self, verifier_id: str, transaction_id: str) -> PresentationAnswer:
        """Where the request stands, with the proven claims once verified."""
        ...

    async def release(
        self, verifier_id: str, transaction_id: str, *, response_code: str, session_token: str
    ) -> PresentationAnswer | None:
        """The same-device answer, once, for the ``response_code`` the wallet sent the
        browser back with; None when the counter refuses to release it."""
        ...


class RefreshTokenStore(Protocol):
    """Refresh tokens and their families (``issuers.domain.RefreshToken``)."""

    async def add(self, token: RefreshToken) -> None: ...

    async def get(self, token_hash: str) -> RefreshToken | None: ...

    async def rotate(self, token_hash: str, now: float) -> bool:
        """Compare-and-set of an active, unexpired token to ``rotated`` (the caller checked
        the move against ``REFRESH_MOVES``); exactly one racing caller wins."""
        ...

    async def revoke_family(self, family_id: str) -> int:
        """End every token of the family that has not ended; how many."""
        ...

    async def revoke_for_subject(
        self, issuer_id: str, subject_id: str, configuration_id: str | None = None
    ) -> int:
        """End the citizen's families at the agency (of one configuration, or all)."""
        ...


class GrantStore(Protocol):
    async def get(self, token_hash: str) -> AccessGrant | None: ...

    async def revoke_for_offer(self, offer_id: str) -> int:
        """Use up every access grant of the offer (a reused authorization code revokes
        what its first use gave, RFC 6749 §4.1.2); how many were still live."""
        ...


class CitizenAuthenticator(Protocol):
    """How an agency finds out who the citizen at its authorization endpoint is."""

    async def authenticate(self, agency: Agency, authorization: Authorization) -> str | None:
        """The citizen's subject id in the agency's register, or None when they could
        not be authenticated."""
        ...


SignCredentials = Callable[[list[StatusReference]], list[str]]


class CredentialIssuance(Protocol):
    """Issuing credentials inside one open transaction that commits them together with
    their ledger entries, or rolls everything back if anything raises."""

    async def issue(
        self,
        *,
        count: int,
        now: float,
        expires_at: float,
        status_list_uri: Callable[[str], str],
        sign: SignCredentials,
        nonces: list[tuple[str, float]],
        notification_id: str | None = None,
    ) -> tuple[list[IssuedCredential], list[str]]:
        """Use up the ``c_nonce`` values (hash, expiry), take ``count`` fresh random status
        indices, sign, record, under ``notification_id`` (a new one when None).
        ``NonceReused`` when a nonce was used before."""
        ...


class GrantWork(CredentialIssuance, Protocol):
    """One credential request's work on a live access grant, inside one transaction that
    has already used the grant up: it commits with ``issue`` (or ``defer``) and rolls back
    (giving the grant back) if anything raises."""

    @property
    def grant(self) -> AccessGrant: ...

    @property
    def offer(self) -> Offer: ...

    async def defer(self, application: Application, nonces: list[tuple[str, float]]) -> None:
        """Instead of issuing: use up the ``c_nonce`` values and record the application, in
        the same transaction. ``NonceReused`` when a nonce was used before."""
        ...

    async def remember_response(self, response: DeliveredResponse) -> None:
        """Keep the response, in the same transaction, for a retry of the request."""
        ...

    async def use_for(self, configuration_id: str) -> bool:
        """Use the grant for one configuration of its offer, in the same transaction: an
        offer of several (one credential in several formats) gives each once, and the
        grant stays open for the others. False when it was used for this one before
        (then nothing else is used)."""
        ...


class ApplicationDelivery(CredentialIssuance, Protocol):
    """An approved application's delivery, inside one transaction that has already moved it
    to ``delivered``: it commits with the credentials, or rolls back (approved again)."""

    @property
    def application(self) -> Application: ...

    async def keep_response(self, sealed: bytes, until: float) -> None:
        """Keep the sealed response for a repeat of the same deferred request until
        ``until``, and forget the application's claims and holder keys."""
        ...


class ApplicationStore(Protocol):
    """Applications for credentials a clerk approves first (deferred issuance)."""

    async def by_token(self, issuer_id: str, token_hash: str) -> Application | None:
        """The application the access token of this hash made at this agency."""
        ...

    async def get(self, issuer_id: str, application_id: str) -> Application | None: ...

    async def listed(
        self, issuer_id: str, *, now: float, state: ApplicationState | None, limit: int
    ) -> list[Application]:
        """The agency's applications, oldest first, in ``state`` (as ``effective_state``
        reads it at ``now``) when one is given."""
        ...

    async def move(
        self,
        issuer_id: str,
        application_id: str,
        *,
        expected: ApplicationState,
        state: ApplicationState,
        now: float,
        refusal_reason: str | None = None,
    ) -> bool:
        """Compare-and-set from ``expected`` (unexpired at ``now``) to ``state`` (the caller
        checked the move against ``APPLICATION_MOVES``); exactly one racing caller wins. A
        refused application forgets its claims and holder keys."""
        ...

    async def withdraw_for_offer(self, offer_id: str, now: float) -> int:
        """Withdraw the offer's live application, if it has one (its access token was
        revoked); how many were withdrawn."""
        ...

    def open_delivery(
        self, issuer_id: str, application_id: str, now: float
    ) -> AbstractAsyncContextManager[ApplicationDelivery | None]:
        """The delivery of an approved, unexpired application (one connection, one
        transaction whose first statement moves it to ``delivered``), or None when it is
        not approved (any more)."""
        ...


class CredentialLedger(Protocol):
    def open_grant(
        self,
        token_hash: str,
        now: float,
        dpop_jkt: str | None = None,
        *,
        spend: Sequence[SingleUse] = (),
    ) -> AbstractAsyncContextManager[GrantWork | None]:
        """The work on a live, unused grant bound to ``dpop_jkt`` (the key of the request's
        verified DPoP proof; None: a bearer token) in one connection and one transaction,
        or None. ``spend``: the request's single-use values, used up by the statement
        that uses the grant up (and given back with it when the transaction rolls back);
        ``UsedBefore`` (the grant untouched) when one was used before."""
        ...

    async def delivered_response(self, token_hash: str, now: float) -> DeliveredResponse | None:
        """The response kept for the grant of this access token, while it may be retried."""
        ...

    async def status_list(self, list_id: str) -> StatusListState | None: ...

    async def flagged_indices(self, list_id: str) -> dict[int, list[int]]:
        """Status → indices of the list's credentials with that status, for every status
        other than VALID (the only ones a published list needs to set)."""
        ...

    async def publish(self, list_id: str, version: int, token: str, at: float) -> None: ...

    async def change_status(
        self,
        issuer_id: str,
        selector: CredentialSelector,
        *,
        applies_to: frozenset[int],
        new_status: int,
    ) -> tuple[list[IssuedCredential], int]:
        """In one transaction: set ``new_status`` on the selected credentials whose status
        is in ``applies_to`` and bump the version of every list touched. Returns the
        changed credentials and how many selected ones were left as they were."""
        ...

    async def for_subject(self, issuer_id: str, subject_id: str) -> list[IssuedCredential]: ...

    async def record_event(self, offer_id: str, notification_id: str, event: str) -> bool:
        """Note a wallet's notification on the credentials it names; False if none match."""
        ...


class OperatorAccess(Protocol):
    """Who may act for an agency at its operator API (each agency only on its own data)."""

    def allows(self, issuer_id: str, credential: str) -> bool: ...


class AuditLog(Protocol):
    async def record(self, event: AuditEvent) -> None: ...

    async def recent(self, issuer_id: str, limit: int) -> list[AuditEvent]: ...


class RegisterConnector(Protocol):
    """An agency's register, read once for each use (the once-only principle): the file
    beside the catalog in development, the register's own service over a signed exchange
    elsewhere (``issuers.registers``). Every read is audited (``register.read``)."""

    async def read(self, query: RegisterQuery) -> RegisterRecord | None:
        """The person's record of the configuration, checked against it; None when the
        register holds none. Raises ``RegisterUnavailable`` (unreachable, slow past the
        outbound deadline, refused, or an answer that fails a check) and, for an
        ``identity`` query, ``SeveralInRegister``."""
        ...
