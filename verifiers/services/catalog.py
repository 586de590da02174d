"""Loading and validating the relying parties' catalog (``verifiers/catalog/*.json``)
and the named checks they can pick (``templates.json``) at start-up.

``${public_base_url}`` in a template's ``vct_values`` stands for this deployment's own
public URL, so the demo counters accept the demo agencies' credentials wherever they run.
A purpose may state that it serves an issuer's issuance (``issuance``: the issuer, as an
agency id of this deployment or a full ``https`` identifier, and the credential
configurations it issues after the check). Any mistake stops start-up with the file and
the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from core.claim_paths import ClaimPathError, parse_claim_path
from core.encoding import StrictJsonError, strict_json_loads
from core.validation import explain
from verifiers.domain import (
    CLIENT_ID_PREFIXES,
    IssuanceService,
    LocalizedText,
    Purpose,
    RelyingParty,
    Template,
    TemplateCredential,
)

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
TEMPLATES_FILE = "templates.json"
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_CONFIGURATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_ISSUER_URL = re.compile(r"https://[^\s/?#]+(/[^\s?#]*)?")
MAX_ISSUED_CONFIGURATIONS = 20


class VerifierCatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file and the problem."""


class _Name(msgspec.Struct, forbid_unknown_fields=True):
    locale: str
    name: str


class _Text(msgspec.Struct, forbid_unknown_fields=True):
    locale: str
    text: str


class _TemplateCredential(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    vct_values: list[str]
    claims: list[list[str | int | None]]


class _Template(msgspec.Struct, forbid_unknown_fields=True):
    display: list[_Name]
    credentials: list[_TemplateCredential]


class _Issuance(msgspec.Struct, forbid_unknown_fields=True):
    credential_issuer: str
    credential_configuration_ids: list[str]


class _Purpose(msgspec.Struct, forbid_unknown_fields=True):
    description: list[_Text]
    additional_claims: list[list[str | int | None]] = []
    issuance: _Issuance | None = None


class _Party(msgspec.Struct, forbid_unknown_fields=True):
    verifier_id: str
    organization: str
    display: list[_Name]
    purposes: dict[str, _Purpose]
    client_id_prefix: str = "x509_hash"


def _read(path: Path, kind: type[msgspec.Struct]) -> object:
    try:
        return msgspec.convert(strict_json_loads(path.read_bytes()), kind)
    except msgspec.ValidationError as exc:
        raise VerifierCatalogError(f"{path.name}: {explain(exc)}") from exc
    except (OSError, StrictJsonError) as exc:
        raise VerifierCatalogError(f"{path.name}: {exc}") from exc


def _paths(
    where: str, values: list[list[str | int | None]]
) -> tuple[tuple[str | int | None, ...], ...]:
    try:
        return tuple(parse_claim_path(v) for v in values)
    except ClaimPathError as exc:
        raise VerifierCatalogError(f"{where}: {exc}") from exc


def _issuance(where: str, issuance: _Issuance | None) -> IssuanceService | None:
    if issuance is None:
        return None
    issuer = issuance.credential_issuer
    if not (_IDENTIFIER.fullmatch(issuer) or (_ISSUER_URL.fullmatch(issuer) and len(issuer) < 300)):
        raise VerifierCatalogError(
            f"{where}: issuance.credential_issuer is an agency id or an https issuer identifier"
        )
    ids = issuance.credential_configuration_ids
    if (
        not ids
        or len(ids) > MAX_ISSUED_CONFIGURATIONS
        or len(set(ids)) != len(ids)
        or not all(_CONFIGURATION_ID.fullmatch(i) for i in ids)
    ):
        raise VerifierCatalogError(
            f"{where}: issuance.credential_configuration_ids lists 1 to"
            f" {MAX_ISSUED_CONFIGURATIONS} distinct configuration ids"
        )
    return IssuanceService(issuer, tuple(ids))


def load_templates(public_base_url: str, directory: Path = CATALOG_DIR) -> dict[str, Template]:
    path = directory / TEMPLATES_FILE
    raw = _read(path, dict[str, _Template])  # type: ignore[arg-type]
    if not isinstance(raw, dict):
        raise VerifierCatalogError(f"{path.name}: the templates must be an object")
    templates: dict[str, Template] = {}
    for name, template in raw.items():
        where = f"{path.name}: {name}"
        if not _IDENTIFIER.fullmatch(name) or not template.credentials or not template.display:
            raise VerifierCatalogError(f"{where}: needs a plain name, display and credentials")
        credentials = []
        for credential in template.credentials:
            if not _IDENTIFIER.fullmatch(credential.id) or not credential.vct_values:
                raise VerifierCatalogError(f"{where}: credential ids are plain names with vcts")
            vcts = tuple(
                v.replace("${public_base_url}", public_base_url) for v in credential.vct_values
            )
            credentials.append(
                TemplateCredential(credential.id, vcts, _paths(where, credential.claims))
            )
        templates[name] = Template(
            name,
            tuple(LocalizedText(d.locale, d.name) for d in template.display),
            tuple(credentials),
        )
    return templates


def load_relying_parties(
    templates: dict[str, Template], directory: Path = CATALOG_DIR
) -> dict[str, RelyingParty]:
    parties: dict[str, RelyingParty] = {}
    for path in sorted(directory.glob("*.json")):
        if path.name == TEMPLATES_FILE:
            continue
        party = _read(path, _Party)
        if not isinstance(party, _Party):
            raise VerifierCatalogError(f"{path.name}: not a relying party")
        if not _IDENTIFIER.fullmatch(party.verifier_id) or path.stem != party.verifier_id:
            raise VerifierCatalogError(f"{path.name}: verifier_id must be the file's name")
        if party.client_id_prefix not in CLIENT_ID_PREFIXES:
            raise VerifierCatalogError(
                f"{path.name}: client_id_prefix must be x509_hash or x509_san_dns"
            )
        if not party.display or not party.purposes:
            raise VerifierCatalogError(f"{path.name}: display and purposes are required")
        purposes = {}
        for name, purpose in party.purposes.items():
            if name not in templates:
                raise VerifierCatalogError(f"{path.name}: no template named {name!r}")
            purposes[name] = Purpose(
                name,
                tuple(LocalizedText(d.locale, d.text) for d in purpose.description),
                _paths(f"{path.name}: {name}", purpose.additional_claims),
                _issuance(f"{path.name}: {name}", purpose.issuance),
            )
        parties[party.verifier_id] = RelyingParty(
            party.verifier_id,
            party.organization,
            tuple(LocalizedText(d.locale, d.name) for d in party.display),
            purposes,
            party.client_id_prefix,
        )
    if not parties:
        raise VerifierCatalogError(f"no relying parties in {directory}")
    return parties
