"""Holder-side presentation (RFC 9901 §7.2): choose the Disclosures for a set of claims
path pointers. A nested claim brings along the Disclosures of every parent on its path
(§7.2 step 2.2); pointing at an object or array releases everything beneath it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.claim_paths import ClaimPath, ClaimPathError, PathComponent, parse_claim_path
from core.encoding import EncodingError, b64url_decode, strict_json_object
from core.sdjwt.disclosures import DEFAULT_HASH_ALGORITHM, Disclosure, digest, parse_disclosure
from core.sdjwt.errors import MalformedSdJwt
from core.sdjwt.serialization import SdJwtParts, split_sd_jwt


class _Selector:
    def __init__(self, by_digest: dict[str, Disclosure]) -> None:
        self._by_digest = by_digest
        self.chosen: set[str] = set()

    def _choose(self, digest_value: object) -> Disclosure | None:
        if not isinstance(digest_value, str):
            return None
        disclosure = self._by_digest.get(digest_value)
        if disclosure is not None:
            self.chosen.add(digest_value)
        return disclosure

    def everything_beneath(self, node: Any) -> None:
        if isinstance(node, dict):
            for digest_value in node.get("_sd", ()):
                disclosure = self._choose(digest_value)
                if disclosure is not None:
                    self.everything_beneath(disclosure.value)
            for key, value in node.items():
                if key != "_sd":
                    self.everything_beneath(value)
        elif isinstance(node, list):
            for element in node:
                self.everything_beneath(self._element(element))

    def _element(self, element: Any) -> Any:
        if isinstance(element, dict) and len(element) == 1 and "..." in element:
            disclosure = self._choose(element["..."])
            return disclosure.value if disclosure is not None else _UNAVAILABLE
        return element

    def follow(self, node: Any, path: tuple[PathComponent, ...]) -> bool:
        """Choose what ``path`` needs below ``node``; False if it selects nothing."""
        if not path:
            self.everything_beneath(node)
            return True
        component, rest = path[0], path[1:]
        if isinstance(component, str):
            if not isinstance(node, dict):
                return False
            if component in node and component not in ("_sd", "_sd_alg"):
                return self.follow(node[component], rest)
            for digest_value in node.get("_sd", ()):
                disclosure = self._by_digest.get(digest_value)
                if disclosure is not None and disclosure.name == component:
                    before = set(self.chosen)
                    self.chosen.add(digest_value)
                    if self.follow(disclosure.value, rest):
                        return True
                    self.chosen = before
            return False
        if not isinstance(node, list):
            return False
        indices = range(len(node)) if component is None else [component]
        found = False
        for index in indices:
            if index >= len(node):
                continue
            element = node[index]
            before = set(self.chosen)
            value = self._element(element)
            if value is not _UNAVAILABLE and self.follow(value, rest):
                found = True
            else:
                self.chosen = before
        return found


_UNAVAILABLE = object()


def present(
    sd_jwt: str,
    paths: Iterable[ClaimPath],
    *,
    max_bytes: int | None = None,
) -> SdJwtParts:
    """Keep only the Disclosures the pointers need; the result has no KB-JWT yet.

    Raises :class:`ClaimPathError` for a pointer that selects nothing, so a requested
    claim is never silently left out.
    """
    parts = split_sd_jwt(sd_jwt) if max_bytes is None else split_sd_jwt(sd_jwt, max_bytes=max_bytes)
    if parts.key_binding_jwt is not None:
        raise MalformedSdJwt("present from an SD-JWT, not an SD-JWT+KB")
    try:
        payload = strict_json_object(b64url_decode(parts.issuer_jwt.split(".")[1]))
    except (EncodingError, IndexError) as exc:
        raise MalformedSdJwt("Issuer-signed JWT payload is not a JSON object") from exc
    alg = payload.get("_sd_alg", DEFAULT_HASH_ALGORITHM)
    if not isinstance(alg, str):
        raise MalformedSdJwt("_sd_alg must be a string")
    by_digest = {digest(d, alg): parse_disclosure(d) for d in parts.disclosures}
    selector = _Selector(by_digest)
    for path in paths:
        pointer = parse_claim_path(list(path))
        if not selector.follow(payload, pointer):
            raise ClaimPathError(f"the credential has no claim at {list(pointer)}")
    kept = tuple(d for d in parts.disclosures if digest(d, alg) in selector.chosen)
    return SdJwtParts(parts.issuer_jwt, kept)
