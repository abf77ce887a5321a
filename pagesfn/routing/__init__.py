"""The pure routing core: scan a tree into a table, compile it, match paths.

Nothing here touches asyncio, WSGI or ASGI.
"""

from __future__ import annotations

from .matcher import Match, Matcher, MiddlewareMatcher, NoMatch
from .path import split_path
from .scan import scan
from .table import (
    ANY,
    METHODS,
    WEBSOCKET,
    Route,
    RouteKind,
    RouteTable,
    Segment,
    SegmentKind,
)

__all__ = [
    "ANY",
    "METHODS",
    "WEBSOCKET",
    "Match",
    "Matcher",
    "MiddlewareMatcher",
    "NoMatch",
    "Route",
    "RouteKind",
    "RouteTable",
    "Segment",
    "SegmentKind",
    "scan",
    "split_path",
]
