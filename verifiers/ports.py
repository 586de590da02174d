"""What the verifier's use cases need from the outside, each as a small protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from core.audit.trail import AuditEntry
from core.http.client import FetchedDocument
from core.keys.signer import Signer
from verifiers.domain import Transaction, TransactionState


class TransactionStore(Protocol):
    async def add(self, transaction: Transaction, audit: AuditEntry | None = None) -> None:
        """The new request, with its trail entry (``audit``) in the same transaction."""

    async def count_open(self, verifier_id: str, now: float, limit: int) -> int:
        """The counter's unanswered, unexpired requests, counting no further than ``limit``."""

    async def get(self, verifier_id: str, transaction_id: str) -> Transaction | None: ...

    async def by_request_id(self, request_id: str) -> Transaction | None: ...

    async def mark_request_fetched(
        self, verifier_id: str, request_id: str, now: float, wallet_nonce: str | None
    ) -> Transaction | None:
        """The verifier's live transaction, moved to ``request_fetched`` from any of the
        ``SERVED_STATES`` (the states ``TRANSACTION_MOVES`` moves there from: it stays there
        on later fetches; the first fetch's time is kept, the last ``wallet_nonce`` noted).
        None once it is answered or expired."""

    async def complete(
        self,
        request_id: str,
        *,
        status: TransactionState,
        result: dict[str, Any],
        now: float,
        response_code_hash: str | None,
        audit: AuditEntry | None = None,
    ) -> bool:
        """``request_fetched`` → ``status`` (``verified`` or ``failed``, a move the caller
        checked against ``TRANSACTION_MOVES``), exactly once (the ``state`` is consumed
        here): False when another answer got there first or it expired. The trail entry
        (``audit``) is written with the move, in the same transaction, or not at all."""

    async def release_result(
        self, verifier_id: str, transaction_id: str, response_code_hash: str
    ) -> Transaction | None:
        """The same-device result, once, to whoever holds the ``response_code``."""

    async def purge(self, before: float) -> int:
        """Forget transactions (and the personal data in their results) created before."""


class VerifierKeys(Protocol):
    async def signer(self, verifier_id: str) -> Signer: ...


class Registrar(Protocol):
    async def attest(
        self, verifier_id: str, client_id: str, claims: Callable[[int], dict[str, Any]]
    ) -> str | None:
        """A signed registration attestation with ``claims(now)``, reused while fresh;
        None where this deployment does not sign registrations."""


class CounterAccess(Protocol):
    def allows(self, verifier_id: str, credential: str) -> bool: ...


class StatusListSource(Protocol):
    async def fetch(self, uri: str) -> str:
        """The ``statuslist+jwt`` published at ``uri`` (fetched or from cache)."""


class PublishedDocumentFetch(Protocol):
    """The deployment's guarded outbound HTTP client (``core.http.client``): SSRF guard,
    deadline, size cap; the deployment's own origin is served in process."""

    async def fetch(self, url: str, *, accept: str, max_bytes: int = ...) -> FetchedDocument:
        """GET ``url``: its body when it answers 200, otherwise ``OutboundFailed``
        (``OutboundRefused`` for a URL or address that is never fetched from)."""
