"""The route table: plain frozen data describing which file answers which paths."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: Every method a handler can be registered for, in the order ``Allow`` lists them.
METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

#: The method key of ``on_request``: it answers any method.
ANY = "*"

#: The method key of ``on_websocket``: it answers WebSocket handshakes, which ``on_request``
#: does not.
WEBSOCKET = "WEBSOCKET"


class SegmentKind(enum.IntEnum):
    # The values are the precedence order used when matching: lower wins.
    STATIC = 0
    PARAM = 1
    CATCHALL = 2


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    value: str  # the literal text for STATIC, the parameter name otherwise

    def __str__(self) -> str:
        if self.kind is SegmentKind.PARAM:
            return f"[{self.value}]"
        if self.kind is SegmentKind.CATCHALL:
            return f"[[{self.value}]]"
        return self.value


class RouteKind(enum.Enum):
    HANDLER = "handler"
    # A catch-all file exporting a WSGI or ASGI ``app``, mounted at its folder's prefix;
    # which protocol it speaks is decided when the module is imported.
    APP = "app"
    # A folder's ``_middleware.py``: it wraps every request under the folder; its
    # segments are the folder's.
    MIDDLEWARE = "middleware"
    # A function of ``cloudbase-functions.json``: a catch-all at its route path, whose
    # target is a ``main(event, context)`` handler or an app to mount, decided on import.
    FUNCTION = "function"


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Route:
    """One routable file.

    ``handlers`` maps a method (or :data:`ANY`) to the name the module exports for it,
    read from the source without importing the module.
    """

    segments: tuple[Segment, ...]
    file: str  # path relative to the functions root, POSIX separators
    kind: RouteKind = RouteKind.HANDLER
    handlers: Mapping[str, str] = field(default_factory=dict)
    # Set when the file cannot even be parsed: the route then answers 500 with this text.
    error: str | None = None
    #: The function's name, for a route of a ``cloudbase-functions.json``.
    function: str | None = None

    # (segment index, name, is catch-all) of each parameter; derived, for fast matching.
    param_slots: tuple[tuple[int, str, bool], ...] = field(init=False, default=())
    #: What the loader keeps the route's import under: its file, and for a config
    #: function its target too (two functions may share a file). Derived.
    load_key: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "handlers", _frozen(self.handlers))
        slots = tuple(
            (index, s.value, s.kind is SegmentKind.CATCHALL)
            for index, s in enumerate(self.segments)
            if s.kind is not SegmentKind.STATIC
        )
        object.__setattr__(self, "param_slots", slots)
        key = self.file if self.function is None else f"{self.file}:{self.handlers[ANY]}"
        object.__setattr__(self, "load_key", key)

    @property
    def pattern(self) -> str:
        return "/" + "/".join(str(s) for s in self.segments)

    @property
    def methods(self) -> frozenset[str]:
        """The methods this route answers; contains :data:`ANY` when it has ``on_request``."""
        return frozenset(self.handlers)

    @property
    def mounts(self) -> bool:
        """Whether the route may mount an app (known for sure once its module is imported)."""
        return self.kind is RouteKind.APP or self.kind is RouteKind.FUNCTION

    @property
    def is_catchall(self) -> bool:
        return bool(self.segments) and self.segments[-1].kind is SegmentKind.CATCHALL

    def accepts(self, method: str) -> bool:
        handlers = self.handlers
        if method == WEBSOCKET:
            # A mounted app takes WebSockets too (or refuses them itself); a file that does
            # not parse takes everything, to report its error.
            return method in handlers or self.kind is RouteKind.APP or self.error is not None
        return method in handlers or ANY in handlers or (method == "HEAD" and "GET" in handlers)

    def allowed(self) -> tuple[str, ...]:
        """The value of an ``Allow`` header for this route alone, in a stable order."""
        return allow_header_methods(self.handlers)

    def sort_key(self) -> tuple[tuple[int, str], ...]:
        # Precedence order: segment by segment, static before param before catch-all,
        # and a shorter route (the folder itself) before a catch-all matching nothing.
        return tuple(
            (int(s.kind), s.value if s.kind is SegmentKind.STATIC else "") for s in self.segments
        )


def allow_header_methods(methods: Iterable[str]) -> tuple[str, ...]:
    present = set(methods)
    if ANY in present:
        return METHODS
    if "GET" in present:
        present.add("HEAD")
    present.add("OPTIONS")
    return tuple(m for m in METHODS if m in present)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The result of scanning a functions tree: routes in precedence order, plus warnings."""

    root: str
    routes: tuple[Route, ...]
    warnings: tuple[str, ...] = ()
    #: ``_middleware.py`` files, outermost folder first.
    middleware: tuple[Route, ...] = ()
    #: ``_worker.py`` (relative to the root) when the tree has one: it answers everything.
    worker: str | None = None

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)
