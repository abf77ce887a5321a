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
from .wrappers import Request, Response

__version__ = "0.1.0"

__all__ = [
    "BadRequest",
    "Context",
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
]
