"""One OpenAPI 3.1 document for a functions tree, built from its route table and its files'
source, without importing a module.

Every handler route is a path (``users/[id].py`` is ``/users/{id}``), with an operation per
method its file answers (``on_request`` answers them all) and a path parameter per bracketed
name; a catch-all (``[[path]]``) is a parameter standing for the rest of the path. Summaries
and descriptions come from the handler's docstring, else the module's. What has no
operation to describe is listed in extensions, so that the document is complete about what
exists: WebSocket routes (``x-pagesfn-websockets``) and mounted apps
(``x-pagesfn-mounts``). The same tree gives the same document, byte for byte.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping
from typing import Any

from .table import ANY, WEBSOCKET, Route, RouteKind, RouteTable, SegmentKind

OPENAPI_VERSION = "3.1.0"
#: The operations ``on_request`` answers, in the order OpenAPI lists them.
EVERY_METHOD = ("get", "put", "post", "delete", "options", "patch")
_METHOD_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def openapi_document(
    table: RouteTable, *, title: str = "pagesfn", version: str = "1.0.0"
) -> dict[str, Any]:
    """The OpenAPI document of the routes of ``table`` (its files read, none imported)."""
    paths: dict[str, dict[str, Any]] = {}
    websockets: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for route in table:
        if route.kind is RouteKind.MIDDLEWARE:
            continue
        path = path_template(route)
        if route.mounts:
            mounted = {"prefix": _prefix(route), "file": route.file}
            if route.function is not None:
                mounted["function"] = route.function
            mounts.append(mounted)
            continue
        docs = _Docstrings.read(os.path.join(table.root, route.file))
        if WEBSOCKET in route.handlers:
            websockets.append(
                {"path": path, "file": route.file, **docs.of(route.handlers[WEBSOCKET])}
            )
        operations = _operations(route, docs)
        if operations:
            item: dict[str, Any] = {}
            parameters = _parameters(route)
            if parameters:
                item["parameters"] = parameters
            item.update(operations)
            paths[path] = item
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
    }
    if websockets:
        document["x-pagesfn-websockets"] = websockets
    if mounts:
        document["x-pagesfn-mounts"] = mounts
    return document


def path_template(route: Route) -> str:
    """``/users/{id}`` for ``users/[id].py``; a catch-all is one parameter, ``{path}``."""
    parts = [
        segment.value if segment.kind is SegmentKind.STATIC else "{" + segment.value + "}"
        for segment in route.segments
    ]
    return "/" + "/".join(parts)


def _prefix(route: Route) -> str:
    static = [s.value for s in route.segments if s.kind is SegmentKind.STATIC]
    return "/" + "/".join(static)


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters = []
    for segment in route.segments:
        if segment.kind is SegmentKind.PARAM:
            parameters.append(
                {
                    "name": segment.value,
                    "in": "path",
                    "required": True,
                    "description": "one segment of the path",
                    "schema": {"type": "string"},
                }
            )
        elif segment.kind is SegmentKind.CATCHALL:
            parameters.append(
                {
                    "name": segment.value,
                    "in": "path",
                    "required": True,
                    "description": (
                        "the rest of the path: zero or more segments, slashes included "
                        "(the route also answers without it)"
                    ),
                    "schema": {"type": "string"},
                    "x-pagesfn-catch-all": True,
                }
            )
    return parameters


def _operations(route: Route, docs: _Docstrings) -> dict[str, Any]:
    methods: dict[str, str] = {}
    for method, name in route.handlers.items():
        if method == ANY:
            for each in EVERY_METHOD:
                methods.setdefault(each, name)
        elif method != WEBSOCKET:
            methods[method.lower()] = name
    operations = {}
    for method in sorted(methods, key=_METHOD_ORDER.index):
        name = methods[method]
        operation: dict[str, Any] = {"operationId": _operation_id(method, route.file)}
        operation.update(docs.of(name))
        tag = next((s.value for s in route.segments if s.kind is SegmentKind.STATIC), None)
        if tag is not None:
            operation["tags"] = [tag]
        operation["responses"] = {"default": {"description": f"what `{name}` returns"}}
        operation["x-pagesfn-handler"] = f"{route.file}:{name}"
        operations[method] = operation
    return operations


def _operation_id(method: str, file: str) -> str:
    stem = re.sub(r"\W+", "_", file.removesuffix(".py")).strip("_")
    return f"{method}_{stem}"


class _Docstrings:
    """The docstrings of a route file's module and top-level functions."""

    def __init__(self, module: str | None, functions: Mapping[str, str | None]) -> None:
        self.module = module
        self.functions = functions

    @classmethod
    def read(cls, path: str) -> _Docstrings:
        try:
            with open(path, "rb") as file:
                tree = ast.parse(file.read(), filename=path)
        except (OSError, SyntaxError, ValueError):
            return cls(None, {})
        functions = {
            node.name: ast.get_docstring(node)
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        return cls(ast.get_docstring(tree), functions)

    def of(self, name: str) -> dict[str, str]:
        """``summary`` (the first line) and ``description`` (the rest) of the handler
        ``name``'s docstring, else the module's; nothing without either."""
        text = self.functions.get(name) or self.module
        if not text:
            return {}
        summary, _, rest = text.strip().partition("\n")
        described = {"summary": summary.strip()}
        if rest.strip():
            described["description"] = rest.strip()
        return described


#: The sections of ``components``, whose entries are referred to by
#: ``#/components/<section>/<name>``.
_COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
_OAUTH_URLS = ("authorizationUrl", "tokenUrl", "refreshUrl")
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*:|^/", re.IGNORECASE)


def namespace_of(prefix: str) -> str:
    """The name a mounted app's components are kept under: its prefix as an identifier."""
    return re.sub(r"\W+", "_", prefix.strip("/")).strip("_") or "root"


def merge_mounted(document: dict[str, Any], prefix: str, schema: Mapping[str, Any]) -> None:
    """Add the OpenAPI document ``schema`` of an app mounted at ``prefix`` to ``document``:
    its paths under the prefix, its components (and every reference to them) renamed
    ``<namespace>_<name>`` so that two apps cannot collide, its operation ids likewise, its
    tags kept, and relative OAuth2 URLs resolved under the prefix."""
    namespace = namespace_of(prefix)
    sections = schema.get("components") or {}
    renamed = {
        section: {name: f"{namespace}_{name}" for name in sections.get(section) or {}}
        for section in _COMPONENT_SECTIONS
    }
    mounted = _renamed_refs(schema, renamed)
    components = document.setdefault("components", {})
    for section in _COMPONENT_SECTIONS:
        for name, value in ((mounted.get("components") or {}).get(section) or {}).items():
            components.setdefault(section, {})[renamed[section][name]] = value
    for name in renamed["securitySchemes"].values():
        flows = components["securitySchemes"][name].get("flows") or {}
        for flow in flows.values():
            for key in _OAUTH_URLS:
                url = flow.get(key)
                if isinstance(url, str) and url and not _ABSOLUTE.match(url):
                    flow[key] = f"{prefix.rstrip('/')}/{url}"
    security = renamed["securitySchemes"]
    default_security = mounted.get("security")
    for path, item in (mounted.get("paths") or {}).items():
        for key, operation in item.items():
            if key not in _METHOD_ORDER or not isinstance(operation, dict):
                continue
            if "operationId" in operation:
                operation["operationId"] = f"{namespace}_{operation['operationId']}"
            if "security" in operation or default_security is not None:
                chosen = operation.get("security", default_security)
                operation["security"] = _renamed_security(chosen, security)
            operation["x-pagesfn-mount"] = prefix
        document["paths"][prefix.rstrip("/") + "/" + path.lstrip("/")] = item
    known = {tag.get("name") for tag in document.get("tags", [])}
    for tag in mounted.get("tags") or []:
        if isinstance(tag, dict) and tag.get("name") not in known:
            document.setdefault("tags", []).append(tag)
            known.add(tag.get("name"))


def _renamed_security(requirements: Any, names: Mapping[str, str]) -> Any:
    if not isinstance(requirements, list):
        return requirements
    return [
        {names.get(name, name): scopes for name, scopes in requirement.items()}
        if isinstance(requirement, dict)
        else requirement
        for requirement in requirements
    ]


def _renamed_refs(value: Any, renamed: Mapping[str, Mapping[str, str]]) -> Any:
    """``value`` with every ``$ref`` to a renamed component pointing at its new name."""
    if isinstance(value, dict):
        copied = {key: _renamed_refs(item, renamed) for key, item in value.items()}
        ref = copied.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            _, _, section, name = ref.split("/", 3)
            new = renamed.get(section, {}).get(name)
            if new is not None:
                copied["$ref"] = f"#/components/{section}/{new}"
        return copied
    if isinstance(value, list):
        return [_renamed_refs(item, renamed) for item in value]
    return value
