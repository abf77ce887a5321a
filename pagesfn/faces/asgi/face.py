"""The ASGI face: translate ASGI to the pipeline and back, and choose how to call handlers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import Headers

from ...adapters.lifespan import LifespanError, LifespanGroup
from ...adapters.mount import mount_scope
from ...adapters.wsgi_to_asgi import read_body
from ...concurrency import as_coroutine
from ...engine.background import BackgroundWork
from ...engine.captured import capture_asgi, replayed_receive, scope_for
from ...engine.flow import Flow
from ...engine.limits import LimitedReceive, Limits, Watchdog
from ...engine.pipeline import MountCall, Pipeline, raw_wire_headers, response_head
from ...engine.websocket import GOING_AWAY, Channel, close_all, serve_mounted
from ...errors import BodyAccessError, BodyTimedOut, ClientDisconnected, RequestRefused
from ...http.head import check_raw_head
from ...http.wrappers import NO_BODY, BodySource, FileBody, Request, Response, carries_body
from ...types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from ...kv import KVNamespace

logger = logging.getLogger("pagesfn")


class ASGIBody:
    """The request body of one ASGI request, pulled from ``receive`` on demand.

    While a streamed response is sent, :meth:`disconnect` is the one reader of
    ``receive``; a body nobody had read by then is kept for a later read (up to
    ``_KEEP_LIMIT`` bytes), so a generator may still read it.
    """

    __slots__ = ("_complete", "_loop", "_receive", "_watch", "reading")

    # ``_complete`` (the whole body has arrived) and ``_watch`` are set only when used:
    # most requests never need them.
    _complete: bool
    _watch: _Watch

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        #: Whether a read is waiting for the client to send more of the body.
        self.reading = False

    async def aread(self) -> bytes:
        watch: _Watch | None = getattr(self, "_watch", None)
        if watch is not None:
            return await watch.body()
        self.reading = True
        try:
            body = await read_body(self._receive)
        except Exception:
            self.reading = False
            raise  # a cancellation leaves it set: the request timed out waiting here
        self.reading = False
        self._complete = True
        return body

    def read(self) -> bytes:
        # Called from a sync handler in the thread pool: hop to the server's loop.
        return asyncio.run_coroutine_threadsafe(self.aread(), self._loop).result()

    def disconnect(self) -> Awaitable[None]:
        """What ends once the client has gone (``http.disconnect``); from now on it is the
        one reader of ``receive``."""
        watch = self._watch = _Watch(getattr(self, "_complete", False))
        return self._watch_receive(watch)

    async def _watch_receive(self, watch: _Watch) -> None:
        try:
            while True:
                message = await self._receive()
                if message["type"] != "http.request":
                    return
                if not watch.complete:
                    watch.keep(message)
        finally:
            watch.settled.set()


#: How much of an unread request body is kept while a streamed response is sent.
_KEEP_LIMIT = 1024 * 1024


class _Watch:
    """The request body that arrives while a streamed response is being sent."""

    __slots__ = ("chunks", "complete", "settled", "size")

    def __init__(self, complete: bool) -> None:
        self.chunks: list[bytes] | None = []  # None: too big, dropped
        self.size = 0
        self.complete = complete
        #: Set once the body is complete or the watch is over.
        self.settled = asyncio.Event()
        if complete:
            self.settled.set()

    def keep(self, message: Message) -> None:
        chunk: bytes = message.get("body", b"")
        self.size += len(chunk)
        if self.chunks is not None:
            self.chunks.append(chunk)
            if self.size > _KEEP_LIMIT:
                self.chunks = None
        if not message.get("more_body", False):
            self.complete = True
            self.settled.set()

    async def body(self) -> bytes:
        await self.settled.wait()
        if not self.complete:
            raise ClientDisconnected("the client went away before sending its whole body")
        if self.chunks is None:
            raise BodyAccessError(
                f"the request body ({self.size} bytes) was dropped while the response "
                "streamed; read it before returning a streamed response"
            )
        return b"".join(self.chunks)


def scope_headers(scope: Scope) -> Callable[[], Headers]:
    def build() -> Headers:
        return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])

    return build


_PERCENT = ord("%")  # an int: ``in`` on bytes is much quicker with one than with bytes


def _route_path(scope: Scope) -> tuple[str, bytes, bool]:
    """The app-relative path (decoded), the bytes to route on, and whether they are still
    percent-encoded.

    ``scope["path"]`` holds the full path and ``root_path`` the prefix an outer app mounted
    this one under (ASGI spec); the prefix is removed before routing. ``raw_path`` is routed
    on while it still says what ``path`` says, since only it tells bytes that are not UTF-8
    from a U+FFFD the server put in their place; an outer app that rewrote ``path`` alone
    has the last word, since ``path`` is what a mounted app will be given.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    raw: bytes | None = scope.get("raw_path")
    if root_path and (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
        path = path[len(root_path) :] or "/"
        if raw is not None:
            depth = root_path.rstrip("/").count("/")
            raw = b"/" + b"/".join(raw.split(b"/")[depth + 1 :])
    if raw is not None:
        if _PERCENT not in raw and raw.isascii():
            same = raw == path.encode("utf-8", "surrogatepass")  # the quick, common case
        else:
            same = unquote_to_bytes(raw).decode("utf-8", "replace") == path
        if same:
            return path, raw, True
    return path, path.encode("utf-8", "surrogatepass"), False


class ASGIFace:
    """The ASGI 3 side of :class:`~pagesfn.Pages`, which inherits it: ``await pages(scope,
    receive, send)``. Works on the attributes ``Pages`` sets up."""

    pipeline: Pipeline
    executor: concurrent.futures.Executor
    limits: Limits
    background: BackgroundWork
    shutdown_timeout: float
    kv: dict[str, KVNamespace]
    #: The open WebSocket connections, to close when the server shuts down.
    websockets: set[Channel]
    #: A future per streamed response being sent: resolving it ends the stream.
    streams: set[asyncio.Future[None]]
    #: Cancels what runs past the request timeout, on the loop serving requests.
    _watchdog_cache: Watchdog | None = None
    #: Release everything (:meth:`~pagesfn.Pages.close`) once the lifespan has shut down,
    #: for a server whose process ends then (``pagesfn serve``); otherwise the app stays
    #: usable for another lifespan.
    close_at_shutdown = False
    close: Callable[[], None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        checked = self.limits.check_scope(scope)
        counted: LimitedReceive | None = None
        if checked is not False:
            if checked is not True:
                refusal = self.pipeline.refused(checked)
                await send_response(refusal, scope["method"], send, scope, self.executor)
                return
            assert self.limits.max_body_size is not None
            receive = counted = LimitedReceive(receive, self.limits.max_body_size)
        path, raw, encoded = _route_path(scope)
        # Straight to a mounted app that owns its whole prefix: no request object.
        found = self.pipeline.fast_mount(raw)
        if found is None:
            loop = asyncio.get_running_loop()
            method: str = scope["method"]
            body = ASGIBody(receive, loop)
            request = _scope_request(scope, method, path, raw, encoded, body)
            request.form_limits = self.limits.form
            step = self.pipeline.prepare(
                request, self._scheduler(loop), self, (scope, receive), loop
            )
            if isinstance(step, Flow):
                # Run in this frame, as the mounted app below, within the request timeout.
                watchdog = self._watchdog(loop)
                task = None if watchdog is None else watchdog.watch()
                try:
                    try:
                        response = await step.arun()
                    except Exception as exc:
                        response = await step.arecover(exc)
                except asyncio.CancelledError:
                    if watchdog is None or task is None or not watchdog.end(task):
                        raise
                    response = self._late(step, body, watchdog.timeout)
                if watchdog is not None and task is not None:
                    watchdog.end(task)
                if counted is not None and counted.exceeded:
                    response = self.pipeline.refused(counted.refusal())
                try:
                    if step.opened:
                        for stream in step.abandoned(response.stream):
                            await close_stream(stream)
                    await send_response(
                        response, method, send, scope, self.executor, body, self.streams, step.file
                    )
                finally:
                    request.close()
                return
            if not isinstance(step, MountCall):
                await send_response(step, method, send, scope, self.executor, body, self.streams)
                return
            found = step.mount, step.prefix
        # A mounted app, called in this frame: every await layer shows in its throughput.
        mount, prefix = found
        guard = _StartedGuard(send) if counted is None else _CountedGuard(send, counted)
        # The request timeout runs until the response starts: the guard ends it then.
        watchdog = guard.watchdog = self._watchdog(asyncio.get_running_loop())
        if watchdog is not None:
            guard.task = watchdog.watch()
        answer: Response | None = None
        try:
            await mount.asgi(self.executor)(mount_scope(scope, prefix, mount.state), receive, guard)
        except asyncio.CancelledError:
            if watchdog is None or not watchdog.end(guard.task):
                raise
            call = MountCall(mount, prefix, scope["method"], scope["path"])
            answer = self.pipeline.timed_out(call, watchdog.timeout)
        except Exception as exc:
            if guard.started:
                raise  # half a response is out: let the server close the connection
            call = MountCall(mount, prefix, scope["method"], scope["path"])
            answer = self.pipeline.mount_failed(call, exc)
        if watchdog is not None:
            watchdog.end(guard.task)
        if counted is not None and counted.exceeded and not guard.started:
            answer = self.pipeline.refused(counted.refusal())
        if answer is not None:
            await send_response(answer, scope["method"], send, scope, self.executor)

    def _late(self, flow: Flow, body: ASGIBody, timeout: float) -> Response:
        """The answer to a request the watchdog cancelled: 408 if it was waiting for the
        client to send the rest of the body (the client's fault), else 504."""
        if body.reading:
            return self.pipeline.refused(BodyTimedOut(timeout))
        return self.pipeline.timed_out(flow, timeout)

    def _watchdog(self, loop: asyncio.AbstractEventLoop) -> Watchdog | None:
        """The watchdog of ``loop`` (the running one); ``None`` without a request timeout."""
        timeout = self.limits.request_timeout
        if timeout is None:
            return None
        watchdog = self._watchdog_cache
        if watchdog is None or watchdog.loop is not loop:
            watchdog = self._watchdog_cache = Watchdog(loop, timeout)
        return watchdog

    # -- what the flow asks of this face ---------------------------------------------------

    native_async = True

    async def call_mount(self, call: MountCall, request: Request, flow: Flow) -> Response:
        """Call a mounted app for a middleware's ``next()``: its response comes back as a
        :class:`Response` whose body streams from the app as the app sends it."""
        if request.websocket:
            channel: Channel = flow.io
            scope = scope_for(channel.scope, request) if request.rewritten else channel.scope
            child = mount_scope(scope, call.prefix, call.mount.state)
            return await serve_mounted(call.mount, child, channel, self.executor)
        scope, receive = flow.io
        mount = call.mount
        if request.rewritten:
            scope = scope_for(scope, request)
        child = mount_scope(scope, call.prefix, mount.state)
        app = mount.asgi(self.executor)
        return await capture_asgi(app, child, replayed_receive(request, receive))

    async def call_origin(self, request: Request, flow: Flow) -> Response:
        origin = self.pipeline.origin
        assert origin is not None
        _, receive = flow.io
        body = request.forwarded_body()
        if body is None:
            return await origin.afetch(request, request.akept_chunks(body_chunks(receive)))
        return await origin.afetch(request, body)

    def background_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def _scheduler(self, loop: asyncio.AbstractEventLoop) -> Callable[[Any], None]:
        # ``wait_until`` work goes to the loop serving the request; one binding per loop.
        cached: tuple[asyncio.AbstractEventLoop, Callable[[Any], None]] | None = getattr(
            self, "_scheduler_cache", None
        )
        if cached is None or cached[0] is not loop:
            cached = (loop, functools.partial(self.background.schedule, loop=loop))
            self._scheduler_cache = cached
        return cached[1]

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            raise RuntimeError(f"pagesfn does not handle ASGI scope type {kind!r}")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Routed as a GET request: middleware runs, then ``on_websocket`` or a mounted app
        # takes the connection; whatever else answers refuses the handshake with it.
        channel = Channel(scope, receive, send)
        self.websockets.add(channel)
        try:
            # The same head limits as over HTTP (a handshake has no body to count).
            checked = self.limits.check_scope(scope)
            if isinstance(checked, RequestRefused):
                await channel.answer(self.pipeline.refused(checked))
                return
            path, raw, encoded = _route_path(scope)
            found = self.pipeline.fast_mount(raw)
            if found is not None:
                mount, prefix = found
                child = mount_scope(scope, prefix, mount.state)
                await channel.answer(await serve_mounted(mount, child, channel, self.executor))
                return
            loop = asyncio.get_running_loop()
            request = _scope_request(scope, "GET", path, raw, encoded, NO_BODY)
            request.websocket = True
            step = self.pipeline.prepare(request, self._scheduler(loop), self, channel, loop)
            if isinstance(step, Flow):
                try:
                    response = await step.arun()
                except Exception as exc:
                    response = await step.arecover(exc)
                if step.opened:
                    for stream in step.abandoned(None):
                        await close_stream(stream)
            elif isinstance(step, MountCall):
                child = mount_scope(scope, step.prefix, step.mount.state)
                response = await serve_mounted(step.mount, child, channel, self.executor)
            else:
                response = step
            await channel.answer(response)
        finally:
            self.websockets.discard(channel)

    async def close_connections(self, code: int = GOING_AWAY, reason: str = "") -> None:
        """End what would keep the server from stopping: streamed responses (their bodies
        are closed, as when the client leaves) and WebSocket connections (closed with
        ``code``, 1001 "going away" by default). ``pagesfn serve`` and ``pagesfn dev`` call
        it when they are asked to stop."""
        for stop in list(self.streams):
            if not stop.done():
                stop.set_result(None)
        await close_all(self.websockets, code, reason)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Mounted ASGI apps get the server's lifespan events, each with its own state.
        group = LifespanGroup([])
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                mounts = self.pipeline.mounted_apps()
                group = LifespanGroup([m.lifespan for m in mounts if m.lifespan is not None])
                try:
                    await group.startup()
                except LifespanError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await group.shutdown(self.shutdown_timeout)
                await self.background.drain(self.shutdown_timeout)
                if self.pipeline.origin is not None:
                    await self.pipeline.origin.aclose()
                for namespace in self.kv.values():
                    await namespace.disconnect()  # what this loop opened goes with it
                if self.close_at_shutdown:
                    await asyncio.to_thread(self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _scope_request(
    scope: Scope, method: str, path: str, raw: bytes, encoded: bool, body: BodySource
) -> Request:
    client = scope.get("client")
    return Request(
        method,
        scope.get("scheme", "http"),
        scope.get("server"),
        scope.get("root_path", ""),
        path,
        scope.get("query_string", b""),
        scope_headers(scope),
        client[0] if client else None,
        body,
        raw,
        encoded,
    )


class _StartedGuard:
    """Wraps ``send`` to note whether a response has started.

    A plain function returning ``send``'s awaitable rather than a coroutine of its own:
    apps only ever ``await send(...)``, and this costs no extra frame per message.
    """

    __slots__ = ("send", "started", "task", "watchdog")

    #: The request's task, while the watchdog watches it.
    task: asyncio.Task[Any]

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False
        #: What cancels the request at its deadline, until the response starts.
        self.watchdog: Watchdog | None = None

    def __call__(self, message: Message) -> Awaitable[None]:
        # Any message at all means the response has begun: the first must be its start,
        # whose head is checked before the server sees it (InvalidHead: not started yet,
        # the face answers 500 naming the app's file).
        if not self.started:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                checked = check_raw_head(message["status"], headers)
                if checked is not headers:
                    message = {**message, "headers": checked}
            self.started = True
            if self.watchdog is not None:
                self.watchdog.end(self.task)
        return self.send(message)


class _CountedGuard(_StartedGuard):
    """:class:`_StartedGuard` for a body of unknown length: once it has passed the limit,
    what the app sends in place of a response is dropped (the face answers 413)."""

    __slots__ = ("counted",)

    def __init__(self, send: Send, counted: LimitedReceive) -> None:
        super().__init__(send)
        self.counted = counted

    async def __call__(self, message: Message) -> None:
        if self.counted.exceeded and not self.started:
            return
        await super().__call__(message)


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
    sent, headers = response_head(response, file, raw_wire_headers)
    if sent is not response:
        if response.stream is not None:
            await close_stream(response.stream)
        response = sent
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
        chunks: AsyncIterator[bytes] = _thread_chunks(_file_reads(stream), executor)
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


def log_stream_failure(exc: Exception, where: str) -> None:
    logger.error(
        "%s: the streamed response body raised %s; the response is cut short",
        where,
        type(exc).__name__,
        exc_info=exc,
    )


async def close_stream(stream: object) -> None:
    """Close an unfinished streamed body so its producer's cleanup runs."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(stream, "close", None)
    if close is not None:
        close()


_FILE_CHUNK = 256 * 1024


def _file_reads(body: FileBody) -> Iterator[bytes]:
    """The chunks of ``body`` read off the disk, each step a blocking call: sent through
    :func:`_thread_chunks`, whose steps run in the thread pool and which closes this
    generator (and so the file) after a step cut short by the client leaving."""
    with open(body.path, "rb") as file:
        file.seek(body.offset)
        remaining = body.length
        while remaining > 0:
            chunk = file.read(min(remaining, _FILE_CHUNK))
            if not chunk:
                return  # the file shrank since it was looked up
            remaining -= len(chunk)
            yield chunk


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


def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives, chunk by chunk."""

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnected("the client went away while sending the body")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    return chunks()
