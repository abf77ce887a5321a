"""The ASGI face's driver: an HTTP request through the lifecycle, and what the chain asks
of this face (sync handlers go to the thread pool, async ones are awaited here)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...adapters.mount import mount_scope
from ...adapters.wsgi_to_asgi import body_chunks
from ...engine.background import BackgroundWork
from ...engine.failures import Failures
from ...engine.flow import Flow
from ...engine.handler import MountCall
from ...engine.lifecycle import Lifecycle
from ...engine.limits import Limits
from ...engine.pipeline import Pipeline
from ...engine.resources import Resources
from ...engine.websocket import GOING_AWAY
from ...http.wrappers import Request, Response
from ...types import Receive, Scope, Send
from .body import (
    ASGIBody,
    LimitedReceive,
    check_request_head,
    route_path,
    scope_request,
)
from .lifespan import serve_lifespan
from .mounted import (
    capture_asgi,
    replayed_receive,
    scope_for,
    serve_mounted,
)
from .send import close_stream, send_response
from .watchdog import Watchdog
from .websocket import Channel, close_all, serve_mounted_websocket, serve_websocket

if TYPE_CHECKING:
    pass


#: What the chain hands back to this face for a request: ``(scope, receive)`` over HTTP,
#: the connection of a WebSocket handshake.
ASGIState = tuple[Scope, Receive] | Channel


class ASGIFace:
    """The ASGI 3 side of :class:`~pagesfn.Pages`, which inherits it: ``await pages(scope,
    receive, send)``. Works on the attributes ``Pages`` sets up."""

    pipeline: Pipeline
    failures: Failures
    lifecycle: Lifecycle
    executor: concurrent.futures.Executor
    limits: Limits
    background: BackgroundWork
    resources: Resources
    shutdown_timeout: float
    #: The open WebSocket connections, to close when the server shuts down.
    websockets: set[Channel]
    #: A future per streamed response being sent: resolving it ends the stream.
    streams: set[asyncio.Future[None]]
    #: What belongs to the loop serving requests (the server's): made once per loop.
    _on_loop: OnLoop | None = None
    #: Release everything (:meth:`~pagesfn.Pages.close`) once the lifespan has shut down,
    #: for a server whose process ends then (``pagesfn serve``); otherwise the app stays
    #: usable for another lifespan.
    close_at_shutdown = False
    #: Called on the server's loop once the lifespan has started, when the server's own
    #: signal handlers are in place: what the serving process sets up then.
    on_server_start: Callable[[], None] | None = None
    close: Callable[[], None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        lifecycle = self.lifecycle
        checked = check_request_head(self.limits, scope)
        counted: LimitedReceive | None = None
        if checked is not False:
            refusal = lifecycle.refusal(checked)
            if refusal is not None:
                await send_response(refusal, scope["method"], send, scope, self.executor)
                return
            assert self.limits.max_body_size is not None
            receive = counted = LimitedReceive(receive, self.limits.max_body_size)
        path, raw, encoded = route_path(scope)
        shortcut = lifecycle.shortcut
        found = None if shortcut is None else shortcut(raw)
        if found is not None:
            await serve_mounted(self, found[0], found[1], scope, receive, send, counted)
            return
        loop = asyncio.get_running_loop()
        method: str = scope["method"]
        body = ASGIBody(receive, loop)
        request = scope_request(scope, method, path, raw, encoded, body, self.limits.form)
        on_loop = self._on_loop
        if on_loop is None or on_loop.loop is not loop:
            on_loop = self.on_loop(loop)
        step = lifecycle.prepare(request, on_loop.schedule, self, (scope, receive), loop)
        if not isinstance(step, Flow):
            if isinstance(step, MountCall):
                await serve_mounted(self, step.mount, step.prefix, scope, receive, send, counted)
            else:
                await send_response(step, method, send, scope, self.executor, body, self.streams)
            return
        # Run in this frame, as a mounted app is, within the request timeout.
        watchdog = on_loop.watchdog
        task = None if watchdog is None else watchdog.watch()
        try:
            try:
                response = await step.arun()
            except Exception as exc:
                response = await step.arecover(exc)
        except asyncio.CancelledError:
            if watchdog is None or task is None or not watchdog.end(task):
                raise
            response = lifecycle.late(step, watchdog.timeout, reading=body.reading)
        if watchdog is not None and task is not None:
            watchdog.end(task)
        response, abandoned = lifecycle.finish(step, response, counted)
        for stream in abandoned:
            await close_stream(stream)
        await send_response(
            response, method, send, scope, self.executor, body, self.streams, step.file
        )

    def on_loop(self, loop: asyncio.AbstractEventLoop) -> OnLoop:
        """What belongs to ``loop``, the running one: made on its first request."""
        on_loop = self._on_loop
        if on_loop is None or on_loop.loop is not loop:
            on_loop = self._on_loop = OnLoop(self, loop)
        return on_loop

    # -- what the flow asks of this face ---------------------------------------------------

    native_async = True

    async def call_mount(
        self, call: MountCall, request: Request, flow: Flow[ASGIState]
    ) -> Response:
        """Call a mounted app for a middleware's ``next()``: its response comes back as a
        :class:`Response` whose body streams from the app as the app sends it."""
        state = flow.io
        if isinstance(state, Channel):  # a WebSocket handshake: the app takes it
            scope = scope_for(state.scope, request) if request.rewritten else state.scope
            child = mount_scope(scope, call.prefix, call.mount.state)
            return await serve_mounted_websocket(call.mount, child, state, self.executor)
        scope, receive = state
        mount = call.mount
        if request.rewritten:
            scope = scope_for(scope, request)
        child = mount_scope(scope, call.prefix, mount.state)
        app = mount.asgi(self.executor)
        return await capture_asgi(app, child, replayed_receive(request, receive))

    async def call_origin(self, request: Request, flow: Flow[ASGIState]) -> Response:
        origin = self.pipeline.origin
        state = flow.io
        assert origin is not None and not isinstance(state, Channel)  # no origin for those
        _, receive = state
        body = request.forwarded_body()
        if body is None:
            return await origin.afetch(request, request.akept_chunks(body_chunks(receive)))
        return await origin.afetch(request, body)

    def background_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await serve_lifespan(self, receive, send)
        elif kind == "websocket":
            await serve_websocket(self, scope, receive, send)
        else:
            raise RuntimeError(f"pagesfn does not handle ASGI scope type {kind!r}")

    async def close_connections(self, code: int = GOING_AWAY, reason: str = "") -> None:
        """End what would keep the server from stopping: streamed responses (their bodies
        are closed, as when the client leaves) and WebSocket connections (closed with
        ``code``, 1001 "going away" by default). ``pagesfn serve`` and ``pagesfn dev`` call
        it when they are asked to stop."""
        for stop in list(self.streams):
            if not stop.done():
                stop.set_result(None)
        await close_all(self.websockets, code, reason)


class OnLoop:
    """What the ASGI face keeps for the event loop serving its requests."""

    __slots__ = ("loop", "schedule", "watchdog")

    def __init__(self, face: ASGIFace, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: ``wait_until`` work goes to this loop.
        self.schedule: Callable[[Any], None] = functools.partial(
            face.background.schedule, loop=loop
        )
        timeout = face.limits.request_timeout
        #: What cancels requests past the request timeout; ``None`` without one.
        self.watchdog = None if timeout is None else Watchdog(loop, timeout)
