"""The WebSocket API of ``on_websocket`` handlers: :class:`WebSocket` (async) and
:class:`SyncWebSocket`, and the chain step that runs a handler's session.

A handshake is routed like a ``GET`` request: middleware sees it as one (and may answer it
with a response, which refuses the connection with that status), then the route's
``on_websocket`` handler takes the connection. The connection itself is a
:class:`Connection`, which the ASGI face provides (``pagesfn.faces.asgi.websocket``).
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from ..http.wrappers import Response, dump_json
from ..types import Message, Receive, Scope
from .context import Context, flow_of
from .handler import Handler

logger = logging.getLogger("pagesfn")

T = TypeVar("T")

#: Close codes (RFC 6455 section 7.4.1).
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
ABNORMAL_CLOSURE = 1006  # the connection dropped without a close frame; never sent
INTERNAL_ERROR = 1011


class WebSocketState(enum.Enum):
    CONNECTING = "connecting"  # the handshake has not been answered
    CONNECTED = "connected"
    CLOSED = "closed"


class WebSocketDisconnect(Exception):
    """The connection is closed: the client went away, or it was closed from this side.

    ``code`` is the close code (1006 when the connection dropped without one).
    """

    def __init__(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        super().__init__(
            f"the WebSocket closed with code {code}" + (f": {reason}" if reason else "")
        )
        self.code = code
        self.reason = reason


class Connection(Protocol):
    """One WebSocket connection as a face holds it: what has been sent on it so far, so
    the face knows whether the handshake still needs an answer."""

    scope: Scope
    receive: Receive
    state: WebSocketState
    close_code: int | None
    close_reason: str
    #: Whether an ``on_websocket`` handler has taken the connection.
    taken: bool

    async def send(self, message: Message) -> None:
        """Send ``message``; a connection that is gone raises :class:`WebSocketDisconnect`."""

    def disconnected(self, message: Message) -> WebSocketDisconnect:
        """Note a ``websocket.disconnect`` message; the exception that reports it."""

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection unless it is closed already."""


