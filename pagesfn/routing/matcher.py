"""A segment trie compiled once from the route table.

Matching walks at most one branch per path segment and kind, so its cost depends on the
depth of the path, never on the number of routes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..errors import Problem, RouteDefinitionError
from .path import plain
from .table import Route, SegmentKind

Params = dict[str, "str | list[str]"]

_SLASH = ord("/")
# Characters a path may carry without percent-encoding (RFC 3986 pchar, less ``%``).
_VERBATIM = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")


# Not frozen, though never changed: a frozen dataclass's __init__ costs a request about
# a microsecond more (object.__setattr__ per field), and one is made for most requests.
@dataclass(slots=True)
class Match:
    route: Route
    params: Params


@dataclass(frozen=True, slots=True)
class NoMatch:
    """No route answers this method; ``allowed`` holds the methods routes of this path take.

    An empty ``allowed`` means no route matches the path at all (a 404); otherwise the
    path exists and the method does not (a 405, or the automatic answer to ``OPTIONS``).
    """

    allowed: frozenset[str]


class _Node:
    __slots__ = ("catchall", "param", "route", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.catchall: Route | None = None
        self.route: Route | None = None


class Matcher:
    """Find the route for a method and a decoded path, by the precedence rules."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._root = _Node()
        #: All-static routes by the request path as sent, for the paths that need no
        #: decoding: one lookup answers most requests.
        self.exact: dict[bytes, Route] = {}
        # Mounted apps that alone own a static prefix, by the prefix's first segment;
        # worked out on first use, since a later route can take the ownership away.
        self._mounts: dict[bytes, list[tuple[bytes, str, Route]]] | None = None
        for route in routes:
            self.add(route)

    def add(self, route: Route) -> None:
        """Add ``route``; raises :class:`RouteDefinitionError` if its shape is taken."""
        self._mounts = None
        node = self._root
        for segment in route.segments:
            if segment.kind is SegmentKind.STATIC:
                node = node.static.setdefault(segment.value, _Node())
            elif segment.kind is SegmentKind.PARAM:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                self._claim(node, "catchall", route)
                return
        self._claim(node, "route", route)
        if all(s.kind is SegmentKind.STATIC for s in route.segments):
            values = tuple(s.value for s in route.segments)
            path = "/" + "/".join(values)
            if _VERBATIM.fullmatch(path):
                self.exact[path.encode("ascii")] = route

    @staticmethod
    def _claim(node: _Node, slot: str, route: Route) -> None:
        taken: Route | None = getattr(node, slot)
        if taken is not None:
            raise RouteDefinitionError(
                [
                    Problem(
                        route.file,
                        f"`{taken.file}` and `{route.file}` both claim `{route.pattern}`",
                        "remove or rename one of them",
                    )
                ]
            )
        setattr(node, slot, route)

    def match_static(self, method: str, raw: bytes) -> tuple[Route, Params] | None:
        """The all-static route at the undecoded path ``raw`` and its (no) params, if one
        takes ``method``, as :meth:`find` gives them.

        A shortcut that needs no splitting or decoding; ``None`` means "use :meth:`find`".
        """
        route = self.exact.get(raw)
        if route is None and len(raw) > 2 and raw[-1] == _SLASH:
            route = self.exact.get(raw[:-1])  # one optional slash: never "//" for "/"
        if route is not None and route.accepts(method):
            return route, {}
        return None

    def match_mount(self, raw: bytes) -> tuple[Route, str] | None:
        """The mounted app (a catch-all route that mounts one) that owns the undecoded path
        ``raw``, and its prefix, when no other route could answer any path under it.

        A shortcut for paths that need no decoding; ``None`` means "use :meth:`match`".
        """
        mounts = self._mounts
        if mounts is None:
            mounts = self._mounts = self._owned_prefixes()
        if not mounts or not plain(raw.decode("latin-1")):
            return None  # one for split_path to decide: decoded, refused or both
        end = raw.find(b"/", 1)
        for prefix, text, route in mounts.get(raw[1:end] if end != -1 else raw[1:], ()):
            size = len(prefix)
            if raw.startswith(prefix) and (len(raw) == size or raw[size] == _SLASH):
                return route, text
        return None

    def _owned_prefixes(self) -> dict[bytes, list[tuple[bytes, str, Route]]]:
        owned: dict[bytes, list[tuple[bytes, str, Route]]] = {}
        self._collect_mounts(self._root, (), owned)
        return owned

    def _collect_mounts(
        self,
        node: _Node,
        path: tuple[str, ...],
        owned: dict[bytes, list[tuple[bytes, str, Route]]],
    ) -> None:
        # A node whose only occupant is a mounted app's catch-all: every path under its
        # (all-static) prefix reaches that app first, whatever the method.
        mount = node.catchall
        if (
            path
            and mount is not None
            and mount.mounts
            and node.route is None
            and node.param is None
            and not node.static
        ):
            prefix = "/" + "/".join(path)
            if _VERBATIM.fullmatch(prefix):
                entry = (prefix.encode(), prefix, mount)
                owned.setdefault(path[0].encode(), []).append(entry)
        for name, child in node.static.items():
            self._collect_mounts(child, (*path, name), owned)

    def match(self, method: str, segments: Sequence[str]) -> Match | NoMatch:
        """Return the best route for ``method`` at ``segments`` (from :func:`split_path`).

        When the most specific route of the path has no handler for ``method``, less
        specific routes are tried in turn.
        """
        found = self.find(method, segments)
        return NoMatch(found) if isinstance(found, frozenset) else Match(*found)

    def find(self, method: str, segments: Sequence[str]) -> tuple[Route, Params] | frozenset[str]:
        """:meth:`match` as the request pipeline takes it, with nothing made that it does
        not use: the route and its params, or the methods the path's routes take."""
        # The most specific route without backtracking (an all-static one, for a path
        # that is one): descend preferring static over param; where no child fits, the
        # catch-all of the node reached comes first in the full walk too. A dead end with
        # no catch-all needs the full walk.
        node = self._root
        for segment in segments:
            child = node.static.get(segment)
            if child is None:
                child = node.param if segment else None
                if child is None:
                    first = node.catchall
                    break
            node = child
        else:
            first = node.route or node.catchall
        # ``method in handlers`` first: the common case, without a call.
        if first is not None and (method in first.handlers or first.accepts(method)):
            return first, _params(first, segments) if first.param_slots else {}
        allowed: set[str] = set()
        for route in self.candidates(segments):
            if route.accepts(method):
                return route, _params(route, segments)
            allowed.update(route.handlers)
        return frozenset(allowed)

    def candidates(self, segments: Sequence[str]) -> Iterator[Route]:
        """Every route matching ``segments``, most specific first."""
        return _walk(self._root, segments, 0)


