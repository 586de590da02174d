"""Issuing and verifying SD-JWT VCs (SD-JWT VC §2): ``typ: dc+sd-jwt``, a ``vct``, and the
registered claims of §2.2.2.3 that are never selectively disclosable.

idwallet also keeps ``iat`` in the clear on what it issues, so validity is always visible.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.claim_paths import ClaimPath
from core.clock import SYSTEM_CLOCK, Clock
from core.jose.algorithms import DEFAULT_ALGORITHMS
from core.keys.signer import Signer
from core.sdjwt.errors import SdJwtError, UnexpectedKeyBinding
from core.sdjwt.issue import IssuedSdJwt, RandomBytes, issue_sd_jwt
from core.sdjwt.serialization import DEFAULT_MAX_SD_JWT_BYTES
from core.sdjwt.verify import KeyBindingPolicy, VerifiedSdJwt, parse_sd_jwt, verify_sd_jwt
from core.sdjwt_vc.issuer_keys import IssuerKeyResolver, ResolvedIssuerKey
from core.status_list.bits import StatusListError
from core.status_list.token import StatusReference, parse_status_claim

SD_JWT_VC_TYP = "dc+sd-jwt"
SD_JWT_VC_FORMAT = "dc+sd-jwt"
#: §2.2.2.3: these claims, with all their sub-claims, MUST NOT be selectively disclosed.
NEVER_DISCLOSED = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "aka_vcts", "status"}
)
_CLEAR_ON_ISSUE = NEVER_DISCLOSED | {"iat"}


class SdJwtVcError(SdJwtError):
    """The credential breaks an SD-JWT VC profile rule."""


def issue_sd_jwt_vc(
    subject_claims: Mapping[str, Any],
    signer: Signer,
    *,
    vct: str,
    issuer: str | None,
    holder_jwk: Mapping[str, str] | None,
    disclosable: Iterable[ClaimPath],
    issued_at: int,
    expires_at: int | None = None,
    not_before: int | None = None,
    status: StatusReference | None = None,
    decoys: tuple[int, int] = (1, 4),
    random_bytes: RandomBytes = os.urandom,
    include_x5c: bool = True,
) -> IssuedSdJwt:
    paths = [tuple(p) for p in disclosable]
    for path in paths:
        if path and path[0] in _CLEAR_ON_ISSUE:
            raise SdJwtVcError(f"claim {path[0]!r} is never selectively disclosable")
    clash = _CLEAR_ON_ISSUE.intersection(subject_claims)
    if clash:
        raise SdJwtVcError(f"subject claims must not set {sorted(clash)}")
    claims: dict[str, Any] = {}
    if issuer is not None:
        claims["iss"] = issuer
    claims["iat"] = issued_at
    if not_before is not None:
        claims["nbf"] = not_before
    if expires_at is not None:
        claims["exp"] = expires_at
    claims["vct"] = vct
    if holder_jwk is not None:
        claims["cnf"] = {"jwk": dict(holder_jwk)}
    if status is not None:
        claims["status"] = status.to_claim()
    claims.update(subject_claims)
    return issue_sd_jwt(
        claims,
        signer,
        disclosable=paths,
        typ=SD_JWT_VC_TYP,
        decoys=decoys,
        random_bytes=random_bytes,
        include_x5c=include_x5c,
    )


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    vct: str
    issuer: str | None
    claims: dict[str, Any]
    status: StatusReference | None
    issuer_key: ResolvedIssuerKey
    sd_jwt: VerifiedSdJwt

    @property
    def key_binding(self) -> dict[str, Any] | None:
        return self.sd_jwt.key_binding


def check_profile(
    verified: VerifiedSdJwt, *, require_holder_key: bool
) -> tuple[str, StatusReference | None]:
    """§2.2: ``vct`` present; never-disclosable claims exactly as signed; ``status`` well formed."""
    claims, signed = verified.claims, verified.issuer_payload
    for name in NEVER_DISCLOSED.intersection(claims):
        if name not in signed or claims[name] != signed[name]:
            raise SdJwtVcError(f"claim {name!r} must not be selectively disclosed")
    vct = claims.get("vct")
    if not isinstance(vct, str) or not vct:
        raise SdJwtVcError("vct is required")
    iss = claims.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise SdJwtVcError("iss must be a string")
    if require_holder_key and not isinstance(claims.get("cnf"), dict):
        raise SdJwtVcError("cnf is required for key binding")
    status = None
    if "status" in claims:
        try:
            status = parse_status_claim(claims["status"])
        except StatusListError as exc:
            raise SdJwtVcError(f"status claim is malformed: {exc}") from exc
    return vct, status


async def verify_sd_jwt_vc(
    presentation: str,
    *,
    issuer_keys: IssuerKeyResolver,
    key_binding: KeyBindingPolicy | None,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    clock: Clock = SYSTEM_CLOCK,
    leeway: float = 60.0,
    max_bytes: int = DEFAULT_MAX_SD_JWT_BYTES,
    issued: bool = False,
) -> VerifiedCredential:
    """SD-JWT VC §2.4: RFC 9901 §7 verification with the issuer key from §2.5 discovery.

    ``issued=True`` is the Holder's check on receipt (§7.2: a KB-JWT is refused).
    """
    parsed = parse_sd_jwt(presentation, max_bytes=max_bytes)
    if issued and parsed.parts.key_binding_jwt is not None:
        raise UnexpectedKeyBinding("an issued SD-JWT must not carry a KB-JWT")
    resolved = await issuer_keys.resolve(parsed.header, parsed.unverified_payload)
    verified = verify_sd_jwt(
        parsed,
        issuer_key=resolved.key,
        algorithms=algorithms,
        typ=SD_JWT_VC_TYP,
        key_binding=key_binding,
        clock=clock,
        leeway=leeway,
    )
    vct, status = check_profile(verified, require_holder_key=key_binding is not None or issued)
    iss = verified.claims.get("iss")
    return VerifiedCredential(vct, iss, verified.claims, status, resolved, verified)
