"""An application as a row of ``issuer_applications`` and back: the claims and the holder
keys sealed together (``offer_claims.SealedClaims`` of their own kind, bound to the
application's id), the clerk's reason for a refusal sealed apart."""

from __future__ import annotations

from typing import Any

from issuers.domain import Application, ApplicationState
from issuers.storage.offer_claims import SealedClaims


class ApplicationRecords:
    def __init__(self, claims: SealedClaims) -> None:
        self._contents = claims.for_kind("application")
        self._reasons = claims.for_kind("application refusal")

    def values(self, application: Application) -> dict[str, Any]:
        """The row of a new application."""
        contents = {"claims": application.claims, "holder_keys": list(application.holder_keys)}
        return {
            "application_id": application.application_id,
            "issuer_id": application.issuer_id,
            "offer_id": application.offer_id,
            "configuration_id": application.configuration_id,
            "subject_id": application.subject_id,
            "sealed": self._contents.seal(application.application_id, contents),
            "transaction_hash": application.transaction_hash,
            "token_hash": application.token_hash,
            "notification_id": application.notification_id,
            "dpop_jkt": application.dpop_jkt,
            "state": application.state.value,
            "created_at": application.created_at,
            "expires_at": application.expires_at,
        }

    def seal_reason(self, application_id: str, reason: str) -> str:
        return self._reasons.seal(application_id, {"reason": reason})

    def application(self, row: Any) -> Application:
        contents = self._contents.open(row.application_id, row.sealed)
        reason = (
            None
            if row.refusal is None
            else str(self._reasons.open(row.application_id, row.refusal).get("reason", ""))
        )
        return Application(
            application_id=row.application_id,
            issuer_id=row.issuer_id,
            offer_id=row.offer_id,
            configuration_id=row.configuration_id,
            subject_id=row.subject_id,
            claims=dict(contents.get("claims", {})),
            holder_keys=tuple(contents.get("holder_keys", ())),
            transaction_hash=row.transaction_hash,
            token_hash=row.token_hash,
            notification_id=row.notification_id,
            dpop_jkt=row.dpop_jkt,
            state=ApplicationState(row.state),
            created_at=row.created_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            refusal_reason=reason,
            delivered_at=row.delivered_at,
            kept_response=None if row.response is None else bytes(row.response),
        )
