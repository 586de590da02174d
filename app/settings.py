"""Settings: read once from ``IDWALLET_*`` environment variables into a frozen object.

Every variable is documented in the README's configuration table; an invalid value
stops start-up with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from app.key_store_settings import KeyStoreSettings, KeyStoreSettingsError
from app.notification_settings import NotificationSettings, NotificationSettingsError
from app.rate_limit_policy import RateLimitPolicy, RateLimitSyntaxError, parse_policy
from app.register_settings import RegisterSettings, RegisterSettingsError, register_settings
from core.faults import FAULT_POINTS
from core.http.client import parse_exception

PREFIX = "IDWALLET_"
#: RFC 3986 §3.1 scheme syntax; schemes a browser runs, renders or reads from disk are
#: never listed, and https is followed anyway.
_APP_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,63}")
_NEVER_FOLLOWED = frozenset(
    {"javascript", "data", "vbscript", "file", "blob", "about", "filesystem", "http", "https"}
)
ENVIRONMENTS = ("development", "production")


class SettingsError(ValueError):
    """A configuration variable has an invalid value."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{PREFIX}{name} must be between {low} and {high}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(PREFIX + name) or default
    if value not in choices:
        raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(choices)}")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in env.get(PREFIX + name, "").split(",") if v.strip())


def _urls(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Absolute http(s) URLs without query or fragment (issuer identifiers)."""
    urls = _list(env, name)
    for url in urls:
        parts = urlsplit(url)
        if (
            parts.scheme not in ("https", "http")
            or not parts.netloc
            or parts.query
            or parts.fragment
        ):
            raise SettingsError(f"{PREFIX}{name}: {url!r} is not an issuer identifier URL")
    return urls


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Addresses or CIDR networks, each checked; ``*`` (anyone) is refused."""
    networks = []
    for entry in _list(env, name):
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise SettingsError(
                f"{PREFIX}{name} must list IP addresses or CIDR networks, got {entry!r}"
            ) from None
    return tuple(networks)


def _ca_certificates(env: Mapping[str, str], name: str) -> tuple[x509.Certificate, ...]:
    """Root certificates from comma-separated PEM files: every file readable, holding at
    least one certificate, each of them a CA."""
    certificates: list[x509.Certificate] = []
    for path in _list(env, name):
        try:
            found = x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read {PREFIX}{name} {path}: {exc}") from None
        for certificate in found:
            try:
                is_ca = certificate.extensions.get_extension_for_class(
                    x509.BasicConstraints
                ).value.ca
            except x509.ExtensionNotFound:
                is_ca = False
            if not is_ca:
                raise SettingsError(
                    f"{PREFIX}{name} {path} holds a certificate that is not a CA:"
                    f" {certificate.subject.rfc4514_string()}"
                )
        certificates += found
    return tuple(certificates)


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = env.get(PREFIX + "REDIS_URL") or None
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"{PREFIX}REDIS_URL must be a redis://, rediss:// or unix:// URL")
    return url


def _redis_key_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get(PREFIX + "REDIS_KEY_PREFIX") or "idwallet"
    if not prefix.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise SettingsError(f"{PREFIX}REDIS_KEY_PREFIX must be letters, digits, - _ or .")
    return prefix


def _rate_limits(env: Mapping[str, str]) -> RateLimitPolicy:
    try:
        return parse_policy(env.get(PREFIX + "RATE_LIMITS"))
    except RateLimitSyntaxError as exc:
        raise SettingsError(str(exc)) from None


def _metrics_port(env: Mapping[str, str], port: int) -> int | None:
    if not env.get(PREFIX + "METRICS_PORT"):
        return None
    metrics_port = _int(env, "METRICS_PORT", 0, 1, 65535)
    if metrics_port == port:
        raise SettingsError(f"{PREFIX}METRICS_PORT must differ from {PREFIX}PORT")
    return metrics_port


def _metrics_token(env: Mapping[str, str]) -> str | None:
    token = env.get(PREFIX + "METRICS_TOKEN") or None
    if token is not None and (len(token) < 16 or not token.isascii() or " " in token):
        raise SettingsError(f"{PREFIX}METRICS_TOKEN must be at least 16 ASCII characters")
    return token


def _test_citizen(env: Mapping[str, str], environment: str) -> str | None:
    test_citizen = env.get(PREFIX + "TEST_CITIZEN") or None
    if test_citizen is not None and environment == "production":
        raise SettingsError(
            f"{PREFIX}TEST_CITIZEN authenticates anyone as one citizen: for development"
            " and tests only, never in production"
        )
    return test_citizen


