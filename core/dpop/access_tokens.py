"""How an access token is presented: ``Authorization: DPoP <token>`` for a DPoP-bound token
(RFC 9449 §7.1) or ``Authorization: Bearer <token>`` (RFC 6750 §2.1), and the rule that a
token is used only with the scheme it was issued for (RFC 9449 §7.2: a DPoP-bound token
presented as a bearer token is refused).

A resource reads the header with :func:`presented_access_token`, looks the token up, then
calls :func:`check_token_scheme` with the token's ``cnf.jkt`` (RFC 9449 §6.1), and, for
the ``DPoP`` scheme, verifies the proof (``core.dpop.proof``) and its binding.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from core.dpop.token68 import is_token68
from core.errors import InvalidDpopBoundToken, InvalidRequest, InvalidToken

DEFAULT_MAX_ACCESS_TOKEN_LENGTH = 4096


class AccessTokenScheme(enum.Enum):
    """The authentication schemes an access token is accepted with; the values are the
    names as written in ``Authorization`` headers and ``token_type`` (RFC 9449 §5)."""

    BEARER = "Bearer"
    DPOP = "DPoP"


_SCHEMES = {scheme.value.lower(): scheme for scheme in AccessTokenScheme}


@dataclass(frozen=True, slots=True)
class PresentedAccessToken:
    scheme: AccessTokenScheme
    token: str


def presented_access_token(
    authorization_values: Sequence[str],
    *,
    max_token_length: int = DEFAULT_MAX_ACCESS_TOKEN_LENGTH,
) -> PresentedAccessToken | None:
    """The access token of the request's ``Authorization`` header values (all of them, as
    received).

    None when there is none, or it uses another scheme: the resource then answers 401 with
    a challenge and no error code (RFC 6750 §3.1). :class:`InvalidRequest` (400) for more
    than one header (the ambiguous request of RFC 9449 §7.2) or a credential that is not
    one ``token68`` (RFC 9110 §11.2) of at most ``max_token_length`` characters. The scheme
    name is matched without regard to case (RFC 9110 §11.1).
    """
    if not authorization_values:
        return None
    if len(authorization_values) > 1:
        raise InvalidRequest("send the access token in one Authorization header")
    value = authorization_values[0]
    if len(value) > max_token_length + 64:
        raise InvalidRequest("the access token is too long")
    name, _, credentials = value.strip(" \t").partition(" ")
    scheme = _SCHEMES.get(name.lower())
    if scheme is None:
        return None
    token = credentials.lstrip(" ")
    if not token or len(token) > max_token_length or not is_token68(token):
        raise InvalidRequest(f"the {scheme.value} credentials are not one well-formed token")
    return PresentedAccessToken(scheme, token)


def check_token_scheme(presented: PresentedAccessToken, *, bound_jkt: str | None) -> None:
    """Refuse a token presented with a scheme it was not issued for (RFC 9449 §7.2).

    ``bound_jkt`` is the token's ``cnf.jkt`` (RFC 9449 §6.1), None for a bearer token. A
    DPoP-bound token sent as ``Bearer`` is :class:`InvalidToken` (401, ``WWW-Authenticate:
    Bearer error="invalid_token"``: the scheme the client used); a bearer token sent as
    ``DPoP`` is :class:`InvalidDpopBoundToken` (401, ``WWW-Authenticate: DPoP
    error="invalid_token"``).
    """
    if bound_jkt is not None and presented.scheme is AccessTokenScheme.BEARER:
        raise InvalidToken(
            "this access token is bound to a DPoP key: present it with the DPoP scheme"
            " and a DPoP proof"
        )
    if bound_jkt is None and presented.scheme is AccessTokenScheme.DPOP:
        raise InvalidDpopBoundToken("this access token is not bound to a DPoP key")
