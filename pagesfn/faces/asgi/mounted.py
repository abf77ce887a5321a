"""Calling a mounted app on the ASGI face: its head checked as it starts, a body past the
limit answered 413 whatever the app does, and its response captured for ``next()``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...adapters.mount import mount_scope
from ...adapters.mounted import MountedApp
from ...concurrency import as_coroutine
from ...engine.handler import MountCall
from ...http.head import (
    check_raw_head,
)
from ...http.wrappers import Request, Response
from ...types import Message, Receive, Scope, Send
from .body import LimitedReceive
from .send import send_response
from .watchdog import Watchdog

if TYPE_CHECKING:
    from .face import ASGIFace

logger = logging.getLogger("pagesfn")


async def serve_mounted(
    face: ASGIFace,
    mount: MountedApp,
    prefix: str,
    scope: Scope,
    receive: Receive,
    send: Send,
    counted: LimitedReceive | None,
) -> None:
    """Hand the request to a mounted app (its prefix added to ``root_path``), called in
    this frame: every await layer shows in its throughput. A failure (or the request
    timeout) before its response starts is answered for it; a body past the limit is a
    413, whatever the app answered."""
    guard = StartedGuard(send) if counted is None else CountedGuard(send, counted)
    # The request timeout runs until the response starts: the guard ends it then.
    watchdog = guard.watchdog = face.on_loop(asyncio.get_running_loop()).watchdog
    if watchdog is not None:
        guard.task = watchdog.watch()
    answer: Response | None = None
    try:
        await mount.asgi(face.executor)(mount_scope(scope, prefix, mount.state), receive, guard)
    except asyncio.CancelledError:
        if watchdog is None or not watchdog.end(guard.task):
            raise
        call = MountCall(mount, prefix, scope["method"], scope["path"])
        answer = face.lifecycle.late(call, watchdog.timeout)
    except Exception as exc:
        if guard.started:
            raise  # half a response is out: let the server close the connection
        call = MountCall(mount, prefix, scope["method"], scope["path"])
        answer = face.lifecycle.mount_failed(call, exc, counted)
    if watchdog is not None:
        watchdog.end(guard.task)
    if counted is not None and counted.exceeded and not guard.started:
        # Whatever happened to the app (a failure, the timeout), its body passed the limit.
        answer = face.failures.refused(counted.refusal())
    if answer is not None:
        await send_response(answer, scope["method"], send, scope, face.executor)


class StartedGuard:
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


class CountedGuard(StartedGuard):
    """:class:`StartedGuard` for a body of unknown length: once it has passed the limit,
    what the app sends in place of a response is dropped (the face answers 413)."""

    __slots__ = ("counted",)

    def __init__(self, send: Send, counted: LimitedReceive) -> None:
        super().__init__(send)
        self.counted = counted

    async def __call__(self, message: Message) -> None:
        if self.counted.exceeded and not self.started:
            return
        await super().__call__(message)


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
    body = request.received_body
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


_running: set[asyncio.Future[Any]] = set()
