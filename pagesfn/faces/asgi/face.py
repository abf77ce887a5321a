"""The ASGI face: translate ASGI to the pipeline and back, and choose how to call handlers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...adapters.mount import mount_scope
from ...engine.background import BackgroundWork
from ...engine.failures import Failures
from ...engine.flow import Flow
from ...engine.limits import Limits
from ...engine.pipeline import MountCall, Pipeline
from ...engine.websocket import GOING_AWAY
from ...errors import BodyTimedOut, RequestRefused
from ...http.wrappers import NO_BODY, Request, Response
from ...types import Receive, Scope, Send
from .body import (
    ASGIBody,
    LimitedReceive,
    body_chunks,
    check_request_head,
    route_path,
    scope_request,
)
from .lifespan import serve_lifespan
from .mounted import CountedGuard, StartedGuard, capture_asgi, replayed_receive, scope_for
from .send import close_stream, send_response
from .watchdog import Watchdog
from .websocket import Channel, close_all, serve_mounted

if TYPE_CHECKING:
    from ...kv import KVNamespace


class ASGIFace:
    """The ASGI 3 side of :class:`~pagesfn.Pages`, which inherits it: ``await pages(scope,
    receive, send)``. Works on the attributes ``Pages`` sets up."""

    pipeline: Pipeline
    failures: Failures
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
        checked = check_request_head(self.limits, scope)
        counted: LimitedReceive | None = None
        if checked is not False:
            if checked is not True:
                refusal = self.failures.refused(checked)
                await send_response(refusal, scope["method"], send, scope, self.executor)
                return
            assert self.limits.max_body_size is not None
            receive = counted = LimitedReceive(receive, self.limits.max_body_size)
        path, raw, encoded = route_path(scope)
        # Straight to a mounted app that owns its whole prefix: no request object.
        found = self.pipeline.fast_mount(raw)
        if found is None:
            loop = asyncio.get_running_loop()
            method: str = scope["method"]
            body = ASGIBody(receive, loop)
            request = scope_request(scope, method, path, raw, encoded, body)
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
                    response = self.failures.refused(counted.refusal())
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
        guard = StartedGuard(send) if counted is None else CountedGuard(send, counted)
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
            answer = self.failures.timed_out(call, watchdog.timeout)
        except Exception as exc:
            if guard.started:
                raise  # half a response is out: let the server close the connection
            call = MountCall(mount, prefix, scope["method"], scope["path"])
            answer = self.failures.mount_failed(call, exc)
        if watchdog is not None:
            watchdog.end(guard.task)
        if counted is not None and counted.exceeded and not guard.started:
            answer = self.failures.refused(counted.refusal())
        if answer is not None:
            await send_response(answer, scope["method"], send, scope, self.executor)

    def _late(self, flow: Flow, body: ASGIBody, timeout: float) -> Response:
        """The answer to a request the watchdog cancelled: 408 if it was waiting for the
        client to send the rest of the body (the client's fault), else 504."""
        if body.reading:
            return self.failures.refused(BodyTimedOut(timeout))
        return self.failures.timed_out(flow, timeout)

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
            await serve_lifespan(self, receive, send)
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
            checked = check_request_head(self.limits, scope)
            if isinstance(checked, RequestRefused):
                await channel.answer(self.failures.refused(checked))
                return
            path, raw, encoded = route_path(scope)
            found = self.pipeline.fast_mount(raw)
            if found is not None:
                mount, prefix = found
                child = mount_scope(scope, prefix, mount.state)
                await channel.answer(await serve_mounted(mount, child, channel, self.executor))
                return
            loop = asyncio.get_running_loop()
            request = scope_request(scope, "GET", path, raw, encoded, NO_BODY)
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
