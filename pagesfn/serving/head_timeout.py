"""The request head timeout of ``pagesfn serve`` and ``pagesfn dev`` under uvicorn.

uvicorn bounds the idle time between two requests of a connection (its keep-alive
timeout) but not the time a client takes to send a request head: a connection that sends
nothing, or a head one byte at a time, is held open for good. Here a connection must send
each complete head within ``head_timeout`` seconds of being opened or of its previous
response; otherwise it is closed, after a 408 when part of a head had come.

:class:`HeadTimeoutProtocol` is the HTTP protocol ``pagesfn serve`` gives uvicorn: it wraps
the one uvicorn would pick and owns one timer per connection, which costs a request
nothing. Whether a request is being served is read off the inner protocol when the timer
goes off (its current request cycle, which uvicorn's h11 and httptools protocols both
keep as ``cycle``), and the end of each response moves the deadline (their
``on_response_complete``, which each cycle calls). A connection upgraded to a WebSocket
has another protocol on its transport: heads are over. The timeout itself is set in each
server process by :func:`set_timeout` (``None`` or 0: none).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

#: Seconds a connection has to send a complete request head: the default.
DEFAULT_HEAD_TIMEOUT = 15.0

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

#: The timeout of this process's server (``None``: none).
_timeout: float | None = DEFAULT_HEAD_TIMEOUT


def set_timeout(timeout: float | None) -> None:
    """Set the head timeout of the connections this process serves (``None`` or 0:
    none)."""
    global _timeout
    _timeout = timeout or None


class HeadTimeoutProtocol(asyncio.Protocol):
    """uvicorn's own HTTP protocol (``inner_http``, uvicorn's ``--http`` choice: h11, or
    httptools where installed), with the timer."""

    inner_http = "auto"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from uvicorn.config import HTTP_PROTOCOLS
        from uvicorn.importer import import_from_string

        self.inner: Any = import_from_string(HTTP_PROTOCOLS[self.inner_http])(*args, **kwargs)
        if not hasattr(self.inner, "cycle") or not hasattr(self.inner, "on_response_complete"):
            raise RuntimeError(
                f"{type(self.inner).__name__} has no request cycle to watch: the head "
                "timeout does not know this uvicorn version (set head_timeout = 0)"
            )
        # Each request cycle reports the end of its response to the protocol through
        # this attribute: the deadline of the next head moves then.
        self._responded = self.inner.on_response_complete
        self.inner.on_response_complete = self._response_complete
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        #: When the connection's next head is due (the loop's clock).
        self.deadline: float | None = None
        #: Whether bytes have come since the last response ended (part of a head).
        self.partial = False

    # -- asyncio.Protocol, passed on ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is one without being an asyncio.Transport subclass).
        self.transport = cast(asyncio.Transport, transport)
        self._start()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.partial = True
        self.inner.data_received(data)

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

    def _response_complete(self) -> None:
        self.partial = False
        # No timer per request: the one running moves its deadline when it goes off.
        if _timeout is not None:
            self.deadline = self.loop.time() + _timeout
        self._responded()

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
        if transport is None or transport.is_closing() or _timeout is None:
            return
        if transport.get_protocol() is not self:
            return  # upgraded to a WebSocket: heads are over
        now = self.loop.time()
        cycle = self.inner.cycle
        if cycle is not None and not cycle.response_complete:
            # Serving: the next head has the timeout from the end of this response.
            self.timer = self.loop.call_at(now + _timeout, self._expired)
            return
        deadline = self.deadline if self.deadline is not None else now
        if now < deadline:  # a response ended since the timer was set
            self.timer = self.loop.call_at(deadline, self._expired)
            return
        if self.partial:
            transport.write(_TIMED_OUT)
        transport.close()
