"""Protocol refusals in the deployment's audit trail: an agency's or a counter's protocol
endpoint answering with an error code (a token request refused, a credential request with
an invalid proof, a presentation response that fails its checks) appends
``protocol.refused`` with the endpoint's template and the error code, after the answer is
sent. Successful outcomes are appended by the roles themselves (``credential.issued``,
``presentation.answered``), so every outcome of a protocol exchange is in the trail.

Only known agencies and counters are named: a request to a tenant that does not exist is
not an action of anyone the trail tracks (and its path is the sender's free text). The
entry holds no identifier of the request, the citizen or the credential.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request
from litestar.background_tasks import BackgroundTask

from core.audit.trail import AuditEntry, AuditTrail

log = logging.getLogger("idwallet.audit")

#: The tenants' protocol paths: template prefix, the path parameter naming the tenant,
#: the actor kind, and the app state holding the tenants.
_TENANTS = (
    ("/issuers/{issuer_id}/", "issuer_id", "agency", "issuers"),
    ("/verifiers/{verifier_id}/", "verifier_id", "counter", "verifiers"),
)


def refusal_entry(request: Request[Any, Any, Any], error: str) -> AuditEntry | None:
    """The audit entry of a protocol refusal at ``request``, or None where no known agency
    or counter was addressed."""
    scope = getattr(request, "scope", None) or {}  # rendered outside a request: nothing
    template = str(scope.get("path_template") or "")
    for prefix, parameter, actor_kind, state in _TENANTS:
        if not template.startswith(prefix):
            continue
        tenant = request.path_params.get(parameter)
        if not isinstance(tenant, str) or not _known(request, state, tenant):
            return None
        return AuditEntry(
            actor_kind,
            tenant,
            "protocol.refused",
            outcome=error[:64],
            facts={"endpoint": template.removeprefix(prefix)},
        )
    return None


def _known(request: Request[Any, Any, Any], state: str, tenant: str) -> bool:
    context = getattr(request.app.state, state, None)
    tenants = getattr(context, "agencies", None) or getattr(context, "parties", None)
    return isinstance(tenants, dict) and tenant in tenants


def append_after_answer(request: Request[Any, Any, Any], error: str) -> BackgroundTask | None:
    """The append of the refusal at ``request``, run once the answer is sent."""
    entry = refusal_entry(request, error)
    if entry is None:
        return None
    deployment = getattr(request.app.state, "deployment", None)
    if deployment is None:
        return None
    return BackgroundTask(_append, deployment.audit_trail, entry)


async def _append(trail: AuditTrail, entry: AuditEntry) -> None:
    try:
        await trail.append(entry)
    except Exception as exc:  # the answer is sent; the database may be away: logged
        log.warning("audit entry of a refusal not stored: %s", type(exc).__name__)