def _walk(node: _Node, segments: Sequence[str], index: int) -> Iterator[Route]:
    if index == len(segments):
        if node.route is not None:
            yield node.route
    else:
        segment = segments[index]
        child = node.static.get(segment)
        if child is not None:
            yield from _walk(child, segments, index + 1)
        if node.param is not None and segment:
            yield from _walk(node.param, segments, index + 1)
    if node.catchall is not None:
        yield node.catchall


def _params(route: Route, segments: Sequence[str]) -> Params:
    # A loop, not a comprehension: this runs per request, and a comprehension is a
    # function call of its own before Python 3.12.
    params: Params = {}
    for index, name, catchall in route.param_slots:
        params[name] = list(segments[index:]) if catchall else segments[index]
    return params


class MiddlewareMatcher:
    """Find the ``_middleware.py`` files whose folder contains a path, outermost first.

    A folder contains a path when its segments are a prefix of the path's, on segment
    boundaries (``/api`` contains ``/api`` and ``/api/x``, never ``/apix``); a ``[param]``
    folder takes any one non-empty segment.
    """

    def __init__(self, middleware: Iterable[Route] = ()) -> None:
        # Routes arrive outermost first; the order is kept.
        self._items = tuple(middleware)

    def __bool__(self) -> bool:
        return bool(self._items)

    def match(self, segments: Sequence[str]) -> list[tuple[Route, Params]]:
        found = []
        depth = len(segments)
        for route in self._items:
            pattern = route.segments
            if len(pattern) > depth:
                continue
            for segment, value in zip(pattern, segments, strict=False):
                if segment.kind is SegmentKind.STATIC:
                    if segment.value != value:
                        break
                elif not value:
                    break
            else:
                found.append((route, _params(route, segments)))
        return found
