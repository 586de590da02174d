"""Issuer verification key discovery and validation (SD-JWT VC §2.5).

- Inline X.509: the leaf of the ``x5c`` header validates to a configured trust anchor; when
  ``iss`` is present it must name the same party as the certificate (a SAN URI equal to
  ``iss``, or a SAN DNS name equal to the host of an ``https`` ``iss``).
- JWT VC Issuer Metadata (§4): the metadata at ``/.well-known/jwt-vc-issuer`` + path of
  ``iss`` names the same issuer and carries its JWK Set (``jwks`` or ``jwks_uri``, not both).

``core`` does no network I/O: metadata is fetched by an injected callable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import msgspec
from cryptography import x509
from msgspec import UNSET, UnsetType

from core.clock import SYSTEM_CLOCK, Clock
from core.jose.algorithms import PublicKey
from core.jose.errors import JoseError
from core.jose.jwk import JwkSet, public_key_from_jwk
from core.keys.x509 import CertificateError, ValidatedChains, san_dns_names, san_uris

JWT_VC_ISSUER_WELL_KNOWN = "/.well-known/jwt-vc-issuer"


class JwtVcIssuerMetadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    """§4.2: the issuer and exactly one of ``jwks`` and ``jwks_uri``; other members are
    ignored."""

    issuer: str
    jwks: JwkSet | UnsetType = UNSET
    jwks_uri: str | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.jwks, UnsetType) == isinstance(self.jwks_uri, UnsetType):
            raise ValueError("JWT VC Issuer Metadata must have exactly one of jwks and jwks_uri")


class IssuerKeyError(ValueError):
    """No permitted mechanism yields a key that belongs to this issuer."""


@dataclass(frozen=True, slots=True)
class ResolvedIssuerKey:
    key: PublicKey
    method: str  # "x5c" or "jwt-vc-issuer-metadata"
    certificate: x509.Certificate | None = None


class IssuerKeyResolver(Protocol):
    async def resolve(
        self, header: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> ResolvedIssuerKey: ...


def jwt_vc_issuer_metadata_url(iss: str) -> str:
    """§4: insert the well-known segment between host and path; drop a trailing ``/``."""
    parts = urlsplit(iss)
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise IssuerKeyError("iss must be an https URL without query or fragment")
    return f"https://{parts.netloc}{JWT_VC_ISSUER_WELL_KNOWN}{parts.path.rstrip('/')}"


def check_certificate_names_issuer(certificate: x509.Certificate, iss: object) -> None:
    if iss is not None:
        check_names_issuer(iss, san_uris(certificate), san_dns_names(certificate))


def check_names_issuer(iss: object, uris: Collection[str], dns_names: Collection[str]) -> None:
    """``iss`` is one of a certificate's subjectAltName URIs, or an ``https`` URL whose
    host is one of its DNS names."""
    if iss is None:
        return
    if not isinstance(iss, str):
        raise IssuerKeyError("iss must be a string")
    if iss in uris:
        return
    parts = urlsplit(iss)
    if parts.scheme == "https" and parts.hostname and parts.hostname in dns_names:
        return
    raise IssuerKeyError("the x5c certificate does not name the iss of the credential")


class X5cIssuerKeys:
    """Inline ``x5c`` validated to trust anchors.

    A validated chain is remembered (``ValidatedChains``: bounded, by its exact ``x5c``
    values and the anchors, until the earliest ``notAfter`` in it and never beyond a few
    minutes), so a busy counter does not re-run path validation for every presentation
    of the same issuer; the ``iss`` binding is checked every time.
    """

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        *,
        clock: Clock = SYSTEM_CLOCK,
        cache_size: int = 256,
    ) -> None:
        self._anchors = frozenset(anchors)
        self._clock = clock
        self._chains = ValidatedChains(max_entries=cache_size)

    async def resolve(
        self, header: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> ResolvedIssuerKey:
        return self.resolve_now(header, payload)

    def resolve_now(
        self, header: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> ResolvedIssuerKey:
        if "x5c" not in header:
            raise IssuerKeyError("the Issuer-signed JWT has no x5c header")
        try:
            chain = self._chains.validate(header["x5c"], self._anchors, now=self._clock.now())
        except CertificateError as exc:
            raise IssuerKeyError(str(exc)) from exc
        check_names_issuer(payload.get("iss"), chain.san_uris, chain.san_dns_names)
        return ResolvedIssuerKey(chain.key, "x5c", chain.leaf)


FetchJson = Callable[[str], Awaitable[Any]]


def key_from_jwks(jwks: object, kid: object) -> PublicKey:
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise IssuerKeyError("the JWK Set has no keys array")
    keys = [k for k in jwks["keys"] if isinstance(k, Mapping)]
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
    elif len(keys) != 1:
        raise IssuerKeyError("the Issuer-signed JWT has no kid and the JWK Set has several keys")
    if len(keys) != 1:
        raise IssuerKeyError("no single key in the JWK Set matches the kid")
    try:
        return public_key_from_jwk(
            {k: v for k, v in keys[0].items() if k not in ("kid", "use", "key_ops")}
        )
    except JoseError as exc:
        raise IssuerKeyError(f"issuer JWK is not usable: {exc}") from exc


class MetadataIssuerKeys:
    """JWT VC Issuer Metadata (§4), fetched through ``fetch_json`` (the SSRF-safe client)."""

    def __init__(
        self, fetch_json: FetchJson, *, trusted_issuers: Iterable[str] | None = None
    ) -> None:
        """``trusted_issuers``: the only ``iss`` values whose metadata is believed; without
        it any ``https`` issuer that publishes metadata is (for wallets, not verifiers)."""
        self._fetch = fetch_json
        self._trusted = None if trusted_issuers is None else frozenset(trusted_issuers)

    async def resolve(
        self, header: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> ResolvedIssuerKey:
        iss = payload.get("iss")
        if not isinstance(iss, str):
            raise IssuerKeyError("the credential has no iss to discover metadata from")
        if self._trusted is not None and iss not in self._trusted:
            raise IssuerKeyError("the issuer is not one this verifier trusts by metadata")
        try:
            metadata = msgspec.convert(
                await self._fetch(jwt_vc_issuer_metadata_url(iss)), JwtVcIssuerMetadata
            )
        except msgspec.ValidationError as exc:
            raise IssuerKeyError(f"JWT VC Issuer Metadata is malformed: {exc}") from None
        if metadata.issuer != iss:
            raise IssuerKeyError("JWT VC Issuer Metadata names another issuer")
        jwks: object
        if not isinstance(metadata.jwks, UnsetType):
            jwks = msgspec.to_builtins(metadata.jwks)
        else:
            uri = metadata.jwks_uri
            if not isinstance(uri, str) or not uri.startswith("https://"):
                raise IssuerKeyError("jwks_uri must be an https URL")
            jwks = await self._fetch(uri)
        return ResolvedIssuerKey(key_from_jwks(jwks, header.get("kid")), "jwt-vc-issuer-metadata")


class IssuerKeyPolicy:
    """The mechanisms permitted by policy, tried in order: ``x5c`` when the header has one."""

    def __init__(
        self, *, x5c: X5cIssuerKeys | None = None, metadata: MetadataIssuerKeys | None = None
    ) -> None:
        if x5c is None and metadata is None:
            raise ValueError("at least one key discovery mechanism is needed")
        self._x5c = x5c
        self._metadata = metadata

    async def resolve(
        self, header: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> ResolvedIssuerKey:
        if "x5c" in header:
            if self._x5c is None:
                raise IssuerKeyError("x5c is not a permitted key mechanism here")
            return await self._x5c.resolve(header, payload)
        if self._metadata is None:
            raise IssuerKeyError(
                "the credential has no x5c and metadata discovery is not permitted"
            )
        return await self._metadata.resolve(header, payload)
