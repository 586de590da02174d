"""Compact JWS (RFC 7515 §7.1) signing and verification.

Verification order: size limit → structure → strict JSON header → ``alg`` in the caller's
allow-list → ``typ`` → ``crit`` (§4.1.11) → key selection → signature → strict JSON payload.
Claim checks (``exp``, ``aud``, …) are a separate step done by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core.encoding import (
    EncodingError,
    b64url_decode,
    b64url_encode,
    json_dumps_bytes,
    strict_json_object,
)
from core.jose.algorithms import PublicKey, allowed_algorithm
from core.jose.errors import MalformedJose, UnexpectedType, UnsupportedCritical

if TYPE_CHECKING:
    from core.keys.signer import Signer

DEFAULT_MAX_JWS_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024

#: Header parameters registered by RFC 7515/7516/7518 that ``crit`` must not list.
_REGISTERED_HEADERS = frozenset(
    {
        "alg",
        "jku",
        "jwk",
        "kid",
        "x5u",
        "x5c",
        "x5t",
        "x5t#S256",
        "typ",
        "cty",
        "crit",
        "enc",
        "zip",
        "epk",
        "apu",
        "apv",
        "iv",
        "tag",
        "p2s",
        "p2c",
    }
)

KeySource = PublicKey | Callable[[Mapping[str, Any]], PublicKey]


@dataclass(frozen=True, slots=True)
class UnverifiedJws:
    header: dict[str, Any]
    payload_bytes: bytes
    signature: bytes
    signing_input: bytes


@dataclass(frozen=True, slots=True)
class VerifiedJws:
    header: dict[str, Any]
    payload: dict[str, Any]
    key: PublicKey


def sign_compact(
    payload: Mapping[str, Any] | bytes,
    signer: Signer,
    *,
    typ: str | None = None,
    header: Mapping[str, Any] | None = None,
    include_kid: bool = True,
    include_x5c: bool = False,
) -> str:
    """Sign ``payload`` (a JSON object, or bytes taken as they are) into a compact JWS."""
    x5c = signer.x5c if include_x5c else None
    if include_x5c and not x5c:
        raise ValueError("signer has no certificate chain")
    kid = signer.kid if include_kid else None
    if header:
        protected = _protected_header(signer.alg, typ, kid, x5c)
        protected.update(header)
        encoded_header = b64url_encode(json_dumps_bytes(protected))
    else:
        encoded_header = _encoded_header(signer.alg, typ, kid, x5c)
    body = payload if isinstance(payload, bytes) else json_dumps_bytes(payload)
    signing_input = f"{encoded_header}.{b64url_encode(body)}"
    return signing_input + "." + b64url_encode(signer.sign(signing_input.encode("ascii")))


def _protected_header(
    alg: str, typ: str | None, kid: str | None, x5c: tuple[str, ...] | None
) -> dict[str, Any]:
    protected: dict[str, Any] = {"alg": alg}
    if typ is not None:
        protected["typ"] = typ
    if kid is not None:
        protected["kid"] = kid
    if x5c is not None:
        protected["x5c"] = list(x5c)
    return protected


@lru_cache(maxsize=256)
def _encoded_header(alg: str, typ: str | None, kid: str | None, x5c: tuple[str, ...] | None) -> str:
    """A signer's header is the same for everything it signs of one type: encode it once."""
    return b64url_encode(json_dumps_bytes(_protected_header(alg, typ, kid, x5c)))


