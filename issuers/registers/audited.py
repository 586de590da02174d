"""Every register read in the audit trail (``register.read``, ``core.audit.trail``): who
read (the agency), which register, for what purpose and which credential configuration,
and how it went (``ok``, ``not_found``, ``ambiguous``, or why it failed: ``unreachable``,
``refused``, ``invalid_answer``, or ``error`` for any other failure of the connector, such
as the agency's signing key, which is then reported as the register unavailable). Never the
person's identifier nor anything read."""

from __future__ import annotations

from collections.abc import Mapping

from core.audit.trail import AuditEntry, AuditTrail
from issuers.domain import (
    Agency,
    RegisterQuery,
    RegisterRecord,
    RegisterUnavailable,
    SeveralInRegister,
)
from issuers.ports import RegisterConnector


class AuditedRegister:
    """``inner`` with each read appended to ``trail``; ``agencies`` tell which register an
    agency reads for a configuration (the service of its queries)."""

    def __init__(
        self, inner: RegisterConnector, trail: AuditTrail, agencies: Mapping[str, Agency]
    ) -> None:
        self._inner = inner
        self._trail = trail
        self._agencies = agencies

    async def read(self, query: RegisterQuery) -> RegisterRecord | None:
        try:
            record = await self._inner.read(query)
        except RegisterUnavailable as failed:
            await self._append(query, failed.reason)
            raise
        except SeveralInRegister:
            await self._append(query, "ambiguous")
            raise
        except Exception as failed:  # a signer that failed, a bug: no read, nothing issued
            await self._append(query, "error")
            raise RegisterUnavailable("error", "the register could not be read") from failed
        await self._append(query, "ok" if record is not None else "not_found")
        return record

    def _register(self, query: RegisterQuery) -> str:
        agency = self._agencies.get(query.issuer_id)
        return query.issuer_id if agency is None else agency.register_for(query.configuration_id)

    async def _append(self, query: RegisterQuery, outcome: str) -> None:
        await self._trail.append(
            AuditEntry(
                actor_kind="agency",
                actor=query.issuer_id,
                action="register.read",
                outcome=outcome,
                facts={
                    "register": self._register(query),
                    "purpose": query.purpose.value,
                    "credential_configuration": query.configuration_id,
                },
            )
        )
