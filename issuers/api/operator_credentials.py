"""Operator API for what an agency has issued: a citizen's offers and credentials,
revocation and suspension, and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from core.clock import rfc3339
from core.errors import Problem
from core.identifiers import InvalidIdentifier, checked_identifier
from core.messages import LocalizedName, LocalizedText
from issuers.api.operator import AgencyOperatorController
from issuers.domain import ClaimLabel, Display, IssuedCredential
from issuers.services.change_status import (
    STATUS_NAMES,
    InvalidSelection,
    change_status,
    selector_from,
)
from issuers.services.context import IssuerContext
from issuers.services.create_offer import MAX_SUBJECT_ID
from issuers.services.desk_register import records_for_desk
from issuers.services.issue_credential import status_list_uri
from issuers.services.offer_messages import (
    AgencyConfigurations,
    AuditEvent,
    AuditTrail,
    ConfigurationClaim,
    ConfigurationView,
    IssuedCredentialView,
    StatusAction,
    StatusChange,
    StatusChanged,
    SubjectOffer,
    SubjectRecord,
)

ACTIONS = ("revoke", "suspend", "unsuspend")


def credential_summary(
    context: NamedDependency[IssuerContext], credential: IssuedCredential
) -> IssuedCredentialView:
    return IssuedCredentialView(
        credential_id=credential.credential_id,
        credential_configuration_id=credential.configuration_id,
        subject_id=credential.subject_id,
        status=STATUS_NAMES.get(credential.status, str(credential.status)),
        status_uri=status_list_uri(context, credential.issuer_id, credential.status_list_id),
        status_idx=credential.status_index,
        issued_at=rfc3339(credential.issued_at),
        expires_at=rfc3339(credential.expires_at),
        offer_id=credential.offer_id,
        # None: the wallet never confirmed receipt (OpenID4VCI 1.0 §11); such a credential
        # may not have reached the citizen, and the desk can revoke it.
        wallet_notification=credential.notification_event,
    )


class OperatorCredentialController(AgencyOperatorController):
    path = "/issuers/{issuer_id:str}"

    @post(
        "/credentials/{action:str}",
        summary="Revoke, suspend or unsuspend credentials",
        operation_id="changeCredentialStatus",
        status_code=200,
    )
    async def change(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        action: FromPath[str],
        data: JSONBody[StatusChange],
    ) -> Response[StatusChanged]:
        if action not in ACTIONS:
            raise Problem(404, "Not Found", f"the action is one of {', '.join(ACTIONS)}")
        try:
            selector = selector_from(
                context,
                issuer_id,
                credential_id=data.credential_id,
                subject_id=data.subject_id,
                status_uri=data.status_uri,
                status_idx=data.status_idx,
            )
            result = await change_status(
                context, issuer_id, action, selector, actor="operator", reason=data.reason
            )
        except InvalidSelection as exc:
            raise Problem(400, "Bad Request", str(exc)) from None
        if not result.changed and not result.unchanged:
            raise Problem(404, "Not Found", "no credential of this agency matches")
        return Response(
            StatusChanged(
                action=cast(StatusAction, action),  # one of ACTIONS, checked above
                changed=[credential_summary(context, c) for c in result.changed],
                unchanged=result.unchanged,
            ),
            headers={"Cache-Control": "no-store"},
        )

    @get(
        "/configurations",
        summary="The agency's credential configurations and the claims each takes, for a desk",
        operation_id="listCredentialConfigurations",
    )
    async def configurations(
        self, context: NamedDependency[IssuerContext], issuer_id: FromPath[str]
    ) -> Response[AgencyConfigurations]:
        agency = context.agency(issuer_id)

        def names(display: Sequence[Display | ClaimLabel]) -> list[LocalizedName]:
            return [LocalizedName(locale=d.locale, name=d.name) for d in display]

        return Response(
            AgencyConfigurations(
                issuer_id=issuer_id,
                organization=agency.organization,
                display=names(agency.display),
                configurations=[
                    ConfigurationView(
                        credential_configuration_id=config.id,
                        display=names(config.display),
                        claims=[
                            ConfigurationClaim(
                                path=list(claim.path),
                                type=claim.value_type,
                                mandatory=claim.mandatory,
                                display=names(claim.display),
                            )
                            for claim in agency.configurations[config.record_id].claims
                        ],
                        format=config.format,
                        doctype=config.doctype,
                        claims_of=config.record_configuration,
                        approval_reason=[
                            LocalizedText(locale=r.locale, text=r.text)
                            for r in config.approval_reason
                        ]
                        or None,
                    )
                    for config in agency.configurations.values()
                ],
            ),
            headers={"Cache-Control": "no-store"},
        )

    @get(
        "/subjects/{subject_id:str}",
        operation_id="getSubjectRecord",
        summary="A citizen's offers and issued credentials",
    )
    async def subject(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        subject_id: FromPath[str],
        state: State,
    ) -> Response[SubjectRecord]:
        try:
            checked_identifier(subject_id, what="subject_id", max_length=MAX_SUBJECT_ID)
        except InvalidIdentifier as exc:
            raise Problem(400, "Bad Request", str(exc)) from None
        desk = await records_for_desk(context, issuer_id, subject_id)
        offers = await context.offers.for_subject(issuer_id, subject_id)
        credentials = await context.ledger.for_subject(issuer_id, subject_id)
        now = context.clock.now()
        return Response(
            SubjectRecord(
                subject_id=subject_id,
                # what the agency's register holds of this citizen, per configuration
                register=dict(desk.records),
                register_unavailable=desk.unavailable,
                offers=[
                    SubjectOffer(
                        offer_id=o.offer_id,
                        credential_configuration_id=o.configuration_id,
                        state=o.effective_state(now).value,
                        created_at=rfc3339(o.created_at),
                        expires_at=rfc3339(o.expires_at),
                        tx_code_required=o.tx_code_hash is not None,
                        claims=dict(o.claims),  # what the agency entered, for the desk to reuse
                    )
                    for o in offers
                ],
                credentials=[credential_summary(context, c) for c in credentials],
            ),
            headers={"Cache-Control": "no-store"},
        )

    @get("/audit", operation_id="listAgencyAudit", summary="The agency's audit trail, newest first")
    async def audit(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
        limit: FromQuery[int] = 100,
    ) -> Response[AuditTrail]:
        unknown = sorted(set(request.query_params) - {"limit"})
        if unknown:
            raise Problem(400, "Bad Request", f"unknown query parameter {unknown[0][:64]!r}")
        events = await context.audit.recent(issuer_id, max(1, min(limit, 1000)))
        return Response(
            AuditTrail(
                events=[
                    AuditEvent(
                        at=rfc3339(e.at),
                        actor=e.actor,
                        action=e.action,
                        object_id=e.object_id,
                        outcome=e.outcome,
                        detail=e.detail,
                    )
                    for e in events
                ]
            ),
            headers={"Cache-Control": "no-store"},
        )
