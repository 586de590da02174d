"""What the agency's ways of finding out who the citizen is (the national eID login, a
presentation during issuance) share, so that they keep nothing apart from the
authorization they belong to:

- values derived from the authorization's id under the agency's secret, one family per
  way (``kind``): the ``state`` that names the authorization in a URL (its id and a MAC),
  and secrets such as a ``nonce``, a PKCE verifier, or the binding of the browser;
- the authorization a ``state`` names, when its MAC holds;
- the audit entry of a refusal (``authorization.refuse`` with a reason code, never the
  citizen's data).
"""

from __future__ import annotations

import hashlib
import hmac

from core.encoding import b64url_encode
from core.errors import InvalidRequest
from issuers.domain import AuditEvent, Authorization
from issuers.services.context import IssuerContext

MAX_STATE_LENGTH = 256


def derived(context: IssuerContext, kind: str, purpose: str, authorization_id: str) -> str:
    """A value for one ``purpose`` of one way (``kind``) of one authorization."""
    mac = hmac.new(context.secret, f"{kind} {purpose}|{authorization_id}".encode(), hashlib.sha256)
    return b64url_encode(mac.digest())


def state_of(context: IssuerContext, kind: str, authorization_id: str) -> str:
    return f"{authorization_id}.{derived(context, kind, 'state', authorization_id)}"


def same_browser(
    context: IssuerContext, kind: str, authorization: Authorization, binding: str | None
) -> bool:
    """Whether ``binding`` (the cookie the browser brought) is the one the authorization
    endpoint gave the browser it sent on."""
    expected = derived(context, kind, "browser", authorization.authorization_id)
    # compared as bytes: a cookie or path may hold any character, and compare_digest
    # refuses non-ASCII text
    return binding is not None and hmac.compare_digest(
        binding.encode(errors="replace"), expected.encode()
    )


async def authorization_named(
    context: IssuerContext, kind: str, issuer_id: str, state: str, unknown: str
) -> Authorization:
    """The authorization ``state`` names, if its MAC holds; ``invalid_request`` with
    ``unknown`` otherwise (no wallet to send the browser back to)."""
    authorization_id, _, mac = state.partition(".")
    expected = derived(context, kind, "state", authorization_id) if authorization_id else ""
    if (
        not mac
        or len(state) > MAX_STATE_LENGTH
        or not hmac.compare_digest(mac.encode(errors="replace"), expected.encode())
    ):
        raise InvalidRequest(unknown)
    authorization = await context.authorizations.get(issuer_id, authorization_id)
    if authorization is None:
        raise InvalidRequest(unknown)
    return authorization


async def audit_refusal(
    context: IssuerContext, authorization: Authorization, actor: str, reason: str, detail: str
) -> None:
    await context.audit.record(
        AuditEvent(
            issuer_id=authorization.issuer_id,
            at=context.clock.now(),
            actor=actor[:100],
            action="authorization.refuse",
            object_id=authorization.authorization_id,
            outcome=reason,
            detail=f"{', '.join(authorization.configuration_ids)}: {detail}"[:500],
        )
    )
