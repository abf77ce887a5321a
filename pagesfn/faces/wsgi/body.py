"""Reading a WSGI request in: the path to route on, and the body from ``wsgi.input``,
counted against the limit when its length is unknown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import IO
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import EnvironHeaders

from ...adapters.environ import input_length
from ...engine.limits import BodyCounter, Limits, two_hosts
from ...errors import ClientDisconnected, RequestRefused
from ...http.wrappers import Request
from ...types import Environ

logger = logging.getLogger("pagesfn")

#: How much of a body (or a file) is read at once.
CHUNK = 64 * 1024


class LimitedInput(BodyCounter):
    """``wsgi.input`` counting the body: a read past the limit raises
    :class:`BodyTooLarge`, and so does every later one."""

    __slots__ = ("_stream",)

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(limit)
        self._stream = stream

    def _counted(self, data: bytes) -> bytes:
        if not self.count(len(data)):
            raise self.refusal()
        return data

    def _wanted(self, size: int | None) -> int:
        # Never more than one byte past the limit in one read.
        if self.exceeded:
            raise self.refusal()
        return self.remaining + 1 if size is None or size < 0 else min(size, self.remaining + 1)

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._counted(self._stream.read(self._wanted(size)))
        chunks: list[bytes] = []
        while chunk := self._counted(self._stream.read(self._wanted(None))):
            chunks.append(chunk)
        return b"".join(chunks)

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.readline(self._wanted(size)))

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class WSGIBody:
    """The request body of one WSGI request, read from ``wsgi.input``."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Environ) -> None:
        self._environ = environ

    def read(self) -> bytes:
        return b"".join(input_chunks(self._environ))

    async def aread(self) -> bytes:
        return await asyncio.to_thread(self.read)


_PERCENT = ord("%")  # an int: ``in`` on bytes is much quicker with one than with bytes


def route_path(environ: Environ) -> tuple[bytes, bool]:
    """The app-relative bytes to route on, and whether they are still percent-encoded.

    ``PATH_INFO`` arrives percent-decoded, leaving a malformed escape (``%zz``) as it came.
    Servers that keep the request target (gunicorn's ``RAW_URI``, uWSGI, mod_wsgi and
    werkzeug's ``REQUEST_URI``) let the raw form be used, so that it is refused as on the
    ASGI face, as long as it still agrees with ``SCRIPT_NAME`` + ``PATH_INFO`` (an outer
    dispatcher may have rewritten those, and they are what a mounted app is given).
    """
    script: str = environ.get("SCRIPT_NAME", "")
    info: str = environ.get("PATH_INFO", "") or "/"
    target: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target:
        raw = target.split("?", 1)[0].encode("latin-1")
        if raw.startswith((b"http://", b"https://")):
            # The absolute form of the request target: keep only the path.
            slash = raw.find(b"/", raw.find(b"//") + 2)
            raw = raw[slash:] if slash != -1 else b"/"
        full = (script + info).encode("latin-1")
        if (unquote_to_bytes(raw) if _PERCENT in raw else raw) == full:
            if script:
                depth = script.rstrip("/").count("/")
                raw = b"/" + b"/".join(raw.split(b"/")[depth + 1 :])
            return raw, True
    return info.encode("latin-1"), False


def input_chunks(environ: Environ) -> Iterator[bytes]:
    stream = environ["wsgi.input"]
    remaining = input_length(environ)
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK if remaining is None else min(remaining, CHUNK))
        if not chunk:
            if remaining:
                # The stream ended short of its Content-Length: the client went away.
                raise ClientDisconnected("the client sent less body than its Content-Length")
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def check_request_head(limits: Limits, environ: Environ) -> RequestRefused | bool:
    """What the head of a WSGI request breaks (a :class:`RequestRefused` to answer with),
    or whether its body must be counted as it is read (its length is unknown)."""
    target: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        query: str = environ.get("QUERY_STRING", "")
        if query:
            target += "?" + query
    limit = limits.max_url_length
    if limit is not None and len(target) > limit:
        return limits.url_refusal(len(target))
    count = total = 0
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            count += 1
            total += len(key) - 5 + len(value)
        elif key in _BARE_HEADERS:
            count += 1
            total += len(key) + len(value)
    limit = limits.max_header_count
    if limit is not None and count > limit:
        return limits.header_count_refusal(count)
    limit = limits.max_header_size
    if limit is not None and total > limit:
        return limits.header_size_refusal(total)
    if "," in environ.get("HTTP_HOST", ""):
        return two_hosts()  # the server joined two Host headers into one
    declared: str = environ.get("CONTENT_LENGTH") or ""
    chunked = "HTTP_TRANSFER_ENCODING" in environ
    if declared:
        length = limits.declared_length(declared.encode("latin-1"))
        if length is not False or not chunked:
            return length
    return limits.max_body_size is not None and (
        chunked or bool(environ.get("wsgi.input_terminated"))
    )


#: The two headers CGI names without the ``HTTP_`` prefix.
_BARE_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def environ_request(
    environ: Environ,
    method: str,
    raw: bytes,
    encoded: bool,
    form_limits: tuple[int | None, int | None],
) -> Request:
    """The :class:`Request` of a WSGI request (``raw`` and ``encoded`` from
    :func:`route_path`); its headers are read from the environ when first asked for."""
    port = environ.get("SERVER_PORT")
    path = (environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8", "replace")
    return Request.canonical(
        method.upper(),
        environ.get("wsgi.url_scheme", "http"),
        (environ.get("SERVER_NAME", ""), int(port) if port and port.isdigit() else None),
        environ.get("SCRIPT_NAME", "").rstrip("/"),
        path if path.startswith("/") else "/" + path,
        environ.get("QUERY_STRING", "").encode("latin-1"),
        EnvironHeaders,
        environ,
        environ.get("REMOTE_ADDR"),
        WSGIBody(environ),
        raw,
        encoded,
        form_limits,
    )
