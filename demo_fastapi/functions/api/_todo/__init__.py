"""A todo API: an ordinary FastAPI application, unaware of pagesfn.

The folder starts with ``_``, so pagesfn does not route it; ``[[default]].py`` imports the
factory and mounts the app it returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI, Request

from . import todos
from .store import TodoStore


class State(TypedDict):
    store: TodoStore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    # pagesfn runs the lifespan of mounted apps: at server start-up on the ASGI face, before
    # the first request on the WSGI face. What it yields is each request's `request.state`.
    store = TodoStore.connect(":memory:")
    try:
        yield {"store": store}
    finally:
        store.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Todo API",
        summary="A FastAPI app mounted at /api by pagesfn.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.include_router(todos.router)

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> dict[str, str]:
        # url_for builds on root_path, so these links point under the mount (/api/...).
        return {
            "docs": str(request.url_for("swagger_ui_html")),
            "openapi": str(request.url_for("openapi")),
            "todos": str(request.url_for("list_todos")),
        }

    return app
