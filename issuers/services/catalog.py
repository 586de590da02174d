"""Loading and validating the agencies' catalog (``issuers/catalog/*.json``) at start-up.

A catalog file describes one agency: its display texts per locale and its credential
configurations with their claims. Any mistake stops start-up with the file and the reason.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import msgspec

from core.claim_paths import ClaimPathError, parse_claim_path
from core.encoding import StrictJsonError, strict_json_loads
from issuers.domain import (
    CLAIM_TYPES,
    Agency,
    ClaimDefinition,
    ClaimLabel,
    CredentialConfiguration,
    Display,
    Logo,
)
from issuers.services.subject_claims import InvalidSubjectClaims, check_subject_claims

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SD_NEVER_AT_TOP = frozenset({"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub"})


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file and the problem."""


class _Logo(msgspec.Struct, forbid_unknown_fields=True):
    uri: str
    alt_text: str | None = None


class _Display(msgspec.Struct, forbid_unknown_fields=True):
    locale: str
    name: str
    description: str | None = None
    logo: _Logo | None = None
    background_color: str | None = None
    text_color: str | None = None


class _Label(msgspec.Struct, forbid_unknown_fields=True):
    locale: str
    name: str


class _Claim(msgspec.Struct, forbid_unknown_fields=True):
    path: list[str | int | None]
    type: str
    mandatory: bool = False
    sd: Literal["always", "never"] = "always"
    display: list[_Label] = []


class _Configuration(msgspec.Struct, forbid_unknown_fields=True):
    validity_days: int
    display: list[_Display]
    claims: list[_Claim]


class _Agency(msgspec.Struct, forbid_unknown_fields=True):
    issuer_id: str
    organization: str
    display: list[_Display]
    credential_configurations: dict[str, _Configuration]


def _displays(items: list[_Display], where: str) -> tuple[Display, ...]:
    if not items:
        raise CatalogError(f"{where}: display needs at least one locale")
    locales = [d.locale.lower() for d in items]
    if len(set(locales)) != len(locales):
        raise CatalogError(f"{where}: a locale appears twice in display")
    if "en" not in {loc.split("-")[0] for loc in locales}:
        raise CatalogError(f"{where}: display needs English")
    return tuple(
        Display(
            locale=d.locale,
            name=d.name,
            description=d.description,
            logo=Logo(d.logo.uri, d.logo.alt_text) if d.logo else None,
            background_color=d.background_color,
            text_color=d.text_color,
        )
        for d in items
    )


def _claims(items: list[_Claim], where: str) -> tuple[ClaimDefinition, ...]:
    claims = []
    seen = set()
    for item in items:
        try:
            path = parse_claim_path(item.path)
        except ClaimPathError as exc:
            raise CatalogError(f"{where}: {exc}") from exc
        if path in seen:
            raise CatalogError(f"{where}: claim {list(path)} is defined twice")
        seen.add(path)
        if item.type not in CLAIM_TYPES:
            raise CatalogError(f"{where}: claim {list(path)} has unknown type {item.type!r}")
        if path[0] in _SD_NEVER_AT_TOP:
            raise CatalogError(f"{where}: {path[0]!r} is set by the issuer, not by the catalog")
        if len(path) > 1 and path[:-1] not in seen:
            raise CatalogError(f"{where}: claim {list(path)} is listed before its parent")
        claims.append(
            ClaimDefinition(
                path=path,
                value_type=item.type,
                mandatory=item.mandatory,
                selectively_disclosable=item.sd == "always",
                display=tuple(ClaimLabel(label.locale, label.name) for label in item.display),
            )
        )
    if not claims:
        raise CatalogError(f"{where}: a configuration needs claims")
    return tuple(claims)


def parse_agency(document: object, *, source: str) -> Agency:
    try:
        raw = msgspec.convert(document, _Agency)
    except msgspec.ValidationError as exc:
        raise CatalogError(f"{source}: {exc}") from exc
    if not _IDENTIFIER.fullmatch(raw.issuer_id):
        raise CatalogError(f"{source}: issuer_id must be lower-case letters, digits, '-' or '_'")
    configurations = {}
    for config_id, config in raw.credential_configurations.items():
        where = f"{source}: {config_id}"
        if not _IDENTIFIER.fullmatch(config_id):
            raise CatalogError(
                f"{where}: configuration id must be lower-case letters, digits, '-' or '_'"
            )
        if not 1 <= config.validity_days <= 36500:
            raise CatalogError(f"{where}: validity_days must be between 1 and 36500")
        configurations[config_id] = CredentialConfiguration(
            id=config_id,
            validity_days=config.validity_days,
            display=_displays(config.display, where),
            claims=_claims(config.claims, where),
        )
    if not configurations:
        raise CatalogError(f"{source}: an agency needs at least one credential configuration")
    return Agency(
        issuer_id=raw.issuer_id,
        organization=raw.organization,
        display=_displays(raw.display, source),
        configurations=configurations,
    )


def load_register(agency: Agency, path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``registers/<agency file>``: ``{"subjects": {subject: {configuration: claims}}}``,
    every record checked against its configuration like an offer's claims."""
    try:
        document = strict_json_loads(path.read_bytes(), max_bytes=4 * 1024 * 1024)
    except StrictJsonError as exc:
        raise CatalogError(f"registers/{path.name}: not valid JSON ({exc})") from exc
    subjects = document.get("subjects") if isinstance(document, dict) else None
    if not isinstance(subjects, dict):
        raise CatalogError(f"registers/{path.name}: needs a subjects object")
    register: dict[str, dict[str, dict[str, Any]]] = {}
    for subject, records in subjects.items():
        if not isinstance(records, dict):
            raise CatalogError(f"registers/{path.name}: {subject!r} needs an object")
        register[subject] = {}
        for configuration_id, claims in records.items():
            configuration = agency.configurations.get(configuration_id)
            if configuration is None:
                raise CatalogError(
                    f"registers/{path.name}: {subject!r} has unknown {configuration_id!r}"
                )
            try:
                register[subject][configuration_id] = check_subject_claims(configuration, claims)
            except InvalidSubjectClaims as exc:
                raise CatalogError(f"registers/{path.name}: {subject!r}: {exc}") from exc
    return register


def load_catalog(directory: Path = CATALOG_DIR) -> dict[str, Agency]:
    """Every ``*.json`` in ``directory``, keyed by ``issuer_id``."""
    agencies: dict[str, Agency] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            document = strict_json_loads(path.read_bytes(), max_bytes=1024 * 1024)
        except StrictJsonError as exc:
            raise CatalogError(f"{path.name}: not valid JSON ({exc})") from exc
        agency = parse_agency(document, source=path.name)
        register = directory / "registers" / path.name
        if register.exists():
            agency = replace(agency, register=load_register(agency, register))
        if agency.issuer_id in agencies:
            raise CatalogError(f"{path.name}: issuer_id {agency.issuer_id!r} is used twice")
        agencies[agency.issuer_id] = agency
    return agencies
