"""The checked-in OpenAPI document (``openapi/openapi.json``) rendered from the app."""

from __future__ import annotations

import json

from app.factory import create_app
from app.settings import Settings


def render_openapi(settings: Settings | None = None) -> str:
    app = create_app(settings or Settings())
    schema = app.openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
