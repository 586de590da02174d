"""How the wallet-facing verifier endpoints document their errors: the OAuth error body
(RFC 6749 §5.2 as OpenID4VP 1.0 §8.5 uses it) for each status they answer with."""

from __future__ import annotations

from http import HTTPStatus

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from core.oauth import ErrorResponse

_EXAMPLES = {
    400: {"error": "invalid_request", "error_description": "grant_type is required"},
    401: {"error": "invalid_token", "error_description": "a bearer access token is required"},
}


def oauth_errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=ErrorResponse,
            description=f"{HTTPStatus(status).phrase}: an OAuth error response",
            generate_examples=False,
            examples=[Example(value=_EXAMPLES.get(status, _EXAMPLES[400]))],
        )
        for status in statuses
    }
