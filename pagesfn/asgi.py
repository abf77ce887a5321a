"""The ASGI face: translate ASGI to the pipeline and back, and choose how to call handlers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers

from .adapters import LifespanError, LifespanGroup, mount_scope, read_body
from .background import BackgroundWork
from .captured import capture_asgi, replayed_receive, scope_for
from .errors import ClientDisconnected
from .flow import Flow
from .pipeline import MountCall, Pipeline, wire_headers
from .types import Message, Receive, Scope, Send
from .wrappers import FileBody, Request, Response, carries_body

if TYPE_CHECKING:
    from .kv import KVNamespace

logger = logging.getLogger("pagesfn")


class ASGIBody:
    """The request body of one ASGI request, pulled from ``receive`` on demand."""

    __slots__ = ("_loop", "_receive")

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop

    async def aread(self) -> bytes:
        return await read_body(self._receive)

    def read(self) -> bytes:
        # Called from a sync handler in the thread pool: hop to the server's loop.
        return asyncio.run_coroutine_threadsafe(self.aread(), self._loop).result()


def scope_headers(scope: Scope) -> Callable[[], Headers]:
    def build() -> Headers:
        return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])

    return build


def _route_path(scope: Scope) -> tuple[str, bytes, bool]:
    """The app-relative path (decoded) and the raw bytes to route on.

    ``scope["path"]`` holds the full path and ``root_path`` the prefix an outer app mounted
    this one under (ASGI spec); the prefix is removed before routing.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    raw: bytes | None = scope.get("raw_path")
    if root_path and (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
        path = path[len(root_path) :] or "/"
        if raw is not None:
            depth = root_path.rstrip("/").count("/")
            raw = b"/" + b"/".join(raw.split(b"/")[depth + 1 :])
    if raw is None:
        return path, path.encode("utf-8"), False
    return path, raw, True


class ASGIFace:
    """The ASGI 3 side of :class:`~pagesfn.Pages`, which inherits it: ``await pages(scope,
    receive, send)``. Works on the attributes ``Pages`` sets up."""

    pipeline: Pipeline
    executor: concurrent.futures.Executor
    background: BackgroundWork
    shutdown_timeout: float
    kv: dict[str, KVNamespace]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        path, raw, encoded = _route_path(scope)
        # Straight to a mounted app that owns its whole prefix: no request object.
        found = self.pipeline.fast_mount(raw)
        if found is None:
            loop = asyncio.get_running_loop()
            method: str = scope["method"]
            client = scope.get("client")
            request = Request(
                method,
                scope.get("scheme", "http"),
                scope.get("server"),
                scope.get("root_path", ""),
                path,
                scope.get("query_string", b""),
                scope_headers(scope),
                client[0] if client else None,
                ASGIBody(receive, loop),
                raw,
                encoded,
            )
            step = self.pipeline.prepare(
                request, self._scheduler(loop), self, (scope, receive), loop
            )
            if isinstance(step, Flow):
                try:
                    response = await step.arun()
                except Exception as exc:
                    response = await step.arecover(exc)
                try:
                    if step.opened:
                        for stream in step.abandoned(response.stream):
                            await close_stream(stream)
                    await send_response(response, method, send, scope, self.executor)
                finally:
                    request.close()
                return
            if not isinstance(step, MountCall):
                await send_response(step, method, send, scope, self.executor)
                return
            found = step.mount, step.prefix
        # A mounted app, called in this frame: every await layer shows in its throughput.
        mount, prefix = found
        guard = _StartedGuard(send)
        try:
            await mount.asgi(self.executor)(mount_scope(scope, prefix, mount.state), receive, guard)
        except Exception as exc:
            if guard.started:
                raise  # half a response is out: let the server close the connection
            call = MountCall(mount, prefix, scope["method"], scope["path"])
            response = self.pipeline.mount_failed(call, exc)
            await send_response(response, scope["method"], send, scope, self.executor)

    # -- what the flow asks of this face ---------------------------------------------------

    native_async = True

    async def call_mount(self, call: MountCall, request: Request, flow: Flow) -> Response:
        """Call a mounted app for a middleware's ``next()``: its response comes back as a
        :class:`Response` whose body streams from the app as the app sends it."""
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
            # Closing before accepting makes the server refuse the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
        else:
            raise RuntimeError(f"pagesfn does not handle ASGI scope type {kind!r}")

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
                await send({"type": "lifespan.shutdown.complete"})
                return


class _StartedGuard:
    """Wraps ``send`` to note whether a response has started.

    A plain function returning ``send``'s awaitable rather than a coroutine of its own:
    apps only ever ``await send(...)``, and this costs no extra frame per message.
    """

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    def __call__(self, message: Message) -> Awaitable[None]:
        # Any message at all means the response has begun: the first must be its start.
        self.started = True
        return self.send(message)


async def send_response(
    response: Response,
    method: str,
    send: Send,
    scope: Scope,
    executor: concurrent.futures.Executor | None,
) -> None:
    """Send ``response``; a streamed body is sent as it is produced, a file by name when
    the server supports ``http.response.pathsend``. Files and sync iterables are read in
    ``executor`` (``None``: the loop's default one)."""
    stream = response.stream
    content_type = response.untouched_content_type()
    if content_type is not None and stream is None and carries_body(response.status_code):
        # Headers nobody has looked at: two pairs, without building them.
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(response.body)).encode("ascii")),
        ]
    else:
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in wire_headers(response)
        ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    if stream is None:
        body = b"" if method == "HEAD" else response.body
        await send({"type": "http.response.body", "body": body})
        return
    if method == "HEAD" or not carries_body(response.status_code):
        await close_stream(stream)
        await send({"type": "http.response.body", "body": b""})
        return
    if isinstance(stream, FileBody):
        if stream.whole and "http.response.pathsend" in scope.get("extensions", ()):
            await send({"type": "http.response.pathsend", "path": stream.path})
            return
        chunks: AsyncIterator[bytes] = _file_chunks(stream, executor)
    elif isinstance(stream, AsyncIterable):
        chunks = aiter(stream)
    else:
        chunks = _thread_chunks(stream, executor)
    try:
        async for chunk in chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        await close_stream(chunks)
    await send({"type": "http.response.body", "body": b""})


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


async def _file_chunks(
    body: FileBody, executor: concurrent.futures.Executor | None
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    file = await loop.run_in_executor(executor, open, body.path, "rb")
    try:
        await loop.run_in_executor(executor, file.seek, body.offset)
        remaining = body.length
        while remaining > 0:
            chunk = await loop.run_in_executor(executor, file.read, min(remaining, _FILE_CHUNK))
            if not chunk:
                break  # the file shrank since it was looked up
            remaining -= len(chunk)
            yield chunk
    finally:
        await loop.run_in_executor(executor, file.close)


async def _thread_chunks(
    iterable: Iterable[bytes], executor: concurrent.futures.Executor | None
) -> AsyncIterator[bytes]:
    # A sync iterable may block between chunks: each step runs in the thread pool.
    loop = asyncio.get_running_loop()
    iterator = iter(iterable)
    done = object()
    try:
        while True:
            chunk = await loop.run_in_executor(executor, next, iterator, done)
            if chunk is done:
                return
            yield chunk  # type: ignore[misc]
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            await loop.run_in_executor(executor, close)


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
