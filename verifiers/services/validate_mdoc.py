"""Checking one mdoc presentation of a VP Token (OpenID4VP 1.0 Appendix B.2.5: a
base64url ``DeviceResponse`` per presentation; ISO/IEC 18013-5 §9.3.1, §9.1.3).

:func:`check_device_response` runs :func:`core.mdoc.verify_device_response` with this
verifier's own view of the request and names every step the way the counter sees them:
``cbor`` (strict decoding within :data:`PRESENTATION_LIMITS`: no indefinite lengths,
duplicate map keys, deep nesting, huge strings or unexpected tags), ``structure`` (one
document, of the CDDL's shape), ``trust_chain`` (``x5chain`` to the anchors this verifier
trusts for issuers, the same as for SD-JWT VC ``x5c``), ``issuer_signature``,
``doc_type`` (the query's ``doctype_value``, B.2.2), ``digests``, ``validity`` and
``device_auth``: the device signature over the ``SessionTranscript`` of *this*
transaction (B.2.6.1), built here from what the wallet was sent: the ``client_id`` with its
prefix, the ``nonce``, the ``response_uri`` and, for ``direct_post.jwt``, the thumbprint
of the encryption key the request advertised (§8.3). The status (Token Status List) and
the DCQL checks are the caller's, as for SD-JWT VC.

:func:`disclosed_beyond` names elements disclosed that the query did not ask for (§6.4.1,
§14.1.2: the verifier refuses what it did not ask for instead of keeping it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from core.claim_paths import ClaimPath
from core.clock import Clock
from core.keys.x509 import ValidatedChains
from core.mdoc import (
    CborLimits,
    IssuerTrust,
    MdocError,
    VerifiedDocument,
    openid4vp_session_transcript,
    verify_device_response,
)
from core.mdoc.checks import CBOR, STRUCTURE
from verifiers.domain import Transaction
from verifiers.services.context import VerifierContext
from verifiers.services.response_keys import response_public_jwk

#: A ``vp_token`` is at most 512 KiB of base64url text (``validate_presentation``).
PRESENTATION_LIMITS = CborLimits(
    max_bytes=384 * 1024, max_depth=16, max_items=20_000, max_string_bytes=256 * 1024
)
#: HAIP 1.0: one mdoc per ``DeviceResponse``, so each answers exactly one query.
MAX_DOCUMENTS = 1


class MdocRefused(Exception):
    """The presentation failed ``check``; ``passed`` are the checks that ran before it."""

    def __init__(self, check: str, detail: str, passed: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail
        self.passed = tuple(passed)


@dataclass(frozen=True, slots=True)
class CheckedMdoc:
    document: VerifiedDocument
    #: The named checks that passed, in order.
    checks: tuple[str, ...]


def session_transcript_of(context: VerifierContext, transaction: Transaction) -> bytes:
    """B.2.6.1: the ``SessionTranscript`` of the request this verifier sent, never taken
    from the wallet."""
    encryption_jwk = (
        response_public_jwk(context.secret, transaction.request_id)
        if transaction.response_mode == "direct_post.jwt"
        else None
    )
    return openid4vp_session_transcript(
        client_id=transaction.client_id,
        nonce=transaction.nonce,
        response_uri=context.response_uri(transaction.verifier_id, transaction.request_id),
        encryption_jwk=encryption_jwk,
    )


def check_device_response(
    presentation: str,
    *,
    doctype: str,
    session_transcript: bytes,
    anchors: Sequence[x509.Certificate],
    clock: Clock,
    leeway: float,
    chains: ValidatedChains | None = None,
) -> CheckedMdoc:
    """Every check of the module docstring, or :class:`MdocRefused` naming the first that
    failed. ``chains``: document signer chains that validated before, remembered."""
    trust = IssuerTrust(tuple(anchors), leeway=leeway, chains=chains)
    try:
        response = verify_device_response(
            presentation,
            session_transcript=session_transcript,
            trust=trust,
            expected_doc_types=(doctype,),
            clock=clock,
            limits=PRESENTATION_LIMITS,
            max_documents=MAX_DOCUMENTS,
        )
    except MdocError as exc:
        raise MdocRefused(exc.check, str(exc), exc.passed_checks) from exc
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        # core.mdoc refuses with MdocError; anything else is still the wallet's input.
        raise MdocRefused(STRUCTURE, "the DeviceResponse cannot be read", (CBOR,)) from exc
    [document] = response.documents
    return CheckedMdoc(document, document.checks)


def disclosed_beyond(document: VerifiedDocument, requested: Sequence[ClaimPath]) -> list[ClaimPath]:
    """Issuer- or device-signed elements that no requested ``[namespace, element]`` is."""
    wanted = set(requested)
    disclosed = {
        (name_space, element)
        for claims in (document.claims, document.device_signed_claims)
        for name_space, elements in claims.items()
        for element in elements
    }
    return sorted((path for path in disclosed if path not in wanted), key=str)
