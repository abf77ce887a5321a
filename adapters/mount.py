"""Rewrite a request for an app mounted under a path prefix.

The prefix always ends on a segment boundary (the matcher guarantees it: ``/flaskx`` never
reaches a mount at ``/flask``). A request for the bare prefix is given to the app as its
``/``, so every framework answers it from its root route instead of a 404 or a redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from pagesfn.types import ASGIApp, Environ, Receive, Scope, Send


def mount_scope(scope: Scope, prefix: str, state: dict[str, Any] | None = None) -> Scope:
    """The ASGI scope for an app mounted at ``prefix`` (decoded, like ``"/flask"``).

    ``root_path`` grows by the prefix and ``path`` stays the full path, as the ASGI spec,
    Starlette and uvicorn have it; ``raw_path`` is left untouched.
    """
    child = dict(scope)
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    if not root_path:  # the common case, kept short: this runs on every mounted request
        child["root_path"] = prefix
        child["path"] = path + "/" if path == prefix else path
        if state is not None:
            child["state"] = dict(state)
        return child
    if not (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
        # A server of the older convention, with ``path`` relative to ``root_path``.
        path = root_path.rstrip("/") + path
    root_path = root_path.rstrip("/") + prefix.rstrip("/")
    if path == root_path:
        path += "/"
    child["root_path"] = root_path
    child["path"] = path
    if state is not None:
        # Each request gets a shallow copy of the state its app's lifespan filled in.
        child["state"] = dict(state)
    return child


def mount_environ(environ: Environ, prefix: str) -> Environ:
    """The WSGI environ for an app mounted at ``prefix``: the prefix moves from
    ``PATH_INFO`` to ``SCRIPT_NAME``, both kept in PEP 3333's latin-1 form."""
    child = dict(environ)
    native = prefix.rstrip("/").encode("utf-8").decode("latin-1")
    path_info: str = environ.get("PATH_INFO", "")
    if path_info == native or path_info.startswith(native + "/"):
        rest = path_info[len(native) :]
    else:
        rest = path_info  # not under the prefix as written; leave it for the app to answer
    child["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + native
    child["PATH_INFO"] = rest or "/"
    return child


class PrefixStripped:
    """An ASGI app that routes on the path below its mount, called as it expects: its
    ``path`` (and ``raw_path``) without the prefix ``root_path`` names, the convention
    before the ASGI spec said ``path`` includes ``root_path``. ``root_path`` is kept, so
    the app still builds its URLs and redirects under the prefix.
    """

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        root = scope.get("root_path", "").rstrip("/")
        if root and scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
                scope = dict(scope)
                scope["path"] = path[len(root) :] or "/"
                raw = scope.get("raw_path")
                if raw is not None:
                    scope["raw_path"] = _raw_below(raw, root)
        return self.app(scope, receive, send)

    def __repr__(self) -> str:
        return f"PrefixStripped({self.app!r})"


def _raw_below(raw: bytes, root: str) -> bytes:
    """``raw`` (a request's path as sent) without its first segments spelling ``root``
    once decoded; ``raw`` itself when it does not start with them."""
    count = root.count("/")
    parts = raw.split(b"/", count + 1)
    head = b"/".join(parts[: count + 1])
    if len(parts) <= count or unquote_to_bytes(head).decode("utf-8", "replace") != root:
        return raw
    return b"/" + parts[count + 1] if len(parts) > count + 1 else b"/"
