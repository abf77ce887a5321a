"""Calling a mounted app for a middleware's ``next()``: its response comes back as a
:class:`Response` as soon as it starts, the body streaming from the app.

The request the app gets is the one the chain has: rewritten by ``next(path)`` or
``next(request.replace(...))``, and with its body handed over again when a middleware
already read it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from io import BytesIO
from typing import Any
from urllib.parse import quote

from ..concurrency import as_coroutine
from ..http.wrappers import Request, Response
from ..types import Environ, Message, Receive, Scope

logger = logging.getLogger("pagesfn")


# -- ASGI ---------------------------------------------------------------------------------


async def capture_asgi(app: Any, scope: Scope, receive: Receive) -> Response:
    """Call the ASGI ``app`` and return its response as soon as it starts; the body
    streams from the app, which runs in its own task, one message at a time."""
    channel = _Channel()
    # as_coroutine: an exit raised by the app stays with this request.
    task = asyncio.ensure_future(as_coroutine(app(scope, receive, channel.send)))
    start = await channel.get(task)
    if start is None:
        raise RuntimeError("the mounted app returned without sending a response")
    if start["type"] != "http.response.start":
        task.cancel()
        raise RuntimeError(f"the mounted app sent {start['type']!r} before its response start")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", ())]
    return Response.streamed(_ASGIBody(channel, task), start["status"], headers)


class _ASGIBody:
    """The body of a captured ASGI response, as the app sends it."""

    __slots__ = ("_channel", "_finished", "_task")

    #: The app reads ``receive`` itself (for its body, and its own disconnect watch):
    #: the face must not read it too while this body streams.
    reads_receive = True

    def __init__(self, channel: _Channel, task: asyncio.Future[Any]) -> None:
        self._channel = channel
        self._task = task
        self._finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while not self._finished:
                message = await self._channel.get(self._task)
                if message is None:
                    self._finished = True
                elif message["type"] == "http.response.body":
                    chunk = message.get("body", b"")
                    self._finished = not message.get("more_body", False)
                    if chunk:
                        yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        task = self._task
        if not self._finished:
            # Nobody will read the rest: a send still waiting (a bridged WSGI app's, from
            # its thread) fails as if the client had gone, and the app is stopped.
            self._channel.close()
            if not task.done():
                task.cancel()
        self._finished = True
        # Work an app does after its last message (background tasks) runs on; its
        # failure is logged rather than lost.
        _keep(task)


_running: set[asyncio.Future[Any]] = set()


def _keep(task: asyncio.Future[Any]) -> None:
    if task in _running:
        return
    if task.done():
        _log_failure(task)
        return
    _running.add(task)
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("a mounted app raised after its response", exc_info=task.exception())


class _Channel:
    """Hands messages from a mounted app's task to the consumer, one at a time."""

    __slots__ = ("_closed", "_message", "_ready", "_taken")

    def __init__(self) -> None:
        self._message: Message | None = None
        self._ready = asyncio.Event()
        self._taken = asyncio.Event()
        self._closed = False

    async def send(self, message: Message) -> None:
        if self._closed:
            raise OSError("the response is no longer being read")
        self._message = message
        self._taken.clear()
        self._ready.set()
        await self._taken.wait()  # backpressure: the next message waits for this one
        if self._message is message:  # woken by close(), not taken
            raise OSError("the response is no longer being read")

    def close(self) -> None:
        self._closed = True
        self._taken.set()

    async def get(self, task: asyncio.Future[Any]) -> Message | None:
        """The next message, or ``None`` once the app has returned; re-raises its error."""
        if not self._ready.is_set():
            waiter = asyncio.ensure_future(self._ready.wait())
            await asyncio.wait((waiter, task), return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                waiter.cancel()
                task.result()  # raises what the app raised
                return None
        message = self._message
        self._message = None
        self._ready.clear()
        self._taken.set()
        return message


def scope_for(scope: Scope, request: Request) -> Scope:
    """``scope`` rewritten to ``request`` (a middleware's ``next(...)``): its method,
    path, query and headers."""
    root_path: str = scope.get("root_path", "").rstrip("/")
    child = dict(scope)
    child["method"] = request.method
    child["path"] = root_path + request.path
    child["raw_path"] = quote(root_path).encode("ascii") + (
        request.raw_path if request.percent_encoded else quote(request.path).encode("ascii")
    )
    child["query_string"] = request.query_string
    child["headers"] = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.items()
    ]
    return child


def replayed_receive(request: Request, receive: Receive) -> Receive:
    """``receive``, or one that hands over the body again when a middleware read it."""
    body = request._body
    if body is None:
        return receive
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


# -- WSGI ---------------------------------------------------------------------------------


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
    body = request._body
    if body is None:
        return environ
    environ = dict(environ)
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ
