"""Registering an oversight body (``idwallet auditor add``), giving it a new key, removing
it. The key is shown once and kept only as its SHA-256 digest: a 256-bit random key needs
no slow hash, and a digest read from the database opens nothing.

Each change is appended to the deployment's audit trail (``auditor.registered``,
``auditor.key_replaced``, ``auditor.removed``; actor kind ``deployment``, actor
``administrator``: whoever runs the command line; the fact ``auditor``, an
organisation's id), once it is made."""

from __future__ import annotations

import hashlib
import re
import secrets

from core.audit.trail import AuditEntry
from oversight.domain import Auditor
from oversight.services.context import OversightContext

AUDITOR_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_NAME = 200
#: Keys are longer than this never (the check refuses them before hashing).
MAX_KEY_LENGTH = 256


class AuditorRefused(ValueError):
    """The auditor cannot be registered as asked: the message says why."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return secrets.token_urlsafe(32)


async def register_auditor(context: OversightContext, auditor_id: str, name: str) -> str:
    """Registers the auditor; its key (shown to no one else, kept by no one else)."""
    if not AUDITOR_ID.fullmatch(auditor_id):
        raise AuditorRefused(
            "an auditor id is 1 to 64 lower-case letters, digits, dots, dashes or"
            " underscores, starting with a letter or digit"
        )
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise AuditorRefused(f"the name must be 1 to {MAX_NAME} printable characters")
    key = _new_key()
    auditor = Auditor(auditor_id=auditor_id, name=name, registered_at=context.clock.now())
    if not await context.auditors.register(auditor, key_digest(key)):
        raise AuditorRefused(f"an auditor {auditor_id!r} is registered already")
    await _audit(context, "auditor.registered", auditor_id)
    return key


async def replace_auditor_key(context: OversightContext, auditor_id: str) -> str:
    """A new key for the auditor; the old one opens nothing from now on."""
    key = _new_key()
    if not await context.auditors.replace_key(auditor_id, key_digest(key)):
        raise AuditorRefused(f"no auditor {auditor_id!r} is registered")
    await _audit(context, "auditor.key_replaced", auditor_id)
    return key


async def remove_auditor(context: OversightContext, auditor_id: str) -> None:
    if not await context.auditors.remove(auditor_id):
        raise AuditorRefused(f"no auditor {auditor_id!r} is registered")
    await _audit(context, "auditor.removed", auditor_id)


async def _audit(context: OversightContext, action: str, auditor_id: str) -> None:
    await context.trail.append(
        AuditEntry("deployment", "administrator", action, facts={"auditor": auditor_id})
    )
