"""What a wallet checks when it receives an mdoc (OpenID4VCI 1.0 Appendix A.2.4: the
``credential`` is the base64url of ``IssuerSigned``; ISO/IEC 18013-5 §9.3.1).

The checks of :mod:`core.mdoc.verify_issuer_signed` (``trust_chain``, ``issuer_signature``,
``doc_type``, ``digests``, ``validity``) after strict decoding (``cbor``, ``structure``),
then ``device_key``: the MSO binds the mdoc to the key the wallet's proof of possession
carried, so that the wallet can later sign ``DeviceAuthentication`` for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from cryptography import x509

from core.clock import SYSTEM_CLOCK, Clock
from core.jose.jwk import jwk_thumbprint
from core.mdoc import checks
from core.mdoc.cbor import DEFAULT_LIMITS, CborLimits
from core.mdoc.checks import CheckLog
from core.mdoc.errors import DeviceKeyMismatch, MalformedCbor, MdocError
from core.mdoc.issuer_signed import decode_issuer_signed
from core.mdoc.verify_issuer_signed import IssuerTrust, VerifiedIssuerSigned, verify_issuer_signed


def verify_issued_mdoc(
    credential: str | bytes,
    *,
    trust: IssuerTrust | Sequence[x509.Certificate],
    expected_doc_type: str | None = None,
    holder_jwk: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    limits: CborLimits = DEFAULT_LIMITS,
) -> VerifiedIssuerSigned:
    """Verify a received mdoc; return its verified content or raise an
    :class:`core.mdoc.errors.MdocError` (its ``check`` names the step that failed).

    ``trust`` is an :class:`IssuerTrust`, or just the trust anchors (with the default
    algorithms: ES256, SHA-256/384/512). ``holder_jwk``, when given, is the public key the
    wallet asked the mdoc to be bound to."""
    policy = trust if isinstance(trust, IssuerTrust) else IssuerTrust(tuple(trust))
    log = CheckLog()
    try:
        issuer_signed = decode_issuer_signed(credential, limits)
    except MalformedCbor as exc:
        raise log.failed(exc) from None
    except MdocError as exc:
        log.done(checks.CBOR)
        raise log.failed(exc) from None
    log.done(checks.CBOR)
    log.done(checks.STRUCTURE)
    verified = verify_issuer_signed(
        issuer_signed,
        policy,
        now=clock.now(),
        log=log,
        expected_doc_types=None if expected_doc_type is None else (expected_doc_type,),
        limits=limits,
    )
    if holder_jwk is not None and jwk_thumbprint(holder_jwk) != jwk_thumbprint(
        verified.device_key_jwk
    ):
        raise log.failed(DeviceKeyMismatch("the mdoc is bound to another device key"))
    if holder_jwk is not None:
        log.done(checks.DEVICE_KEY)
    return replace(verified, checks=tuple(log.passed))
