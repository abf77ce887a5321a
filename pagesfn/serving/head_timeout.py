"""The request head timeout of ``pagesfn serve`` and ``pagesfn dev``.

uvicorn bounds the idle time between two requests of a connection (its keep-alive
timeout) but not the time a client takes to send a request head: a connection that sends
nothing, or a head one byte at a time, is held open for good. Here a connection must send
each complete head within ``head_timeout`` seconds of being opened or of its previous
response; otherwise it is closed, after a 408 when part of a head had come.

Two pieces, neither reaching into uvicorn: :class:`HeadTimeoutProtocol`, the HTTP protocol
``pagesfn serve`` gives uvicorn (it wraps the one uvicorn would pick and owns the timer),
and :class:`HeadWatch`, an ASGI middleware that tells the connection's protocol when a
head has arrived and when its response is over. The protocol makes itself the current
connection (a context variable) while uvicorn handles its bytes, which is when uvicorn
creates the task running the app for a head: the task inherits it.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, cast

from ..types import ASGIApp, Receive, Scope, Send

#: Seconds a connection has to send a complete request head: the default.
DEFAULT_HEAD_TIMEOUT = 15.0

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

_connection: contextvars.ContextVar[HeadTimeoutProtocol | None] = contextvars.ContextVar(
    "pagesfn_connection", default=None
)

#: The timeout of this process's server, set by :class:`HeadWatch` (``None``: none).
_timeout: float | None = DEFAULT_HEAD_TIMEOUT


class HeadTimeoutProtocol(asyncio.Protocol):
    """uvicorn's own HTTP protocol (``inner_http``, uvicorn's ``--http`` choice: h11, or
    httptools where installed), with the timer."""

    inner_http = "auto"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from uvicorn.config import HTTP_PROTOCOLS
        from uvicorn.importer import import_from_string

        self.inner: Any = import_from_string(HTTP_PROTOCOLS[self.inner_http])(*args, **kwargs)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        #: When the connection's next head is due (the loop's clock).
        self.deadline: float | None = None
        #: Requests whose head has arrived and whose response is not over.
        self.active = 0
        #: Whether bytes of a head have come since the timer started.
        self.partial = False
        self.upgraded = False

    # -- asyncio.Protocol, passed on ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is one without being an asyncio.Transport subclass).
        self.transport = cast(asyncio.Transport, transport)
        self._start()
        token = _connection.set(self)
        try:
            self.inner.connection_made(transport)
        finally:
            _connection.reset(token)

    def data_received(self, data: bytes) -> None:
        if self.active == 0:
            self.partial = True
        token = _connection.set(self)
        try:
            self.inner.data_received(data)
        finally:
            _connection.reset(token)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self.inner.connection_lost(exc)

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- what HeadWatch reports -----------------------------------------------------------

    def head_received(self) -> None:
        self.active += 1
        self.partial = False

    def response_done(self) -> None:
        self.active -= 1
        # No timer per request: the one running moves its deadline when it goes off.
        self.deadline = self.loop.time() + _timeout if _timeout is not None else None

    def upgrade(self) -> None:
        """The connection is a WebSocket now: heads are over."""
        self.upgraded = True
        self.active += 1
        self._cancel()

    # -- the timer ------------------------------------------------------------------------

    def _start(self) -> None:
        if _timeout is not None:
            self.deadline = self.loop.time() + _timeout
            self.timer = self.loop.call_at(self.deadline, self._expired)

    def _cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or self.upgraded or _timeout is None:
            return
        now = self.loop.time()
        deadline = self.deadline if self.deadline is not None else now
        if self.active or now < deadline:
            # Serving, or a response ended since: the next head has until its deadline.
            self.timer = self.loop.call_at(
                now + _timeout if self.active else deadline, self._expired
            )
            return
        if self.partial:
            transport.write(_TIMED_OUT)
        transport.close()


class HeadWatch:
    """Reports each request of a connection to its :class:`HeadTimeoutProtocol`; sets this
    process's head timeout (``None`` or 0: none)."""

    def __init__(self, app: ASGIApp, timeout: float | None) -> None:
        global _timeout
        _timeout = timeout or None
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = _connection.get()
        kind = scope["type"]
        if connection is None or kind == "lifespan":
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            connection.upgrade()
            await self.app(scope, receive, send)
            return
        connection.head_received()
        try:
            await self.app(scope, receive, send)
        finally:
            connection.response_done()
