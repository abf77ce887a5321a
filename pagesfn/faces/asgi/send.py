"""Writing a response out as ASGI messages: the head checked, a body whole, streamed (from
async or sync iterables, on the loop or in the thread pool) or a file."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from ...concurrency import as_coroutine
from ...engine.failures import head_failed, log_stream_failure
from ...http.head import ENCODED_VALUES, KNOWN_LINES, InvalidHead, encoded_value, wire_headers
from ...http.wrappers import BODILESS, FileBody, Response, carries_body
from ...types import Scope, Send
from .body import ASGIBody

logger = logging.getLogger("pagesfn")


async def send_response(
    response: Response,
    method: str,
    send: Send,
    scope: Scope,
    executor: concurrent.futures.Executor | None,
    body: ASGIBody | None = None,
    streams: set[asyncio.Future[None]] | None = None,
    file: str | None = None,
) -> None:
    """Send ``response``; a streamed body is sent as it is produced, a file by name when
    the server supports ``http.response.pathsend``. Files and sync iterables are read in
    ``executor`` (``None``: the loop's default one).

    While a body streams, the request's ``body`` watches ``receive`` for the client's
    disconnect (servers may drop what is sent to a gone client silently, as uvicorn does);
    then the body is closed (a generator's ``finally`` runs) and nothing more is sent. A
    stream also ends, with its body closed, when one of the futures it adds to ``streams``
    is resolved: how the app ends them as the server shuts down. A body that raises is
    logged and the error re-raised, for the server to close the connection.
    """
    try:
        headers = raw_wire_headers(response)
    except InvalidHead as exc:
        if response.stream is not None:
            await close_stream(response.stream)
        response, headers = head_failed(exc, file, raw_wire_headers)
    stream = response.stream
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    if stream is None:
        content = b"" if method == "HEAD" else response.body
        await send({"type": "http.response.body", "body": content})
        return
    if method == "HEAD" or not carries_body(response.status_code):
        await close_stream(stream)
        await send({"type": "http.response.body", "body": b""})
        return
    if isinstance(stream, FileBody):
        if stream.whole and "http.response.pathsend" in scope.get("extensions", ()):
            await send({"type": "http.response.pathsend", "path": stream.path})
            return
        chunks: AsyncIterator[bytes] = _thread_chunks(stream.chunks(_FILE_CHUNK), executor)
    elif isinstance(stream, AsyncIterable):
        chunks = aiter(stream)
    else:
        chunks = _thread_chunks(stream, executor)
    where = f"{method} {scope.get('path', '?')}"
    # SystemExit out of a body would stop the server's loop: it becomes an error.
    sending = as_coroutine(_send_chunks(chunks, send, f"{file}: {where}" if file else where))
    # A mounted app's body comes with an app that reads ``receive`` itself.
    watching = body is not None and not getattr(stream, "reads_receive", False)
    disconnect = body.disconnect() if watching and body is not None else None
    stop: asyncio.Future[None] | None = None
    if streams is not None:
        stop = asyncio.get_running_loop().create_future()
        streams.add(stop)
    try:
        finished = await _until_disconnect(sending, disconnect, stop)
    finally:
        if streams is not None and stop is not None:
            streams.discard(stop)
    if finished:
        await send({"type": "http.response.body", "body": b""})


async def _send_chunks(chunks: AsyncIterator[bytes], send: Send, where: str) -> bool:
    """Send ``chunks`` as they come, then close them; False when the client has gone. A
    failure is logged with ``where`` (the route file, the method and path)."""
    try:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return True
            except Exception as exc:
                log_stream_failure(exc, where)
                raise
            if chunk:
                try:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except OSError:
                    return False  # the server says the client has gone (ASGI spec 2.4)
    finally:
        await close_stream(chunks)


async def _until_disconnect(
    sending: Awaitable[bool],
    disconnect: Awaitable[None] | None,
    stop: asyncio.Future[None] | None,
) -> bool:
    """Run ``sending`` until it ends, the client goes away (``disconnect``) or the app stops
    the stream (``stop``), whichever comes first. False when the client went first; when
    ``sending`` did not end by itself it is cancelled, and has closed its body."""
    if disconnect is None and stop is None:
        return await sending
    sender = asyncio.ensure_future(sending)
    watcher = asyncio.ensure_future(disconnect) if disconnect is not None else None
    waits = {task for task in (sender, watcher, stop) if task is not None}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also when the server cancels this request: neither task may outlive it.
        sender.cancel()
        if watcher is not None:
            watcher.cancel()
        await asyncio.wait({task for task in (sender, watcher) if task is not None})
    failure = None if watcher is None or watcher.cancelled() else watcher.exception()
    if sender.cancelled():
        if failure is not None:
            raise failure
        # Stopped by the app: the response ends as if the body had.
        return stop is not None and stop.done() and (watcher is None or watcher.cancelled())
    return sender.result()


async def close_stream(stream: object) -> None:
    """Close an unfinished streamed body so its producer's cleanup runs."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(stream, "close", None)
    if close is not None:
        close()


#: How much of a file each step of the thread pool reads.
_FILE_CHUNK = 256 * 1024


_DONE = object()


async def _thread_chunks(
    iterable: Iterable[bytes], executor: concurrent.futures.Executor | None
) -> AsyncIterator[bytes]:
    # A sync iterable may block between chunks: each step runs in the thread pool. It is
    # closed there too, and never during a step (a running generator cannot be closed):
    # a step cut short by a disconnect is shielded, and the close waits for it to return.
    loop = asyncio.get_running_loop()
    iterator = iter(iterable)
    step: asyncio.Future[Any] | None = None
    try:
        while True:
            step = loop.run_in_executor(executor, next, iterator, _DONE)
            chunk = await asyncio.shield(step)
            if chunk is _DONE:
                return
            yield chunk
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            if step is not None and not step.done():
                step.add_done_callback(functools.partial(_close_after, close, executor))
            else:
                await loop.run_in_executor(executor, close)


def _close_after(
    close: Callable[[], object],
    executor: concurrent.futures.Executor | None,
    step: asyncio.Future[Any],
) -> None:
    # The response is over: what the step produced (or raised) goes nowhere.
    if not step.cancelled():
        step.exception()
    step.get_loop().run_in_executor(executor, _close_quietly, close)


def _close_quietly(close: Callable[[], object]) -> None:
    try:
        close()
    except Exception:
        logger.exception("closing a streamed response body raised")


def raw_wire_headers(response: Response) -> list[tuple[bytes, bytes]]:
    """:func:`wire_headers` as the ASGI face sends them, in bytes; quick for the common
    response: a body pagesfn holds whole, a known status, a content type seen before."""
    content_type = response.untouched_content_type()
    if content_type is not None and response.stream is None:
        # Lookups alone (this runs for most responses): a status line werkzeug makes of a
        # code it knows, and a content type already checked.
        code = KNOWN_LINES.get(response.status)
        if code is not None and code not in BODILESS:
            encoded = ENCODED_VALUES.get(content_type) or encoded_value(
                "Content-Type", content_type
            )
            return [(b"content-type", encoded), (b"content-length", b"%d" % len(response.body))]
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in wire_headers(response)
    ]
