"""The ASGI face: translate ASGI to the pipeline and back, and choose how to call handlers."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers

from .errors import ClientDisconnected
from .pipeline import Invocation
from .types import Receive, Scope, Send
from .wrappers import Request, Response

if TYPE_CHECKING:
    from .app import Pages

logger = logging.getLogger("pagesfn")


class ASGIBody:
    """The request body of one ASGI request, pulled from ``receive`` on demand."""

    __slots__ = ("_loop", "_receive")

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop

    async def aread(self) -> bytes:
        chunks = []
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

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


class ASGIFace:
    def __init__(self, app: Pages) -> None:
        self.app = app
        self.pipeline = app.pipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            # Closing before accepting makes the server refuse the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
        else:
            raise RuntimeError(f"pagesfn does not handle ASGI scope type {kind!r}")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        method: str = scope["method"]
        path, raw, encoded = _route_path(scope)
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
        schedule = functools.partial(self.app.background.schedule, loop=loop)
        step = self.pipeline.prepare(request, raw, schedule, percent_encoded=encoded)
        if isinstance(step, Invocation):
            step = await self._invoke(step, loop)
        await _send_response(step, method, send)

    async def _invoke(self, invocation: Invocation, loop: asyncio.AbstractEventLoop) -> Response:
        handler = invocation.handler
        try:
            if handler.is_async:
                result = await handler.fn(invocation.context)
            else:
                call: Callable[..., Any] = contextvars.copy_context().run
                result = await loop.run_in_executor(
                    self.app.executor, call, handler.fn, invocation.context
                )
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return self.pipeline.fail(invocation, exc)
        return self.pipeline.complete(invocation, result)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.background.drain(self.app.shutdown_timeout)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send_response(response: Response, method: str, send: Send) -> None:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.items()
    ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})
