"""The metadata every agency publishes, as a stranger's wallet reads it."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import struct
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
from cryptography import x509
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.jose.jwk import public_key_from_jwk
from core.jose.jws import verify_compact
from core.keys.x509 import leaf_public_key, san_uris, validate_x5c
from core.oauth import AuthorizationServerMetadata
from core.oid4vci_metadata import CredentialIssuerMetadata
from core.sdjwt_vc.issuer_keys import JwtVcIssuerMetadata, jwt_vc_issuer_metadata_url
from core.sdjwt_vc.type_metadata import TypeMetadata, parse_type_metadata
from tests.issuers.conftest import PUBLIC_BASE_URL

ISSUER = f"{PUBLIC_BASE_URL}/issuers/civil-registry"


def _anchor(client: TestClient[Any]) -> x509.Certificate:
    certificate: x509.Certificate = client.app.state.deployment.trust_anchor.certificate
    return certificate


def test_credential_issuer_metadata(client: TestClient[Any]) -> None:
    response = client.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["credential_issuer"] == ISSUER
    assert metadata["credential_endpoint"] == f"{ISSUER}/credential"
    assert metadata["nonce_endpoint"] == f"{ISSUER}/nonce"
    assert metadata["notification_endpoint"] == f"{ISSUER}/notification"
    assert metadata["batch_credential_issuance"]["batch_size"] >= 2
    config = metadata["credential_configurations_supported"]["national_id"]
    assert config["format"] == "dc+sd-jwt"
    assert config["vct"] == f"{ISSUER}/types/national_id"
    assert config["cryptographic_binding_methods_supported"] == ["jwk"]
    # a key attestation of any level (§12.2.4: an empty object), in a jwt proof's header
    # or as the proof itself (Appendix F.3)
    assert config["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["ES256"], "key_attestations_required": {}},
        "attestation": {
            "proof_signing_alg_values_supported": ["ES256"],
            "key_attestations_required": {},
        },
    }
    paths = [c["path"] for c in config["credential_metadata"]["claims"]]
    assert ["address", "locality"] in paths and ["age_over_18"] in paths
    assert {d["locale"] for d in metadata["display"]} == {"en", "de", "fr"}


def test_accept_language_narrows_the_display_texts(client: TestClient[Any]) -> None:
    response = client.get(
        "/.well-known/openid-credential-issuer/issuers/civil-registry",
        headers={"Accept-Language": "de-DE, de;q=0.9, en;q=0.5"},
    )
    metadata = response.json()
    assert set(response.headers["content-language"].split(", ")) == {"de", "en"}
    assert [d["name"] for d in metadata["display"]] == ["Civil Registry", "Standesamt"]
    config = metadata["credential_configurations_supported"]["national_id"]
    given = next(c for c in config["credential_metadata"]["claims"] if c["path"] == ["given_name"])
    assert {label["locale"] for label in given["display"]} == {"en", "de"}


def test_signed_metadata_validates_to_the_trust_anchor(client: TestClient[Any]) -> None:
    response = client.get(
        "/.well-known/openid-credential-issuer/issuers/transport-agency",
        headers={"Accept": "application/jwt"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwt")
    token = response.text
    header = verify_compact(
        token,
        lambda h: leaf_public_key(
            validate_x5c(h["x5c"], [_anchor(client)], at=dt.datetime.now(dt.UTC))
        ),
        algorithms={"ES256"},
        typ="openidvci-issuer-metadata+jwt",
    )
    assert header.payload["sub"] == f"{PUBLIC_BASE_URL}/issuers/transport-agency"
    assert "driving_licence" in header.payload["credential_configurations_supported"]
    leaf = validate_x5c(header.header["x5c"], [_anchor(client)], at=dt.datetime.now(dt.UTC))
    assert san_uris(leaf) == [f"{PUBLIC_BASE_URL}/issuers/transport-agency"]


def test_json_is_served_when_json_is_preferred(client: TestClient[Any]) -> None:
    response = client.get(
        "/.well-known/openid-credential-issuer/issuers/civil-registry",
        headers={"Accept": "application/json, application/jwt"},
    )
    assert response.headers["content-type"].startswith("application/json")


def test_authorization_server_metadata(client: TestClient[Any]) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server/issuers/civil-registry").json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/token"
    assert metadata["pre-authorized_grant_anonymous_access_supported"] is True
    assert (
        "urn:ietf:params:oauth:grant-type:pre-authorized_code" in metadata["grant_types_supported"]
    )


def test_jwt_vc_issuer_metadata_lists_the_signing_key(client: TestClient[Any]) -> None:
    url = jwt_vc_issuer_metadata_url(ISSUER)
    assert url == f"{PUBLIC_BASE_URL}/.well-known/jwt-vc-issuer/issuers/civil-registry"
    metadata = client.get(urlsplit(url).path).json()
    assert metadata["issuer"] == ISSUER
    keys = metadata["jwks"]["keys"]
    assert keys and all("d" not in k for k in keys)
    signed = client.get(
        "/.well-known/openid-credential-issuer/issuers/civil-registry",
        headers={"Accept": "application/jwt"},
    ).text
    kid = verify_compact(
        signed,
        lambda h: public_key_from_jwk(
            {
                k: v
                for k, v in next(j for j in keys if j["kid"] == h["kid"]).items()
                if k not in ("kid", "use")
            }
        ),
        algorithms={"ES256"},
        typ="openidvci-issuer-metadata+jwt",
    ).header["kid"]
    assert kid in {k["kid"] for k in keys}


def test_type_metadata_is_served_at_the_vct_url(client: TestClient[Any]) -> None:
    metadata = client.get("/.well-known/openid-credential-issuer/issuers/transport-agency").json()
    vct = metadata["credential_configurations_supported"]["driving_licence"]["vct"]
    document = client.get(urlsplit(vct).path).json()
    type_metadata = parse_type_metadata(document, expected_vct=vct)
    assert type_metadata.display_for(["de"]).name == "Führerschein"  # type: ignore[union-attr]
    element = type_metadata.claim(["driving_privileges", None])
    assert element is not None and element.sd == "always"
    inner = type_metadata.claim(["driving_privileges", None, "expiry_date"])
    assert inner is not None and inner.sd == "never"


def test_unknown_agency_or_type_is_404(client: TestClient[Any]) -> None:
    for path in [
        "/.well-known/openid-credential-issuer/issuers/nope",
        "/.well-known/oauth-authorization-server/issuers/nope",
        "/.well-known/jwt-vc-issuer/issuers/nope",
        "/issuers/civil-registry/types/nope",
        "/issuers/nope/types/national_id",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "invalid_request"


AGENCIES = {"civil-registry": "national_id", "transport-agency": "driving_licence"}
DEVELOPMENT_BASE_URL = "http://127.0.0.1:8000"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height of a well-formed PNG: signature, IHDR first, every chunk's CRC, the
    image data inflating to exactly its rows (palette depth 1-8 or 8-bit colour), IEND last."""
    assert data.startswith(PNG_SIGNATURE)
    position, chunks, idat = len(PNG_SIGNATURE), [], b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append(kind)
        if kind == b"IDAT":
            idat += body
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        position += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row_bytes = (width * channels * depth + 7) // 8
    assert len(zlib.decompress(idat)) == height * (1 + row_bytes)
    return width, height


