"""Access tokens bound to the wallet's key (DPoP, RFC 9449), as every agency applies it.

- At the pushed authorization request a DPoP proof, or the ``dpop_jkt`` parameter, binds
  the authorization to a key (§10); the code is then exchanged only with a proof of it.
- At the token endpoint (§5) a proof is required for the authorization code grant (HAIP
  1.0 §4: sender-constrained tokens), and taken when a wallet sends one with the
  pre-authorized code grant; it must carry a nonce of this agency (``DPoP-Nonce``, §8),
  and the token it yields is bound to its key (``token_type: DPoP``, ``cnf.jkt`` kept
  with the grant, §6). A pre-authorized exchange without a proof still yields a bearer
  token.
- At the credential and notification endpoints (§7) a bound token is taken only with the
  ``DPoP`` scheme and a proof of its key over this request and this token (``ath``)
  carrying a nonce of this agency (§9); a bound token sent as ``Bearer`` is refused, and
  so is a bearer token sent as ``DPoP`` (§7.2). The nonce endpoint and every answer of
  these endpoints hand out a fresh nonce.

Proof identifiers (``jti``) are single-use across workers (``IssuerContext.seen_once``); at
the pushed authorization request, the token endpoint and the credential endpoint a proof's
``jti`` is handed back unused, to be used up in the statement that stores what the proof
allows. Nonces need no storage: each is a MAC of this deployment's over its expiry
(``core.dpop.nonces``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from core.dpop import (
    AccessTokenScheme,
    CheckedDpopProof,
    DpopNonces,
    DpopProofVerifier,
    PresentedAccessToken,
    check_token_scheme,
    presented_access_token,
)
from core.errors import AccessTokenMissing, InvalidDpopBoundToken, InvalidDpopProof
from core.replay import SingleUse
from issuers.services.context import IssuerContext
from issuers.services.metadata import endpoint
from issuers.services.single_use import use_up_each

_NONCE_KEY_LABEL = b"idwallet issuer DPoP nonces"


@dataclass(frozen=True, slots=True)
class ProtectedRequest:
    """What a request to a protected endpoint carried: every ``Authorization`` and every
    ``DPoP`` header value, as received."""

    authorization: tuple[str, ...]
    dpop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """An access token as the request presented it; ``dpop_jkt`` is the key of its
    verified DPoP proof (``DPoP`` scheme), None for the ``Bearer`` scheme."""

    token: str
    scheme: AccessTokenScheme
    dpop_jkt: str | None

    def check_binding(self, bound_jkt: str | None) -> None:
        """The token's binding (its grant's ``dpop_jkt``) against how it was presented:
        ``invalid_token`` with the challenge of the scheme the wallet used (§7.1, §7.2)."""
        check_token_scheme(PresentedAccessToken(self.scheme, self.token), bound_jkt=bound_jkt)
        if bound_jkt is not None and (
            self.dpop_jkt is None
            or not hmac.compare_digest(bound_jkt.encode(), self.dpop_jkt.encode())
        ):
            raise InvalidDpopBoundToken("the access token is not bound to the DPoP proof's key")


def dpop_nonces(context: IssuerContext) -> DpopNonces:
    key = hmac.new(context.secret, _NONCE_KEY_LABEL, hashlib.sha256).digest()
    return DpopNonces(key, clock=context.clock, lifetime=context.policy.dpop_nonce_lifetime)


def fresh_dpop_nonce(context: IssuerContext, issuer_id: str) -> str:
    """A nonce for the wallet's next proofs at this agency (``DPoP-Nonce``, §8.2, §9)."""
    return dpop_nonces(context).issue(_nonce_server(context, issuer_id))


def _nonce_server(context: IssuerContext, issuer_id: str) -> str:
    return context.agency(issuer_id).identifier(context.public_base_url)


def _verifier(context: IssuerContext) -> DpopProofVerifier:
    if context.seen_once is None:
        raise InvalidDpopProof("this agency does not take DPoP proofs")
    return DpopProofVerifier(context.seen_once, dpop_nonces(context), clock=context.clock)


