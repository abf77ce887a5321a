"""The OpenAPI document an app publishes about itself, asked the way its framework answers:
FastAPI's ``app.openapi()``, Litestar's ``app.openapi_schema``. Other apps publish none that
pagesfn can ask for; the tree's document lists them as mounted without a schema."""

from __future__ import annotations

from typing import Any


def published_openapi(app: Any) -> dict[str, Any] | None:
    """The OpenAPI document ``app`` gives of itself (its paths relative to its own root), or
    ``None`` when it publishes none pagesfn knows how to ask for."""
    build = getattr(app, "openapi", None)
    if callable(build) and not isinstance(app, type):
        schema = build()  # FastAPI: built once, then cached on the app
        if isinstance(schema, dict) and "paths" in schema:
            return schema
    litestar = getattr(app, "openapi_schema", None)
    to_schema = getattr(litestar, "to_schema", None)
    if callable(to_schema):
        schema = to_schema()
        if isinstance(schema, dict) and "paths" in schema:
            return schema
    return None
