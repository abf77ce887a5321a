"""Testing a pagesfn app on both faces, in process.

The pytest plugin (:mod:`pagesfn.testing.plugin`, registered when pagesfn is installed)
gives the fixtures ``pages_client`` and ``pages_ws``; the clients are usable without
pytest too::

    from pagesfn.testing import open_client

    with open_client(app, "wsgi") as client:
        assert client.get("/api/hello").json() == {"message": "Hello, world!"}
"""

from __future__ import annotations

from .client import (
    FACES,
    ASGIClient,
    PagesClient,
    Response,
    TooManyRedirects,
    WSGIClient,
    open_client,
)
from .websocket import WebSocketClosed, WebSocketRefused, WebSocketSession

__all__ = [
    "FACES",
    "ASGIClient",
    "PagesClient",
    "Response",
    "TooManyRedirects",
    "WSGIClient",
    "WebSocketClosed",
    "WebSocketRefused",
    "WebSocketSession",
    "open_client",
]
