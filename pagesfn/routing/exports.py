"""Read which handler names a route module exports, from its source, without importing it."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from .table import ANY, WEBSOCKET

# snake_case name -> method key; the camelCase names of the JS platforms are aliases.
HANDLER_NAMES: dict[str, str] = {
    "on_request": ANY,
    "on_request_get": "GET",
    "on_request_head": "HEAD",
    "on_request_post": "POST",
    "on_request_put": "PUT",
    "on_request_patch": "PATCH",
    "on_request_delete": "DELETE",
    "on_request_options": "OPTIONS",
    "on_websocket": WEBSOCKET,
}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


CAMEL_ALIASES: dict[str, str] = {_camel(name): name for name in HANDLER_NAMES}
# (snake_case, camelCase, method key) of each handler name, worked out once.
_SPELLINGS = tuple((name, _camel(name), method) for name, method in HANDLER_NAMES.items())

#: Names under which a catch-all file exports a whole WSGI or ASGI app, in preference order.
APP_NAMES: tuple[str, ...] = ("app", "application")


@dataclass(frozen=True, slots=True)
class ModuleExports:
    """Top-level names a module binds, as far as its source tells."""

    names: frozenset[str]
    # True when the module does ``from x import *``: its names cannot be known statically.
    star_import: bool = False


def read_exports(source: str | bytes, filename: str) -> ModuleExports:
    """Parse ``source`` and collect the names bound at module level.

    Raises ``SyntaxError`` when the source does not parse.
    """
    tree = ast.parse(source, filename=filename)
    names: set[str] = set()
    star = False
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(_bound_names(target))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
    return ModuleExports(frozenset(names), star)


def _top_level(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    # Definitions under a module-level ``if``/``try``/``with`` (platform checks, optional
    # imports) still bind module names, so descend into those blocks but not into functions.
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)
        elif isinstance(node, ast.With):
            yield from _top_level(node.body)


def _bound_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _bound_names(element)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


def handler_names(names: Iterable[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Map method keys to the exported handler names.

    Returns the mapping and the (snake, camel) pairs exported twice under both spellings.
    """
    present = set(names)
    handlers: dict[str, str] = {}
    both: list[tuple[str, str]] = []
    for snake, camel, method in _SPELLINGS:
        if snake in present and camel in present:
            both.append((snake, camel))
        if snake in present:
            handlers[method] = snake
        elif camel in present:
            handlers[method] = camel
    return handlers, both
