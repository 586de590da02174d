"""What the OpenAPI document says about errors, in one place: for every operation, the
error bodies it can really answer with, in the format of its family.

- Protocol endpoints and the citizen mobile API answer OAuth error JSON
  (``{error, error_description}``, RFC 6749 §5.2; OpenID4VCI 1.0 §8.3.1, OpenID4VP 1.0
  §8.5); the operator and counter APIs answer problem details (RFC 9457), as their
  handlers say with ``opt["problem_details"]``.
- 400 where the operation takes a body or parameters; 413 where it takes a body; 401
  where it declares a security scheme; 404 where its path names something; 429 where it
  is rate limited; and whatever else a handler names in ``opt["errors"]``. A handler's
  own ``responses`` win.
- 403 ``not_allowed_in_mediation`` (problem details, RFC 9457) on the citizen mobile
  operations a mediator's token reaches and is refused at (docs/mediators.md): it is a
  ``citizenSession`` bearer token, refused where the operation names no mediation action
  (``opt["mediation"]``) or names one with a refusal of its own
  (``opt["mediation_refusal"]``, the detail it is refused with).

Without this, the framework documents its own 400 body (``{detail, extra, status_code}``),
which this API never sends.

A body this deployment defines refuses members it does not know (400): its schema says so
with ``additionalProperties: false`` (``ClosedMessageSchemas``), so that clients and
generators do not send what the document would otherwise allow.

The examples of every response are shown as given (``VerbatimExample``): the framework's
rendering drops each null member, which would leave a required nullable member (a device's
``revoked_at``) out of an example of its message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Any

from litestar import Litestar

# the framework's schema of a msgspec struct, which closed messages extend
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar._openapi.schema_generation.schema import SchemaCreator
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Schema
from litestar.params import QueryParameter
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from core.messages import ProblemDetails
from core.oauth import ErrorResponse
from wallet.services.mediation_messages import MediationRefusal, mediation_refusal_example

_OAUTH_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {"error": "invalid_request", "error_description": "$.uri: expected a string"},
    401: {"error": "invalid_token", "error_description": "a bearer access token is required"},
    403: {"error": "access_denied", "error_description": "not for this session"},
    404: {"error": "invalid_request", "error_description": "no such credential issuer"},
    409: {"error": "invalid_request", "error_description": "too many unfinished flows"},
    410: {"error": "offer_unavailable", "error_description": "this offer was used already"},
    413: {"error": "invalid_request", "error_description": "the request body is too large"},
    422: {"error": "invalid_request", "error_description": "the credential offer is malformed"},
    429: {"error": "rate_limited", "error_description": "too many requests; retry later"},
    502: {"error": "temporarily_unavailable", "error_description": "the issuer is unreachable"},
    503: {"error": "temporarily_unavailable", "error_description": "retry shortly"},
}


@dataclass
class VerbatimExample(Example):
    """An example whose value is rendered as given, its null members kept."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        if self.value is not None:
            schema["value"] = self.value
        return schema


def _verbatim(answer: ResponseSpec) -> ResponseSpec:
    if answer.examples:
        answer.examples = [
            VerbatimExample(**{f.name: getattr(example, f.name) for f in fields(example)})
            for example in answer.examples
        ]
    return answer


def _oauth(status: int) -> ResponseSpec:
    example = _OAUTH_EXAMPLES.get(status, _OAUTH_EXAMPLES[400])
    return ResponseSpec(
        data_container=ErrorResponse,
        description=f"{HTTPStatus(status).phrase}: an OAuth error response",
        generate_examples=False,
        examples=[Example(value=example)],
    )


def _problem(status: int) -> ResponseSpec:
    phrase = HTTPStatus(status).phrase
    return ResponseSpec(
        data_container=ProblemDetails,
        description=f"{phrase}: problem details (RFC 9457)",
        media_type="application/problem+json",
        generate_examples=False,
        examples=[
            Example(value={"type": "about:blank", "title": phrase, "status": status, "detail": "…"})
        ],
    )


def _mediation_refusal(handler: HTTPRouteHandler) -> ResponseSpec | None:
    """The 403 a mediator's token gets at this operation, if it can get one."""
    if not any("citizenSession" in scheme for scheme in handler.resolve_security() or ()):
        return None
    refusal = handler.opt.get("mediation_refusal")
    if handler.opt.get("mediation") and not refusal:
        return None
    example = mediation_refusal_example(*([refusal] if isinstance(refusal, str) else []))
    return ResponseSpec(
        data_container=MediationRefusal,
        description="Forbidden: not for a mediator's token (not_allowed_in_mediation,"
        " docs/mediators.md); problem details (RFC 9457)",
        media_type="application/problem+json",
        generate_examples=False,
        examples=[Example(summary="refused in a mediation", value=example)],
    )


class ClosedMessageSchemas(StructSchemaPlugin):
    """The schema of a message that refuses unknown members (``forbid_unknown_fields``)
    declares ``additionalProperties: false``."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and bool(
            field_definition.type_.__struct_config__.forbid_unknown_fields
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


def _statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> set[int]:
    statuses: set[int] = set()
    takes_body = "data" in handler.parsed_fn_signature.parameters
    takes_query = any(
        field.kwarg_definition is not None
        and (
            getattr(field.kwarg_definition, "query", None)
            or isinstance(field.kwarg_definition, QueryParameter)
        )
        for field in handler.parsed_fn_signature.parameters.values()
    )
    if takes_body or takes_query or route.path_parameters:
        statuses.add(400)
    if takes_body:
        statuses.add(413)
    if handler.resolve_security():
        statuses.add(401)
    if route.path_parameters:
        statuses.add(404)
    if handler.opt.get("rate_limit"):
        statuses.add(429)
    extra: Iterable[int] = handler.opt.get("errors", ())
    statuses.update(extra)
    return statuses


def document_errors(app: Litestar) -> None:
    """Give every operation of ``app`` its error responses (before the document is built)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            family = _problem if handler.opt.get("problem_details") else _oauth
            documented = {status: family(status) for status in sorted(_statuses(route, handler))}
            refusal = _mediation_refusal(handler)
            if refusal is not None:
                documented = dict(sorted({**documented, 403: refusal}.items()))
            own = {
                status: _verbatim(answer) for status, answer in (handler.responses or {}).items()
            }
            handler.responses = {**documented, **own}
