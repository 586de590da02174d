"""The auditor behind a request: ``Authorization: Bearer <auditor key>`` (RFC 6750 §2.1),
or a 401 problem (RFC 9457)."""

from __future__ import annotations

from core.errors import Problem
from core.http.tenant_key_check import bearer_key
from oversight.domain import Auditor
from oversight.services.context import OversightContext
from oversight.services.register_auditor import MAX_KEY_LENGTH, key_digest

REFUSAL = "an auditor key is required"


async def authenticate_auditor(context: OversightContext, authorization: str) -> Auditor:
    key = bearer_key(authorization)
    if key is None or len(key) > MAX_KEY_LENGTH:
        raise Problem(401, "Unauthorized", REFUSAL)
    auditor = await context.auditors.by_key_digest(key_digest(key))
    if auditor is None:
        raise Problem(401, "Unauthorized", REFUSAL)
    return auditor