def _eid_provider(
    env: Mapping[str, str], environment: str
) -> tuple[str | None, str | None, str | None, Path | None]:
    """``IDWALLET_EID_OIDC_*``: the provider's issuer URL, the client id, and a client
    secret or a private key file (one of them), all or none."""
    issuer = env.get(PREFIX + "EID_OIDC_ISSUER") or None
    client_id = env.get(PREFIX + "EID_OIDC_CLIENT_ID") or None
    secret = env.get(PREFIX + "EID_OIDC_CLIENT_SECRET") or None
    key = env.get(PREFIX + "EID_OIDC_CLIENT_KEY") or None
    if issuer is None and client_id is None and secret is None and key is None:
        return None, None, None, None
    if issuer is None or client_id is None or (secret is None) == (key is None):
        raise SettingsError(
            f"{PREFIX}EID_OIDC_ISSUER and {PREFIX}EID_OIDC_CLIENT_ID go with either"
            f" {PREFIX}EID_OIDC_CLIENT_SECRET or {PREFIX}EID_OIDC_CLIENT_KEY"
        )
    if not issuer.startswith("https://") and (
        environment == "production" or not issuer.startswith("http://")
    ):
        raise SettingsError(f"{PREFIX}EID_OIDC_ISSUER must be the provider's https issuer URL")
    return issuer, client_id, secret, Path(key) if key else None


def _eid_scope(env: Mapping[str, str]) -> str:
    scope = " ".join((env.get(PREFIX + "EID_OIDC_SCOPE") or "openid").split())
    if "openid" not in scope.split(" ") or not all(
        part.isascii() and part.isprintable() and '"' not in part for part in scope.split(" ")
    ):
        raise SettingsError(f"{PREFIX}EID_OIDC_SCOPE lists scopes, openid among them")
    return scope


def _paired_files(
    env: Mapping[str, str], first: str, second: str
) -> tuple[Path, Path] | tuple[None, None]:
    """Two file variables set together (a certificate and its key) or not at all."""
    one, two = env.get(PREFIX + first) or None, env.get(PREFIX + second) or None
    if one is None and two is None:
        return None, None
    if one is None or two is None:
        raise SettingsError(f"{PREFIX}{first} and {PREFIX}{second} go together")
    return Path(one), Path(two)


