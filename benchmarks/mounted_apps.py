"""The framework apps of the ``mounts`` benchmark, as a user of each would write them.

Factories rather than module-level apps, so importing the suite builds nothing: the
generated route files and server modules of :mod:`benchmarks.mounts` call them, and so do
its in-process peers.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.routing import Mount

HELLO = "Hello, world!"
# What ``fastapi_app`` answers, as FastAPI serialises ``{"message": HELLO}``.
HELLO_JSON = b'{"message":"Hello, world!"}'


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/hello")
    def hello() -> str:
        return HELLO

    return app


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, Any]:
        return {"message": HELLO}

    return app


def starlette_a2wsgi(middleware: WSGIMiddleware | None = None) -> Starlette:
    """:func:`flask_app` mounted at ``/flask`` the usual Starlette way, through a2wsgi
    (``middleware``, when given, wraps the Flask app)."""
    # a2wsgi types WSGI and ASGI with its own TypedDicts, which Flask's and Starlette's
    # annotations do not match; the objects are what each side expects.
    if middleware is None:
        middleware = WSGIMiddleware(flask_app())  # type: ignore[arg-type]
    return Starlette(routes=[Mount("/flask", app=middleware)])  # type: ignore[arg-type]


def starlette_fastapi() -> Starlette:
    """:func:`fastapi_app` mounted at ``/api`` by Starlette: what a mount under a prefix
    costs a FastAPI app whoever mounts it (its routes then strip ``root_path``)."""
    return Starlette(routes=[Mount("/api", app=fastapi_app())])
