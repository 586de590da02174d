"""Finding out how to talk to a credential issuer the wallet has never met.

- Credential Issuer Metadata from the well-known location of the issuer identifier
  (OpenID4VCI 1.0 §12.2.2), read as ``CredentialIssuerMetadata``; its
  ``credential_issuer`` must be the identifier it was fetched for (§12.2.4);
- the authorization server: the offer's ``authorization_server`` hint only when the
  metadata lists it in ``authorization_servers`` (§4.1.1, §12.2.4), else the first one
  listed, else the issuer itself;
- its token endpoint from Authorization Server Metadata (RFC 8414 §3, OpenID Connect
  Discovery as the fallback), read as ``AuthorizationServerMetadata`` whose ``issuer``
  must be the server's identifier (RFC 8414 §3.3).

Every URL found there must be one the wallet's outbound client connects to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from msgspec import UnsetType

from core.errors import ProtocolError
from core.http.client import OutboundRefused
from core.messages import Message, convert_message
from core.oauth import AuthorizationServerMetadata
from core.oid4vci_metadata import CredentialIssuerMetadata
from wallet.domain import CounterpartyFailed, Refused
from wallet.services.issuer_client import IssuerClient, well_known

M = TypeVar("M", bound=Message)

#: Where Authorization Server Metadata is looked for, in order.
AUTHORIZATION_SERVER_SEGMENTS = ("oauth-authorization-server", "openid-configuration")


@dataclass(frozen=True, slots=True)
class DiscoveredIssuer:
    metadata: CredentialIssuerMetadata
    authorization_server: str
    token_endpoint: str
    #: The authorization server's metadata (RFC 8414), its ``issuer`` checked.
    server: AuthorizationServerMetadata

    @property
    def nonce_endpoint(self) -> str | None:
        return _present(self.metadata.nonce_endpoint)

    @property
    def notification_endpoint(self) -> str | None:
        return _present(self.metadata.notification_endpoint)


def _present(value: str | UnsetType) -> str | None:
    return None if isinstance(value, UnsetType) else value


def _read(value: object, message_type: type[M], what: str) -> M:
    try:
        return convert_message(value, message_type)
    except ProtocolError as exc:
        raise Refused(f"the {what} is malformed: {exc.description}") from None


def _reachable(client: IssuerClient, name: str, url: str | UnsetType) -> None:
    if isinstance(url, UnsetType):
        return
    try:
        client.outbound.check_url(url)
    except OutboundRefused as exc:
        raise Refused(f"{name} is not a URL the wallet connects to") from exc


async def discover_issuer(
    client: IssuerClient,
    issuer: str,
    *,
    authorization_server_hint: str | None,
    language: str | None,
) -> DiscoveredIssuer:
    metadata = _read(
        await client.get_json(
            well_known(issuer, "openid-credential-issuer"), "issuer metadata", language=language
        ),
        CredentialIssuerMetadata,
        "issuer metadata",
    )
    if metadata.credential_issuer != issuer:
        raise Refused("the issuer metadata names another issuer")
    for name in ("credential_endpoint", "nonce_endpoint", "notification_endpoint"):
        _reachable(client, name, getattr(metadata, name))
    listed = (
        []
        if isinstance(metadata.authorization_servers, UnsetType)
        else metadata.authorization_servers
    )
    if authorization_server_hint is not None:
        if authorization_server_hint not in (listed or [issuer]):
            raise Refused("the offer names an authorization server the issuer does not list")
        authorization_server = authorization_server_hint
    else:
        authorization_server = listed[0] if listed else issuer
    server = await _authorization_server(client, authorization_server)
    assert not isinstance(server.token_endpoint, UnsetType)  # _authorization_server
    return DiscoveredIssuer(metadata, authorization_server, server.token_endpoint, server)


async def _authorization_server(
    client: IssuerClient, authorization_server: str
) -> AuthorizationServerMetadata:
    """The first metadata document found, with a token endpoint; every endpoint of the
    authorization code flow it names must be one the wallet connects to."""
    for segment in AUTHORIZATION_SERVER_SEGMENTS:
        try:
            document = await client.get_json(
                well_known(authorization_server, segment), "authorization server metadata"
            )
        except CounterpartyFailed:
            continue
        metadata = _read(document, AuthorizationServerMetadata, "authorization server metadata")
        if metadata.issuer != authorization_server:
            raise Refused("the authorization server metadata names another issuer")
        if not isinstance(metadata.token_endpoint, UnsetType):
            for name in (
                "token_endpoint",
                "authorization_endpoint",
                "pushed_authorization_request_endpoint",
            ):
                _reachable(client, name, getattr(metadata, name))
            return metadata
    raise CounterpartyFailed("the issuer's token endpoint could not be discovered")
