"""The API's documentation pages, served by the service itself (issue #16 "Newcomer").

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their scripts and styles from
``/docs-static``: the files of the ``fastapi-offline`` distribution (pyproject), never a
CDN, so they work in the zone's offline network. The OpenAPI document declares the bearer
scheme every ``/api/v1`` operation takes (docs/security.md: an API key or a JWT in
``Authorization: Bearer``), so Swagger UI shows its 认证/Authorize button.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_PATH: Final = "/docs-static"
SCHEME: Final = "bearerAuth"


def install_docs(app: FastAPI, api_prefix: str) -> None:
    """Serve /docs, /redoc and their assets; add the bearer scheme to the OpenAPI."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-static")
    # The pages are module functions reading ``request.app``, not closures over ``app``:
    # FastAPI keeps process-wide caches keyed by endpoint function, so a closure per app
    # would keep every app a process ever built alive (a test process builds hundreds).
    app.get("/docs", include_in_schema=False)(swagger_ui)
    app.get("/redoc", include_in_schema=False)(redoc)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_bearer(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                ),
                api_prefix,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def swagger_ui(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )


def redoc(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    return get_redoc_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )


def with_bearer(schema: dict[str, Any], api_prefix: str) -> dict[str, Any]:
    """``schema`` with the bearer scheme, required by every operation under ``api_prefix``."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key (`glk_…`, `govledger keys create`) or the district's JWT",
    }
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(api_prefix):
            continue
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.setdefault("security", [{SCHEME: []}])
    return schema
