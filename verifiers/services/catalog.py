"""Loading and validating the relying parties' catalog (``verifiers/catalog/*.json``)
and the named checks they can pick (``templates.json``) at start-up.

``${public_base_url}`` in a template's ``vct_values`` stands for this deployment's own
public URL, so the demo counters accept the demo agencies' credentials wherever they run.
A template credential is an SD-JWT VC (``vct_values``, the default) or an ISO mdoc
(``"format": "mso_mdoc"`` with its ``doctype_value``, claims as ``[namespace, element]``
and, where the counter keeps an element, ``intent_to_retain``: OpenID4VP 1.0 B.2.2-B.2.4);
a template that accepts either of several credentials lists the alternatives as DCQL
``credential_sets`` options (§6.2). A purpose's ``additional_claims`` are a list (for
every SD-JWT VC credential of its template) or an object by the template's credential id.
A purpose may state that it serves an issuer's issuance (``issuance``: the issuer, as an
agency id of this deployment or a full ``https`` identifier, and the credential
configurations it issues after the check). Any mistake stops start-up with the file and
the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import msgspec

from core.claim_paths import ClaimPathError, parse_claim_path
from core.encoding import StrictJsonError, strict_json_loads
from core.validation import explain
from verifiers.domain import (
    CLIENT_ID_PREFIXES,
    MDOC_FORMAT,
    SD_JWT_VC_FORMAT,
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


_RawPath = list[str | int | None]


class _TemplateCredential(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    claims: list[_RawPath]
    format: Literal["dc+sd-jwt", "mso_mdoc"] = "dc+sd-jwt"
    vct_values: list[str] = []
    doctype_value: str | None = None
    intent_to_retain: list[_RawPath] = []


class _CredentialSet(msgspec.Struct, forbid_unknown_fields=True):
    options: list[list[str]]


class _Template(msgspec.Struct, forbid_unknown_fields=True):
    display: list[_Name]
    credentials: list[_TemplateCredential]
    credential_sets: list[_CredentialSet] = []


class _Issuance(msgspec.Struct, forbid_unknown_fields=True):
    credential_issuer: str
    credential_configuration_ids: list[str]


class _Purpose(msgspec.Struct, forbid_unknown_fields=True):
    description: list[_Text]
    additional_claims: list[_RawPath] | dict[str, list[_RawPath]] = []
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
    where: str, values: list[_RawPath], credential_format: str = SD_JWT_VC_FORMAT
) -> tuple[tuple[str | int | None, ...], ...]:
    try:
        paths = tuple(parse_claim_path(v) for v in values)
    except ClaimPathError as exc:
        raise VerifierCatalogError(f"{where}: {exc}") from exc
    if credential_format == MDOC_FORMAT and not all(
        len(p) == 2 and all(isinstance(part, str) for part in p) for p in paths
    ):
        raise VerifierCatalogError(f"{where}: an mdoc claim path is [namespace, element]")
    return paths


def _template_credential(
    where: str, credential: _TemplateCredential, public_base_url: str
) -> TemplateCredential:
    if not _IDENTIFIER.fullmatch(credential.id):
        raise VerifierCatalogError(f"{where}: credential ids are plain names")
    where = f"{where}: {credential.id}"
    claims = _paths(where, credential.claims, credential.format)
    if credential.format == SD_JWT_VC_FORMAT:
        if not credential.vct_values or credential.doctype_value or credential.intent_to_retain:
            raise VerifierCatalogError(
                f"{where}: an SD-JWT VC names its vct_values (doctype_value and"
                " intent_to_retain are for mso_mdoc)"
            )
        vcts = tuple(
            v.replace("${public_base_url}", public_base_url) for v in credential.vct_values
        )
        return TemplateCredential(credential.id, vcts, claims)
    if not credential.doctype_value or credential.vct_values or not claims:
        raise VerifierCatalogError(
            f"{where}: an mso_mdoc credential names its doctype_value and claims, no vct_values"
        )
    retained = frozenset(_paths(where, credential.intent_to_retain, MDOC_FORMAT))
    if not retained <= set(claims):
        raise VerifierCatalogError(f"{where}: intent_to_retain names claims it does not ask for")
    return TemplateCredential(
        credential.id,
        (),
        claims,
        format=MDOC_FORMAT,
        doctype_value=credential.doctype_value,
        intent_to_retain=retained,
    )


def _credential_sets(
    where: str, sets: list[_CredentialSet], ids: list[str]
) -> tuple[tuple[tuple[str, ...], ...], ...]:
    if len(set(ids)) != len(ids):
        raise VerifierCatalogError(f"{where}: a credential id is used twice")
    if not sets:
        return ()
    covered: set[str] = set()
    for credential_set in sets:
        for option in credential_set.options:
            if not option or not set(option) <= set(ids):
                raise VerifierCatalogError(
                    f"{where}: a credential_sets option lists the template's credential ids"
                )
            covered.update(option)
        if not credential_set.options:
            raise VerifierCatalogError(f"{where}: a credential set needs options")
    if covered != set(ids):
        raise VerifierCatalogError(f"{where}: every credential belongs to a credential set")
    return tuple(tuple(tuple(o) for o in s.options) for s in sets)


def _additional_claims(
    where: str, template: Template, raw: list[_RawPath] | dict[str, list[_RawPath]]
) -> dict[str, tuple[tuple[str | int | None, ...], ...]]:
    """By template credential id: a list is for every SD-JWT VC credential."""
    credentials = {c.id: c for c in template.credentials}
    if isinstance(raw, list):
        paths = _paths(where, raw)
        return {c.id: paths for c in template.credentials if c.format == SD_JWT_VC_FORMAT and paths}
    unknown = sorted(set(raw) - set(credentials))
    if unknown:
        raise VerifierCatalogError(f"{where}: {template.name} has no credential {unknown[0]!r}")
    return {i: _paths(where, v, credentials[i].format) for i, v in raw.items() if v}


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
        credentials = [
            _template_credential(where, credential, public_base_url)
            for credential in template.credentials
        ]
        templates[name] = Template(
            name,
            tuple(LocalizedText(d.locale, d.name) for d in template.display),
            tuple(credentials),
            _credential_sets(where, template.credential_sets, [c.id for c in credentials]),
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
                _additional_claims(
                    f"{path.name}: {name}", templates[name], purpose.additional_claims
                ),
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