def _logos(client: TestClient[Any], issuer_id: str) -> list[dict[str, str]]:
    """Every logo of an agency: its own, its credentials', and those of their Type Metadata."""
    metadata = client.get(f"/.well-known/openid-credential-issuer/issuers/{issuer_id}").json()
    config = metadata["credential_configurations_supported"][AGENCIES[issuer_id]]
    displays = [*metadata["display"], *config["credential_metadata"]["display"]]
    logos = [d["logo"] for d in displays]
    type_metadata = client.get(urlsplit(config["vct"]).path).json()
    logos += [d["rendering"]["simple"]["logo"] for d in type_metadata["display"]]
    assert len(logos) == 9  # three locales each
    assert all(logo["alt_text"] for logo in logos)
    return logos


@pytest.fixture
def development_client(settings: Settings) -> Iterator[TestClient[Any]]:
    """The app as ``make run`` serves it: on plain http, where no wallet fetches images."""
    development = dataclasses.replace(settings, public_base_url=DEVELOPMENT_BASE_URL)
    with TestClient(app=create_app(development), base_url=DEVELOPMENT_BASE_URL) as client:
        yield client


def test_logos_are_png_data_urls_in_development(development_client: TestClient[Any]) -> None:
    for issuer_id in AGENCIES:
        for logo in _logos(development_client, issuer_id):
            prefix, _, encoded = logo["uri"].partition(",")
            assert prefix == "data:image/png;base64"
            assert png_dimensions(base64.b64decode(encoded, validate=True)) == (96, 96)
            assert "uri#integrity" not in logo  # the data is in the URL


def test_logos_are_https_urls_the_agency_serves(client: TestClient[Any]) -> None:
    for issuer_id in AGENCIES:
        logos = _logos(client, issuer_id)
        uris = {logo["uri"] for logo in logos}
        assert uris == {f"{PUBLIC_BASE_URL}/issuers/{issuer_id}/images/{issuer_id}.png"}
        response = client.get(urlsplit(uris.pop()).path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert response.headers["cache-control"] == "public, max-age=86400"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert png_dimensions(response.content) == (96, 96)
        digest = base64.b64encode(hashlib.sha256(response.content).digest()).decode()
        integrity = {logo["uri#integrity"] for logo in logos if "uri#integrity" in logo}
        assert integrity == {f"sha256-{digest}"}  # the three of the Type Metadata
        assert response.headers["etag"] == f'"sha256-{digest}"'
        again = client.get(
            urlsplit(logos[0]["uri"]).path, headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == response.headers["etag"]


def test_only_the_agencys_own_images_are_served(client: TestClient[Any]) -> None:
    for path in [
        "/issuers/civil-registry/images/nope.png",
        "/issuers/civil-registry/images/transport-agency.png",
        "/issuers/civil-registry/images/..%2Fcivil-registry.json",
        "/issuers/nope/images/civil-registry.png",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("path", "message_type"),
    [
        ("/.well-known/openid-credential-issuer/issuers/civil-registry", CredentialIssuerMetadata),
        (
            "/.well-known/oauth-authorization-server/issuers/civil-registry",
            AuthorizationServerMetadata,
        ),
        ("/.well-known/jwt-vc-issuer/issuers/civil-registry", JwtVcIssuerMetadata),
        ("/issuers/civil-registry/types/national_id", TypeMetadata),
    ],
    ids=["credential-issuer", "authorization-server", "jwt-vc-issuer", "type"],
)
def test_every_metadata_document_is_its_typed_message_exactly(
    client: TestClient[Any], path: str, message_type: type[msgspec.Struct]
) -> None:
    """What an agency publishes is built from the messages wallets read it with: each
    document reads strictly as its message and writes back member for member."""
    served = client.get(path).json()
    read = msgspec.convert(served, message_type, strict=True)
    assert msgspec.to_builtins(read) == served
