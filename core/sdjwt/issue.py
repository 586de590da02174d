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

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.claim_paths import ClaimPath, PathComponent, parse_claim_path
from core.encoding import b64url_encode
from core.jose.jws import sign_compact
from core.keys.signer import Signer
from core.sdjwt.disclosures import (
    DEFAULT_HASH_ALGORITHM,
    RESERVED_NAMES,
    Disclosure,
    hash_function,
    make_disclosure,
)
from core.sdjwt.errors import InvalidDisclosure
from core.sdjwt.serialization import SdJwtParts

SALT_BYTES = 16
RandomBytes = Callable[[int], bytes]


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
    def __init__(self, hash_alg: str, random_bytes: RandomBytes, decoys: tuple[int, int]) -> None:
        self._hash = hash_function(hash_alg)
        self._random = random_bytes
        self._decoys = decoys
        self.disclosures: list[Disclosure] = []

    def _salt(self) -> str:
        return b64url_encode(self._random(SALT_BYTES))

    def _digest(self, encoded: str) -> str:
        return b64url_encode(self._hash(encoded.encode("ascii")).digest())

    def _disclose(self, name: str | None, value: Any) -> str:
        disclosure = make_disclosure(self._salt(), name, value)
        self.disclosures.append(disclosure)
        return self._digest(disclosure.encoded)

    def _decoy_count(self) -> int:
        low, high = self._decoys
        if high <= low:
            return low
        return low + int.from_bytes(self._random(2), "big") % (high - low + 1)

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
        for name, child_value in value.items():
            if name in RESERVED_NAMES or name == "_sd_alg":
                raise InvalidDisclosure(f"claim name {name!r} is reserved by SD-JWT")
            child_mark = mark.children.get(name)
            concealed = self.conceal(child_value, child_mark)
            if child_mark is not None and child_mark.disclosable:
                digests.append(self._disclose(name, concealed))
            else:
                result[name] = concealed
        if digests:
            digests.extend(self._digest(self._salt()) for _ in range(self._decoy_count()))
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
    concealer = _Concealer(hash_alg, random_bytes, decoys)
    payload: dict[str, Any] = concealer.conceal(dict(claims), _marks(disclosable))
    payload["_sd_alg"] = hash_alg
    jwt = sign_compact(
        payload, signer, typ=typ, header=header, include_x5c=include_x5c and bool(signer.x5c)
    )
    disclosures = tuple(concealer.disclosures)
    return IssuedSdJwt(SdJwtParts(jwt, tuple(d.encoded for d in disclosures)), disclosures, payload)
