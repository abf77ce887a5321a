"""Serve an ASGI application to a WSGI server.

The app runs on a background event loop owned by the pagesfn app. The WSGI thread waits
for the response to start, then hands each body chunk to the server as the app sends it;
the app's ``send`` returns only once the server has taken the chunk (backpressure), so at
most one chunk is in flight. The request body is read from ``wsgi.input`` in the shared
thread pool as the app asks for it, with or without a Content-Length (chunked bodies too).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

from pagesfn.http.head import InvalidHead, check_raw_head
from pagesfn.http.wrappers import carries_body
from pagesfn.types import ASGIApp as _ASGIApp
from pagesfn.types import Environ, Message, Scope, StartResponse

from .environ import build_scope, input_length

logger = logging.getLogger("pagesfn")

_CHUNK = 64 * 1024
_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


class _Exchange:
    """One request: the loop side (``receive``/``send``) and the WSGI side (``next``)."""

    def __init__(
        self,
        environ: Environ,
        loop: asyncio.AbstractEventLoop,
        executor: concurrent.futures.Executor,
    ) -> None:
        self.loop = loop
        self.executor = executor
        self.input = environ["wsgi.input"]
        self.remaining = input_length(environ)  # None: read until the stream ends
        self.body_done = self.remaining == 0
        self.request_done = False  # the last ``http.request`` message has been received
        self.messages: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = False
        self.response_done = False  # the app has sent its last body message
        self._owed = False
        self.taken: asyncio.Event | None = None
        self.finished: asyncio.Event | None = None

    # -- the loop side -------------------------------------------------------------------

    def bind(self) -> None:
        self.taken = asyncio.Event()
        self.finished = asyncio.Event()

    async def receive(self) -> Message:
        if not self.request_done and not self.closed:
            # At least one ``http.request`` message, even for an empty body (ASGI spec).
            data = b""
            if not self.body_done:
                data = await self.loop.run_in_executor(self.executor, self._read)
            self.request_done = self.body_done
            return {"type": "http.request", "body": data, "more_body": not self.body_done}
        assert self.finished is not None
        await self.finished.wait()
        return {"type": "http.disconnect"}

    def _read(self) -> bytes:
        size = _CHUNK if self.remaining is None else min(_CHUNK, self.remaining)
        data: bytes = self.input.read(size)
        if self.remaining is not None:
            self.remaining -= len(data)
        if not data or self.remaining == 0:
            self.body_done = True
        return data

    async def send(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_done = True
        self.messages.put(message)
        if message["type"] == "http.response.body" and message.get("more_body", False):
            assert self.taken is not None
            await self.taken.wait()
            self.taken.clear()

    def end(self, failure: BaseException | None) -> None:
        self.messages.put(_Failure(failure) if failure is not None else _END)
        if self.finished is not None:
            self.finished.set()

    # -- the WSGI side -------------------------------------------------------------------

    def pull(self) -> Message | None:
        """The app's next message (``None`` once it has returned); raises what it raised.

        Taking a message is what releases the ``send`` that put the previous chunk.
        """
        if self._owed:
            self._owed = False
            self.loop.call_soon_threadsafe(self._release)
        message = self.messages.get()
        if isinstance(message, _Failure):
            raise message.exc
        if message is _END:
            return None
        if message["type"] == "http.response.body" and message.get("more_body", False):
            self._owed = True
        assert isinstance(message, dict)
        return message

    def complete(self) -> None:
        """The response is over (sent in full, or abandoned by the server)."""
        self._owed = False
        self.loop.call_soon_threadsafe(self._finish)

    def _release(self) -> None:
        if self.taken is not None:
            self.taken.set()

    def _finish(self) -> None:
        self._release()
        if self.finished is not None:
            self.finished.set()


class _Body:
    """The WSGI response iterable: yields chunks as the app sends them."""

    def __init__(
        self, exchange: _Exchange, first: bytes, task: concurrent.futures.Future[None]
    ) -> None:
        self._exchange = exchange
        self._first: bytes | None = first
        self._more = True
        self._task = task

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            if first:
                return first
        while self._more:
            message = self._exchange.pull()
            if message is None:
                break
            if message["type"] == "http.response.body":
                self._more = message.get("more_body", False)
                body: bytes = message.get("body", b"")
                if body:
                    return body
        self._more = False
        raise StopIteration

    def close(self) -> None:
        exchange = self._exchange
        if self._more and not exchange.closed:
            # The server stopped early (the client went away): stop the app.
            exchange.closed = True
            exchange.loop.call_soon_threadsafe(self._task.cancel)
        exchange.complete()


class ASGIBridge:
    """A WSGI app running ``app`` (ASGI) on ``loop``; ``state`` is copied into each scope.
    ``name`` (the route file) labels the errors the bridge logs."""

    def __init__(
        self,
        app: _ASGIApp,
        loop: Callable[[], asyncio.AbstractEventLoop],
        executor: concurrent.futures.Executor,
        state: dict[str, Any] | None = None,
        name: str = "ASGI app",
    ) -> None:
        self.app = app
        self._loop = loop
        self.executor = executor
        self.state = state
        self.name = name

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        loop = self._loop()
        scope = build_scope(environ, self.state)
        exchange = _Exchange(environ, loop, self.executor)
        task = asyncio.run_coroutine_threadsafe(self._run(scope, exchange), loop)
        message = exchange.pull()
        while message is not None and message["type"] != "http.response.start":
            message = exchange.pull()
        if message is None:
            raise RuntimeError("the ASGI app returned without starting a response")
        status: int = message["status"]
        # Checked on its way to the WSGI server (hop-by-hop headers such as BlackSheep's
        # Transfer-Encoding dropped); InvalidHead fails this call, for the face's 500.
        try:
            checked = check_raw_head(status, message.get("headers", ()), drop_hop_by_hop=True)
        except InvalidHead:
            exchange.complete()  # the app's response goes nowhere: let it finish
            raise
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in checked
            # A response that can carry no body carries no Content-Type either (FastAPI
            # sends one with its 204s; strict WSGI servers refuse it).
            if carries_body(status) or name.lower() != b"content-type"
        ]
        start_response(_status_line(status), headers)
        # Wait for the first chunk: most responses are one message, sent back at once.
        while True:
            message = exchange.pull()
            if message is None:
                exchange.complete()
                return []
            if message["type"] == "http.response.body":
                body: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    exchange.complete()
                    return [body] if body else []
                if body:
                    return _Body(exchange, body, task)

    async def _run(self, scope: Scope, exchange: _Exchange) -> None:
        exchange.bind()
        failure: BaseException | None = None
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            failure = exc
            if exchange.response_done or exchange.closed:
                # The WSGI side has stopped listening (Starlette re-raises after sending
                # its 500, for the server to log): log it here, or it is lost.
                logger.error(
                    "%s: mounted ASGI app raised %s on %s %s after its response",
                    self.name,
                    type(exc).__name__,
                    scope["method"],
                    scope["path"],
                    exc_info=exc,
                )
        finally:
            exchange.end(failure)
