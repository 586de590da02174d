"""SD-JWT VC Type Metadata (§5): the document served at a ``vct`` URL, with display
names per locale (§5.5) and claim metadata (§5.6: ``path``, ``display``, ``mandatory``,
``sd``). Unknown members are ignored (§5.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.claim_paths import ClaimPathError, parse_claim_path
from core.language import best_locale

MAX_TYPE_METADATA_BYTES = 256 * 1024


class TypeMetadataError(ValueError):
    """A Type Metadata document that breaks §5."""


class TypeDisplay(msgspec.Struct, frozen=True, omit_defaults=True):
    """§5.5."""

    locale: str
    name: str
    description: str | UnsetType = UNSET
    rendering: dict[str, Any] | UnsetType = UNSET


class ClaimDisplay(msgspec.Struct, frozen=True, omit_defaults=True):
    """§5.6.2."""

    locale: str
    label: str
    description: str | UnsetType = UNSET


class ClaimMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """§5.6."""

    path: list[str | int | None]
    display: list[ClaimDisplay] | UnsetType = UNSET
    mandatory: bool = False
    sd: Literal["always", "allowed", "never"] = "allowed"
    svg_id: str | UnsetType = UNSET


class TypeMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """§5.2."""

    vct: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    extends: str | UnsetType = UNSET
    display: list[TypeDisplay] | UnsetType = UNSET
    claims: list[ClaimMetadata] | UnsetType = UNSET

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    def display_for(self, preferred: Sequence[str]) -> TypeDisplay | None:
        entries = [] if isinstance(self.display, UnsetType) else self.display
        return best_locale(entries, preferred)

    def claim(self, path: Sequence[str | int | None]) -> ClaimMetadata | None:
        entries = [] if isinstance(self.claims, UnsetType) else self.claims
        return next((c for c in entries if list(c.path) == list(path)), None)


def parse_type_metadata(value: object, *, expected_vct: str | None = None) -> TypeMetadata:
    try:
        metadata = msgspec.convert(value, TypeMetadata)
    except msgspec.ValidationError as exc:
        raise TypeMetadataError(f"malformed Type Metadata: {exc}") from exc
    if expected_vct is not None and metadata.vct != expected_vct:
        raise TypeMetadataError("Type Metadata describes another vct")
    if not isinstance(metadata.claims, UnsetType):
        for claim in metadata.claims:
            try:
                parse_claim_path(claim.path)
            except ClaimPathError as exc:
                raise TypeMetadataError(f"claim path: {exc}") from exc
    return metadata
