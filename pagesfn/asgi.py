"""The ASGI face: translate ASGI to the pipeline and back, and choose how to call handlers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from werkzeug.datastructures import Headers

from .adapters import LifespanError, LifespanGroup, mount_scope, read_body
from .background import BackgroundWork
from .pipeline import Invocation, MountCall, Pipeline, wire_headers
from .types import Message, Receive, Scope, Send
from .wrappers import Request, Response

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


def _headers_of(scope: Scope) -> Callable[[], Headers]:
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


# Results that are certainly not awaitable, checked before the slower ABC test.
_PLAIN_RESULTS = frozenset({Response, str, bytes, dict, list, tuple})


class ASGIFace:
    """The ASGI 3 side of :class:`~pagesfn.Pages`, which inherits it: ``await pages(scope,
    receive, send)``. Works on the attributes ``Pages`` sets up."""

    pipeline: Pipeline
    executor: concurrent.futures.Executor
    background: BackgroundWork
    shutdown_timeout: float

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
                _headers_of(scope),
                client[0] if client else None,
                ASGIBody(receive, loop),
            )
            step = self.pipeline.prepare(
                request, raw, self._scheduler(loop), percent_encoded=encoded
            )
            if isinstance(step, Invocation):
                await _send(await self._invoke(step, loop), method, send)
                return
            if not isinstance(step, MountCall):
                await _send(step, method, send)
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
            await _send(self.pipeline.mount_failed(call, exc), scope["method"], send)

    def _scheduler(self, loop: asyncio.AbstractEventLoop) -> Callable[[Any], None]:
        # ``wait_until`` work goes to the loop serving the request; one binding per loop.
        cached: tuple[asyncio.AbstractEventLoop, Callable[[Any], None]] | None = getattr(
            self, "_scheduler_cache", None
        )
        if cached is None or cached[0] is not loop:
            cached = (loop, functools.partial(self.background.schedule, loop=loop))
            self._scheduler_cache = cached
        return cached[1]

    async def _invoke(self, invocation: Invocation, loop: asyncio.AbstractEventLoop) -> Response:
        handler = invocation.handler
        try:
            if handler.is_async:
                result = await handler.fn(invocation.context)
            else:
                call: Callable[..., Any] = contextvars.copy_context().run
                result = await loop.run_in_executor(
                    self.executor, call, handler.fn, invocation.context
                )
            if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return self.pipeline.fail(invocation, exc)
        return self.pipeline.complete(invocation, result)

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


async def _send(response: Response, method: str, send: Send) -> None:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in wire_headers(response)
    ]
    body = b"" if method == "HEAD" else response.body
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
