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
    from .engine.cloudbase import FunctionContext, HttpContext
    from .engine.context import Context, Server
    from .engine.limits import Limits
    from .engine.websocket import SyncWebSocket, WebSocket, WebSocketDisconnect, WebSocketState
    from .engine.worker import FetchEvent, add_event_listener
    from .http.sse import EventStream, ServerSentEvent
    from .http.wrappers import Request, Response
    from .serving.server import run

__version__ = "0.1.0"

# Imported on first use: the command line starts faster when it only needs to read a tree.
_LAZY = {
    "Pages": ".app",
    "Context": ".engine.context",
    "FunctionContext": ".engine.cloudbase",
    "HttpContext": ".engine.cloudbase",
    "Server": ".engine.context",
    "Limits": ".engine.limits",
    "run": ".serving.server",
    "FetchEvent": ".engine.worker",
    "add_event_listener": ".engine.worker",
    "Request": ".http.wrappers",
    "Response": ".http.wrappers",
    "EventStream": ".http.sse",
    "ServerSentEvent": ".http.sse",
    "SyncWebSocket": ".engine.websocket",
    "WebSocket": ".engine.websocket",
    "WebSocketDisconnect": ".engine.websocket",
    "WebSocketState": ".engine.websocket",
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
