"""The WSGI face: translate PEP 3333 to the pipeline and back.

Sync handlers run directly in the server's thread; async ones on the app's background loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import EnvironHeaders

from ...adapters.detect import AppKind
from ...adapters.environ import input_length
from ...adapters.lifespan import Lifespan, LifespanError, LifespanGroup
from ...adapters.mount import mount_environ
from ...adapters.mounted import MountedApp
from ...concurrency import LoopThread, exit_error, from_ctrl_c
from ...engine.captured import capture_wsgi, environ_for, replayed_environ
from ...engine.flow import Flow
from ...engine.limits import LimitedInput
from ...engine.pipeline import MountCall, pep3333_headers, response_head
from ...errors import ClientDisconnected, kept
from ...http.head import check_wsgi_head
from ...http.wrappers import FileBody, Request, Response, carries_body
from ...types import Environ, StartResponse, WSGIApp
from ..asgi.face import log_stream_failure

if TYPE_CHECKING:
    from ...app import Pages

logger = logging.getLogger("pagesfn")

_CHUNK = 64 * 1024


class WSGIBody:
    """The request body of one WSGI request, read from ``wsgi.input``."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Environ) -> None:
        self._environ = environ

    def read(self) -> bytes:
        return b"".join(_input_chunks(self._environ))

    async def aread(self) -> bytes:
        return await asyncio.to_thread(self.read)


_PERCENT = ord("%")  # an int: ``in`` on bytes is much quicker with one than with bytes


def _route_path(environ: Environ) -> tuple[bytes, bool]:
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


class MountLifespans:
    """Lifespans of mounted ASGI apps served on the WSGI face: each started once, on the
    background loop, before its first request, and shut down when the app closes."""

    def __init__(self, loop_thread: LoopThread) -> None:
        self._loop_thread = loop_thread
        self._lock = threading.Lock()
        self._started: list[Lifespan] = []
        # Each failure as :func:`kept` keeps it, to raise again.
        self._failed: dict[int, tuple[LifespanError, TracebackType | None]] = {}

    def ensure_started(self, lifespan: Lifespan) -> None:
        """Start ``lifespan`` unless done; re-raises its startup failure every time."""
        if lifespan.started or not lifespan.supported:
            return
        with self._lock:
            failure = self._failed.get(id(lifespan))
            if failure is not None:
                raise failure[0].with_traceback(failure[1])
            if lifespan in self._started:
                return
            try:
                self._loop_thread.run(lifespan.startup())
            except LifespanError as exc:
                self._failed[id(lifespan)] = kept(exc)
                raise
            self._started.append(lifespan)

    def shutdown(self, timeout: float | None) -> None:
        with self._lock:
            started, self._started = self._started, []
        if started:
            self._loop_thread.run(LifespanGroup(started).shutdown(timeout))


