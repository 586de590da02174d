"""Publishing an agency's status lists (Token Status List §5.1, §8): built from the
ledger's statuses, signed, and kept until a status changes, half its ``ttl`` passes or the
agency's key is rotated, so every worker serves the same token and a revocation shows
within ``ttl``."""

from __future__ import annotations

from dataclasses import dataclass

from core.encoding import EncodingError, b64url_decode, strict_json_object
from core.faults import STATUS_LIST_AFTER_SIGN
from core.keys.signer import Signer
from core.status_list.bits import StatusList
from core.status_list.token import build_status_list_token
from issuers.services.context import IssuerContext
from issuers.services.issue_credential import status_list_uri


class UnknownStatusList(LookupError):
    """No such list for this agency."""


@dataclass(frozen=True, slots=True)
class PublishedStatusList:
    token: str
    version: int
    max_age: int


async def status_list_token(
    context: IssuerContext, issuer_id: str, list_id: str
) -> PublishedStatusList:
    context.agency(issuer_id)
    state = await context.ledger.status_list(list_id) if len(list_id) <= 100 else None
    if state is None or state.issuer_id != issuer_id:
        raise UnknownStatusList(list_id)
    ttl = context.policy.status_list_ttl
    now = context.clock.now()
    signer = await context.keys.signer(issuer_id)
    if (
        state.published_token is not None
        and state.published_version == state.version
        and state.published_at is not None
        and now - state.published_at < ttl / 2
        and _signed_by(state.published_token, signer.kid)
    ):
        age = now - state.published_at
        return PublishedStatusList(state.published_token, state.version, max(0, int(ttl - age)))
    status_list = StatusList.from_indices(
        state.bits, state.size, await context.ledger.flagged_indices(list_id)
    )
    token = signed_status_list(
        status_list,
        signer,
        uri=status_list_uri(context, issuer_id, list_id),
        now=now,
        ttl=ttl,
    )
    context.faults.reach(STATUS_LIST_AFTER_SIGN)
    await context.ledger.publish(list_id, state.version, token, now)
    return PublishedStatusList(token, state.version, ttl)


def _signed_by(token: str, kid: str) -> bool:
    """Whether a published token was signed by the agency's active key: after a rotation
    every list is signed again with the new key at its next request."""
    try:
        header = strict_json_object(b64url_decode(token.split(".", 1)[0]), max_bytes=64 * 1024)
    except EncodingError:
        return False
    return header.get("kid") == kid


def signed_status_list(
    status_list: StatusList, signer: Signer, *, uri: str, now: float, ttl: int
) -> str:
    """The Status List Token an agency serves (§5.1): valid for twice its ``ttl`` so a
    cached copy outlives the refresh, with the signing certificate chain in ``x5c``."""
    return build_status_list_token(
        status_list,
        signer,
        uri=uri,
        issued_at=int(now),
        expires_at=int(now) + 2 * ttl,
        ttl=ttl,
        include_x5c=True,
    )
