"""A verifier's registration as attested in its request (OpenID4VP 1.0 §5.1
``verifier_info``, §5.11): used only when the attestation's signature verifies with one of
the wallet's trust anchors and it is bound to the authenticated client identifier (``sub``,
a claim-bound attestation, §5.11.1). Then the consent view can name the registered purpose
and warn when the request asks for more than the registration covers; an attestation that
fails validation is ignored, with a warning (§5.11.1: ignore or reject).

A registered purpose may carry ``issuance``: the registrar's statement that the purpose
serves an issuer's issuance (``credential_issuer``, the issuer identifier, and the
``credential_configuration_ids`` it issues after the check). It is read only from the
purpose that covers the whole request of a verified registration; a statement of another
shape is left out, as if not made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.claim_paths import ClaimPath
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified, verify_decoded
from wallet.services.context import WalletContext

REGISTRATION_FORMAT = "urn:idwallet:verifier-registration"
REGISTRATION_TYP = "verifier-registration+jwt"
ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "EdDSA"})
MAX_ATTESTATION_BYTES = 32 * 1024
MAX_ISSUED_CONFIGURATIONS = 20


class IssuanceStatement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A registered purpose's ``issuance``: the counter asks on behalf of this issuer
    before it issues these credential configurations."""

    credential_issuer: Annotated[str, msgspec.Meta(min_length=8, max_length=299)]
    credential_configuration_ids: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]],
        msgspec.Meta(min_length=1, max_length=MAX_ISSUED_CONFIGURATIONS),
    ]


@dataclass(frozen=True, slots=True)
class RegisteredPurpose:
    """The registered purpose covering a request: as shown (``id``, ``description`` in the
    citizen's language) and the issuance it serves, if it says so."""

    shown: dict[str, Any]
    issuance: IssuanceStatement | None


def verified_registration(
    context: WalletContext, payload: dict[str, Any], client_id: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The registration, or why an attached one was not believed (None, None: none sent)."""
    entries = payload.get("verifier_info")
    if not isinstance(entries, list):
        return None, None
    attached = [
        e for e in entries if isinstance(e, dict) and e.get("format") == REGISTRATION_FORMAT
    ]
    if not attached:
        return None, None
    data = attached[0].get("data")
    if not isinstance(data, str) or len(data) > MAX_ATTESTATION_BYTES:
        return None, "the registration attestation is malformed"
    try:
        parsed = decode_unverified(data, max_bytes=MAX_ATTESTATION_BYTES)
    except JoseError:
        return None, "the registration attestation is malformed"
    claims = None
    for anchor in context.anchors:
        key = anchor.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
            continue
        try:
            claims = verify_decoded(
                parsed, key, algorithms=ALGORITHMS, typ=REGISTRATION_TYP
            ).payload
            break
        except JoseError:
            continue
    if claims is None:
        return None, "the registration is not signed by a registrar this wallet trusts"
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp < context.clock.now():
        return None, "the registration has expired"
    if claims.get("sub") != client_id:
        return None, "the registration is for another verifier"
    if not isinstance(claims.get("purposes"), list):
        return None, "the registration lists no purposes"
    return claims, None


def _requested(dcql: dict[str, Any]) -> list[tuple[frozenset[str], ClaimPath]]:
    wanted = []
    for query in dcql.get("credentials", []):
        vcts = frozenset(query.get("meta", {}).get("vct_values", []))
        for claim in query.get("claims", []) or []:
            wanted.append((vcts, tuple(claim["path"])))
    return wanted


def _covers(purpose: dict[str, Any], vcts: frozenset[str], path: ClaimPath) -> bool:
    for credential in purpose.get("credentials", []):
        if not isinstance(credential, dict):
            continue
        if vcts and not vcts.intersection(credential.get("vct_values", [])):
            continue
        if list(path) in credential.get("claims", []):
            return True
    return False


def issuance_statement(purpose: dict[str, Any]) -> IssuanceStatement | None:
    """The purpose's ``issuance``, or None when it makes none or one of another shape
    (an issuer identifier that is no http(s) URL with a host)."""
    raw = purpose.get("issuance")
    if raw is None:
        return None
    try:
        statement = msgspec.convert(raw, IssuanceStatement)
    except msgspec.ValidationError:
        return None
    parts = urlsplit(statement.credential_issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        return None
    return statement


def serves_issuance(registration: dict[str, Any]) -> bool:
    """Whether any registered purpose says it serves an issuance."""
    return any(isinstance(p, dict) and "issuance" in p for p in registration["purposes"])


def registered_purpose(
    registration: dict[str, Any], dcql: dict[str, Any], preferred: Sequence[str]
) -> tuple[RegisteredPurpose | None, list[str]]:
    """The first registered purpose covering the whole request, and the claims no
    purpose covers (empty when the request stays within the registration)."""
    purposes = [p for p in registration["purposes"] if isinstance(p, dict)]
    wanted = _requested(dcql)
    for purpose in purposes:
        if all(_covers(purpose, vcts, path) for vcts, path in wanted):
            return RegisteredPurpose(
                _localized(purpose, preferred), issuance_statement(purpose)
            ), []
    beyond = [
        ".".join("*" if p is None else str(p) for p in path)
        for vcts, path in wanted
        if not any(_covers(purpose, vcts, path) for purpose in purposes)
    ]
    return None, beyond


def _localized(purpose: dict[str, Any], preferred: Sequence[str]) -> dict[str, Any]:
    descriptions = [d for d in purpose.get("description", []) if isinstance(d, dict)]
    chosen = None
    for wanted in [*preferred, "en"]:
        chosen = next(
            (
                d
                for d in descriptions
                if str(d.get("locale", "")).split("-")[0] == wanted.split("-")[0]
            ),
            None,
        )
        if chosen is not None:
            break
    if chosen is None and descriptions:
        chosen = descriptions[0]
    return {
        "id": purpose.get("id"),
        "description": None if chosen is None else str(chosen.get("text", ""))[:300],
    }
