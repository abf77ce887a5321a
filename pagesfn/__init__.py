"""pagesfn: file-routed Python functions, served as one ASGI app and one WSGI app."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    BadRequest,
    BodyTimedOut,
    BodyTooLarge,
    HandlerLoadError,
    HandlerResultError,
    LoadError,
    Overloaded,
    PagesError,
    RequestRefused,
    RequestTimedOut,
    RouteDefinitionError,
    RouteWarning,
)

if TYPE_CHECKING:
    from .app import Pages
    from .cloudbase import FunctionContext, HttpContext
    from .context import Context, Server
    from .limits import Limits
    from .server import run
    from .sse import EventStream, ServerSentEvent
    from .websocket import SyncWebSocket, WebSocket, WebSocketDisconnect, WebSocketState
    from .worker import FetchEvent, add_event_listener
    from .wrappers import Request, Response

__version__ = "0.1.0"

# Imported on first use: the command line starts faster when it only needs to read a tree.
_LAZY = {
    "Pages": ".app",
    "Context": ".context",
    "FunctionContext": ".cloudbase",
    "HttpContext": ".cloudbase",
    "Server": ".context",
    "Limits": ".limits",
    "run": ".server",
    "FetchEvent": ".worker",
    "add_event_listener": ".worker",
    "Request": ".wrappers",
    "Response": ".wrappers",
    "EventStream": ".sse",
    "ServerSentEvent": ".sse",
    "SyncWebSocket": ".websocket",
    "WebSocket": ".websocket",
    "WebSocketDisconnect": ".websocket",
    "WebSocketState": ".websocket",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pagesfn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BadRequest",
    "BodyTimedOut",
    "BodyTooLarge",
    "Context",
    "EventStream",
    "FetchEvent",
    "FunctionContext",
    "HandlerLoadError",
    "HandlerResultError",
    "HttpContext",
    "Limits",
    "LoadError",
    "Overloaded",
    "Pages",
    "PagesError",
    "Request",
    "RequestRefused",
    "RequestTimedOut",
    "Response",
    "RouteDefinitionError",
    "RouteWarning",
    "Server",
    "ServerSentEvent",
    "SyncWebSocket",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "__version__",
    "add_event_listener",
    "run",
]
