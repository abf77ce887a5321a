"""``cloudbase-functions.json``: many functions in one process, routed by a config file
instead of a folder tree, as CloudBase's functions framework has it::

    {
      "functionsRoot": ".",
      "functions": [
        {"name": "default", "directory": "."},
        {"name": "user", "directory": "user", "triggerPath": "/api/user"}
      ],
      "routes": [{"functionName": "user", "path": "/v1/user"}]
    }

Each function is a module (``source``, default ``index.py``, in ``directory`` under
``functionsRoot``) and the name it exports (``target``, default ``main``). A route path is
a prefix on whole segments: ``/api/user`` answers ``/api/user``, ``/api/user/`` and
``/api/user/profile``, never ``/api/users``; the longest route that matches wins, and
``/`` takes whatever nothing else does. ``triggerPath`` is shorthand for one route.

Every route becomes a catch-all :class:`Route` of kind ``FUNCTION`` at its path, so the
matcher's precedence (a static segment before a catch-all) is the longest match. Whether
the target is a ``main(event, context)`` function or a WSGI/ASGI app to mount is decided
when the module is imported.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..errors import Problem, RouteDefinitionError
from .exports import read_exports
from .table import ANY, WEBSOCKET, Route, RouteKind, RouteTable, Segment, SegmentKind

#: The file's name, found in a project folder that has no ``functions`` folder.
CONFIG_FILE = "cloudbase-functions.json"
DEFAULT_SOURCE = "index.py"
DEFAULT_TARGET = "main"
#: The request header whose JSON is a function's ``context.extendedContext``, by default.
EXTENDED_CONTEXT_HEADER = "X-Cloudbase-Context"
#: The name of a function that answers ``/`` when no route claims it.
DEFAULT_FUNCTION = "default"
#: The catch-all parameter of every route: the rest of the path under the route's own.
REST = "path"

_KEYS = frozenset({"$schema", "functionsRoot", "functions", "routes"})
_FUNCTION_KEYS = frozenset({"name", "directory", "source", "target", "triggerPath"})
_ROUTE_KEYS = frozenset({"functionName", "path"})


class FunctionsConfigError(RouteDefinitionError):
    """``cloudbase-functions.json`` cannot be turned into a route table."""

    code = "functions-config"
    subject = "the functions config"


@dataclass(frozen=True, slots=True)
class Function:
    """One entry of ``functions``, checked: ``file`` is relative to the functions root."""

    name: str
    file: str
    target: str


def load_functions_config(path: str | os.PathLike[str]) -> RouteTable:
    """Read the config file at ``path`` and return its route table, whose ``root`` is the
    ``functionsRoot`` folder.

    Raises :class:`FunctionsConfigError` listing every problem: invalid JSON, a missing
    function, folder, source file or target, two functions on one path (a route
    conflict).
    """
    file = os.path.abspath(os.fspath(path))
    try:
        with open(file, "rb") as source:
            data = source.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FunctionsConfigError(
            [Problem(file, f"cannot be read: {reason}", "check the path")]
        ) from None
    return parse_functions_config(data, file)


def functions_root(path: str | os.PathLike[str]) -> str:
    """The ``functionsRoot`` folder the config file at ``path`` names, read leniently (the
    file's own folder when it cannot tell): what a server reloading on changes watches."""
    file = os.path.abspath(os.fspath(path))
    base = os.path.dirname(file)
    try:
        with open(file, "rb") as source:
            root = json.loads(source.read().decode("utf-8-sig")).get("functionsRoot", ".")
    except (OSError, ValueError, AttributeError):
        return base
    return os.path.normpath(os.path.join(base, root)) if isinstance(root, str) else base


def parse_functions_config(data: str | bytes, file: str) -> RouteTable:
    """The route table of the config text ``data``; ``file`` is where it was read from
    (relative paths in it are relative to its folder)."""
    reader = _Reader(file)
    document = reader.document(data)
    root = reader.root(document)
    functions = reader.functions(document, root)
    routes = reader.routes(document, functions)
    if reader.problems:
        raise FunctionsConfigError(reader.problems)
    table = _table(reader, root, functions, routes)
    if reader.problems:
        raise FunctionsConfigError(reader.problems)
    return table


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        #: (function name, path, where) of each ``triggerPath``, checked with the routes.
        self.trigger_paths: list[tuple[str, object, str]] = []

    def problem(self, message: str, fix: str = "") -> None:
        self.problems.append(Problem(self.file, message, fix))

    def document(self, data: str | bytes) -> dict[str, object]:
        try:
            text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
            document = json.loads(text)
        except UnicodeDecodeError:
            raise FunctionsConfigError(
                [Problem(self.file, "is not UTF-8 text", "save it as UTF-8")]
            ) from None
        except json.JSONDecodeError as exc:
            hint = (
                "JSON has no comments: remove the `//` note"
                if "//" in text
                else 'write a JSON object such as {"functions": [...], "routes": [...]}'
            )
            raise FunctionsConfigError(
                [
                    Problem(
                        self.file,
                        f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                        hint,
                    )
                ]
            ) from None
        if not isinstance(document, dict):
            raise FunctionsConfigError(
                [Problem(self.file, "is not a JSON object", 'write {"functions": [...]}')]
            )
        for key in document:
            if key not in _KEYS:
                self.warnings.append(
                    f"{self.file}: unknown key `{key}` ignored (known: functionsRoot, "
                    "functions, routes)"
                )
        return document

    def root(self, document: Mapping[str, object]) -> str:
        value = document.get("functionsRoot", ".")
        base = os.path.dirname(self.file)
        if not isinstance(value, str) or not value:
            self.problem("`functionsRoot` must be a folder path", 'write "functionsRoot": "."')
            return base
        root = os.path.normpath(os.path.join(base, value))
        if not os.path.isdir(root):
            self.problem(
                f"`functionsRoot` {json.dumps(value)}: the folder {root} does not exist",
                "create it or correct the path",
            )
        return root

    def objects(
        self, entries: list[object], key: str, known: frozenset[str], example: str
    ) -> Iterator[tuple[str, dict[str, object]]]:
        """Each JSON object of the list ``key``, with how messages name it; anything else
        in the list is a problem, an unknown key in an object a warning."""
        for index, entry in enumerate(entries):
            where = f"`{key}[{index}]`"
            if not isinstance(entry, dict):
                self.problem(f"{where} must be an object", f"write {example}")
                continue
            for name in entry:
                if name not in known:
                    self.warnings.append(f"{self.file}: {where} has an unknown key `{name}`")
            yield where, entry

    def functions(self, document: Mapping[str, object], root: str) -> dict[str, Function]:
        entries = document.get("functions")
        if not isinstance(entries, list):
            self.problem(
                "`functions` must be a list of functions"
                if "functions" in document
                else "has no `functions` list",
                'add "functions": [{"name": "default", "directory": "."}]',
            )
            return {}
        functions: dict[str, Function] = {}
        example = '{"name": ..., "directory": ...}'
        for where, entry in self.objects(entries, "functions", _FUNCTION_KEYS, example):
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                self.problem(f"{where} has no `name`", "give every function a name")
                continue
            where = f"function `{name}`"
            if name in functions:
                self.problem(f"{where} is defined twice", "give each function its own name")
                continue
            function = self._function(entry, name, where, root)
            if function is None:
                continue
            functions[name] = function
            if "triggerPath" in entry:
                self.trigger_paths.append((name, entry["triggerPath"], f"{where}'s triggerPath"))
        return functions

    def _function(
        self, entry: Mapping[str, object], name: str, where: str, root: str
    ) -> Function | None:
        fields = {}
        for key, default in (("directory", None), ("source", DEFAULT_SOURCE)):
            value = entry.get(key, default)
            if not isinstance(value, str) or not value:
                self.problem(
                    f"{where} needs a `{key}` (a path)"
                    if value is None
                    else f"{where}: `{key}` must be a path, not {json.dumps(value)}",
                    f'add "{key}": "."' if key == "directory" else 'write "source": "index.py"',
                )
                return None
            fields[key] = value
        target = entry.get("target", DEFAULT_TARGET)
        if not isinstance(target, str) or not target.isidentifier():
            self.problem(
                f"{where}: `target` must be a Python name, not {json.dumps(target)}",
                'write "target": "main"',
            )
            return None
        directory = os.path.normpath(os.path.join(root, fields["directory"]))
        if not os.path.isdir(directory):
            self.problem(
                f"{_not_found(name)}: the directory {json.dumps(fields['directory'])} "
                f"({directory}) does not exist",
                "create it or correct `directory`",
            )
            return None
        path = os.path.normpath(os.path.join(directory, fields["source"]))
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        if relative.startswith("../") or os.path.isabs(relative):
            self.problem(
                f"{where}: {relative} is outside `functionsRoot` ({root})",
                "move the function under the functions root, or widen `functionsRoot`",
            )
            return None
        if not relative.endswith(".py"):
            stem = posixpath.splitext(posixpath.basename(relative))[0] or "index"
            self.problem(
                f"{where}: the source {relative} is not a Python file",
                f'write the function in Python, as "source": "{stem}.py"',
            )
            return None
        if not os.path.isfile(path):
            self.problem(
                f"{_not_found(name)}: the source file {relative} does not exist",
                f"create it with `def {target}(event, context):`, or correct `source`",
            )
            return None
        self._check_target(path, relative, target, name, where)
        return Function(name, relative, target)

    def _check_target(self, path: str, relative: str, target: str, name: str, where: str) -> None:
        try:
            with open(path, "rb") as source:
                exports = read_exports(source.read(), path)
        except SyntaxError:
            return  # the route answers 500 with the error until the file is fixed
        except OSError as exc:
            self.problem(f"{where}: {relative} cannot be read: {exc.strerror}")
            return
        if target not in exports.names and not exports.star_import:
            self.problem(
                f"{_not_found(name)}: {relative} does not define its target `{target}`",
                f"define `def {target}(event, context):` or `{target} = app` in it, or "
                "correct `target`",
            )

    def routes(
        self, document: Mapping[str, object], functions: Mapping[str, Function]
    ) -> list[tuple[str, str, str]]:
        """(normalised path, function name, where it was written) of every route."""
        entries = document.get("routes", [])
        if not isinstance(entries, list):
            self.problem("`routes` must be a list", 'write [{"functionName": ..., "path": ...}]')
            entries = []
        pending = list(self.trigger_paths)
        example = '{"functionName": ..., "path": ...}'
        for where, entry in self.objects(entries, "routes", _ROUTE_KEYS, example):
            name = entry.get("functionName")
            if not isinstance(name, str) or not name:
                self.problem(f"{where} has no `functionName`", "name the function it calls")
                continue
            pending.append((name, entry.get("path"), where))
        routes = []
        for name, path, where in pending:
            normal = self._path(path, where)
            if normal is None:
                continue
            if name not in functions:
                known = ", ".join(f"`{n}`" for n in functions) or "none"
                self.problem(
                    f"{_not_found(name)}: {where} calls it, and `functions` does not define "
                    f"it (defined: {known})",
                    f'add {{"name": "{name}", "directory": ...}} to `functions`',
                )
                continue
            routes.append((normal, name, where))
        return routes

    def _path(self, path: object, where: str) -> str | None:
        if not isinstance(path, str) or not path.startswith("/"):
            self.problem(
                f"{where}: the path {json.dumps(path)} must start with `/`",
                'write it from the root, such as "/api/user"',
            )
            return None
        if "?" in path or "#" in path:
            self.problem(
                f"{where}: the path {json.dumps(path)} has a query or a fragment",
                "a route is a path alone, such as /api/user",
            )
            return None
        segments = path.strip("/").split("/") if path.strip("/") else []
        if any(segment in ("", ".", "..") for segment in segments):
            self.problem(
                f"{where}: the path {json.dumps(path)} has an empty, `.` or `..` segment",
                "write each segment out, such as /api/user",
            )
            return None
        return "/" + "/".join(segments)


def _not_found(name: str) -> str:
    """How CloudBase's functions framework starts the message of a function it cannot load,
    so that a search for the framework's words finds pagesfn's explanation."""
    return f"Function {name} not found"


def _table(
    reader: _Reader,
    root: str,
    functions: Mapping[str, Function],
    routes: list[tuple[str, str, str]],
) -> RouteTable:
    owners: dict[str, tuple[str, str]] = {}
    for path, name, where in routes:
        taken = owners.get(path)
        if taken is None:
            owners[path] = (name, where)
        elif taken[0] != name:
            reader.problem(
                f"Route conflict: `{path}` is claimed by the functions `{taken[0]}` "
                f"({taken[1]}) and `{name}` ({where})",
                "give each path one function",
            )
    routed = {name for name, _ in owners.values()}
    if "/" not in owners and DEFAULT_FUNCTION in functions and DEFAULT_FUNCTION not in routed:
        # The framework's quick start: a function named `default` with no route of its
        # own answers everything no route claims.
        owners["/"] = (DEFAULT_FUNCTION, "the default function")
        routed.add(DEFAULT_FUNCTION)
    for name in functions:
        if name not in routed:
            reader.warnings.append(
                f"{reader.file}: function `{name}` has no route (no `triggerPath`, no entry "
                "in `routes`), so nothing calls it"
            )
    table = []
    for path, (name, _) in owners.items():
        function = functions[name]
        static = tuple(Segment(SegmentKind.STATIC, s) for s in path.split("/") if s)
        table.append(
            Route(
                (*static, Segment(SegmentKind.CATCHALL, REST)),
                function.file,
                RouteKind.FUNCTION,
                {ANY: function.target, WEBSOCKET: function.target},
                function=name,
            )
        )
    table.sort(key=Route.sort_key)
    return RouteTable(root, tuple(table), tuple(reader.warnings))