def decode_unverified(token: str, *, max_bytes: int = DEFAULT_MAX_JWS_BYTES) -> UnverifiedJws:
    """Split and decode a compact JWS without trusting anything in it."""
    if not isinstance(token, str):
        raise MalformedJose("JWS is not a string")
    if len(token) > max_bytes:
        raise MalformedJose(f"JWS larger than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJose("compact JWS must have three parts")
    h, p, s = parts
    if len(h) > MAX_HEADER_BYTES:
        raise MalformedJose("JWS header too large")
    try:
        header = dict(_parse_header(h))
        payload_bytes = b64url_decode(p)
        signature = b64url_decode(s)
    except EncodingError as exc:
        raise MalformedJose(f"malformed JWS: {exc}") from exc
    return UnverifiedJws(header, payload_bytes, signature, f"{h}.{p}".encode("ascii"))


@lru_cache(maxsize=1024)
def _parse_header(encoded: str) -> dict[str, Any]:
    """Headers repeat (one per issuer key, one per wallet algorithm): parse each once.
    Callers get a copy, so the cached value is never changed."""
    return strict_json_object(b64url_decode(encoded), max_bytes=MAX_HEADER_BYTES)


def normalize_typ(typ: str) -> str:
    """RFC 7515 §4.1.9: media types compare case-insensitively; ``application/`` may be omitted."""
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


def check_typ(header: Mapping[str, Any], expected: str | Collection[str] | None) -> None:
    if expected is None:
        return
    typ = header.get("typ")
    if typ == expected:
        return
    wanted = {expected} if isinstance(expected, str) else set(expected)
    if not isinstance(typ, str) or normalize_typ(typ) not in {normalize_typ(t) for t in wanted}:
        raise UnexpectedType(f"typ {typ!r} is not one of {sorted(wanted)}")


def check_crit(header: Mapping[str, Any], understood: Collection[str]) -> None:
    """RFC 7515 §4.1.11: every listed extension must be understood and present."""
    if "crit" not in header:
        return
    crit = header["crit"]
    if not isinstance(crit, list) or not crit or len(set(map(str, crit))) != len(crit):
        raise MalformedJose("crit must be a non-empty list of distinct names")
    for name in crit:
        if not isinstance(name, str) or not name or name in _REGISTERED_HEADERS:
            raise MalformedJose("crit lists an invalid name")
        if name not in understood:
            raise UnsupportedCritical(f"critical extension {name!r} is not understood")
        if name not in header:
            raise MalformedJose(f"critical extension {name!r} is missing from the header")


def verify_compact(
    token: str,
    key: KeySource,
    *,
    algorithms: Collection[str],
    typ: str | Collection[str] | None,
    max_bytes: int = DEFAULT_MAX_JWS_BYTES,
    understood_crit: Collection[str] = (),
    max_payload_depth: int = 32,
) -> VerifiedJws:
    """Verify a compact JWS whose payload is a JSON object.

    ``algorithms`` is the explicit allow-list; ``typ`` the expected type (``None`` only where
    the spec defines no type). ``key`` is a public key, or a callable choosing the key
    from the (not yet verified) header, for ``kid``/``jwk``/``x5c`` lookups.
    """
    return verify_decoded(
        decode_unverified(token, max_bytes=max_bytes),
        key,
        algorithms=algorithms,
        typ=typ,
        understood_crit=understood_crit,
        max_payload_bytes=max_bytes,
        max_payload_depth=max_payload_depth,
    )


def verify_decoded(
    parsed: UnverifiedJws,
    key: KeySource,
    *,
    algorithms: Collection[str],
    typ: str | Collection[str] | None,
    understood_crit: Collection[str] = (),
    payload: dict[str, Any] | None = None,
    max_payload_bytes: int = DEFAULT_MAX_JWS_BYTES,
    max_payload_depth: int = 32,
) -> VerifiedJws:
    """The checks of :func:`verify_compact` on an already split token.

    ``payload`` may carry the strict parse of ``parsed.payload_bytes`` done earlier (to
    read ``iss`` before choosing a key); it is only returned once the signature verifies.
    """
    header = parsed.header
    alg = allowed_algorithm(header.get("alg"), algorithms)
    check_typ(header, typ)
    check_crit(header, understood_crit)
    if header.get("b64") is False:
        raise UnsupportedCritical("unencoded payloads are not supported")
    public_key = key(header) if callable(key) else key
    alg.verify(public_key, parsed.signature, parsed.signing_input)
    if payload is None:
        try:
            payload = strict_json_object(
                parsed.payload_bytes, max_bytes=max_payload_bytes, max_depth=max_payload_depth
            )
        except EncodingError as exc:
            raise MalformedJose(f"JWS payload is not a JSON object: {exc}") from exc
    return VerifiedJws(header, payload, public_key)
