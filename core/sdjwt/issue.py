"""Issuing an SD-JWT (RFC 9901 §4.1, §4.2): which claims are selectively disclosable is
given as claims path pointers (OpenID4VP 1.0 §7), so issuer configurations and DCQL speak
the same language.

- A pointer to an object member makes that member a Disclosure (§4.2.1, ``_sd``).
- A pointer ending in an index or ``None`` makes array elements Disclosures (§4.2.2, ``...``).
- A pointer and one of its prefixes both marked gives recursive Disclosures (§4.2.6).
- Decoy digests (§4.2.5) are added to every object that has an ``_sd`` array.
- Salts carry 128 bits from the injected random source (§9.3); digests are sorted (§4.2.4.1).
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core.claim_paths import ClaimPath, PathComponent, parse_claim_path
from core.encoding import b64url_encode, check_json_encodable, encode_checked_json
from core.jose.jws import sign_compact
from core.keys.signer import Signer
from core.sdjwt.disclosures import (
    DEFAULT_HASH_ALGORITHM,
    RESERVED_NAMES,
    Disclosure,
    hash_function,
)
from core.sdjwt.errors import InvalidDisclosure
from core.sdjwt.serialization import SdJwtParts

#: 144 bits: above the 128 of §9.3, and a multiple of 3 bytes, so that salts drawn
#: together can be encoded in one base64url pass and cut into 24-character strings.
SALT_BYTES = 18
_SALT_CHARS = SALT_BYTES * 4 // 3
RandomBytes = Callable[[int], bytes]
_b2a = binascii.b2a_base64
_URL = bytes.maketrans(b"+/", b"-_")
_STRUCTURE_NAMES = RESERVED_NAMES | {"_sd_alg"}


@dataclass(slots=True)
class _Mark:
    disclosable: bool = False
    children: dict[PathComponent, _Mark] = field(default_factory=dict)

    def merged(self, other: _Mark | None) -> _Mark:
        if other is None:
            return self
        result = _Mark(self.disclosable or other.disclosable, dict(self.children))
        for key, child in other.children.items():
            result.children[key] = child.merged(result.children.get(key))
        return result


@lru_cache(maxsize=128)
def _marks_for(paths: tuple[ClaimPath, ...]) -> _Mark:
    """The mark tree of a credential configuration's paths (computed once per shape)."""
    return _marks(paths)


def _marks(paths: Iterable[ClaimPath]) -> _Mark:
    root = _Mark()
    for path in paths:
        node = root
        for component in parse_claim_path(list(path)):
            node = node.children.setdefault(component, _Mark())
        node.disclosable = True
    return root


@dataclass(frozen=True, slots=True)
class IssuedSdJwt:
    parts: SdJwtParts
    disclosures: tuple[Disclosure, ...]
    payload: dict[str, Any]

    def serialize(self) -> str:
        return self.parts.serialize()


