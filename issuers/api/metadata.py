"""Wallet-facing metadata endpoints of every agency (OpenID4VCI 1.0 §12.2.2 and §12.3,
SD-JWT VC §4 and §5), and the images its display data names (its logos, SD-JWT VC §3:
plain HTTP caching, so wallets fetch them once). The well-known segment goes before the
agency's path."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from core.language import parse_accept_language
from core.oauth import AuthorizationServerMetadata
from core.oid4vci_metadata import CredentialIssuerMetadata
from core.sdjwt_vc.issuer_keys import JwtVcIssuerMetadata
from core.sdjwt_vc.type_metadata import TypeMetadata
from issuers.api.requests import ISSUER_CONTEXT, etag_matches, known_agency
from issuers.domain import SD_JWT_VC_FORMAT
from issuers.services.context import IssuerContext, UnknownAgency, UnknownConfiguration
from issuers.services.metadata import (
    agency_image,
    authorization_server_metadata,
    credential_issuer_metadata,
    jwt_vc_issuer_metadata,
    signed_credential_issuer_metadata,
    type_metadata,
)

METADATA_CACHE = "public, max-age=300"
IMAGE_CACHE = "public, max-age=86400"


def _wants_jwt(accept: str | None) -> bool:
    if not accept:
        return False
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if "application/jwt" not in types:
        return False
    return "application/json" not in types or types.index("application/jwt") < types.index(
        "application/json"
    )


class IssuerMetadataController(Controller):
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT
    opt = {"rate_limit": "metadata"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)

    @get(
        "/.well-known/openid-credential-issuer/issuers/{issuer_id:str}",
        summary="Credential Issuer Metadata (JSON, or a signed JWT for Accept: application/jwt)",
        operation_id="getCredentialIssuerMetadata",
        media_type="application/json",
        responses={
            200: ResponseSpec(
                CredentialIssuerMetadata,
                generate_examples=False,
                description="The metadata as JSON, or for Accept: application/jwt as a "
                "signed JWT (§12.2.3, media type application/jwt) whose claims are the same "
                "members with sub, iss, iat and exp",
            )
        },
    )
    async def credential_issuer(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        agency = known_agency(context, issuer_id)
        preferred = parse_accept_language(request.headers.get("accept-language"))
        request_key = (await context.keys.decrypter(issuer_id)).public_jwk()
        metadata, locales = credential_issuer_metadata(
            agency, context.public_base_url, preferred, request_key=request_key
        )
        headers = {
            "Cache-Control": METADATA_CACHE,
            "Content-Language": ", ".join(locales),
            "Vary": "Accept, Accept-Language",
        }
        if _wants_jwt(request.headers.get("accept")):
            signer = await context.keys.signer(issuer_id)
            token = signed_credential_issuer_metadata(
                metadata, signer, issued_at=int(context.clock.now())
            )
            return Response(token, media_type="application/jwt", headers=headers)
        return Response(metadata, headers=headers)

    @get(
        "/.well-known/oauth-authorization-server/issuers/{issuer_id:str}",
        summary="OAuth 2.0 Authorization Server Metadata of the agency (RFC 8414)",
        operation_id="getAuthorizationServerMetadata",
    )
    async def authorization_server(
        self, context: NamedDependency[IssuerContext], issuer_id: FromPath[str]
    ) -> Response[AuthorizationServerMetadata]:
        agency = known_agency(context, issuer_id)
        return Response(
            authorization_server_metadata(agency, context.public_base_url),
            headers={"Cache-Control": METADATA_CACHE},
        )

    @get(
        "/.well-known/jwt-vc-issuer/issuers/{issuer_id:str}",
        summary="JWT VC Issuer Metadata with the agency's keys (SD-JWT VC §4)",
        operation_id="getJwtVcIssuerMetadata",
    )
    async def jwt_vc_issuer(
        self, context: NamedDependency[IssuerContext], issuer_id: FromPath[str]
    ) -> Response[JwtVcIssuerMetadata]:
        agency = known_agency(context, issuer_id)
        jwks = await context.keys.jwks(issuer_id)
        return Response(
            jwt_vc_issuer_metadata(agency, context.public_base_url, jwks),
            headers={"Cache-Control": METADATA_CACHE},
        )

    @get(
        "/issuers/{issuer_id:str}/types/{configuration_id:str}",
        summary="SD-JWT VC Type Metadata of a credential type (served at its vct URL)",
        operation_id="getCredentialTypeMetadata",
    )
    async def credential_type(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        configuration_id: FromPath[str],
    ) -> Response[TypeMetadata]:
        try:
            agency = context.agency(issuer_id)
            config = context.configuration(issuer_id, configuration_id)
        except (UnknownAgency, UnknownConfiguration):
            raise NotFoundException("no such credential type") from None
        if config.format != SD_JWT_VC_FORMAT:  # an mdoc is typed by its docType
            raise NotFoundException("no such credential type")
        return Response(
            type_metadata(agency, context.public_base_url, config),
            headers={"Cache-Control": METADATA_CACHE},
        )

    @get(
        "/issuers/{issuer_id:str}/images/{name:str}",
        summary="An image of the agency's display data (a logo), named in its metadata",
        operation_id="getDisplayImage",
        media_type="image/png",
    )
    async def image(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        name: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[bytes]:
        image = agency_image(known_agency(context, issuer_id), name)
        if image is None:
            raise NotFoundException("no such image")
        etag = f'"{image.integrity}"'
        headers = {
            "Cache-Control": IMAGE_CACHE,
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        }
        if etag_matches(request, etag):
            return Response(b"", status_code=304, headers=headers, media_type=image.media_type)
        return Response(image.content, headers=headers, media_type=image.media_type)
