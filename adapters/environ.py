"""Translate between an ASGI HTTP scope and a WSGI environ."""

from __future__ import annotations

import io
import sys
from typing import IO, Any
from urllib.parse import quote

from pagesfn.types import Environ, Scope

# Headers the CGI convention names without the HTTP_ prefix.
_UNPREFIXED = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


def _native(value: str) -> str:
    # PEP 3333: environ strings hold the request's bytes, decoded as latin-1.
    return value.encode("utf-8").decode("latin-1")


def input_length(environ: Environ) -> int | None:
    """How many bytes ``wsgi.input`` holds: its Content-Length, ``None`` for a body that runs
    to the end of the stream (chunked, de-chunked by the server), 0 for none."""
    length: str = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        return int(length)
    return None if environ.get("wsgi.input_terminated") else 0


def sized(environ: Environ, body: bytes) -> Environ:
    """``environ`` handing over ``body``, read in full, with its ``CONTENT_LENGTH`` and no
    ``Transfer-Encoding``: a body whose length was known only at its end, as a server
    that buffers bodies presents it (many frameworks read ``CONTENT_LENGTH`` bytes and
    ignore ``wsgi.input_terminated``; Bottle de-chunks a chunked one again)."""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return environ


def read_ahead(environ: Environ, limit: int) -> Environ:
    """``environ`` for a WSGI app, its body read ahead when its length is known only at its
    end: one ending within ``limit`` bytes is handed over :func:`sized`; a longer one
    streams on, the bytes read first coming first. Others are left as they are."""
    # An HTTP/1 request without Content-Length or Transfer-Encoding has no body: a GET
    # costs two lookups here, and no read.
    if (
        environ.get("CONTENT_LENGTH")
        or "HTTP_TRANSFER_ENCODING" not in environ
        or not environ.get("wsgi.input_terminated")
    ):
        return environ
    source = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = source.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            return sized(dict(environ), b"".join(chunks))
        chunks.append(chunk)
        size += len(chunk)
    child = dict(environ)
    child["wsgi.input"] = io.BufferedReader(Resumed(b"".join(chunks), source.read))
    return child


class Resumed(io.RawIOBase):
    """A body stream whose first bytes were already read: ``head``, then what ``read``
    gives."""

    def __init__(self, head: bytes, read: Any) -> None:
        self._head = head
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._head[: len(buffer)] if self._head else self._read(len(buffer))
        self._head = self._head[len(data) :]
        buffer[: len(data)] = data
        return len(data)


def build_environ(scope: Scope, body: IO[bytes]) -> Environ:
    """The PEP 3333 environ of an ASGI HTTP scope.

    ``SCRIPT_NAME`` is the scope's ``root_path`` and ``PATH_INFO`` the rest of ``path``;
    nothing is taken from ``os.environ``. ``body`` must signal the end of the body by
    returning ``b""``, so ``wsgi.input_terminated`` is set.
    """
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    if root_path and (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
        path = path[len(root_path.rstrip("/")) :]
    query: bytes = scope.get("query_string", b"")
    server = scope.get("server") or ("localhost", 80)
    environ: Environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _native(root_path.rstrip("/")),
        "PATH_INFO": _native(path),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is not None:
        target = raw_path + (b"?" + query if query else b"")
        environ["REQUEST_URI"] = environ["RAW_URI"] = target.decode("latin-1")
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
        environ["REMOTE_PORT"] = str(client[1])
    for name, value in scope.get("headers", ()):
        key = _UNPREFIXED.get(name) or "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        if key in environ:
            # Repeated request headers fold into one, as RFC 9110 allows (cookies use "; ").
            text = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + text
        environ[key] = text
    return environ


def build_scope(environ: Environ, state: dict[str, Any] | None = None) -> Scope:
    """The ASGI HTTP scope of a WSGI environ: ``root_path`` is ``SCRIPT_NAME`` and
    ``path`` the full path (``SCRIPT_NAME`` + ``PATH_INFO``), both decoded."""
    script = environ.get("SCRIPT_NAME", "")
    root_path = script.encode("latin-1").decode("utf-8", "replace")
    path = root_path + (environ.get("PATH_INFO", "") or "/").encode("latin-1").decode(
        "utf-8", "replace"
    )
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key
            if not value:
                continue
        else:
            continue
        headers.append((name.lower().replace("_", "-").encode("latin-1"), value.encode("latin-1")))
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    # The path as a client sends it: the server's own record of it, else the decoded path
    # percent-encoded again (ASCII, as every request target is).
    raw_path = (
        target.split("?", 1)[0].encode("latin-1")
        if target
        else quote(path, safe="/:@!$&'()*+,;=~").encode("ascii")
    )
    port = environ.get("SERVER_PORT", "")
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path,
        "raw_path": raw_path,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": root_path,
        "headers": headers,
        "server": (environ.get("SERVER_NAME", "localhost"), int(port) if port.isdigit() else None),
        "extensions": {},
    }
    if environ.get("REMOTE_ADDR"):
        # A string in CGI, but werkzeug's server puts an int there.
        remote_port = str(environ.get("REMOTE_PORT", ""))
        scope["client"] = (environ["REMOTE_ADDR"], int(remote_port) if remote_port.isdigit() else 0)
    if state is not None:
        scope["state"] = dict(state)
    return scope
