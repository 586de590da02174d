"""The API documentation page (``/schema``): Swagger UI from a pinned, packaged copy of its
distribution (the ``swagger-ui-bundle-v2`` package), served by the deployment itself. The
page works on a machine without the internet, and no third party learns who reads it.

Swagger UI's files are served at ``{docs}/assets/{swagger-ui version}/{name}``, cached for a
year: a new Swagger UI comes with a new version in its URLs. The page has no inline script
or style, so it is served under the screens' Content Security Policy (``web.pages``); it is
started by ``api-docs.js``, one of the screens' assets, which reads the address of the
OpenAPI document from the page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from swagger_ui_bundle import swagger_ui_path

from web.pages import PAGE_HEADERS, asset_url

SWAGGER_UI = Path(swagger_ui_path)
SWAGGER_UI_VERSION = SWAGGER_UI.name.removeprefix("swagger-ui-")
#: the files of the distribution the page loads, with their media types (text is sent
#: as UTF-8, which the framework adds)
SWAGGER_UI_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


@get(
    "/assets/{version:str}/{name:str}",
    include_in_schema=False,
    name="swagger-ui-asset",
)
async def swagger_ui_asset(version: FromPath[str], name: FromPath[str]) -> File:
    """One file of the packaged Swagger UI distribution."""
    if version != SWAGGER_UI_VERSION or name not in SWAGGER_UI_FILES:
        raise NotFoundException("no such asset")
    return File(
        path=SWAGGER_UI / name,
        filename=name,
        media_type=SWAGGER_UI_FILES[name],
        content_disposition_type="inline",
        headers=ASSET_HEADERS,
    )


def docs_router(path: str) -> Router:
    """The router of the documentation (page, document, Swagger UI's files): the screens'
    security headers on everything it answers; the files replace ``Cache-Control``."""
    return Router(
        path,
        route_handlers=[],
        include_in_schema=False,
        dto=None,
        return_dto=None,
        response_headers=PAGE_HEADERS,
    )


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI on this deployment's own copy. Unlike the framework's Swagger plugin it
    writes no inline script (the start-up code and the document's address are not in the
    page) and no OAuth2 redirect page, which this API, with bearer keys only, never needs."""

    def __init__(self, *, docs_path: str, path: str = "/") -> None:
        assets = f"{docs_path.rstrip('/')}/assets/{SWAGGER_UI_VERSION}"
        self.js_url = f"{assets}/swagger-ui-bundle.js"
        self.css_url = f"{assets}/swagger-ui.css"
        super().__init__(
            path=path,
            favicon=f'<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">',
            style="",  # an inline <style> is refused by the policy; Swagger UI's CSS suffices
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(f"{openapi_schema['info']['title']} API documentation")
        document = html.escape(self.get_openapi_json_route(request))
        return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  {self.favicon}
  <link rel="stylesheet" href="{self.css_url}">
  <script src="{self.js_url}" defer></script>
  <script type="module" src="{asset_url("api-docs.js")}"></script>
</head>
<body>
  <main id="swagger-ui" data-openapi-url="{document}"></main>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        router.register(swagger_ui_asset)