class _Concealer:
    def __init__(
        self, hash_alg: str, random_bytes: RandomBytes, decoys: tuple[int, int], expected: int
    ) -> None:
        self._hash = hash_function(hash_alg)
        self._random = random_bytes
        self._decoys = decoys
        self._batch = max(8, expected)
        self.disclosures: list[Disclosure] = []
        self._salts: list[str] = []
        self._count_pool: list[int] = []

    def _salt(self) -> str:
        """Salts drawn together (one call to the random source for about a credential's worth),
        plus a few random bytes for the decoy counts."""
        if not self._salts:
            raw = self._random(SALT_BYTES * self._batch + 8)
            encoded = b64url_encode(raw[: SALT_BYTES * self._batch])
            self._salts = [
                encoded[i : i + _SALT_CHARS] for i in range(0, len(encoded), _SALT_CHARS)
            ]
            self._count_pool.extend(raw[SALT_BYTES * self._batch :])
        return self._salts.pop()

    def _digest(self, encoded: str) -> str:
        return b64url_encode(self._hash(encoded.encode("ascii")).digest())

    def _disclose(self, name: str | None, value: Any) -> str:
        # The hot path of issuance, written flat. The claims were checked once by
        # issue_sd_jwt, so the content needs no second walk before encoding.
        # base64url is spelled out here (as in core.encoding.b64url_encode) to save two
        # function calls per Disclosure.
        salt = self._salts.pop() if self._salts else self._salt()
        content = [salt, value] if name is None else [salt, name, value]
        encoded = (
            _b2a(encode_checked_json(content), newline=False).rstrip(b"=").translate(_URL).decode()
        )
        self.disclosures.append(Disclosure(encoded, salt, name, value))
        digest = self._hash(encoded.encode("ascii")).digest()
        return _b2a(digest, newline=False).rstrip(b"=").translate(_URL).decode()

    def _decoy_count(self) -> int:
        low, high = self._decoys
        if high <= low:
            return low
        if not self._count_pool:
            self._count_pool.extend(self._random(8))
        return low + self._count_pool.pop() % (high - low + 1)

    def conceal(self, value: Any, mark: _Mark | None) -> Any:
        if mark is None or not mark.children:
            return value
        if isinstance(value, dict):
            return self._conceal_object(value, mark)
        if isinstance(value, list):
            return self._conceal_array(value, mark)
        return value

    def _conceal_object(self, value: Mapping[str, Any], mark: _Mark) -> dict[str, Any]:
        result: dict[str, Any] = {}
        digests: list[str] = []
        children = mark.children
        for name, child_value in value.items():
            if name in _STRUCTURE_NAMES:
                raise InvalidDisclosure(f"claim name {name!r} is reserved by SD-JWT")
            child_mark = children.get(name)
            if child_mark is None:
                result[name] = child_value
                continue
            concealed = (
                self.conceal(child_value, child_mark) if child_mark.children else child_value
            )
            if child_mark.disclosable:
                digests.append(self._disclose(name, concealed))
            else:
                result[name] = concealed
        if digests:
            for _ in range(self._decoy_count()):
                digests.append(self._digest(self._salt()))
            result["_sd"] = sorted(digests)
        return result

    def _conceal_array(self, value: list[Any], mark: _Mark) -> list[Any]:
        every = mark.children.get(None)
        result: list[Any] = []
        for index, element in enumerate(value):
            own = mark.children.get(index)
            element_mark = own.merged(every) if own is not None else every
            concealed = self.conceal(element, element_mark)
            if element_mark is not None and element_mark.disclosable:
                result.append({"...": self._disclose(None, concealed)})
            else:
                result.append(concealed)
        return result


def issue_sd_jwt(
    claims: Mapping[str, Any],
    signer: Signer,
    *,
    disclosable: Iterable[ClaimPath],
    typ: str,
    hash_alg: str = DEFAULT_HASH_ALGORITHM,
    decoys: tuple[int, int] = (0, 0),
    random_bytes: RandomBytes = os.urandom,
    header: Mapping[str, Any] | None = None,
    include_x5c: bool = False,
) -> IssuedSdJwt:
    """Conceal the marked claims, sign the payload, and return the SD-JWT with its Disclosures."""
    try:
        check_json_encodable(claims)
    except ValueError as exc:
        raise InvalidDisclosure(f"claims are not JSON: {exc}") from exc
    paths = tuple(map(tuple, disclosable))
    concealer = _Concealer(hash_alg, random_bytes, decoys, expected=len(paths) + 2 * decoys[1])
    payload: dict[str, Any] = concealer.conceal(dict(claims), _marks_for(paths))
    payload["_sd_alg"] = hash_alg
    jwt = sign_compact(
        encode_checked_json(payload),
        signer,
        typ=typ,
        header=header,
        include_x5c=include_x5c and bool(signer.x5c),
    )
    disclosures = tuple(concealer.disclosures)
    return IssuedSdJwt(SdJwtParts(jwt, tuple(d.encoded for d in disclosures)), disclosures, payload)
