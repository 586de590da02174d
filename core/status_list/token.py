"""Status List Tokens in JWT format (§5.1), Referenced Tokens (§6.2) and the §8.3 checks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from core.jose.algorithms import DEFAULT_ALGORITHMS
from core.jose.claims import InvalidClaims, check_time_claims, numeric_date
from core.jose.errors import JoseError
from core.jose.jws import KeySource, sign_compact, verify_compact
from core.keys.signer import Signer
from core.status_list.bits import DEFAULT_MAX_DECOMPRESSED_BYTES, StatusList, StatusListError

STATUS_LIST_JWT_TYP = "statuslist+jwt"
MAX_STATUS_LIST_TOKEN_BYTES = 16 * 1024 * 1024
MAX_URI_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class StatusReference:
    """§6.2: ``"status": {"status_list": {"idx": …, "uri": …}}`` of a Referenced Token."""

    index: int
    uri: str

    def to_claim(self) -> dict[str, Any]:
        return {"status_list": {"idx": self.index, "uri": self.uri}}


def parse_status_claim(status: object) -> StatusReference:
    if not isinstance(status, dict | Mapping):
        raise StatusListError("status must be an object")
    ref = status.get("status_list")
    if not isinstance(ref, dict | Mapping):
        raise StatusListError("status.status_list must be an object")
    idx, uri = ref.get("idx"), ref.get("uri")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise StatusListError("status_list.idx must be a non-negative integer")
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise StatusListError("status_list.uri must be a URI")
    return StatusReference(idx, uri)


def build_status_list_token(
    status_list: StatusList,
    signer: Signer,
    *,
    uri: str,
    issued_at: int,
    expires_at: int | None = None,
    ttl: int | None = None,
    include_x5c: bool = False,
) -> str:
    """§5.1: a ``statuslist+jwt`` with ``sub``, ``iat``, optional ``exp`` and ``ttl``."""
    payload: dict[str, Any] = {"sub": uri, "iat": issued_at, "status_list": status_list.to_json()}
    if expires_at is not None:
        payload["exp"] = expires_at
    if ttl is not None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        payload["ttl"] = ttl
    return sign_compact(
        payload,
        signer,
        typ=STATUS_LIST_JWT_TYP,
        include_x5c=include_x5c and bool(signer.x5c),
    )


@dataclass(frozen=True, slots=True)
class VerifiedStatusList:
    uri: str
    issued_at: float
    expires_at: float | None
    ttl: float | None
    status_list: StatusList
    header: dict[str, Any]

    def status_of(self, reference: StatusReference) -> int:
        """§8.3 steps 4a and 6: the subject must match; an out-of-range index is rejected."""
        if reference.uri != self.uri:
            raise StatusListError("the Status List Token is for another URI")
        return self.status_list.get(reference.index)


def verify_status_list_token(
    token: str,
    key: KeySource,
    *,
    expected_uri: str,
    now: float,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    leeway: float = 60,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> VerifiedStatusList:
    """§8.3 step 3–5: signature and type, required claims, subject, expiry, decompression."""
    try:
        verified = verify_compact(
            token,
            key,
            algorithms=algorithms,
            typ=STATUS_LIST_JWT_TYP,
            max_bytes=MAX_STATUS_LIST_TOKEN_BYTES,
        )
        payload = verified.payload
        check_time_claims(payload, now=now, leeway=leeway, required=("iat",))
        iat = numeric_date(payload, "iat")
        exp = numeric_date(payload, "exp")
    except (JoseError, InvalidClaims) as exc:
        raise StatusListError(f"Status List Token is not valid: {exc}") from exc
    if payload.get("sub") != expected_uri:
        raise StatusListError("Status List Token sub does not match the referenced uri")
    ttl = payload.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise StatusListError("ttl must be a positive number")
    status_list = StatusList.from_json(payload.get("status_list"), max_bytes=max_decompressed_bytes)
    if iat is None:
        raise StatusListError("iat is required")
    return VerifiedStatusList(expected_uri, iat, exp, ttl, status_list, verified.header)
