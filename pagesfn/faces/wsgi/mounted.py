"""Calling a mounted app on the WSGI face: its head checked as it starts, a body past the
limit answered 413 whatever the app does, and its response captured for ``next()``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...adapters.detect import AppKind
from ...adapters.environ import read_ahead
from ...adapters.mount import mount_environ
from ...adapters.mounted import MountedApp
from ...adapters.wsgi_to_asgi import PRELOAD_LIMIT
from ...engine.handler import MountCall
from ...http.head import check_wsgi_head
from ...http.wrappers import Request, Response
from ...types import Environ, StartResponse, WSGIApp
from .body import LimitedInput
from .send import pep3333_headers

if TYPE_CHECKING:
    from .face import WSGIFace

logger = logging.getLogger("pagesfn")


def serve_mounted(
    face: WSGIFace,
    mount: MountedApp,
    prefix: str,
    environ: Environ,
    start_response: StartResponse,
    counted: LimitedInput | None,
) -> Iterable[bytes]:
    """Hand the request to a mounted app (its prefix moved to ``SCRIPT_NAME``); its
    iterable goes to the server as is. A failure before the response starts is a logged
    500, and a body past the limit a 413, whatever the app answered."""
    try:
        if mount.lifespan is not None:
            face.mount_lifespans.ensure_started(mount.lifespan)
        wsgi_app = mount.wsgi(face.loop_thread.get_loop, face.executor)
        environ = mounted_environ(mount, environ, prefix)
        # The ASGI bridge checks the heads it starts itself.
        starting = checked_start(start_response) if mount.kind is AppKind.WSGI else start_response
        if counted is not None:
            return _counted(face, wsgi_app, environ, starting, counted)
        return wsgi_app(environ, starting)
    except Exception as exc:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        call = MountCall(mount, prefix, method, path)
        response = face.lifecycle.mount_failed(call, exc, counted)
        # exc_info lets this replace a response the app may have started.
        start_response(
            response.status, pep3333_headers(response), (type(exc), exc, exc.__traceback__)
        )
        return [] if method == "HEAD" else [response.body]


def mounted_environ(mount: MountedApp, environ: Environ, prefix: str) -> Environ:
    """The environ ``mount`` is called with: its prefix moved to ``SCRIPT_NAME`` and, for a
    WSGI app, a chunked body that ends within the preload limit handed over with its
    length (the ASGI bridge does the same on the other face)."""
    environ = mount_environ(environ, prefix)
    return read_ahead(environ, PRELOAD_LIMIT) if mount.kind is AppKind.WSGI else environ


def _counted(
    face: WSGIFace,
    wsgi_app: WSGIApp,
    environ: Environ,
    start_response: StartResponse,
    counted: LimitedInput,
) -> Iterable[bytes]:
    """Call a mounted app whose request body is counted: once the body has passed the
    limit, whatever the app answers (an error page, most likely) gives way to a 413."""
    error = counted.refusal()
    refusal = face.failures.refused(error)
    replaced = False

    def refuse() -> None:
        nonlocal replaced
        replaced = True
        # exc_info lets the 413 replace a start the app already made.
        start_response(refusal.status, pep3333_headers(refusal), (type(error), error, None))

    def starting(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        if not counted.exceeded:
            return start_response(status, headers, exc_info)
        if not replaced:
            refuse()
        return _discard

    iterable = wsgi_app(environ, starting)
    if not counted.exceeded:
        return iterable
    if not replaced:
        refuse()
    close = getattr(iterable, "close", None)
    if close is not None:
        close()
    return [refusal.body]


def capture_wsgi(app: Any, environ: Environ) -> Response:
    """Call the WSGI ``app`` and return its response once it has started; the body is
    the app's iterable, read as it is sent (and closed once, as PEP 3333 asks)."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if started and exc_info is None:
            raise RuntimeError("start_response() called twice without exc_info")
        started[:] = [status, headers]
        return written.append

    result = app(environ, start_response)
    body = _WSGIBody(result)
    try:
        # start_response may be called as late as with the first chunk.
        while not started:
            chunk = body.pull()
            if chunk is None:
                raise RuntimeError("the mounted app returned without calling start_response()")
            written.append(chunk)
    except BaseException:
        body.close()
        raise
    status, headers = started
    body.prefix(written)
    return Response.streamed(body, int(status.split(" ", 1)[0]), headers)


class _WSGIBody:
    """A mounted WSGI app's iterable, with what it produced before it was handed on."""

    __slots__ = ("_closed", "_iterator", "_prefix", "_result")

    def __init__(self, result: Iterable[bytes]) -> None:
        self._result = result
        self._iterator = iter(result)
        self._prefix: list[bytes] = []
        self._closed = False

    def pull(self) -> bytes | None:
        return next(self._iterator, None)

    def prefix(self, chunks: list[bytes]) -> None:
        self._prefix = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._prefix
        yield from self._iterator

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            close = getattr(self._result, "close", None)
            if close is not None:
                close()


def environ_for(environ: Environ, request: Request) -> Environ:
    """``environ`` rewritten to ``request`` (a middleware's ``next(...)``)."""
    child = {k: v for k, v in environ.items() if not k.startswith("HTTP_")}
    child.pop("CONTENT_TYPE", None)
    child.pop("CONTENT_LENGTH", None)
    child["REQUEST_METHOD"] = request.method
    child["PATH_INFO"] = request.path.encode("utf-8").decode("latin-1")
    child["QUERY_STRING"] = request.query_string.decode("latin-1")
    raw = request.raw_path if request.percent_encoded else quote(request.path).encode("ascii")
    script = quote(environ.get("SCRIPT_NAME", "").encode("latin-1"))
    target = script + raw.decode("ascii")
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    child["RAW_URI"] = child["REQUEST_URI"] = target
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        child[key] = f"{child[key]}, {value}" if key in child else value
    return child


def replayed_environ(environ: Environ, request: Request) -> Environ:
    """``environ``, or a copy whose input hands over the body again when a middleware
    read it."""
    body = request.received_body
    if body is None:
        return environ
    environ = dict(environ)
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def checked_start(start_response: StartResponse) -> StartResponse:
    """``start_response`` for a mounted WSGI app: the head it starts is checked on its way
    to the server (:func:`~pagesfn.http.head.check_wsgi_head`); one that cannot be sent raises
    :class:`~pagesfn.http.head.InvalidHead` into the app, whose call then fails."""

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        _, checked = check_wsgi_head(status, headers)
        return start_response(status, checked, exc_info)

    return start


def _discard(data: bytes) -> None:
    """The ``write`` of a response replaced by a 413: what the app writes goes nowhere."""
