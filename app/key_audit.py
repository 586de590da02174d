"""The key events of the audit trail (``key_events``): keys created, rotated, moved into
the token and destroyed (written by the key records with the change itself), and the token
becoming unavailable and answering again (written here). Each is logged too, and mirrored
into the deployment's audit trail as ``key.<action>`` (``core.audit``); none carries key
material or a PIN."""

from __future__ import annotations

import asyncio
import logging
import time

from app.key_store_settings import key_class_of
from core.audit.trail import AuditEntry, AuditTrail
from core.storage.key_records import SqlKeyRecords

log = logging.getLogger("idwallet.keys")


class KeyAudit:
    """``KeyEvents`` of the provider and ``TokenEvents`` of the token, into one trail."""

    def __init__(
        self, records: SqlKeyRecords, token_name: str, trail: AuditTrail | None = None
    ) -> None:
        self._records = records
        self._token = f"pkcs11:{token_name}"
        self._trail = trail
        self._pending: set[asyncio.Task[None]] = set()

    async def _mirror(self, owner: str, kid: str, action: str) -> None:
        if self._trail is None:
            return
        try:
            await self._trail.append(
                AuditEntry(
                    "deployment",
                    "",
                    f"key.{action}",
                    facts={"owner_kind": key_class_of(owner), "owner": owner, "kid": kid},
                )
            )
        except Exception as exc:  # the change is stored and logged; the trail may be away
            log.warning("key event not in the audit trail: %s", type(exc).__name__)

    async def key_event(self, owner: str, kid: str, action: str, detail: str) -> None:
        """Logged and mirrored into the audit trail: the key records wrote the key
        event with the change itself."""
        log.info("key %s of %s: %s (%s)", kid, owner, action, detail)
        await self._mirror(owner, kid, action)

    def _record_soon(self, action: str, detail: str) -> None:
        # The token reports from inside a signature (synchronous code): the entry is
        # written by a task of the running loop, or not at all outside one (the log has it).
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._write(action, detail))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, action: str, detail: str) -> None:
        try:
            await self._records.add_event(_now(), self._token, "", action, detail)
            await self._mirror(self._token, "", action)
        except Exception as exc:  # the database may be away too: the log line stays
            log.warning("key event not stored: %s", type(exc).__name__)

    def unavailable(self, reason: str) -> None:
        log.error("key store unavailable, nothing is signed until it is back: %s", reason)
        self._record_soon("unavailable", reason)

    def resumed(self) -> None:
        log.warning("key store available again")
        self._record_soon("resumed", "")


def _now() -> float:
    return time.time()
