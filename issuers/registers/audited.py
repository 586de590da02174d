"""Every register read in the audit trail (``register.read``, ``core.audit.trail``): who
read (the agency), which register, for what purpose and which credential configuration,
and how it went (``ok``, ``not_found``, ``ambiguous``, or why it failed). Never the
person's identifier nor anything read."""

from __future__ import annotations

from core.audit.trail import AuditEntry, AuditTrail
from issuers.domain import RegisterQuery, RegisterRecord, RegisterUnavailable, SeveralInRegister
from issuers.ports import RegisterConnector


class AuditedRegister:
    """``inner`` with each read appended to ``trail``; ``register_of`` names the register
    an agency reads (the service of its queries)."""

    def __init__(
        self, inner: RegisterConnector, trail: AuditTrail, register_of: dict[str, str]
    ) -> None:
        self._inner = inner
        self._trail = trail
        self._register_of = register_of

    async def read(self, query: RegisterQuery) -> RegisterRecord | None:
        try:
            record = await self._inner.read(query)
        except RegisterUnavailable as failed:
            await self._append(query, failed.reason)
            raise
        except SeveralInRegister:
            await self._append(query, "ambiguous")
            raise
        await self._append(query, "ok" if record is not None else "not_found")
        return record

    async def _append(self, query: RegisterQuery, outcome: str) -> None:
        await self._trail.append(
            AuditEntry(
                actor_kind="agency",
                actor=query.issuer_id,
                action="register.read",
                outcome=outcome,
                facts={
                    "register": self._register_of.get(query.issuer_id, query.issuer_id),
                    "purpose": query.purpose.value,
                    "credential_configuration": query.configuration_id,
                },
            )
        )