class WebSocket:
    """A WebSocket connection, for ``async def on_websocket(socket)``.

    ``context`` is the same :class:`~pagesfn.Context` HTTP handlers get (``request``
    is the handshake, ``params``, ``env``, ``data``, ``wait_until``...). Accept the
    connection, then send and receive text, bytes or JSON; ``async for message in socket``
    receives until the client goes away. A closed connection raises
    :class:`WebSocketDisconnect` from ``receive`` and ``send``.
    """

    def __init__(self, context: Context, channel: Connection) -> None:
        self.context = context
        self._channel = channel

    def __repr__(self) -> str:
        return f"<WebSocket {self.context.request.path} {self.state.value}>"

    @property
    def state(self) -> WebSocketState:
        return self._channel.state

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self._channel.scope.get("subprotocols", ()))

    @property
    def close_code(self) -> int | None:
        """How the connection closed, once it has."""
        return self._channel.close_code

    async def accept(
        self, subprotocol: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Complete the handshake, choosing one of :attr:`subprotocols` if the client
        offered any; ``headers`` go into the handshake's response."""
        channel = self._channel
        if channel.state is not WebSocketState.CONNECTING:
            raise RuntimeError(f"accept() on a WebSocket that is {channel.state.value}")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            offered = ", ".join(self.subprotocols) or "none"
            raise ValueError(
                f"the client did not offer the subprotocol {subprotocol!r} ({offered})"
            )
        message = await channel.receive()
        if message["type"] == "websocket.disconnect":
            raise channel.disconnected(message)
        accept: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            accept["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
        await channel.send(accept)

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for a text message, ``bytes`` for a binary one."""
        channel = self._channel
        if channel.state is not WebSocketState.CONNECTED:
            if channel.state is WebSocketState.CONNECTING:
                raise RuntimeError("accept() the WebSocket before receiving")
            raise WebSocketDisconnect(channel.close_code or NORMAL_CLOSURE, channel.close_reason)
        message = await channel.receive()
        if message["type"] == "websocket.receive":
            text: str | None = message.get("text")
            if text is not None:
                return text
            data: bytes = message.get("bytes") or b""
            return data
        if message["type"] == "websocket.disconnect":
            raise channel.disconnected(message)
        raise RuntimeError(f"unexpected ASGI message {message['type']!r} on a WebSocket")

    async def receive_text(self) -> str:
        message = await self.receive()
        if not isinstance(message, str):
            raise TypeError("received a binary message where text was expected (receive_bytes)")
        return message

    async def receive_bytes(self) -> bytes:
        message = await self.receive()
        if not isinstance(message, bytes):
            raise TypeError("received a text message where binary was expected (receive_text)")
        return message

    async def receive_json(self) -> Any:
        """The next message (text or binary) parsed as JSON."""
        return json.loads(await self.receive())

    async def send(self, data: str | bytes) -> None:
        """Send a text message (``str``) or a binary one (``bytes``)."""
        channel = self._channel
        if channel.state is not WebSocketState.CONNECTED:
            if channel.state is WebSocketState.CONNECTING:
                raise RuntimeError("accept() the WebSocket before sending")
            raise WebSocketDisconnect(channel.close_code or NORMAL_CLOSURE, channel.close_reason)
        if isinstance(data, str):
            await channel.send({"type": "websocket.send", "text": data})
        elif isinstance(data, (bytes, bytearray, memoryview)):
            await channel.send({"type": "websocket.send", "bytes": bytes(data)})
        else:
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__} (send_json?)")

    async def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes a str, not {type(data).__name__}")
        await self.send(data)

    async def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__}")
        await self.send(data)

    async def send_json(self, data: Any, *, binary: bool = False) -> None:
        """Send ``data`` as JSON, in a text message (or a binary one)."""
        encoded = dump_json(data)
        await self.send(encoded if binary else encoded.decode())

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection with ``code`` (before :meth:`accept`: refuse it with 403)."""
        await self._channel.close(code, reason)

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Each message until the client closes the connection."""
        while True:
            try:
                message = await self.receive()
            except WebSocketDisconnect:
                return
            yield message


class SyncWebSocket:
    """The blocking twin of :class:`WebSocket`, for ``def on_websocket(socket)`` (which runs
    in the thread pool); ``for message in socket`` receives until the client goes away."""

    def __init__(self, socket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self._socket = socket
        self._loop = loop
        self.context = socket.context

    def __repr__(self) -> str:
        return f"<SyncWebSocket {self.context.request.path} {self.state.value}>"

    @property
    def state(self) -> WebSocketState:
        return self._socket.state

    @property
    def subprotocols(self) -> list[str]:
        return self._socket.subprotocols

    @property
    def close_code(self) -> int | None:
        return self._socket.close_code

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def accept(
        self, subprotocol: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        self._run(self._socket.accept(subprotocol, headers))

    def receive(self) -> str | bytes:
        return self._run(self._socket.receive())

    def receive_text(self) -> str:
        return self._run(self._socket.receive_text())

    def receive_bytes(self) -> bytes:
        return self._run(self._socket.receive_bytes())

    def receive_json(self) -> Any:
        return self._run(self._socket.receive_json())

    def send(self, data: str | bytes) -> None:
        self._run(self._socket.send(data))

    def send_text(self, data: str) -> None:
        self._run(self._socket.send_text(data))

    def send_bytes(self, data: bytes) -> None:
        self._run(self._socket.send_bytes(data))

    def send_json(self, data: Any, *, binary: bool = False) -> None:
        self._run(self._socket.send_json(data, binary=binary))

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        self._run(self._socket.close(code, reason))

    def __iter__(self) -> Iterator[str | bytes]:
        while True:
            try:
                message = self.receive()
            except WebSocketDisconnect:
                return
            yield message


def websocket_session(handler: Handler) -> Handler:
    """The chain step for an ``on_websocket`` handler: it runs the handler with the
    connection and closes what the handler leaves open.

    A handler that fails before accepting fails the request as an HTTP handler would (the
    handshake gets the 500); one that fails later is logged and the connection closed with
    1011. The step's response says "switched protocols": nothing more is sent for it.
    """
    user: Callable[[Any], Any] = handler.fn

    async def session(context: Context) -> Response:
        flow = flow_of(context)
        assert flow is not None
        channel: Connection = flow.io
        if channel.taken:
            raise RuntimeError("next() reached the WebSocket handler a second time")
        channel.taken = True
        socket = WebSocket(context, channel)
        try:
            if handler.is_async:
                await user(socket)
            else:
                loop = asyncio.get_running_loop()
                run: Callable[..., Any] = contextvars.copy_context().run
                await loop.run_in_executor(
                    flow.face.executor, run, user, SyncWebSocket(socket, loop)
                )
        except WebSocketDisconnect:
            pass  # the client went away, or the handler closed and then used the socket
        except Exception as exc:
            if channel.state is WebSocketState.CONNECTING:
                raise
            logger.error(
                "%s: handler `%s` raised %s on the WebSocket %s (request %s)",
                context.function_path,
                handler.name,
                type(exc).__name__,
                context.request.path,
                context.uuid,
                exc_info=exc,
            )
            await channel.close(INTERNAL_ERROR)
            return Response(b"", 101)
        if channel.state is WebSocketState.CONNECTING:
            return Response("The WebSocket handler returned without accepting", 403)
        await channel.close(NORMAL_CLOSURE)
        return Response(b"", 101)

    return Handler(session, handler.name, is_async=True)
