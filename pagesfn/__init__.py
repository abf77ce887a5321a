"""pagesfn: file-routed Python functions, served as one ASGI app and one WSGI app."""

from __future__ import annotations

from .app import Pages
from .context import Context, Server
from .errors import (
    BadRequest,
    HandlerLoadError,
    HandlerResultError,
    LoadError,
    PagesError,
    RouteDefinitionError,
    RouteWarning,
)
from .worker import FetchEvent, add_event_listener
from .wrappers import Request, Response

__version__ = "0.1.0"

__all__ = [
    "BadRequest",
    "Context",
    "FetchEvent",
    "HandlerLoadError",
    "HandlerResultError",
    "LoadError",
    "Pages",
    "PagesError",
    "Request",
    "Response",
    "RouteDefinitionError",
    "RouteWarning",
    "Server",
    "__version__",
    "add_event_listener",
]
