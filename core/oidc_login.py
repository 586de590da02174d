"""Logging a citizen in at an OpenID Connect provider (the national eID): a relying party
for the authorization code flow (OpenID Connect Core 1.0 §3.1) with PKCE S256 (RFC 7636),
``state`` and ``nonce``.

The protocol work is Authlib's (the authentication request, RFC 6749 §4.1.1 with the
OpenID Connect parameters; the ID token's claim rules, Core §3.1.3.7: ``iss``, ``aud``,
``azp``, ``exp``, ``iat``, ``nonce``, ``auth_time``, ``at_hash``) and joserfc's (its JOSE
library: the signature, with an explicit algorithm allow-list, never ``none``); what goes
over the network goes through the deployment's guarded outbound client (SSRF rules,
deadline, size caps), never through a client of its own:

- discovery (Core Discovery 1.0 §4): the document's ``issuer`` must be the configured
  one exactly (§4.3), and its endpoints are fetched like any other outbound URL;
- the provider's keys (JWKS), remembered for a while and fetched again once when an ID
  token names a key they do not hold (key rollover, Core §10.1.1);
- the token request authenticates the client with ``client_secret_basic`` or
  ``private_key_jwt`` (Core §9, a JWT signed with the client's key);
- the level of assurance: the ID token's ``acr`` must be one the caller accepts.

Every refusal is an :class:`EidLoginFailed` whose ``reason`` is one of a few stable codes
for the citizen's page and the audit trail; nothing of the citizen is in its message.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgspec
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError as JoserfcError
from joserfc.jwk import KeySet

from core.encoding import EncodingError, strict_json_object
from core.http.client import OutboundClient, OutboundFailed, OutboundRefused
from core.jose.jws import sign_compact
from core.keys.signer import Signer
from core.oauth import pkce_s256_challenge

#: ID token algorithms accepted (asymmetric only: a shared secret never signs one here).
ID_TOKEN_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_ID_TOKEN_BYTES = 16 * 1024
#: How long discovery and the JWKS are used before they are fetched again.
DOCUMENT_LIFETIME = 3600.0
#: Clock skew accepted on ``exp``, ``iat`` and ``auth_time``.
LEEWAY = 60
#: An ID token issued longer ago than this is stale, whatever its ``exp``.
MAX_ID_TOKEN_AGE = 600


class EidLoginFailed(Exception):
    """The login did not identify the citizen. ``reason``: ``provider_unavailable``,
    ``provider_refused`` (the provider or the citizen said no), ``invalid_id_token``,
    ``insufficient_acr``, ``no_subject``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ProviderClient:
    """How this deployment is registered at the provider: ``client_secret`` for
    ``client_secret_basic``, or ``client_key`` for ``private_key_jwt``."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    client_key: Signer | None = None
    scope: str = "openid"

    def __post_init__(self) -> None:
        if (self.client_secret is None) == (self.client_key is None):
            raise ValueError("a provider client has a client secret or a client key, not both")


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What one login needs from the caller, all single-use: ``state`` (CSRF, Core
    §3.1.2.1), ``nonce`` (replay, §3.1.2.1), ``code_verifier`` (PKCE) and the accepted
    ``acr`` values (none: any)."""

    redirect_uri: str
    state: str
    nonce: str
    code_verifier: str
    acr_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifiedLogin:
    """The claims of a verified ID token."""

    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def acr(self) -> str | None:
        value = self.claims.get("acr")
        return value if isinstance(value, str) else None


