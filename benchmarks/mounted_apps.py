"""The framework apps of the ``mounts`` benchmark, as a user of each would write them.

Factories rather than module-level apps, so importing the suite builds nothing: the
generated route files and server modules of :mod:`benchmarks.mounts` call them, and so do
its in-process peers.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from a2wsgi import WSGIMiddleware
from asgiref.wsgi import WsgiToAsgi
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.routing import Mount

from pagesfn.types import ASGIApp, Receive, Scope, Send

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


def starlette_asgiref() -> Starlette:
    """:func:`flask_app` mounted at ``/flask`` by Starlette through asgiref's
    ``WsgiToAsgi`` (each request in a fresh context: see :func:`in_fresh_context`).

    It starts no thread of its own: each request runs on the one thread of asgiref's
    process-wide ``SyncToAsync.single_thread_executor`` (``sync_to_async``'s
    thread-sensitive default), so requests run one at a time, each message sent back to
    the event loop from there; that executor belongs to asgiref and is not shut down."""
    # asgiref annotates its sync module, not its wsgi one.
    wrapped = WsgiToAsgi(flask_app())  # type: ignore[no-untyped-call]
    return Starlette(routes=[Mount("/flask", app=in_fresh_context(wrapped))])


def in_fresh_context(app: ASGIApp) -> ASGIApp:
    """``app`` with each request run as a task of an empty ``contextvars`` context.

    Works around an asgiref bug (3.9 onwards; django/asgiref#491 and #526): ``WsgiToAsgi``
    sends each message from its thread through ``AsyncToSync``, so the server's ``send``
    runs in a context holding that thread's ``CurrentThreadExecutor``. uvicorn (h11)
    starts a keep-alive connection's next request from within the last ``send`` when the
    request is already buffered; its task inherits that context, and its
    ``sync_to_async`` fails on the executor, long quit: a 500 ("CurrentThreadExecutor
    already quit or is broken") for a good part of the requests of any wrk run. The cost,
    one task more per request, is counted in this peer's figures."""

    async def fresh(scope: Scope, receive: Receive, send: Send) -> None:
        await contextvars.Context().run(asyncio.ensure_future, app(scope, receive, send))

    return fresh


def starlette_fastapi() -> Starlette:
    """:func:`fastapi_app` mounted at ``/api`` by Starlette: what a mount under a prefix
    costs a FastAPI app whoever mounts it (its routes then strip ``root_path``)."""
    return Starlette(routes=[Mount("/api", app=fastapi_app())])
