"""Protocol errors: one exception class per error code the specs define.

Each carries the wire code (``error``), a public ``description`` that is safe to send
to the peer, and an internal ``detail`` for logs that must never reach the peer.
Codes: RFC 6749 §5.2 (token endpoint), RFC 6750 §3.1 (bearer tokens),
OpenID4VCI 1.0 §6.3 and §8.3.1.2, OpenID4VP 1.0 §8.5, RFC 9449 §5, §7.1 and §12.2 (DPoP),
OAuth 2.0 Attestation-Based Client Authentication (draft -07 §6.2, draft -10 §7.4);
``rate_limited`` (HTTP 429, RFC 6585 §4) is this deployment's own, as no OAuth
specification defines one.
"""

from __future__ import annotations

from typing import ClassVar


class Problem(Exception):
    """An operator-facing error, rendered as problem details (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def to_body(self) -> dict[str, object]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


_DESCRIPTION_CHARACTERS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


class ProtocolError(Exception):
    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400
    #: Seconds after which a retry may succeed (sent as ``Retry-After``), where that is known.
    retry_after: ClassVar[int | None] = None
    #: The authentication scheme of the ``WWW-Authenticate`` challenge that goes with a 401
    #: answer (RFC 9110 §11.6.1): ``Bearer`` (RFC 6750 §3) unless the error is about a
    #: DPoP-bound token or proof (RFC 9449 §7.1).
    challenge_scheme: ClassVar[str] = "Bearer"

    def __init__(self, description: str, *, detail: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.detail = detail or description

    def to_body(self) -> dict[str, str]:
        # RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
        safe = "".join(c if c in _DESCRIPTION_CHARACTERS else "?" for c in self.description)
        return {"error": self.error, "error_description": safe}


class InvalidRequest(ProtocolError):
    error = "invalid_request"


class ServiceBusy(ProtocolError):
    """Too much pending state to take on more now (RFC 6749 §4.1.2.1
    ``temporarily_unavailable``); the caller may retry shortly."""

    error = "temporarily_unavailable"
    status_code = 503
    retry_after = 5


class InvalidClient(ProtocolError):
    error = "invalid_client"
    status_code = 401


class InvalidClientAttestation(InvalidClient):
    """Attestation-Based Client Authentication (draft -07 §6.2, -10 §7.4): the Client
    Attestation or its proof of possession does not verify. A more specific
    ``invalid_client``, with its HTTP 401."""

    error = "invalid_client_attestation"


class UseAttestationChallenge(ProtocolError):
    """Attestation-Based Client Authentication (draft -07 §6.2, -10 §7.4): the Client
    Attestation PoP does not carry a challenge this server issued. The response must carry
    a fresh one in the ``OAuth-Client-Attestation-Challenge`` header (``challenge``)."""

    error = "use_attestation_challenge"

    def __init__(self, description: str, *, challenge: str, detail: str | None = None) -> None:
        super().__init__(description, detail=detail)
        self.challenge = challenge


class UseFreshAttestation(ProtocolError):
    """Attestation-Based Client Authentication (draft -07 §6.2, -10 §7.4): the Client
    Attestation was issued longer ago than this server accepts; the client fetches a new
    one from its attester."""

    error = "use_fresh_attestation"


class InvalidGrant(ProtocolError):
    error = "invalid_grant"


class UnauthorizedClient(ProtocolError):
    error = "unauthorized_client"


class UnsupportedGrantType(ProtocolError):
    error = "unsupported_grant_type"


class UnsupportedTokenType(ProtocolError):
    """RFC 7009 §2.2.1: the server does not revoke tokens of the hinted type."""

    error = "unsupported_token_type"


class InvalidScope(ProtocolError):
    error = "invalid_scope"


class AccessDenied(ProtocolError):
    error = "access_denied"


class UnsupportedResponseType(ProtocolError):
    """RFC 6749 §4.1.2.1."""

    error = "unsupported_response_type"


class InvalidAuthorizationDetails(ProtocolError):
    """RFC 9396 §5: an ``authorization_details`` the server cannot accept."""

    error = "invalid_authorization_details"


class RequestNotSupported(ProtocolError):
    """OpenID Connect Core §3.1.2.6, as RFC 9126 §2.1 uses it: a request object by value."""

    error = "request_not_supported"


class InvalidToken(ProtocolError):
    error = "invalid_token"
    status_code = 401


class AccessTokenMissing(InvalidToken):
    """A request to a protected resource with no access token at all. Its challenge names
    no error code (RFC 6750 §3.1) and offers every scheme the resource takes: ``Bearer``
    and ``DPoP`` with its algorithms (RFC 9449 §7.1, §7.2)."""


class InvalidDpopBoundToken(InvalidToken):
    """An access token presented with the ``DPoP`` scheme that is not bound to the proof's
    key, or not DPoP-bound at all (RFC 9449 §7.1). The resource answers 401 with
    ``WWW-Authenticate: DPoP error="invalid_token"``."""

    challenge_scheme = "DPoP"


class InvalidDpopProof(ProtocolError):
    """The ``DPoP`` proof fails a check of RFC 9449 §4.3 (or was used before, §11.1).

    At the token endpoint (RFC 9449 §5) the answer is 400 with this error JSON
    (RFC 6749 §5.2); at a protected resource see :class:`InvalidDpopProofAtResource`."""

    error = "invalid_dpop_proof"


class InvalidDpopProofAtResource(InvalidDpopProof):
    """At a protected resource (RFC 9449 §7.1) the answer is 401 with
    ``WWW-Authenticate: DPoP error="invalid_dpop_proof"``."""

    status_code = 401
    challenge_scheme = "DPoP"


class UseDpopNonce(ProtocolError):
    """The proof lacks a server nonce, or its nonce is not one of ours or has expired
    (RFC 9449 §8). ``dpop_nonce`` is a fresh nonce: the endpoint sends it as the one
    ``DPoP-Nonce`` header of its answer, which at the token endpoint is 400 with this
    error JSON; at a protected resource see :class:`UseDpopNonceAtResource`."""

    error = "use_dpop_nonce"

    def __init__(self, description: str, *, dpop_nonce: str, detail: str | None = None) -> None:
        super().__init__(description, detail=detail)
        self.dpop_nonce = dpop_nonce


class UseDpopNonceAtResource(UseDpopNonce):
    """At a protected resource (RFC 9449 §9) the answer is 401 with
    ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` and the ``DPoP-Nonce`` header."""

    status_code = 401
    challenge_scheme = "DPoP"


class InsufficientScope(ProtocolError):
    error = "insufficient_scope"
    status_code = 403


class InvalidCredentialRequest(ProtocolError):
    error = "invalid_credential_request"


class UnknownCredentialConfiguration(ProtocolError):
    error = "unknown_credential_configuration"


class UnknownCredentialIdentifier(ProtocolError):
    error = "unknown_credential_identifier"


class InvalidProof(ProtocolError):
    error = "invalid_proof"


class InvalidNonce(ProtocolError):
    error = "invalid_nonce"


class InvalidEncryptionParameters(ProtocolError):
    error = "invalid_encryption_parameters"


class CredentialRequestDenied(ProtocolError):
    error = "credential_request_denied"


class InvalidTransactionId(ProtocolError):
    error = "invalid_transaction_id"


class InvalidNotificationId(ProtocolError):
    error = "invalid_notification_id"


class InvalidNotificationRequest(ProtocolError):
    error = "invalid_notification_request"


class InvalidRequestObject(ProtocolError):
    error = "invalid_request_object"


class VpFormatsNotSupported(ProtocolError):
    error = "vp_formats_not_supported"


class InvalidTransactionData(ProtocolError):
    error = "invalid_transaction_data"


class WalletUnavailable(ProtocolError):
    error = "wallet_unavailable"


class PayloadTooLarge(ProtocolError):
    error = "invalid_request"
    status_code = 413


class RateLimited(ProtocolError):
    error = "rate_limited"
    status_code = 429


class ServerError(ProtocolError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(ProtocolError):
    error = "temporarily_unavailable"
    status_code = 503