class ProviderMetadata(msgspec.Struct, kw_only=True):
    """What the login needs of the provider's discovery document (unknown members
    ignored)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    code_challenge_methods_supported: list[str] | None = None
    id_token_signing_alg_values_supported: list[str] | None = None


@dataclass(slots=True)
class _Cached:
    value: Any
    until: float


@dataclass(slots=True)
class OidcRelyingParty:
    """One provider, as this deployment's client there."""

    client: ProviderClient
    outbound: OutboundClient
    _metadata: _Cached | None = field(default=None, init=False)
    _keys: _Cached | None = field(default=None, init=False)

    async def _document(self, url: str, what: str) -> dict[str, Any]:
        try:
            fetched = await self.outbound.fetch(
                url, accept="application/json", max_bytes=MAX_DOCUMENT_BYTES
            )
            return strict_json_object(fetched.body)
        except (OutboundFailed, OutboundRefused, EncodingError) as exc:
            raise EidLoginFailed(
                "provider_unavailable", f"the eID provider's {what}: {exc}"
            ) from exc

    async def metadata(self) -> ProviderMetadata:
        now = time.monotonic()
        if self._metadata is not None and now < self._metadata.until:
            cached: ProviderMetadata = self._metadata.value
            return cached
        issuer = self.client.issuer.rstrip("/")
        document = await self._document(f"{issuer}/.well-known/openid-configuration", "discovery")
        try:
            metadata = msgspec.convert(document, ProviderMetadata)
        except msgspec.ValidationError as exc:
            raise EidLoginFailed("provider_unavailable", f"discovery document: {exc}") from exc
        if metadata.issuer != self.client.issuer:
            raise EidLoginFailed(
                "provider_unavailable",
                "the discovery document names another issuer (OpenID Connect Discovery §4.3)",
            )
        methods = metadata.code_challenge_methods_supported
        if methods is not None and "S256" not in methods:
            raise EidLoginFailed("provider_unavailable", "the provider does not support PKCE S256")
        self._metadata = _Cached(metadata, now + DOCUMENT_LIFETIME)
        return metadata

    async def _key_set(self, *, fresh: bool) -> KeySet:
        now = time.monotonic()
        if not fresh and self._keys is not None and now < self._keys.until:
            cached: KeySet = self._keys.value
            return cached
        metadata = await self.metadata()
        document = await self._document(metadata.jwks_uri, "keys")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoserfcError, ValueError, TypeError, KeyError) as exc:
            raise EidLoginFailed("provider_unavailable", f"the provider's keys: {exc}") from exc
        self._keys = _Cached(keys, now + DOCUMENT_LIFETIME)
        return keys

    async def authorization_url(self, login: LoginRequest) -> str:
        """Where to send the citizen's browser (Core §3.1.2.1)."""
        metadata = await self.metadata()
        parameters: dict[str, str] = {
            "nonce": login.nonce,
            "code_challenge": pkce_s256_challenge(login.code_verifier),
            "code_challenge_method": "S256",
        }
        if login.acr_values:
            parameters["acr_values"] = " ".join(login.acr_values)
        url: str = prepare_grant_uri(
            metadata.authorization_endpoint,
            self.client.client_id,
            "code",
            redirect_uri=login.redirect_uri,
            scope=self.client.scope,
            state=login.state,
            **parameters,
        )
        self.outbound.check_url(url)
        return url

    def _client_authentication(self, token_endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
        """The token request's headers and form members that authenticate this client."""
        if self.client.client_key is not None:
            now = int(time.time())
            assertion = sign_compact(
                {
                    "iss": self.client.client_id,
                    "sub": self.client.client_id,
                    "aud": token_endpoint,
                    "jti": str(uuid.uuid4()),
                    "iat": now,
                    "exp": now + 60,
                },
                self.client.client_key,
                typ="JWT",
            )
            return {}, {
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            }
        secret = self.client.client_secret or ""
        basic = f"{quote(self.client.client_id, safe='')}:{quote(secret, safe='')}"
        return {"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()}, {}

    async def complete(
        self, login: LoginRequest, code: str, *, now: float | None = None
    ) -> VerifiedLogin:
        """The code exchanged (Core §3.1.3) and the ID token verified (§3.1.3.7)."""
        metadata = await self.metadata()
        headers, form = self._client_authentication(metadata.token_endpoint)
        form |= {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.code_verifier,
        }
        if self.client.client_key is None:
            form.setdefault("client_id", self.client.client_id)
        try:
            answer = await self.outbound.send(
                "POST",
                metadata.token_endpoint,
                accept="application/json",
                form=form,
                headers=headers,
                max_bytes=MAX_DOCUMENT_BYTES,
            )
        except (OutboundFailed, OutboundRefused) as exc:
            raise EidLoginFailed("provider_unavailable", f"token endpoint: {exc}") from exc
        try:
            body = strict_json_object(answer.body)
        except EncodingError as exc:
            raise EidLoginFailed("provider_unavailable", "the token answer is not JSON") from exc
        if answer.status != 200:
            error = body.get("error")
            raise EidLoginFailed(
                "provider_refused", f"the token endpoint answered {answer.status} {error!r}"
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or len(id_token) > MAX_ID_TOKEN_BYTES:
            raise EidLoginFailed("invalid_id_token", "the token answer has no usable id_token")
        access_token = body.get("access_token")
        return await self.verify_id_token(
            id_token,
            login,
            access_token=access_token if isinstance(access_token, str) else None,
            now=time.time() if now is None else now,
        )

    async def verify_id_token(
        self, id_token: str, login: LoginRequest, *, access_token: str | None, now: float
    ) -> VerifiedLogin:
        metadata = await self.metadata()
        allowed = _allowed_algorithms(metadata.id_token_signing_alg_values_supported)
        token = None
        for fresh in (False, True):  # once more with fresh keys: the provider rolled over
            keys = await self._key_set(fresh=fresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=allowed)
                break
            except (ValueError, KeyError) as exc:
                if fresh or "key" not in str(exc).lower():
                    raise EidLoginFailed(
                        "invalid_id_token", f"the ID token does not verify: {exc}"
                    ) from exc
            except JoserfcError as exc:
                if fresh:
                    raise EidLoginFailed(
                        "invalid_id_token", f"the ID token does not verify: {exc.error}"
                    ) from exc
        if token is None:
            raise EidLoginFailed("invalid_id_token", "the ID token does not verify")
        claims = CodeIDToken(
            dict(token.claims),
            dict(token.header),
            options={
                "iss": {"essential": True, "value": metadata.issuer},
                "aud": {"essential": True, "value": self.client.client_id},
            },
            params={
                "nonce": login.nonce,
                "client_id": self.client.client_id,
                **({"access_token": access_token} if access_token else {}),
            },
        )
        try:
            claims.validate(now=int(now), leeway=LEEWAY)
        except (JoserfcError, ValueError, TypeError) as exc:
            raise EidLoginFailed("invalid_id_token", f"the ID token: {exc}") from exc
        issued_at = claims.get("iat")
        if not isinstance(issued_at, int) or issued_at < now - MAX_ID_TOKEN_AGE - LEEWAY:
            raise EidLoginFailed("invalid_id_token", "the ID token is stale")
        verified = VerifiedLogin(dict(claims))
        if login.acr_values and verified.acr not in login.acr_values:
            raise EidLoginFailed(
                "insufficient_acr",
                "the eID login's level of assurance is not one this credential accepts",
            )
        return verified


def _allowed_algorithms(advertised: Collection[str] | None) -> list[str]:
    if advertised is None:
        return list(ID_TOKEN_ALGORITHMS)
    return [alg for alg in ID_TOKEN_ALGORITHMS if alg in advertised]
