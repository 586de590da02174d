"""Loading and validating the agencies' catalog (``issuers/catalog/*.json``) at start-up.

A catalog file describes one agency: its display texts per locale and its credential
configurations with their claims. Any mistake stops start-up with the file and the reason.

A configuration may require key attestations (``key_attestations_required``, OpenID4VCI 1.0
§12.2.4 and Appendix D): ``{}`` for any attestation by a trusted wallet provider, or lists
of the ``key_storage`` and ``user_authentication`` levels accepted, each an Appendix D.2
value (``iso_18045_high``, ``iso_18045_moderate``, ``iso_18045_enhanced-basic``,
``iso_18045_basic``) or an ``https`` URL an ecosystem defines.

An agency may require encrypted credential requests and responses (OpenID4VCI 1.0 §10):
``"credential_encryption": {"required": true}``; by default wallets may encrypt, and choose.
A configuration may need a clerk's approval before each credential is issued
(``"approval_required": true``; OpenID4VCI 1.0 §8.3 deferred issuance), with
``approval_reason``: what the clerk checks, as ``{"locale", "text"}`` in every language of
the configuration's display. The agency says how it runs deferred issuance in
``deferred_issuance``: ``interval`` (seconds a wallet waits between deferred requests, §8.3)
and ``application_lifetime_days`` (how long an application waits for the decision and then
for the wallet).

An agency may authenticate citizens online at the national eID provider (OpenID Connect):
``"eid_login": {"subject_claim": "personal_number"}`` names the ID token claim that is the
subject id of its register (``sub`` by default); ``issuer``, ``client_id`` and
``client_secret_variable`` (the name of an environment variable, never the secret) override
the deployment's provider registration for this agency. A configuration may accept only
some levels of assurance: ``"eid_acr_values": [...]``, the ``acr`` values accepted.

An agency may identify citizens by a presentation of a credential their wallet already
holds (presentation during issuance): ``"presentation_login": {"verifier": "...",
"template": "...", "match": {"given_name": "given_name", ...}}`` names the counter (a
verifier tenant of ``verifiers/catalog``) and its check, and maps each presented claim to
the top-level claim of the register's records it must equal (every configuration of the
agency has it); exactly one citizen of the register must match.

An agency may allow both ways; when both can be used (the eID provider is configured),
the citizen chooses on the agency's page. ``"register_display": [{"locale": "en", "name":
"Driving licence register"}, ...]`` names the register its credentials' data comes from,
as the authorization pages show it (English required, as for every display).
``"register_reads": {"driving_licence": {"register": "civil-registry", "register_display":
[{"locale": "en", "name": "Population register"}]}}`` reads a configuration's records from
another register than the agency's own (the transport agency reading the population
register): its name at the register service (the register file of that agency in
development, whose records of that configuration are checked against it) and its name for
citizens.

A configuration is an SD-JWT VC (``dc+sd-jwt``, the default) or an ISO/IEC 18013-5 mdoc
(``"format": "mso_mdoc"``, OpenID4VCI 1.0 Appendix A.2) with its ``doctype`` (the EU PID
``eu.europa.ec.eudi.pid.1``, the mDL ``org.iso.18013.5.1.mDL``). An mdoc is another format
of the data of an SD-JWT VC configuration of the same agency, named by ``claims_of``: its
offers and register records are that configuration's, never typed in twice. Its claims
are ``[namespace, element]`` paths, each made ``from`` a claim of that record (dates become
``full-date``s), given as a constant ``value``, or ``computed`` when it is signed
(``issue_date``, ``expiry_date``, ``issuing_country``: the deployment's country), with
``"age_over": 18`` for an ``age_over_18`` worked out from a birth date.

Logos (OpenID4VCI 1.0 §12.2.4 ``logo``, SD-JWT VC §5.5.1.1.1) are either an image file of
the catalog (``images/<name>.png``, named by ``"image"``), served by the agency itself, or an
absolute ``https`` URL hosted elsewhere (``"uri"``). An image must be a real PNG or JPEG
(checked by its signature, not its name) of bounded size: media types without ``+``, which
every wallet library accepts in a ``data:`` URL, where ``image/svg+xml`` is refused by some.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from core.claim_paths import ClaimPathError, parse_claim_path
from core.encoding import StrictJsonError, strict_json_loads
from core.key_attestation import ISO_18045_LEVELS
from core.validation import explain
from issuers.domain import (
    CLAIM_TYPES,
    MDOC_FORMAT,
    SD_JWT_VC_FORMAT,
    Agency,
    ApprovalReason,
    ClaimDefinition,
    ClaimLabel,
    CredentialConfiguration,
    DeferredIssuancePolicy,
    Display,
    EidLoginPolicy,
    KeyAttestationRequirement,
    Logo,
    LogoImage,
    PresentationLoginPolicy,
    RegisterSource,
)
from issuers.services.subject_claims import InvalidSubjectClaims, check_subject_claims

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
IMAGES = "images"
# A logo is inlined as a data URL into every display entry that names it where the agency
# cannot serve it (plain http): a few of them must keep the metadata far below what wallets
# read (256 KiB in ours). Larger images belong on an https host, named by "uri".
MAX_IMAGE_BYTES = 16 * 1024
_IMAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\.(png|jpe?g)")
_MEDIA_TYPE_OF_SUFFIX = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_START, _JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SD_NEVER_AT_TOP = frozenset({"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub"})


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file and the problem."""


