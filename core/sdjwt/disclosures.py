"""Disclosures (RFC 9901 §4.2): creation, hashing (§4.2.3) and strict parsing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

from core.encoding import (
    EncodingError,
    b64url_decode,
    b64url_encode,
    json_dumps_bytes,
    strict_json_loads,
)
from core.sdjwt.errors import InvalidDisclosure, UnsupportedHashAlgorithm

#: IANA "Named Information Hash Algorithm" names accepted for ``_sd_alg`` (§4.1.1).
HASH_FUNCTIONS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
}
DEFAULT_HASH_ALGORITHM = "sha-256"
MAX_DISCLOSURE_BYTES = 32 * 1024
#: Disclosure claim names that would be mistaken for SD-JWT structure (§7.1 step 3.3.2.2).
RESERVED_NAMES = frozenset({"_sd", "..."})


def hash_function(name: str) -> Callable[[bytes], Any]:
    try:
        return HASH_FUNCTIONS[name]
    except KeyError:
        raise UnsupportedHashAlgorithm(f"hash algorithm {name!r} is not supported") from None


def digest(encoded: str, alg: str = DEFAULT_HASH_ALGORITHM) -> str:
    """§4.2.3: base64url of the hash over the ASCII of the base64url-encoded Disclosure."""
    return b64url_encode(hash_function(alg)(encoded.encode("ascii")).digest())


class Disclosure(NamedTuple):
    """One Disclosure: its encoding as received (the digest input) and its content."""

    encoded: str
    salt: str
    name: str | None  # None for an array-element Disclosure (§4.2.2)
    value: Any

    @property
    def is_array_element(self) -> bool:
        return self.name is None

    def digest(self, alg: str = DEFAULT_HASH_ALGORITHM) -> str:
        return digest(self.encoded, alg)


def make_disclosure(salt: str, name: str | None, value: Any) -> Disclosure:
    """§4.2.1 (object property, ``name`` set) or §4.2.2 (array element, ``name`` None)."""
    if name is not None and name in RESERVED_NAMES:
        raise InvalidDisclosure(f"claim name {name!r} cannot be selectively disclosed")
    content = [salt, value] if name is None else [salt, name, value]
    encoded = b64url_encode(json_dumps_bytes(content))
    return Disclosure(encoded, salt, name, value)


def parse_disclosure(encoded: str, *, max_depth: int = 32) -> Disclosure:
    """Decode and shape-check a Disclosure; the digest is computed over ``encoded`` as received."""
    if not encoded or len(encoded) > MAX_DISCLOSURE_BYTES:
        raise InvalidDisclosure("empty or oversized Disclosure")
    try:
        content = strict_json_loads(b64url_decode(encoded), max_depth=max_depth)
    except EncodingError as exc:
        raise InvalidDisclosure(f"Disclosure is not base64url JSON: {exc}") from exc
    if not isinstance(content, list):
        raise InvalidDisclosure("a Disclosure is a JSON array of two or three elements")
    size = len(content)
    if size == 2:
        salt, value = content
        if not isinstance(salt, str):
            raise InvalidDisclosure("Disclosure salt must be a string")
        return Disclosure(encoded, salt, None, value)
    if size != 3:
        raise InvalidDisclosure("a Disclosure is a JSON array of two or three elements")
    salt, name, value = content
    if not isinstance(salt, str):
        raise InvalidDisclosure("Disclosure salt must be a string")
    if not isinstance(name, str):
        raise InvalidDisclosure("Disclosure claim name must be a string")
    if name in RESERVED_NAMES:
        raise InvalidDisclosure(f"Disclosure claim name {name!r} is reserved")
    return Disclosure(encoded, salt, name, value)
