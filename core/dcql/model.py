"""DCQL messages (OpenID4VP 1.0 §6), wire names exactly as the spec writes them.

Absent members stay absent (``UNSET``); unknown members are ignored (§6 note).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

ClaimValue = str | int | bool


class ClaimsQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    """§6.3."""

    path: list[str | int | None]
    id: str | UnsetType = UNSET
    values: list[ClaimValue] | UnsetType = UNSET
    #: B.2.3 (mdoc only): the verifier means to keep the element (ISO/IEC 18013-5
    #: ``IntentToRetain``); the wallet shows it to the citizen.
    intent_to_retain: bool | UnsetType = UNSET


class TrustedAuthoritiesQuery(msgspec.Struct, frozen=True):
    """§6.1.1."""

    type: str
    values: list[str]


class CredentialQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    """§6.1."""

    id: str
    format: str
    meta: dict[str, Any]
    multiple: bool = False
    trusted_authorities: list[TrustedAuthoritiesQuery] | UnsetType = UNSET
    require_cryptographic_holder_binding: bool = True
    claims: list[ClaimsQuery] | UnsetType = UNSET
    claim_sets: list[list[str]] | UnsetType = UNSET


class CredentialSetQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    """§6.2."""

    options: list[list[str]]
    required: bool = True


class DcqlQuery(msgspec.Struct, frozen=True, omit_defaults=True):
    """§6: the top-level query."""

    credentials: list[CredentialQuery]
    credential_sets: list[CredentialSetQuery] | UnsetType = UNSET

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result