class _Logo(msgspec.Struct, forbid_unknown_fields=True):
    uri: str | None = None
    image: str | None = None
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
    #: mdoc elements: the claim of the record they are made from, or a constant.
    from_: list[str | int | None] | None = msgspec.field(default=None, name="from")
    value: str | int | bool | None = None
    computed: Literal["issue_date", "expiry_date", "issuing_country"] | None = None
    age_over: int | None = None


class _KeyAttestations(msgspec.Struct, forbid_unknown_fields=True):
    key_storage: list[str] | None = None
    user_authentication: list[str] | None = None


class _Reason(msgspec.Struct, forbid_unknown_fields=True):
    locale: str
    text: str


class _Configuration(msgspec.Struct, forbid_unknown_fields=True):
    validity_days: int
    display: list[_Display]
    claims: list[_Claim]
    key_attestations_required: _KeyAttestations | None = None
    approval_required: bool = False
    approval_reason: list[_Reason] | None = None
    eid_acr_values: list[str] | None = None
    format: Literal["dc+sd-jwt", "mso_mdoc"] = "dc+sd-jwt"
    doctype: str | None = None
    claims_of: str | None = None


_DEFERRED_DEFAULTS = DeferredIssuancePolicy()


class _DeferredIssuance(msgspec.Struct, forbid_unknown_fields=True):
    interval: int = _DEFERRED_DEFAULTS.interval
    application_lifetime_days: int = int(_DEFERRED_DEFAULTS.application_lifetime // 86400)


class _WalletAttestation(msgspec.Struct, forbid_unknown_fields=True):
    """Which grants need a wallet attestation at the token endpoint (and at the pushed
    request): the authorization code flow by default, as HAIP 1.0 §4 asks, the
    pre-authorized code flow only where the agency says so."""

    authorization_code: bool = True
    pre_authorized_code: bool = msgspec.field(default=False, name="pre-authorized_code")


class _RefreshTokens(msgspec.Struct, forbid_unknown_fields=True):
    """How long a wallet may come back for fresh batches of a credential it got through
    the authorization code flow without the citizen signing in again (0: never)."""

    lifetime_days: int = 30


class _CredentialEncryption(msgspec.Struct, forbid_unknown_fields=True):
    """Whether wallets must encrypt credential requests and ask for encrypted responses
    (OpenID4VCI 1.0 §10); not by default: wallets may, and choose."""

    required: bool = False


class _EidLogin(msgspec.Struct, forbid_unknown_fields=True):
    subject_claim: str = "sub"
    issuer: str | None = None
    client_id: str | None = None
    client_secret_variable: str | None = None


class _RegisterRead(msgspec.Struct, forbid_unknown_fields=True):
    register: str
    register_display: list[_Label]


class _PresentationLogin(msgspec.Struct, forbid_unknown_fields=True):
    verifier: str
    template: str
    match: dict[str, str]


class _Agency(msgspec.Struct, forbid_unknown_fields=True):
    issuer_id: str
    organization: str
    display: list[_Display]
    credential_configurations: dict[str, _Configuration]
    wallet_attestation_required: _WalletAttestation = msgspec.field(
        default_factory=_WalletAttestation
    )
    refresh_tokens: _RefreshTokens = msgspec.field(default_factory=_RefreshTokens)
    credential_encryption: _CredentialEncryption = msgspec.field(
        default_factory=_CredentialEncryption
    )
    deferred_issuance: _DeferredIssuance = msgspec.field(default_factory=_DeferredIssuance)
    eid_login: _EidLogin | None = None
    presentation_login: _PresentationLogin | None = None
    register_display: list[_Label] | None = None
    register_reads: dict[str, _RegisterRead] | None = None


def _register_sources(
    raw: dict[str, _RegisterRead] | None,
    configurations: dict[str, CredentialConfiguration],
    source: str,
) -> dict[str, RegisterSource]:
    """``register_reads``: configuration → the register read for its records, where it is
    not the agency's own."""
    sources = {}
    for configuration_id, read in (raw or {}).items():
        where = f"{source}: register_reads.{configuration_id}"
        if configuration_id not in configurations:
            raise CatalogError(f"{where}: no such credential configuration")
        if not _REGISTER_NAME.fullmatch(read.register):
            raise CatalogError(f"{where}: register must be a name (letters, digits, - _ .)")
        sources[configuration_id] = RegisterSource(
            read.register, _register_display(read.register_display, where)
        )
    return sources


_REGISTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _image_media_type(content: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` when the bytes are one (signature, and for PNG a
    well-formed IHDR chunk first), else None."""
    if content.startswith(_PNG_SIGNATURE) and len(content) >= 33:
        length, kind = struct.unpack(">I4s", content[8:16])
        (crc,) = struct.unpack(">I", content[29:33])
        if length == 13 and kind == b"IHDR" and zlib.crc32(content[12:29]) == crc:
            return "image/png"
        return None
    if content.startswith(_JPEG_START) and content.endswith(_JPEG_END):
        return "image/jpeg"
    return None


class _Images:
    """The catalog's image files, each read and checked once however often it is named."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._loaded: dict[str, LogoImage] = {}

    def load(self, name: str, where: str) -> LogoImage:
        if name in self._loaded:
            return self._loaded[name]
        if not _IMAGE_NAME.fullmatch(name):
            raise CatalogError(
                f"{where}: logo image {name!r} must be a file name of {IMAGES}/ in lower-case "
                "letters, digits, '-' or '_', ending in .png, .jpg or .jpeg"
            )
        path = self._directory / name
        try:
            with path.open("rb") as file:
                content = file.read(MAX_IMAGE_BYTES + 1)
        except OSError as exc:
            raise CatalogError(f"{where}: logo image {IMAGES}/{name} cannot be read") from exc
        if len(content) > MAX_IMAGE_BYTES:
            raise CatalogError(
                f"{where}: logo image {IMAGES}/{name} is larger than {MAX_IMAGE_BYTES} bytes"
            )
        media_type = _image_media_type(content)
        if media_type is None:
            raise CatalogError(f"{where}: logo image {IMAGES}/{name} is not a PNG or JPEG file")
        if media_type != _MEDIA_TYPE_OF_SUFFIX[name.rsplit(".", 1)[1]]:
            raise CatalogError(
                f"{where}: logo image {IMAGES}/{name} is {media_type}, not what its name says"
            )
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        image = LogoImage(name, media_type, content, f"sha256-{digest}")
        self._loaded[name] = image
        return image


def _logo(raw: _Logo, images: _Images, where: str) -> Logo:
    if (raw.uri is None) == (raw.image is None):
        raise CatalogError(f"{where}: a logo needs exactly one of uri and image")
    if raw.image is not None:
        return Logo(alt_text=raw.alt_text, image=images.load(raw.image, where))
    if raw.uri is None:
        raise CatalogError(f"{where}: a logo needs exactly one of uri and image")
    parts = urlsplit(raw.uri)
    if parts.scheme != "https" or not parts.hostname:
        raise CatalogError(
            f"{where}: a logo uri must be an absolute https URL (for an image of the catalog, "
            f"put the PNG file in {IMAGES}/ and name it with image; data: URLs such as "
            "data:image/svg+xml are not accepted by every wallet)"
        )
    return Logo(uri=raw.uri, alt_text=raw.alt_text)


def _displays(items: list[_Display], images: _Images, where: str) -> tuple[Display, ...]:
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
            logo=_logo(d.logo, images, f"{where}: {d.locale}") if d.logo else None,
            background_color=d.background_color,
            text_color=d.text_color,
        )
        for d in items
    )


def _claims(items: list[_Claim], where: str) -> tuple[ClaimDefinition, ...]:
    claims = []
    seen = set()
    for item in items:
        if (
            item.from_ is not None
            or item.value is not None
            or item.computed is not None
            or item.age_over is not None
        ):
            raise CatalogError(
                f"{where}: from, value, computed and age_over are for mso_mdoc elements only"
            )
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


_DOCTYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_ELEMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
#: mdoc element types: a record claim's JSON type, a date as ``full-date`` (tag 1004).
_MDOC_TYPES = frozenset({"string", "date", "boolean", "integer", "array", "object"})


def _mdoc_claims(
    items: list[_Claim], record: CredentialConfiguration, where: str
) -> tuple[ClaimDefinition, ...]:
    """An mdoc's elements (OpenID4VCI 1.0 Appendix A.2.2: paths ``[namespace, element]``),
    each made from a claim of the record's configuration (``from``) or a constant
    (``value``), of that claim's type."""
    record_claims = {claim.path: claim for claim in record.claims}
    claims = []
    seen = set()
    for item in items:
        path = tuple(item.path)
        name = list(item.path)
        if (
            len(path) != 2
            or not isinstance(path[0], str)
            or not isinstance(path[1], str)
            or not _DOCTYPE.fullmatch(path[0])
            or not _ELEMENT.fullmatch(path[1])
        ):
            raise CatalogError(f"{where}: an mdoc claim path is [namespace, element], not {name}")
        if path in seen:
            raise CatalogError(f"{where}: claim {name} is defined twice")
        seen.add(path)
        if item.type not in _MDOC_TYPES:
            raise CatalogError(f"{where}: claim {name} has unknown type {item.type!r}")
        source = None
        if sum(x is not None for x in (item.from_, item.value, item.computed)) != 1:
            raise CatalogError(
                f"{where}: claim {name} needs exactly one of from, value and computed"
            )
        if item.computed is not None and item.type != (
            "string" if item.computed == "issuing_country" else "date"
        ):
            raise CatalogError(f"{where}: claim {name}: {item.computed} has another type")
        if item.age_over is not None and not (
            item.type == "boolean" and item.from_ is not None and 0 < item.age_over < 150
        ):
            raise CatalogError(
                f"{where}: claim {name}: age_over (1 to 149) is a boolean from a birth date"
            )
        if item.from_ is not None:
            try:
                source = parse_claim_path(item.from_)
            except ClaimPathError as exc:
                raise CatalogError(f"{where}: claim {name}: {exc}") from exc
            origin = record_claims.get(source)
            if origin is None:
                raise CatalogError(
                    f"{where}: claim {name} is from {list(source)}, no claim of {record.id}"
                )
            wanted = "date" if item.age_over is not None else item.type
            if origin.value_type != wanted:
                raise CatalogError(
                    f"{where}: claim {name} needs a {wanted} source, {list(source)} is "
                    f"{origin.value_type}"
                )
            if item.mandatory and not origin.mandatory:
                raise CatalogError(
                    f"{where}: claim {name} is mandatory, its source {list(source)} is not"
                )
        elif item.value is not None and (
            item.type not in {"string", "boolean", "integer"}
            or isinstance(item.value, bool) != (item.type == "boolean")
        ):
            raise CatalogError(f"{where}: claim {name}: a value of type {item.type}")
        claims.append(
            ClaimDefinition(
                path=path,
                value_type=item.type,
                mandatory=item.mandatory or item.value is not None or item.computed is not None,
                selectively_disclosable=True,
                display=tuple(ClaimLabel(label.locale, label.name) for label in item.display),
                source=source,
                constant=item.value,
                computed="age_over" if item.age_over is not None else item.computed,
                age=item.age_over,
            )
        )
    if not claims:
        raise CatalogError(f"{where}: a configuration needs claims")
    return tuple(claims)


def _levels(values: list[str] | None, kind: str, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not values:
        raise CatalogError(
            f"{where}: key_attestations_required.{kind} needs at least one level; leave it "
            "out to accept any"
        )
    if len(set(values)) != len(values):
        raise CatalogError(f"{where}: key_attestations_required.{kind} lists a level twice")
    for value in values:
        parts = urlsplit(value)
        if value not in ISO_18045_LEVELS and not (parts.scheme == "https" and parts.hostname):
            raise CatalogError(
                f"{where}: key_attestations_required.{kind}: {value!r} is not a level; use "
                f"{', '.join(ISO_18045_LEVELS)} or an https URL your ecosystem defines"
            )
    return tuple(values)


def _key_attestations(raw: _KeyAttestations | None, where: str) -> KeyAttestationRequirement | None:
    if raw is None:
        return None
    return KeyAttestationRequirement(
        key_storage=_levels(raw.key_storage, "key_storage", where),
        user_authentication=_levels(raw.user_authentication, "user_authentication", where),
    )


def _approval_reason(
    config: _Configuration, display: tuple[Display, ...], where: str
) -> tuple[ApprovalReason, ...]:
    """Why a clerk approves each credential, in every language the configuration is
    displayed in; nothing when it is issued at once."""
    if not config.approval_required:
        if config.approval_reason is not None:
            raise CatalogError(f"{where}: approval_reason goes with approval_required: true")
        return ()
    if not config.approval_reason:
        raise CatalogError(
            f"{where}: approval_required needs approval_reason, what the clerk checks"
        )
    reasons = {r.locale.lower(): r for r in config.approval_reason}
    if len(reasons) != len(config.approval_reason):
        raise CatalogError(f"{where}: a locale appears twice in approval_reason")
    missing = [d.locale for d in display if d.locale.lower() not in reasons]
    if missing:
        raise CatalogError(f"{where}: approval_reason needs {', '.join(missing)} too")
    if any(not r.text.strip() or len(r.text) > 500 for r in config.approval_reason):
        raise CatalogError(f"{where}: an approval_reason text is empty or over 500 characters")
    return tuple(ApprovalReason(r.locale, r.text) for r in config.approval_reason)


def _deferred_issuance(raw: _DeferredIssuance, source: str) -> DeferredIssuancePolicy:
    if not 1 <= raw.interval <= 30 * 86400:
        raise CatalogError(f"{source}: deferred_issuance.interval must be 1 to 2592000 seconds")
    if not 1 <= raw.application_lifetime_days <= 365:
        raise CatalogError(
            f"{source}: deferred_issuance.application_lifetime_days must be 1 to 365"
        )
    return DeferredIssuancePolicy(
        interval=raw.interval, application_lifetime=raw.application_lifetime_days * 86400.0
    )


_CLAIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,99}")
_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")


def _eid_login(raw: _EidLogin | None, source: str) -> EidLoginPolicy | None:
    if raw is None:
        return None
    if not _CLAIM_NAME.fullmatch(raw.subject_claim):
        raise CatalogError(f"{source}: eid_login.subject_claim is not a claim name")
    if raw.issuer is not None and not raw.issuer.startswith(("https://", "http://")):
        raise CatalogError(f"{source}: eid_login.issuer must be the provider's issuer URL")
    if raw.client_secret_variable is not None and not _VARIABLE.fullmatch(
        raw.client_secret_variable
    ):
        raise CatalogError(
            f"{source}: eid_login.client_secret_variable names an environment variable"
            " (upper-case letters, digits and _), never the secret itself"
        )
    return EidLoginPolicy(
        subject_claim=raw.subject_claim,
        issuer=raw.issuer,
        client_id=raw.client_id,
        client_secret_variable=raw.client_secret_variable,
    )


def _presentation_login(
    raw: _PresentationLogin | None,
    configurations: dict[str, CredentialConfiguration],
    source: str,
) -> PresentationLoginPolicy | None:
    if raw is None:
        return None
    where = f"{source}: presentation_login"
    if not _IDENTIFIER.fullmatch(raw.verifier):
        raise CatalogError(f"{where}.verifier must be a verifier id of verifiers/catalog")
    if not _IDENTIFIER.fullmatch(raw.template):
        raise CatalogError(f"{where}.template must be a check of that verifier")
    if not raw.match:
        raise CatalogError(f"{where}.match needs at least one presented claim")
    for presented, held in raw.match.items():
        if not _CLAIM_NAME.fullmatch(presented) or not _CLAIM_NAME.fullmatch(held):
            raise CatalogError(f"{where}.match maps claim names to claim names")
        for config_id, configuration in configurations.items():
            if configuration.record_configuration is not None:
                continue  # made from another configuration's records, checked there
            if not any(claim.path == (held,) for claim in configuration.claims):
                raise CatalogError(
                    f"{where}.match: {config_id} has no top-level claim {held!r} to match"
                )
    return PresentationLoginPolicy(
        verifier_id=raw.verifier, template=raw.template, match=tuple(raw.match.items())
    )


def _register_display(items: list[_Label] | None, source: str) -> tuple[Display, ...]:
    """The register's name per locale; nothing when the catalog names none."""
    if items is None:
        return ()
    where = f"{source}: register_display"
    locales = [item.locale.lower() for item in items]
    if len(set(locales)) != len(locales):
        raise CatalogError(f"{where}: a locale appears twice")
    if "en" not in {locale.split("-")[0] for locale in locales}:
        raise CatalogError(f"{where} needs English")
    if any(not item.name.strip() or len(item.name) > 200 for item in items):
        raise CatalogError(f"{where}: a name is empty or over 200 characters")
    return tuple(Display(locale=item.locale, name=item.name) for item in items)


def _acr_values(values: list[str] | None, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not values or any(not v or len(v) > 256 for v in values) or len(set(values)) != len(values):
        raise CatalogError(f"{where}: eid_acr_values lists distinct acr values, at least one")
    return tuple(values)


def _doctype(config: _Configuration, where: str) -> str | None:
    if config.format != MDOC_FORMAT:
        if config.doctype is not None or config.claims_of is not None:
            raise CatalogError(f"{where}: doctype and claims_of are for mso_mdoc configurations")
        return None
    if config.doctype is None or not _DOCTYPE.fullmatch(config.doctype):
        raise CatalogError(f"{where}: an mso_mdoc configuration needs its doctype")
    return config.doctype


def _record_of(
    config: _Configuration, configurations: dict[str, CredentialConfiguration], where: str
) -> CredentialConfiguration:
    """The SD-JWT VC configuration whose records an mdoc is made from."""
    record = configurations.get(config.claims_of or "")
    if record is None or record.format != SD_JWT_VC_FORMAT:
        raise CatalogError(
            f"{where}: claims_of must name an SD-JWT VC configuration of this agency, whose "
            "register records the mdoc's elements are made from"
        )
    return record


def parse_agency(
    document: object, *, source: str, images_directory: Path = CATALOG_DIR / IMAGES
) -> Agency:
    """One agency's catalog document; logo images are read from ``images_directory``."""
    images = _Images(images_directory)
    try:
        raw = msgspec.convert(document, _Agency)
    except msgspec.ValidationError as exc:
        raise CatalogError(f"{source}: {explain(exc)}") from exc
    if not _IDENTIFIER.fullmatch(raw.issuer_id):
        raise CatalogError(f"{source}: issuer_id must be lower-case letters, digits, '-' or '_'")
    configurations: dict[str, CredentialConfiguration] = {}
    # the SD-JWT VC configurations first: an mdoc is made from one's records
    ordered = sorted(
        raw.credential_configurations.items(), key=lambda c: c[1].format != SD_JWT_VC_FORMAT
    )
    for config_id, config in ordered:
        where = f"{source}: {config_id}"
        if not _IDENTIFIER.fullmatch(config_id):
            raise CatalogError(
                f"{where}: configuration id must be lower-case letters, digits, '-' or '_'"
            )
        if not 1 <= config.validity_days <= 36500:
            raise CatalogError(f"{where}: validity_days must be between 1 and 36500")
        display = _displays(config.display, images, where)
        configurations[config_id] = CredentialConfiguration(
            id=config_id,
            validity_days=config.validity_days,
            display=display,
            claims=_mdoc_claims(config.claims, _record_of(config, configurations, where), where)
            if config.format == MDOC_FORMAT
            else _claims(config.claims, where),
            key_attestations_required=_key_attestations(config.key_attestations_required, where),
            approval_reason=_approval_reason(config, display, where),
            eid_acr_values=_acr_values(config.eid_acr_values, where),
            format=config.format,
            doctype=_doctype(config, where),
            record_configuration=config.claims_of,
        )
    configurations = {c: configurations[c] for c in raw.credential_configurations}
    if not configurations:
        raise CatalogError(f"{source}: an agency needs at least one credential configuration")
    if not 0 <= raw.refresh_tokens.lifetime_days <= 366:
        raise CatalogError(f"{source}: refresh_tokens.lifetime_days must be between 0 and 366")
    return Agency(
        issuer_id=raw.issuer_id,
        organization=raw.organization,
        display=_displays(raw.display, images, source),
        configurations=configurations,
        attestation_for_authorization_code=raw.wallet_attestation_required.authorization_code,
        attestation_for_pre_authorized_code=raw.wallet_attestation_required.pre_authorized_code,
        refresh_token_lifetime=raw.refresh_tokens.lifetime_days * 86400.0,
        encryption_required=raw.credential_encryption.required,
        deferred_issuance=_deferred_issuance(raw.deferred_issuance, source),
        eid_login=_eid_login(raw.eid_login, source),
        presentation_login=_presentation_login(raw.presentation_login, configurations, source),
        register_display=_register_display(raw.register_display, source),
        register_sources=_register_sources(raw.register_reads, configurations, source),
    )


def load_register(
    agency: Agency,
    path: Path,
    read_by: dict[str, CredentialConfiguration] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``registers/<agency file>``: ``{"subjects": {subject: {configuration: claims}}}``,
    every record checked against its configuration like an offer's claims: one of the
    agency's own, or of another agency that reads this register for it (``read_by``)."""
    configurations = {**(read_by or {}), **agency.configurations}
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
            configuration = configurations.get(configuration_id)
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
    """Every ``*.json`` in ``directory``, keyed by ``issuer_id``, each with its register
    file (``registers/<the same name>``) where there is one."""
    agencies: dict[str, Agency] = {}
    files: dict[str, Path] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            document = strict_json_loads(path.read_bytes(), max_bytes=1024 * 1024)
        except StrictJsonError as exc:
            raise CatalogError(f"{path.name}: not valid JSON ({exc})") from exc
        agency = parse_agency(document, source=path.name, images_directory=directory / IMAGES)
        if agency.issuer_id in agencies:
            raise CatalogError(f"{path.name}: issuer_id {agency.issuer_id!r} is used twice")
        agencies[agency.issuer_id] = agency
        files[agency.issuer_id] = path
    for issuer_id, agency in list(agencies.items()):
        register = directory / "registers" / files[issuer_id].name
        if register.exists():
            read_by = {
                configuration_id: reader.configurations[configuration_id]
                for reader in agencies.values()
                for configuration_id, source in reader.register_sources.items()
                if source.register == issuer_id
            }
            agencies[issuer_id] = replace(agency, register=load_register(agency, register, read_by))
    return agencies