class WSGIFace:
    """``pages.wsgi``: the same functions tree as a PEP 3333 application."""

    def __init__(self, app: Pages) -> None:
        self.app = app
        self.pipeline = app.pipeline
        self.executor = app.executor
        self.limits = app.limits

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method: str = environ["REQUEST_METHOD"]
        limits = self.limits
        checked = limits.check_environ(environ)
        counted: LimitedInput | None = None
        if checked is not False:
            if checked is not True:
                refusal = self.pipeline.refused(checked)
                return self._respond(refusal, method, environ, start_response)
            assert limits.max_body_size is not None
            environ["wsgi.input"] = counted = LimitedInput(
                environ["wsgi.input"], limits.max_body_size
            )
        raw, encoded = _route_path(environ)
        # Straight to a mounted app that owns its whole prefix: no request object.
        found = self.pipeline.fast_mount(raw)
        if found is not None:
            return self._mounted(found[0], found[1], environ, start_response, counted)
        port = environ.get("SERVER_PORT")
        request = Request(
            method,
            environ.get("wsgi.url_scheme", "http"),
            (environ.get("SERVER_NAME", ""), int(port) if port and port.isdigit() else None),
            environ.get("SCRIPT_NAME", ""),
            (environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8", "replace"),
            environ.get("QUERY_STRING", "").encode("latin-1"),
            lambda: EnvironHeaders(environ),
            environ.get("REMOTE_ADDR"),
            WSGIBody(environ),
            raw,
            encoded,
        )
        request.form_limits = limits.form
        step = self.pipeline.prepare(request, self._schedule, self, environ)
        if isinstance(step, Flow):
            if limits.request_timeout is not None:
                step.deadline = (time.monotonic() + limits.request_timeout, limits.request_timeout)
            try:
                response = step.run()
            except Exception as exc:
                response = step.recover(exc)
            if counted is not None and counted.exceeded:
                response = self.pipeline.refused(counted.refusal())
            if step.opened:
                for stream in step.abandoned(response.stream):
                    self._close(stream)
            request.close()
            return self._respond(response, method, environ, start_response, step.file)
        if isinstance(step, MountCall):
            return self._mounted(step.mount, step.prefix, environ, start_response, counted)
        return self._respond(step, method, environ, start_response)

    def _respond(
        self,
        response: Response,
        method: str,
        environ: Environ,
        start_response: StartResponse,
        file: str | None = None,
    ) -> Iterable[bytes]:
        sent, headers = response_head(response, file, pep3333_headers)
        if sent is not response:
            if response.stream is not None:
                self._close(response.stream)
            response = sent
        start_response(response.status, headers)
        stream = response.stream
        if stream is None:
            return [] if method == "HEAD" else [response.body]
        if method == "HEAD" or not carries_body(response.status_code):
            self._close(stream)
            return []
        if isinstance(stream, FileBody):
            opened = open(stream.path, "rb")  # noqa: SIM115 - the server closes it
            wrapper = environ.get("wsgi.file_wrapper")
            if stream.whole and wrapper is not None:
                # The server's own type, returned as is: gunicorn then uses sendfile().
                return wrapper(opened, _CHUNK)  # type: ignore[no-any-return]
            return _file_range(opened, stream.offset, stream.length)
        where = f"{method} {environ.get('PATH_INFO', '')}"
        if file:
            where = f"{file}: {where}"
        if isinstance(stream, AsyncIterable):
            return _LoopChunks(stream, self.app.loop_thread, where)
        # The server writes each chunk as it comes, and its close() closes the stream.
        return _ServerChunks(stream, where)

    def _close(self, stream: object) -> None:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            self.app.loop_thread.run(aclose())
            return
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    # -- what the flow asks of this face ---------------------------------------------------

    native_async = False

    def call_mount(self, call: MountCall, request: Request, flow: Flow) -> Response:
        """Call a mounted app for a middleware's ``next()``: its response comes back as a
        :class:`Response` streaming the app's iterable."""
        environ: Environ = flow.io
        mount = call.mount
        if mount.lifespan is not None:
            self.app.mount_lifespans.ensure_started(mount.lifespan)
        if request.rewritten:
            environ = environ_for(environ, request)
        environ = replayed_environ(environ, request)
        app = mount.wsgi(self.app.loop_thread.get_loop, self.app.executor)
        return capture_wsgi(app, mount_environ(environ, call.prefix))

    def call_origin(self, request: Request, flow: Flow) -> Response:
        origin = self.pipeline.origin
        assert origin is not None
        body = request.forwarded_body()
        if body is None:
            return origin.fetch(request, request.kept_chunks(_input_chunks(flow.io)))
        return origin.fetch(request, body)

    def background_loop(self) -> asyncio.AbstractEventLoop:
        return self.app.loop_thread.loop

    def _mounted(
        self,
        mount: MountedApp,
        prefix: str,
        environ: Environ,
        start_response: StartResponse,
        counted: LimitedInput | None,
    ) -> Iterable[bytes]:
        app = self.app
        try:
            if mount.lifespan is not None:
                app.mount_lifespans.ensure_started(mount.lifespan)
            wsgi_app = mount.wsgi(app.loop_thread.get_loop, app.executor)
            environ = mount_environ(environ, prefix)
            # The ASGI bridge checks the heads it starts itself.
            starting = (
                checked_start(start_response) if mount.kind is AppKind.WSGI else start_response
            )
            if counted is not None:
                return self._counted(wsgi_app, environ, starting, counted)
            # A mounted WSGI app is called as is: its iterable goes straight to the server.
            return wsgi_app(environ, starting)
        except Exception as exc:
            if counted is not None and counted.exceeded:
                return self._respond(
                    self.pipeline.refused(counted.refusal()),
                    environ["REQUEST_METHOD"],
                    environ,
                    start_response,
                )
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
            call = MountCall(mount, prefix, environ["REQUEST_METHOD"], path)
            response = self.pipeline.mount_failed(call, exc)
            # exc_info lets this replace a response the app may have started.
            start_response(
                response.status,
                pep3333_headers(response),
                (type(exc), exc, exc.__traceback__),
            )
            return [response.body]

    def _counted(
        self,
        wsgi_app: WSGIApp,
        environ: Environ,
        start_response: StartResponse,
        counted: LimitedInput,
    ) -> Iterable[bytes]:
        """Call a mounted app whose request body is counted: once the body has passed the
        limit, whatever the app answers (an error page, most likely) gives way to a 413."""
        error = counted.refusal()
        refusal = self.pipeline.refused(error)
        replaced = False

        def refuse() -> None:
            nonlocal replaced
            replaced = True
            # exc_info lets the 413 replace a start the app already made.
            headers = pep3333_headers(refusal)
            start_response(refusal.status, headers, (type(error), error, None))

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

    def _schedule(self, work: Any) -> None:
        self.app.background.schedule(work, self.app.loop_thread.loop)


def checked_start(start_response: StartResponse) -> StartResponse:
    """``start_response`` for a mounted WSGI app: the head it starts is checked on its way
    to the server (:func:`~pagesfn.head.check_wsgi_head`); one that cannot be sent raises
    :class:`~pagesfn.head.InvalidHead` into the app, whose call then fails."""

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        _, checked = check_wsgi_head(status, headers)
        return start_response(status, checked, exc_info)

    return start


def _discard(data: bytes) -> None:
    """The ``write`` of a response replaced by a 413: what the app writes goes nowhere."""


def _file_range(file: IO[bytes], offset: int, length: int) -> Iterator[bytes]:
    try:
        file.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = file.read(min(remaining, _CHUNK))
            if not chunk:
                return  # the file shrank since it was looked up
            remaining -= len(chunk)
            yield chunk
    finally:
        file.close()


class _ServerChunks:
    """A sync streamed body, handed to the server as the WSGI iterable: ``close()``
    closes it (a generator's ``finally`` runs); an error it raises is logged."""

    __slots__ = ("_iterator", "_stream", "_where")

    def __init__(self, stream: Iterable[bytes], where: str) -> None:
        self._stream = stream
        self._iterator = iter(stream)
        self._where = where

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except Exception as exc:
            log_stream_failure(exc, self._where)
            raise
        except (SystemExit, KeyboardInterrupt) as exc:
            if from_ctrl_c(exc):
                raise
            # Out of the iterable, it would end the server's worker with this response.
            error = exit_error(exc)
            log_stream_failure(error, self._where)
            raise error from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _LoopChunks:
    """An async streamed body on the WSGI face: each chunk is awaited on the app's
    background loop; ``close()`` (the server's) closes it there."""

    __slots__ = ("_iterator", "_loop_thread", "_where")

    def __init__(self, stream: AsyncIterable[bytes], loop_thread: LoopThread, where: str) -> None:
        self._iterator = aiter(stream)
        self._loop_thread = loop_thread
        self._where = where

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self._loop_thread.run(anext(self._iterator))
        except StopAsyncIteration:
            raise StopIteration from None
        except Exception as exc:
            log_stream_failure(exc, self._where)
            raise

    def close(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            self._loop_thread.run(aclose())


def _input_chunks(environ: Environ) -> Iterator[bytes]:
    stream = environ["wsgi.input"]
    remaining = input_length(environ)
    while remaining is None or remaining > 0:
        chunk = stream.read(_CHUNK if remaining is None else min(remaining, _CHUNK))
        if not chunk:
            if remaining:
                # The stream ended short of its Content-Length: the client went away.
                raise ClientDisconnected("the client sent less body than its Content-Length")
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk
