"""Turn a functions folder into a route table, reading sources but importing nothing."""

from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass, field

from ..errors import Problem, RouteDefinitionError
from .exports import APP_NAMES, HANDLER_NAMES, ModuleExports, handler_names, read_exports
from .table import ANY, WEBSOCKET, Route, RouteKind, RouteTable, Segment, SegmentKind

_PARAM = re.compile(r"\[([^\[\]]*)\]")
_CATCHALL = re.compile(r"\[\[([^\[\]]*)\]\]")
_SUFFIX = ".py"
#: Names the router reads past (helpers beside routes, dot folders); ``_middleware.py``
#: and ``_worker.py`` are taken before this rule.
UNROUTED_PREFIXES = ("_", ".")
_MIDDLEWARE = "_middleware.py"
_WORKER = "_worker.py"


@dataclass
class _Scan:
    root: str
    routes: list[Route] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)
    middleware: list[Route] = field(default_factory=list)
    worker: str | None = None


def scan(root: str | os.PathLike[str]) -> RouteTable:
    """Scan ``root`` and return its route table.

    Raises :class:`RouteDefinitionError` listing every problem found in the tree.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise RouteDefinitionError(
            [Problem(root, "the functions folder does not exist", "create it or pass its path")]
        )
    state = _Scan(root)
    _walk(state, root, (), "")
    _check_conflicts(state)
    if state.problems:
        raise RouteDefinitionError(state.problems)
    routes = sorted(state.routes, key=Route.sort_key)
    middleware = sorted(state.middleware, key=lambda r: (len(r.segments), r.sort_key()))
    if state.worker is not None and (routes or middleware):
        ignored = ", ".join(f"`{r.file}`" for r in (*middleware, *routes)[:5])
        more = "..." if len(routes) + len(middleware) > 5 else ""
        state.warnings.append(
            f"{state.worker} answers every request, so {ignored}{more} are not routed; "
            "remove `_worker.py` to route the files of the tree"
        )
    return RouteTable(root, tuple(routes), tuple(state.warnings), tuple(middleware), state.worker)


def _walk(state: _Scan, folder: str, prefix: tuple[Segment, ...], rel_folder: str) -> None:
    real = os.path.realpath(folder)
    if real in state.visited:  # a symlink loop
        return
    state.visited.add(real)
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda e: e.name)
    for entry in ordered:
        rel = rel_folder + entry.name  # the path from the root, with POSIX separators
        if entry.name == _MIDDLEWARE and entry.is_file():
            _add_middleware(state, entry.path, rel, prefix)
            continue
        if entry.name == _WORKER and entry.is_file():
            if prefix:
                state.warnings.append(
                    f"{rel}: `{_WORKER}` only takes effect at the root of the functions "
                    "folder; not routed"
                )
            else:
                state.worker = rel
            continue
        if entry.name.startswith(UNROUTED_PREFIXES):
            continue
        if entry.is_dir():
            segment = _parse_name(state, entry.name, rel, is_file=False)
            if segment is not None:
                _walk(state, entry.path, (*prefix, segment), rel + "/")
        elif entry.name.endswith(_SUFFIX) and entry.is_file():
            stem = entry.name[: -len(_SUFFIX)]
            if stem == "index":
                segments = prefix
            else:
                segment = _parse_name(state, stem, rel, is_file=True)
                if segment is None:
                    continue
                segments = (*prefix, segment)
            _add_route(state, entry.path, rel, segments)


def _identifier_fix(name: str) -> str:
    fixed = re.sub(r"\W", "_", name) or "param"
    if fixed[0].isdigit() or keyword.iskeyword(fixed):
        fixed = "_" + fixed
    return fixed


def _parse_name(state: _Scan, name: str, rel: str, *, is_file: bool) -> Segment | None:
    if "[" not in name and "]" not in name:
        return Segment(SegmentKind.STATIC, name)
    if match := _CATCHALL.fullmatch(name):
        kind = SegmentKind.CATCHALL
        if not is_file:
            state.problems.append(
                Problem(
                    rel,
                    f"a catch-all `{name}` must be a file, since it swallows every deeper path",
                    f"rename the folder `[{match[1]}]` or move its files up into `{name}.py`",
                )
            )
            return None
    elif match := _PARAM.fullmatch(name):
        kind = SegmentKind.PARAM
    else:
        state.problems.append(
            Problem(
                rel,
                f"`{name}` mixes brackets with other text; brackets must wrap the whole name",
                "use `[name]` for one segment or `[[name]]` for any number of segments",
            )
        )
        return None
    param = match[1]
    if not param.isidentifier() or keyword.iskeyword(param):
        brackets = "[[{}]]" if kind is SegmentKind.CATCHALL else "[{}]"
        state.problems.append(
            Problem(
                rel,
                f"route parameter `{param}` must be a Python identifier",
                f"rename it `{brackets.format(_identifier_fix(param))}`",
            )
        )
        return None
    return Segment(kind, param)


def _add_route(state: _Scan, path: str, rel: str, segments: tuple[Segment, ...]) -> None:
    seen: set[str] = set()
    for segment in segments:
        if segment.kind is SegmentKind.STATIC:
            continue
        if segment.value in seen:
            state.problems.append(
                Problem(
                    rel,
                    f"route parameter `{segment.value}` appears twice in one path",
                    "give each parameter of the path its own name",
                )
            )
            return
        seen.add(segment.value)

    try:
        exports = _read(path)
    except SyntaxError as exc:
        # A broken file keeps its place in the table; it answers 500 with the error until
        # it is fixed, so one typo never takes the rest of the tree down.
        state.routes.append(Route(segments, rel, handlers={ANY: ""}, error=_syntax_error(exc)))
        return

    handlers, doubled = handler_names(exports.names)
    app_name = next((name for name in APP_NAMES if name in exports.names), None)
    catchall = bool(segments) and segments[-1].kind is SegmentKind.CATCHALL
    for snake, camel in doubled:
        state.problems.append(
            Problem(rel, f"exports both `{snake}` and `{camel}`", "keep one spelling")
        )
    if exports.star_import:
        state.warnings.append(
            f"{rel}: `from ... import *` is not followed when reading handler names; "
            "import handlers by name"
        )
    if app_name is not None and catchall:
        if handlers:
            names = ", ".join(f"`{name}`" for name in handlers.values())
            state.problems.append(
                Problem(
                    rel,
                    f"exports both an app (`{app_name}`) and handlers ({names})",
                    "keep one: a mounted app answers every request under its folder",
                )
            )
            return
        state.routes.append(Route(segments, rel, RouteKind.APP, {ANY: app_name}))
        return
    if app_name is not None and not handlers:
        state.problems.append(
            Problem(
                rel,
                f"exports `{app_name}`, but only a catch-all file can mount an app",
                f"rename it `{_mount_file(rel)}`",
            )
        )
        return
    if not handlers:
        known = ", ".join(HANDLER_NAMES)
        state.warnings.append(f"{rel}: exports no handler ({known}); not routed")
        return
    state.routes.append(Route(segments, rel, handlers=handlers))


def _read(path: str) -> ModuleExports:
    with open(path, "rb") as source:
        return read_exports(source.read(), path)


def _syntax_error(exc: SyntaxError) -> str:
    where = f"line {exc.lineno}" if exc.lineno else "unknown line"
    return f"syntax error at {where}: {exc.msg}"


def _add_middleware(state: _Scan, path: str, rel: str, folder: tuple[Segment, ...]) -> None:
    try:
        exports = _read(path)
    except SyntaxError as exc:
        # As for a route: every request under the folder answers 500 until it is fixed.
        error = _syntax_error(exc)
        state.middleware.append(Route(folder, rel, RouteKind.MIDDLEWARE, {ANY: ""}, error=error))
        return
    handlers, doubled = handler_names(exports.names)
    for snake, camel in doubled:
        state.problems.append(
            Problem(rel, f"exports both `{snake}` and `{camel}`", "keep one spelling")
        )
    if WEBSOCKET in handlers:
        state.problems.append(
            Problem(
                rel,
                f"exports `{handlers.pop(WEBSOCKET)}`, which only a route file can",
                "middleware sees a WebSocket handshake as a GET request: handle it in "
                "`on_request` or `on_request_get`",
            )
        )
    if not handlers:
        known = ", ".join(HANDLER_NAMES)
        state.warnings.append(f"{rel}: exports no handler ({known}); it wraps nothing")
        return
    state.middleware.append(Route(folder, rel, RouteKind.MIDDLEWARE, handlers))


def _mount_file(rel: str) -> str:
    # Where the same app would be mounted at the same prefix: `flask.py` and
    # `flask/index.py` both become `flask/[[default]].py`.
    stem = rel.removesuffix(_SUFFIX)
    if stem == "index" or stem.endswith("/index"):
        stem = stem.removesuffix("index").rstrip("/")
    return f"{stem}/[[default]].py" if stem else "[[default]].py"


def _shape(route: Route) -> tuple[tuple[int, str], ...]:
    # Two routes with the same shape answer exactly the same paths.
    return route.sort_key()


def _check_conflicts(state: _Scan) -> None:
    by_shape: dict[tuple[tuple[int, str], ...], list[Route]] = {}
    for route in state.routes:
        by_shape.setdefault(_shape(route), []).append(route)
    for routes in by_shape.values():
        if len(routes) > 1:
            files = " and ".join(f"`{r.file}`" for r in routes)
            pair = len(routes) == 2
            claim = "both claim" if pair else "all claim"
            fix = "remove or rename one of them" if pair else "remove or rename all but one"
            state.problems.append(
                Problem(
                    routes[0].file,
                    f"{files} {claim} the route `{routes[0].pattern}`",
                    fix,
                )
            )
