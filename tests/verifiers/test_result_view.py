"""What the counter reads of a presentation request is the PresentationStatus message,
its result a VerificationResult: every check, the proven credentials or the error. Results
kept in the database by earlier versions (no claim labels) read the same way."""

from __future__ import annotations

import msgspec

from verifiers.domain import Transaction, TransactionState
from verifiers.services.follow_transaction import transaction_view


def _transaction(result: dict[str, object] | None, status: TransactionState) -> Transaction:
    return Transaction(
        transaction_id="t-1",
        verifier_id="corner-bar",
        request_id="r-1",
        purpose="age_over_18",
        dcql_query={"credentials": []},
        nonce="n",
        state="s",
        response_mode="direct_post",
        same_device=False,
        client_id="x509_san_dns:bar.example.com",
        status=status,
        created_at=1_767_225_600.0,
        expires_at=1_767_225_900.0,
        completed_at=1_767_225_630.0,
        result=result,
    )


def test_a_verified_result_kept_before_claim_labels_reads_as_its_message() -> None:
    kept = {
        "checks": [{"check": "national_id.issuer_signature", "passed": True}],
        "credentials": {
            "national_id": [
                {"vct": "https://id.example/types/national_id", "claims": {"age_over_18": True}}
            ]
        },
    }
    view = transaction_view(_transaction(kept, TransactionState.VERIFIED), 1_767_225_640.0)
    assert view.status is TransactionState.VERIFIED
    assert view.completed_at == "2026-01-01T00:00:30Z"
    assert msgspec.to_builtins(view)["result"] == kept


def test_a_declined_request_carries_the_wallets_own_error() -> None:
    kept = {
        "error": "the wallet declined: access_denied",
        "wallet_error": "access_denied",
        "wallet_error_description": "the holder declined",
        "checks": [],
    }
    view = transaction_view(_transaction(kept, TransactionState.FAILED), 1_767_225_640.0)
    assert msgspec.to_builtins(view)["result"] == kept
    assert view.result is not msgspec.UNSET and view.result.wallet_error == "access_denied"
