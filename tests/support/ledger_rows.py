"""Rows of the issuer's credential ledger written straight through its statements, for
tests and benchmarks that need credentials at chosen status-list places without issuing
them over HTTP."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from issuers.domain import IssuedCredential


def credential_row(issuer_id: str, list_id: str, index: int, status: int = 0) -> dict[str, Any]:
    """The values of one ``issuer_credentials`` row at ``index`` of ``list_id``."""
    row = IssuedCredential(
        credential_id=uuid.uuid4().hex,
        issuer_id=issuer_id,
        offer_id="direct",
        subject_id="direct",
        configuration_id="national_id",
        status_list_id=list_id,
        status_index=index,
        status=status,
        issued_at=0.0,
        expires_at=0.0,
        notification_id=uuid.uuid4().hex,
    )
    return {**dataclasses.asdict(row), "notification_event": None}
