"""Citizen spaces and their mediators, registered like counters: an id, a name, the
languages spoken, and for each mediator a key of its own (shown once, stored as its
SHA-256) that opens the mediator API (``/mediator/api``) as ``Authorization: Bearer``.
What mediators do is audited (``mediation.*``, actor kind ``mediator``; facts: the space
and the action; the citizen only as the account's keyed hash)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence

from core.audit.trail import AuditEntry
from core.errors import InvalidRequest, InvalidToken
from wallet.domain import MediationSpace, Mediator
from wallet.ports import Mediations
from wallet.services.context import WalletContext

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
#: A mediator key: 256 bits, like the counters' keys.
KEY_BYTES = 32


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _checked(identifier: str, name: str, languages: Sequence[str]) -> tuple[str, ...]:
    if not _ID.match(identifier):
        raise InvalidRequest("an id is 1 to 64 lower-case letters, digits and dashes")
    if not name.strip() or len(name) > 200:
        raise InvalidRequest("a name is 1 to 200 characters")
    tags = tuple(language.strip() for language in languages if language.strip())
    if not tags or len(tags) > 8 or not all(_LANGUAGE.match(tag) for tag in tags):
        raise InvalidRequest("languages are 1 to 8 language tags such as pt, fr, en")
    return tags


async def register_space(
    mediations: Mediations, space_id: str, name: str, languages: Sequence[str]
) -> MediationSpace:
    space = MediationSpace(space_id, name.strip(), _checked(space_id, name, languages))
    if not await mediations.add_space(space):
        raise InvalidRequest(f"the space {space_id} exists already")
    return space


async def register_mediator(
    mediations: Mediations, mediator_id: str, space_id: str, name: str, languages: Sequence[str]
) -> str:
    """The new mediator's key (shown once; only its hash is kept)."""
    tags = _checked(mediator_id, name, languages)
    key = secrets.token_urlsafe(KEY_BYTES)
    if not await mediations.add_mediator(
        mediator_id, space_id, name.strip(), tags, secret_hash(key)
    ):
        raise InvalidRequest(f"the mediator {mediator_id} exists already, or no space {space_id}")
    return key


async def authenticate_mediator(context: WalletContext, authorization: str | None) -> Mediator:
    """The mediator whose key is presented, or ``invalid_token`` (RFC 6750 §3.1)."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > 256:
        raise InvalidToken("a mediator key is required")
    mediator = await context.mediations.mediator_by_key(secret_hash(key))
    if mediator is None:
        raise InvalidToken("this key opens no mediator")
    return mediator


async def audit(
    context: WalletContext,
    mediator: Mediator,
    what: str,
    *,
    subject_key: str | None,
    outcome: str = "ok",
    **facts: str | int,
) -> None:
    """One ``mediation.<what>`` entry of the audit trail (``facts``: the space, and the
    action a mediation did or was refused, where there is one)."""
    await context.audit.append(
        AuditEntry(
            actor_kind="mediator",
            actor=f"{mediator.space.space_id}/{mediator.mediator_id}",
            action=f"mediation.{what}",
            outcome=outcome,
            facts={"space": mediator.space.space_id, **facts},
            subject_key=subject_key,
        )
    )