def _key_store(env: Mapping[str, str]) -> KeyStoreSettings:
    try:
        return KeyStoreSettings.from_env(env)
    except KeyStoreSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _register(env: Mapping[str, str], environment: str) -> RegisterSettings:
    try:
        return register_settings(env, production=environment == "production")
    except RegisterSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise SettingsError(f"{PREFIX}COUNTRY is an ISO 3166-1 alpha-2 code, such as DE")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_base_url: str = "http://127.0.0.1:8000"
    #: The state's ISO 3166-1 alpha-2 code: the agencies' certificates (C) and their
    #: mdocs' ``issuing_country``.
    country: str = "DE"
    var_dir: Path = Path("var")
    database_url: str = "sqlite+aiosqlite:///var/idwallet.db"
    key_encryption_key: str | None = None
    trust_anchor_cert: Path | None = None
    trust_anchor_key: Path | None = None
    #: The CA under which the deployment, as wallet provider, certifies the key that signs
    #: its wallet instances' attestations (PEM files); generated in development.
    wallet_provider_ca_cert: Path | None = None
    wallet_provider_ca_key: Path | None = None
    operator_keys_file: Path | None = None
    signing_alg: str = "ES256"
    log_level: str = "INFO"
    log_format: str = "text"
    max_request_bytes: int = 1024 * 1024
    database_pool_size: int = 20
    presentation_request_lifetime: int = 300
    verifier_result_retention: int = 900
    status_list_ttl: int = 300
    status_list_size: int = 1 << 17
    issued_at_precision: int = 86400
    trusted_issuer_anchors: Path | None = None
    trusted_issuers: tuple[str, ...] = ()
    outbound_allow: tuple[str, ...] = ()
    outbound_deadline: int = 10
    outbound_min_rate: int = 1024
    status_list_revalidate: int = 10
    wallet_trust_anchors: tuple[str, ...] = ()
    wallet_provider_anchors: tuple[x509.Certificate, ...] = ()
    wallet_redirect_schemes: tuple[str, ...] = ()
    #: Issuers besides the deployment's agencies that the wallet lists for citizens to ask.
    wallet_issuers: tuple[str, ...] = ()
    #: How long a citizen's consent lets a mediator act for them (docs/mediators.md).
    mediation_minutes: int = 30
    faults: tuple[str, ...] = ()
    #: The national eID provider (OpenID Connect) agencies log citizens in at, and this
    #: deployment's registration there: a client secret (``client_secret_basic``) or a
    #: private key (PEM file, ``private_key_jwt``).
    eid_oidc_issuer: str | None = None
    eid_oidc_client_id: str | None = None
    eid_oidc_client_secret: str | None = field(default=None, repr=False)
    eid_oidc_client_key: Path | None = None
    #: The scopes asked for: ``openid`` and those that release the claims agencies use.
    eid_oidc_scope: str = "openid"
    #: Development and tests only: every citizen at an agency's authorization endpoint is
    #: taken to be this subject of its register (``IDWALLET_TEST_CITIZEN``).
    test_citizen: str | None = None
    rate_limits: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    redis_url: str | None = None
    redis_key_prefix: str = "idwallet"
    trusted_proxies: tuple[str, ...] = ()
    metrics_port: int | None = None
    metrics_token: str | None = None
    #: Where each class of keys is kept (software, or a PKCS#11 token).
    key_store: KeyStoreSettings = field(default_factory=KeyStoreSettings)
    #: Seconds between signed heads of the audit trail (``core.audit.chain``).
    audit_head_interval: int = 60
    #: Days audit entries are kept (removed down to a signed head); 0 keeps them forever.
    audit_retention_days: int = 0
    #: How the agencies read their registers (``app.register_settings``).
    register: RegisterSettings = field(default_factory=RegisterSettings)
    #: The citizens' notifications: expiry notices, status-list watching, Web Push.
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    #: Oversight figures from 1 to this minus 1 are reported as suppressed.
    oversight_min_count: int = 5

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def metrics_on_public_port(self) -> bool:
        """``/metrics`` on the API's port: with a token, or open in development; never
        where a metrics port of its own is configured, never open in production."""
        if self.metrics_port is not None:
            return False
        return self.metrics_token is not None or not self.is_production

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            value = env.get(PREFIX + name)
            return default if value is None or value == "" else value

        environment = get("ENVIRONMENT", "development")
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"{PREFIX}ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}")
        host = get("HOST", "127.0.0.1")
        port = _int(env, "PORT", 8000, 1, 65535)
        var_dir = Path(get("VAR_DIR", "var"))
        base = get("PUBLIC_BASE_URL", f"http://{host}:{port}").rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise SettingsError(f"{PREFIX}PUBLIC_BASE_URL must be an http(s) URL")
        if environment == "production" and not base.startswith("https://"):
            raise SettingsError(f"{PREFIX}PUBLIC_BASE_URL must be https in production")
        kek = env.get(PREFIX + "KEY_ENCRYPTION_KEY") or None
        if environment == "production" and kek is None:
            raise SettingsError(f"{PREFIX}KEY_ENCRYPTION_KEY is required in production")
        anchor_cert = env.get(PREFIX + "TRUST_ANCHOR_CERT") or None
        anchor_key = env.get(PREFIX + "TRUST_ANCHOR_KEY") or None
        provider_ca = _paired_files(env, "WALLET_PROVIDER_CA_CERT", "WALLET_PROVIDER_CA_KEY")
        eid = _eid_provider(env, environment)
        operator_keys = env.get(PREFIX + "OPERATOR_KEYS_FILE") or None
        signing_alg = get("SIGNING_ALG", "ES256")
        if signing_alg not in ("ES256", "ES384", "ES512", "EdDSA"):
            raise SettingsError(f"{PREFIX}SIGNING_ALG must be ES256, ES384, ES512 or EdDSA")
        log_level = get("LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        issuer_anchors = env.get(PREFIX + "TRUSTED_ISSUER_ANCHORS") or None
        trusted_issuers = _list(env, "TRUSTED_ISSUERS")
        if not all(i.startswith("https://") for i in trusted_issuers):
            raise SettingsError(f"{PREFIX}TRUSTED_ISSUERS must list https issuer identifiers")
        outbound_allow = _list(env, "OUTBOUND_ALLOW")
        for entry in outbound_allow:
            try:
                parse_exception(entry)
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}OUTBOUND_ALLOW must list host:port pairs, got {entry!r}"
                ) from None
        if outbound_allow and environment == "production":
            raise SettingsError(f"{PREFIX}OUTBOUND_ALLOW is for development only")
        redirect_schemes = tuple(v.lower() for v in _list(env, "WALLET_REDIRECT_SCHEMES"))
        for scheme in redirect_schemes:
            if not _APP_SCHEME.fullmatch(scheme) or scheme in _NEVER_FOLLOWED:
                raise SettingsError(
                    f"{PREFIX}WALLET_REDIRECT_SCHEMES must list app URI schemes"
                    f" (such as eu.example.citizen-app), not {scheme!r}"
                )
        faults = _list(env, "FAULT")
        if faults and environment == "production":
            raise SettingsError(f"{PREFIX}FAULT is for crash tests only, never in production")
        unknown = sorted(set(faults) - FAULT_POINTS)
        if unknown:
            raise SettingsError(
                f"{PREFIX}FAULT names unknown fault points: {', '.join(unknown)}"
                f" (known: {', '.join(sorted(FAULT_POINTS))})"
            )
        return cls(
            environment=environment,
            host=host,
            port=port,
            workers=_int(env, "WORKERS", 1, 1, 64),
            public_base_url=base,
            country=_country(get("COUNTRY", "DE")),
            var_dir=var_dir,
            database_url=get("DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"),
            key_encryption_key=kek,
            trust_anchor_cert=Path(anchor_cert) if anchor_cert else None,
            trust_anchor_key=Path(anchor_key) if anchor_key else None,
            wallet_provider_ca_cert=provider_ca[0],
            wallet_provider_ca_key=provider_ca[1],
            operator_keys_file=Path(operator_keys) if operator_keys else None,
            signing_alg=signing_alg,
            log_level=log_level,
            log_format=_choice(env, "LOG_FORMAT", "text", ("text", "json")),
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", 20, 1, 500),
            presentation_request_lifetime=_int(env, "PRESENTATION_REQUEST_LIFETIME", 300, 30, 3600),
            verifier_result_retention=_int(
                env, "VERIFIER_RESULT_RETENTION", 900, 60, 30 * 24 * 3600
            ),
            status_list_ttl=_int(env, "STATUS_LIST_TTL", 300, 5, 24 * 3600),
            status_list_size=_int(env, "STATUS_LIST_SIZE", 1 << 17, 1024, 100_000_000),
            issued_at_precision=_int(env, "ISSUED_AT_PRECISION", 86400, 1, 7 * 86400),
            trusted_issuer_anchors=Path(issuer_anchors) if issuer_anchors else None,
            trusted_issuers=trusted_issuers,
            outbound_allow=outbound_allow,
            outbound_deadline=_int(env, "OUTBOUND_DEADLINE", 10, 1, 600),
            outbound_min_rate=_int(env, "OUTBOUND_MIN_RATE", 1024, 0, 1 << 30),
            status_list_revalidate=_int(env, "STATUS_LIST_REVALIDATE", 10, 0, 24 * 3600),
            wallet_trust_anchors=_list(env, "WALLET_TRUST_ANCHORS"),
            wallet_provider_anchors=_ca_certificates(env, "WALLET_PROVIDER_ANCHORS"),
            wallet_redirect_schemes=redirect_schemes,
            wallet_issuers=_urls(env, "WALLET_ISSUERS"),
            mediation_minutes=_int(env, "MEDIATION_MINUTES", 30, 5, 120),
            faults=faults,
            test_citizen=_test_citizen(env, environment),
            eid_oidc_issuer=eid[0],
            eid_oidc_client_id=eid[1],
            eid_oidc_client_secret=eid[2],
            eid_oidc_client_key=eid[3],
            eid_oidc_scope=_eid_scope(env),
            rate_limits=_rate_limits(env),
            redis_url=_redis_url(env),
            redis_key_prefix=_redis_key_prefix(env),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            metrics_port=_metrics_port(env, port),
            metrics_token=_metrics_token(env),
            key_store=_key_store(env),
            audit_head_interval=_int(env, "AUDIT_HEAD_INTERVAL", 60, 1, 86400),
            audit_retention_days=_int(env, "AUDIT_RETENTION_DAYS", 0, 0, 100 * 365),
            register=_register(env, environment),
            notifications=_notifications(env),
            oversight_min_count=_int(env, "OVERSIGHT_MIN_COUNT", 5, 2, 1000),
        )


def _notifications(env: Mapping[str, str]) -> NotificationSettings:
    try:
        return NotificationSettings.from_env(env)
    except NotificationSettingsError as exc:
        raise SettingsError(str(exc)) from exc
