"""Verifying an SD-JWT (RFC 9901 §7.1) and an SD-JWT+KB (§7.3), and the Holder's check
on receipt (§7.2).

The caller names everything that matters: the signature algorithms, the expected ``typ``,
the hash algorithms it accepts for ``_sd_alg``, and whether key binding is required (a
decision that must not depend on whether a KB-JWT was sent, §7.3 step 1).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from core.clock import SYSTEM_CLOCK, Clock
from core.encoding import EncodingError, b64url_encode, strict_json_object
from core.jose.algorithms import DEFAULT_ALGORITHMS, PublicKey
from core.jose.claims import InvalidClaims, check_time_claims, numeric_date
from core.jose.errors import JoseError
from core.jose.jwk import public_key_from_jwk
from core.jose.jws import (
    KeySource,
    UnverifiedJws,
    decode_unverified,
    verify_compact,
    verify_decoded,
)
from core.sdjwt.disclosures import (
    DEFAULT_HASH_ALGORITHM,
    Disclosure,
    hash_function,
    parse_disclosure,
)
from core.sdjwt.errors import (
    ClaimCollision,
    DuplicateDigest,
    ExpiredOrNotYetValid,
    InvalidDisclosure,
    InvalidSdStructure,
    IssuerSignatureInvalid,
    KeyBindingInvalid,
    KeyBindingMissing,
    MalformedSdJwt,
    UnexpectedKeyBinding,
    UnreferencedDisclosure,
    UnsupportedHashAlgorithm,
)
from core.sdjwt.key_binding import KB_JWT_TYP, sd_hash
from core.sdjwt.serialization import DEFAULT_MAX_SD_JWT_BYTES, SdJwtParts, split_sd_jwt

DEFAULT_HASH_ALGORITHMS = frozenset({"sha-256", "sha-384", "sha-512"})
_STR_ONLY = frozenset({str})
#: Nesting of recursive Disclosures plus the payload's own depth.
MAX_PROCESSING_DEPTH = 64


@dataclass(frozen=True, slots=True)
class KeyBindingPolicy:
    """Key binding is required: the KB-JWT must be for this audience and nonce, fresh."""

    audience: str
    nonce: str
    algorithms: frozenset[str] = DEFAULT_ALGORITHMS
    max_age: float = 300.0
    leeway: float = 60.0
    transaction_data_hashes: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class ParsedSdJwt:
    """An SD-JWT split and decoded but not yet trusted."""

    parts: SdJwtParts
    issuer_jws: UnverifiedJws
    unverified_payload: dict[str, Any]

    @property
    def header(self) -> dict[str, Any]:
        return self.issuer_jws.header


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    header: dict[str, Any]
    issuer_payload: dict[str, Any]
    claims: dict[str, Any]
    disclosures: tuple[Disclosure, ...]
    issuer_key: PublicKey
    key_binding: dict[str, Any] | None = None


def parse_sd_jwt(text: str, *, max_bytes: int = DEFAULT_MAX_SD_JWT_BYTES) -> ParsedSdJwt:
    parts = split_sd_jwt(text, max_bytes=max_bytes)
    try:
        jws = decode_unverified(parts.issuer_jwt, max_bytes=max_bytes)
        payload = strict_json_object(jws.payload_bytes, max_bytes=max_bytes)
    except (JoseError, EncodingError) as exc:
        raise MalformedSdJwt(f"Issuer-signed JWT is malformed: {exc}") from exc
    return ParsedSdJwt(parts, jws, payload)


_CONTAINERS = (dict, list)


class _Processor:
    """§7.1 step 3: replace digests by disclosed values, checking every rule on the way.

    Every container is visited, and every array element (removed digests aside), at
    its depth; anything deeper than ``MAX_PROCESSING_DEPTH`` is refused.
    """

    def __init__(self, disclosures: dict[str, Disclosure]) -> None:
        self._by_digest = disclosures
        self._seen: set[str] = set()
        self.used: list[Disclosure] = []

    def _see_all(self, digests: list[str]) -> list[Disclosure]:
        """Record every digest (§7.1 step 4: none twice); return the disclosed ones in order."""
        seen = self._seen
        before = len(seen)
        seen.update(digests)
        if len(seen) != before + len(digests):
            raise DuplicateDigest("a digest appears more than once")
        found = list(filter(None, map(self._by_digest.get, digests)))
        self.used.extend(found)
        return found

    def value(self, node: Any, depth: int) -> Any:
        if isinstance(node, dict):
            return self._object(node, depth)
        if isinstance(node, list):
            return self._array(node, depth)
        if depth > MAX_PROCESSING_DEPTH:
            raise InvalidSdStructure("Disclosures nested too deeply")
        return node

    def _object(self, node: dict[str, Any], depth: int) -> dict[str, Any]:
        if depth > MAX_PROCESSING_DEPTH:
            raise InvalidSdStructure("Disclosures nested too deeply")
        if "_sd_alg" in node:
            raise InvalidSdStructure("_sd_alg is only allowed at the top level (§4.1.1)")
        result = {}
        for key, member in node.items():
            if key == "_sd":
                continue
            if isinstance(member, _CONTAINERS):
                result[key] = (
                    self._object(member, depth + 1)
                    if isinstance(member, dict)
                    else self._array(member, depth + 1)
                )
            else:
                result[key] = member
        digests = node.get("_sd")
        if digests is None:
            return result
        if type(digests) is not list or not _STR_ONLY.issuperset(map(type, digests)):
            raise InvalidSdStructure("_sd must be an array of strings")
        # Digests without a Disclosure are undisclosed claims or decoys (§7.1 step 3.3.1).
        for disclosure in self._see_all(digests):
            name = disclosure.name
            if name is None:
                raise InvalidDisclosure("an array-element Disclosure is referenced from _sd")
            if name in result:
                raise ClaimCollision(f"claim {name!r} already exists at that level")
            value = disclosure.value
            if isinstance(value, _CONTAINERS):
                value = (
                    self._object(value, depth + 1)
                    if isinstance(value, dict)
                    else self._array(value, depth + 1)
                )
            result[name] = value
        return result

    def _array(self, node: list[Any], depth: int) -> list[Any]:
        if depth > MAX_PROCESSING_DEPTH:
            raise InvalidSdStructure("Disclosures nested too deeply")
        result = []
        for element in node:
            if isinstance(element, dict) and "..." in element:
                if len(element) != 1 or not isinstance(element["..."], str):
                    raise InvalidSdStructure(
                        "an array digest is an object with the single key '...'"
                    )
                found = self._see_all([element["..."]])
                if not found:
                    continue  # §7.1 step 3.4: removed
                disclosure = found[0]
                if disclosure.name is not None:
                    raise InvalidDisclosure(
                        "an object-property Disclosure is referenced from an array"
                    )
                result.append(self.value(disclosure.value, depth + 1))
            else:
                result.append(self.value(element, depth + 1))
        return result


def process_disclosures(
    payload: dict[str, Any],
    disclosures: Sequence[str],
    *,
    hash_algorithms: Collection[str] = DEFAULT_HASH_ALGORITHMS,
) -> tuple[dict[str, Any], tuple[Disclosure, ...]]:
    """§7.1 steps 2.4 and 3–5 on a verified payload: the Processed SD-JWT Payload."""
    alg = payload.get("_sd_alg", DEFAULT_HASH_ALGORITHM)
    if not isinstance(alg, str) or alg not in hash_algorithms:
        raise UnsupportedHashAlgorithm(f"_sd_alg {alg!r} is not accepted")
    hasher = hash_function(alg)
    by_digest: dict[str, Disclosure] = {}
    for encoded in disclosures:
        key = b64url_encode(hasher(encoded.encode("ascii")).digest())
        if key in by_digest:
            raise DuplicateDigest("the same Disclosure is presented twice")
        by_digest[key] = parse_disclosure(encoded)
    processor = _Processor(by_digest)
    claims = processor.value({k: v for k, v in payload.items() if k != "_sd_alg"}, 0)
    if len(processor.used) != len(by_digest):
        raise UnreferencedDisclosure("a Disclosure is not referenced by any digest")
    return claims, tuple(processor.used)


def _holder_key(claims: dict[str, Any]) -> PublicKey:
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or "jwk" not in cnf:
        raise KeyBindingInvalid("the SD-JWT has no cnf.jwk holder key")
    try:
        return public_key_from_jwk(cnf["jwk"], remember=False)
    except JoseError as exc:
        raise KeyBindingInvalid(f"cnf.jwk is not a usable public key: {exc}") from exc


def verify_key_binding(
    parts: SdJwtParts,
    claims: dict[str, Any],
    policy: KeyBindingPolicy,
    *,
    hash_alg: str,
    now: float,
) -> dict[str, Any]:
    """§7.3 step 5: every check of the KB-JWT; returns its payload."""
    if parts.key_binding_jwt is None:
        raise KeyBindingMissing("key binding is required but no KB-JWT was presented")
    key = _holder_key(claims)
    try:
        kb = verify_compact(
            parts.key_binding_jwt,
            key,
            algorithms=policy.algorithms,
            typ=KB_JWT_TYP,
            max_bytes=16 * 1024,
        )
    except JoseError as exc:
        raise KeyBindingInvalid(f"KB-JWT does not verify: {exc}") from exc
    payload = kb.payload
    try:
        iat = numeric_date(payload, "iat")
    except InvalidClaims as exc:
        raise KeyBindingInvalid(str(exc)) from exc
    if iat is None:
        raise KeyBindingInvalid("KB-JWT has no iat")
    if iat > now + policy.leeway or iat < now - policy.max_age - policy.leeway:
        raise KeyBindingInvalid("KB-JWT iat is outside the accepted window")
    if payload.get("aud") != policy.audience:
        raise KeyBindingInvalid("KB-JWT aud is not this verifier")
    if payload.get("nonce") != policy.nonce:
        raise KeyBindingInvalid("KB-JWT nonce is not this transaction's")
    if payload.get("sd_hash") != sd_hash(parts.sd_jwt, hash_alg):
        raise KeyBindingInvalid("KB-JWT sd_hash does not match the presented SD-JWT")
    expected_hashes = policy.transaction_data_hashes
    if expected_hashes is not None and payload.get("transaction_data_hashes") != list(
        expected_hashes
    ):
        raise KeyBindingInvalid("KB-JWT transaction_data_hashes do not match")
    return payload


def verify_sd_jwt(
    presentation: str | ParsedSdJwt,
    *,
    issuer_key: KeySource,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    typ: str | Collection[str] | None,
    key_binding: KeyBindingPolicy | None,
    hash_algorithms: Collection[str] = DEFAULT_HASH_ALGORITHMS,
    clock: Clock = SYSTEM_CLOCK,
    leeway: float = 60.0,
    required_claims: Collection[str] = (),
    max_bytes: int = DEFAULT_MAX_SD_JWT_BYTES,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB; return the Processed SD-JWT Payload or raise."""
    parsed = (
        presentation
        if isinstance(presentation, ParsedSdJwt)
        else parse_sd_jwt(presentation, max_bytes=max_bytes)
    )
    try:
        verified = verify_decoded(
            parsed.issuer_jws,
            issuer_key,
            algorithms=algorithms,
            typ=typ,
            payload=parsed.unverified_payload,
        )
    except JoseError as exc:
        raise IssuerSignatureInvalid(f"Issuer-signed JWT does not verify: {exc}", exc) from exc
    claims, used = process_disclosures(
        verified.payload, parsed.parts.disclosures, hash_algorithms=hash_algorithms
    )
    now = clock.now()
    try:
        check_time_claims(claims, now=now, leeway=leeway, required=required_claims)
    except InvalidClaims as exc:
        raise ExpiredOrNotYetValid(str(exc)) from exc
    kb_payload = None
    if key_binding is not None:
        kb_payload = verify_key_binding(
            parsed.parts,
            claims,
            key_binding,
            hash_alg=verified.payload.get("_sd_alg", DEFAULT_HASH_ALGORITHM),
            now=now,
        )
    return VerifiedSdJwt(verified.header, verified.payload, claims, used, verified.key, kb_payload)


def verify_issuance(
    sd_jwt: str | ParsedSdJwt,
    **options: Any,
) -> VerifiedSdJwt:
    """§7.2: what a Holder checks on receipt; an SD-JWT+KB from an Issuer is refused."""
    parsed = sd_jwt if isinstance(sd_jwt, ParsedSdJwt) else parse_sd_jwt(sd_jwt)
    if parsed.parts.key_binding_jwt is not None:
        raise UnexpectedKeyBinding("an issued SD-JWT must not carry a KB-JWT")
    return verify_sd_jwt(parsed, key_binding=None, **options)