@dataclass(frozen=True, slots=True)
class PushedRequestKey:
    """The key a pushed request binds its authorization to (None: none), and the ``jti``
    of the DPoP proof that named it (None without a proof), still to be used up."""

    jkt: str | None
    proof_jti: SingleUse | None = None


def pushed_request_key(
    context: IssuerContext,
    issuer_id: str,
    dpop_values: tuple[str, ...],
    *,
    dpop_jkt: str | None,
) -> PushedRequestKey:
    """The key the authorization is bound to (§10): the proof's, the ``dpop_jkt``
    parameter's, or None when the wallet names none. Both must agree (§10.1)."""
    if not dpop_values:
        return PushedRequestKey(dpop_jkt)
    agency = context.agency(issuer_id)
    checked = _verifier(context).check(
        dpop_values, method="POST", uri=endpoint(agency, context.public_base_url, "par")
    )
    proof = checked.proof
    if dpop_jkt is not None and not hmac.compare_digest(dpop_jkt.encode(), proof.jkt.encode()):
        raise InvalidDpopProof("dpop_jkt is not the thumbprint of the DPoP proof's key")
    return PushedRequestKey(proof.jkt, checked.jti)


def token_request_proof(
    context: IssuerContext, issuer_id: str, dpop_values: tuple[str, ...], *, required: bool
) -> CheckedDpopProof | None:
    """The checked proof of a token request (§5), its ``jti`` still to be used up; None
    when there is none and none is ``required``. ``use_dpop_nonce`` with a fresh nonce
    when it carries none of ours."""
    if not dpop_values and not required:
        return None
    agency = context.agency(issuer_id)
    return _verifier(context).check(
        dpop_values,
        method="POST",
        uri=endpoint(agency, context.public_base_url, "token"),
        nonce_server=_nonce_server(context, issuer_id),
    )


@dataclass(frozen=True, slots=True)
class CheckedToken:
    """An access token as the request presented it, and the ``jti`` of its DPoP proof
    (None with the ``Bearer`` scheme), still to be used up."""

    token: PresentedToken
    proof_jti: SingleUse | None


def checked_token(
    context: IssuerContext, issuer_id: str, request: ProtectedRequest, *, endpoint_name: str
) -> CheckedToken:
    """The access token of a request to one of the agency's protected endpoints, with its
    DPoP proof checked when presented with the ``DPoP`` scheme (§7.1; the request is a
    POST to the endpoint's public URL), but for the proof's ``jti``: the caller uses it up
    with what the token allows."""
    presented = presented_access_token(request.authorization, max_token_length=512)
    if presented is None:
        raise AccessTokenMissing("an access token is required (Authorization: DPoP or Bearer)")
    if presented.scheme is AccessTokenScheme.BEARER:
        return CheckedToken(PresentedToken(presented.token, presented.scheme, None), None)
    agency = context.agency(issuer_id)
    checked = _verifier(context).check(
        request.dpop,
        method="POST",
        uri=endpoint(agency, context.public_base_url, endpoint_name),
        access_token=presented.token,
        nonce_server=_nonce_server(context, issuer_id),
    )
    return CheckedToken(
        PresentedToken(presented.token, presented.scheme, checked.proof.jkt), checked.jti
    )


async def presented_token(
    context: IssuerContext, issuer_id: str, request: ProtectedRequest, *, endpoint_name: str
) -> PresentedToken:
    """``checked_token`` with the proof's ``jti`` used up on its own."""
    checked = checked_token(context, issuer_id, request, endpoint_name=endpoint_name)
    if checked.proof_jti is not None:
        await use_up_each(context, (checked.proof_jti,))
    return checked.token


def check_token_header(request: ProtectedRequest) -> None:
    """Ahead of the body: a request without an access token in its ``Authorization``
    header is refused (``invalid_token``), one with a malformed header too
    (``invalid_request``, RFC 6750 §3.1)."""
    if presented_access_token(request.authorization, max_token_length=512) is None:
        raise AccessTokenMissing("an access token is required (Authorization: DPoP or Bearer)")
