"""Serve a WSGI application to an ASGI server.

A request costs one hop to the thread pool when its body is small and its response declares
a small Content-Length: the body is read on the event loop first, the app runs and its whole
response is collected in the worker thread, and the loop sends it. Larger bodies are pulled
from ``receive`` as the app reads them. A response without a declared length (a generator,
server-sent events) or a large one is streamed chunk by chunk as the app yields it, the
worker waiting for each ``send`` (backpressure), so memory stays bounded either way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import IO, Any

from pagesfn.concurrency import as_coroutine
from pagesfn.errors import ClientDisconnected
from pagesfn.http.head import check_wsgi_head
from pagesfn.http.wrappers import carries_body
from pagesfn.types import ExcInfo, Message, Receive, Scope, Send, WSGIApp

from .environ import build_environ, sized

#: Request bodies up to this size are read before the app runs: one of unknown length
#: (chunked) that ends within it reaches the app with its Content-Length.
PRELOAD_LIMIT = 256 * 1024
#: Responses up to this size are collected and sent at once; larger ones are streamed.
BUFFER_LIMIT = 256 * 1024


class _ReceiveStream(io.RawIOBase):
    """``wsgi.input`` for a body still arriving: pulls ``http.request`` messages."""

    def __init__(
        self,
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
        length: int | None,
        pending: bytes = b"",
    ) -> None:
        self._receive = receive
        self._loop = loop
        self._pending = pending  # what was read ahead, handed over first
        self._left = length  # bytes still to come, when the length is known
        self._done = False

    @property
    def done(self) -> bool:
        """The body has arrived in full: ``receive`` is no longer needed for it."""
        return self._done

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            pending = as_coroutine(self._receive())
            message = asyncio.run_coroutine_threadsafe(pending, self._loop).result()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            self._pending = message.get("body", b"")
            if self._left is not None:
                self._left -= len(self._pending)
            # With all the promised bytes in, a last empty message is left for the watcher.
            self._done = not message.get("more_body", False) or self._left == 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


async def read_body(receive: Receive) -> bytes:
    """The whole request body from ``receive``; raises :class:`ClientDisconnected`."""
    return b"".join([chunk async for chunk in body_chunks(receive)])


async def body_chunks(receive: Receive) -> AsyncGenerator[bytes, None]:
    """The request body as it arrives from ``receive``, chunk by chunk (the one loop that
    reads an ASGI body); raises :class:`ClientDisconnected` if the client goes first."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnected("the client went away while sending the body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _read_ahead(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """A body's first bytes from ``receive``, a little over ``limit`` at most, and whether
    the body ended within them."""
    parts: list[bytes] = []
    size = 0
    chunks = body_chunks(receive)
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            await chunks.aclose()
            return b"".join(parts), False
    return b"".join(parts), True


def _declared_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None


def _content_length(scope: Scope) -> int | None:
    """The body length the request promises; ``None`` when it is only known at its end."""
    # HTTP/1 requests without Content-Length or Transfer-Encoding carry no body; HTTP/2
    # ones may, since they end the body with the stream.
    length: int | None = None if scope.get("http_version") == "2" else 0
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            return None
    return length


class _Exchange:
    """The state of one request, shared by the event loop and the worker thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send: Send,
        head: bool,
        receive: Receive,
        stream: _ReceiveStream | None,
    ) -> None:
        self.loop = loop
        self.send = send
        self.head = head
        # Once the body has been read in full (preloaded, or ``stream`` done), ``receive``
        # is free to watch for a disconnect while a long response streams.
        self.receive = receive
        self.stream = stream
        self.watcher: asyncio.Task[None] | None = None
        self.status: str | None = None
        self.code = 0
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.declared: int | None = None
        self.streaming = False
        self.disconnected = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if exc_info is not None:
            if self.streaming:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise RuntimeError("start_response was called twice without exc_info")
        # Checked here, in the app's call: a head no server could send fails the app.
        self.code, self.headers = check_wsgi_head(status, headers)
        self.status = status
        self.declared = _declared_length(self.headers)
        return self.push

    def push(self, chunk: bytes) -> None:
        """Called in the worker for every body chunk the app produces."""
        if self.status is None:
            raise RuntimeError("the WSGI app produced a body before calling start_response")
        if not chunk or self.head:
            return
        if self.streaming:
            self._call(self._send_body(chunk, more=True))
            return
        self.chunks.append(chunk)
        self.size += len(chunk)
        # Collect a response whose length is declared and small: it is complete once that
        # many bytes are in, and goes out in one piece. Anything else (no Content-Length,
        # as streams and server-sent events have, or a large body) streams from here on.
        if self.declared is None or self.size > BUFFER_LIMIT:
            self.streaming = True
            buffered, self.chunks = self.chunks, []
            self._call(self._send_start(b"".join(buffered)))

    def finish(self) -> None:
        if self.streaming:
            self._call(self._send_body(b"", more=False))

    def _call(self, coroutine: Any) -> None:
        if self.disconnected:
            coroutine.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()
        except OSError:
            # The server could not deliver: the client is gone. Stop feeding the app.
            self.disconnected = True

    def start_message(self, content_length: int | None) -> Message:
        assert self.status is not None
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if (
            content_length is not None
            and carries_body(self.code)
            and not any(k == b"content-length" for k, _ in headers)
        ):
            headers.append((b"content-length", str(content_length).encode()))
        return {"type": "http.response.start", "status": self.code, "headers": headers}

    async def _send_start(self, first: bytes) -> None:
        await self.send(self.start_message(None))
        await self.send({"type": "http.response.body", "body": first, "more_body": True})
        self._watch_when_free()

    def _watch_when_free(self) -> None:
        if self.watcher is None and (self.stream is None or self.stream.done):
            self.watcher = asyncio.create_task(self._watch(self.receive))

    async def _watch(self, receive: Receive) -> None:
        # Servers may drop messages for a gone client silently (uvicorn does); only
        # ``http.disconnect`` from ``receive`` tells the worker to stop.
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True

    async def _send_body(self, chunk: bytes, *, more: bool) -> None:
        self._watch_when_free()  # the app may have finished reading the body since
        await self.send({"type": "http.response.body", "body": chunk, "more_body": more})


class WSGIBridge:
    """An ASGI app that runs ``app`` (WSGI) in ``executor``, a pool shared by the whole
    pagesfn app rather than one per mount."""

    def __init__(self, app: WSGIApp, executor: concurrent.futures.Executor) -> None:
        self.app = app
        self.executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        loop = asyncio.get_running_loop()
        length = _content_length(scope)
        body: IO[bytes]
        stream: _ReceiveStream | None = None
        whole: bytes | None = None  # a body of unknown length, ended within the preload
        if length is not None and length <= PRELOAD_LIMIT:
            body = io.BytesIO(await read_body(receive) if length else b"")
        elif length is None:
            ahead, ended = await _read_ahead(receive, PRELOAD_LIMIT)
            if ended:
                body = io.BytesIO(whole := ahead)
            else:
                stream = _ReceiveStream(receive, loop, None, ahead)
                body = io.BufferedReader(stream, 64 * 1024)
        else:
            stream = _ReceiveStream(receive, loop, length)
            body = io.BufferedReader(stream, 64 * 1024)
        environ = build_environ(scope, body)
        if whole is not None:
            sized(environ, whole)
        head = scope["method"] == "HEAD"
        exchange = _Exchange(loop, send, head, receive, stream)
        try:
            await loop.run_in_executor(self.executor, self._run, environ, exchange)
        except asyncio.CancelledError:
            # The server gave up on the request (some cancel on a disconnect): stop the app.
            exchange.disconnected = True
            raise
        finally:
            if exchange.watcher is not None:
                exchange.watcher.cancel()
        if not exchange.streaming:
            data = b"".join(exchange.chunks)
            length = None if exchange.head else len(data)
            await send(exchange.start_message(length))
            await send({"type": "http.response.body", "body": data, "more_body": False})

    def _run(self, environ: dict[str, Any], exchange: _Exchange) -> None:
        given = environ["wsgi.input"]
        iterable: Iterable[bytes] = self.app(environ, exchange.start_response)
        try:
            for chunk in iterable:
                exchange.push(chunk)
                if exchange.disconnected:
                    break
            if exchange.status is None:
                raise RuntimeError("the WSGI app returned without calling start_response")
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
            # A body the app copied for itself (WebOb spools one to a temporary file) ends
            # with the request, not whenever the collector reaches the environ.
            left = environ.get("wsgi.input")
            if left is not given:
                close = getattr(left, "close", None)
                if close is not None:
                    close()
        exchange.finish()
