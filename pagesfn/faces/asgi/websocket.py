"""WebSocket connections on the ASGI face: the channel a handler's session runs on, the
handshake refused with a response, and mounted apps that take connections themselves."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from typing import TYPE_CHECKING

from ...adapters.detect import AppKind
from ...adapters.mount import mount_scope
from ...adapters.mounted import MountedApp
from ...engine.failures import internal_error, response_head
from ...engine.flow import Flow
from ...engine.handler import MountCall
from ...engine.websocket import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    WebSocketDisconnect,
    WebSocketState,
)
from ...http.wrappers import NO_BODY, Response
from ...types import Message, Receive, Scope, Send
from .body import check_request_head, route_path, scope_request
from .send import close_stream, raw_wire_headers

if TYPE_CHECKING:
    from .face import ASGIFace

logger = logging.getLogger("pagesfn")


class Channel:
    """The ASGI side of one WebSocket connection."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self._send = send
        #: The loop serving the connection.
        self.loop = asyncio.get_running_loop()
        self.state = WebSocketState.CONNECTING
        self.close_code: int | None = None
        self.close_reason = ""
        #: Whether an ``on_websocket`` handler has taken the connection.
        self.taken = False

    async def send(self, message: Message) -> None:
        """Send ``message``; a connection that is gone raises :class:`WebSocketDisconnect`."""
        try:
            await self.forward(message)
        except OSError:  # the client is gone (uvicorn's ClientDisconnected is one)
            raise WebSocketDisconnect(ABNORMAL_CLOSURE) from None

    async def forward(self, message: Message) -> None:
        """Send ``message`` for a mounted app, noting what it does to the connection;
        errors reach the app as the server raised them."""
        kind = message["type"]
        closing = kind == "websocket.close" and self.state is not WebSocketState.CLOSED
        if closing:
            # Noted before it is sent: the client's answer may reach a receive waiting
            # meanwhile (under Granian it does), and it answers this close.
            self._closed(message.get("code", NORMAL_CLOSURE), message.get("reason") or "")
        try:
            await self._send(message)
        except OSError:
            if closing:  # the client had gone: its connection was never closed cleanly
                self.close_code, self.close_reason = ABNORMAL_CLOSURE, ""
            self._closed(ABNORMAL_CLOSURE, "")
            raise
        if kind == "websocket.accept":
            self.state = WebSocketState.CONNECTED
        elif kind == "websocket.http.response.start":
            self.state = WebSocketState.CLOSED

    def _closed(self, code: int, reason: str) -> None:
        if self.state is not WebSocketState.CLOSED:
            self.state = WebSocketState.CLOSED
            self.close_code = code
            self.close_reason = reason

    def disconnected(self, message: Message) -> WebSocketDisconnect:
        """Note a ``websocket.disconnect`` message; the exception that reports it."""
        self._closed(message.get("code", ABNORMAL_CLOSURE), message.get("reason") or "")
        return WebSocketDisconnect(self.close_code or ABNORMAL_CLOSURE, self.close_reason)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection (refusing the handshake, if it is still open) unless it is
        closed already; a client already gone is no error."""
        if self.state is WebSocketState.CLOSED:
            return
        with contextlib.suppress(WebSocketDisconnect):
            await self.send({"type": "websocket.close", "code": code, "reason": reason})

    async def answer(self, response: Response) -> None:
        """Refuse the handshake with ``response``, unless the connection was answered.

        Servers that offer the ``websocket.http.response`` extension (uvicorn does) send the
        response itself; others answer 403.
        """
        if self.state is not WebSocketState.CONNECTING:
            return
        if response.stream is not None:
            await close_stream(response.stream)
        response, pairs = response_head(response, None, raw_wire_headers)
        if "websocket.http.response" not in self.scope.get("extensions", {}):
            await self.close(1008)  # before the handshake: the server answers 403
            return
        headers = [
            (name, value)
            for name, value in pairs
            if response.stream is None or name != b"content-length"
        ]
        status = response.status_code
        try:
            await self.send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await self._send({"type": "websocket.http.response.body", "body": response.body})
        except (OSError, WebSocketDisconnect):
            pass


async def serve_mounted_websocket(
    mount: MountedApp,
    scope: Scope,
    channel: Channel,
    executor: concurrent.futures.Executor,
) -> Response:
    """Hand the connection to a mounted app (``scope`` is the app's, with its prefix in
    ``root_path``); a WSGI app cannot take it and is not asked."""
    if mount.kind is not AppKind.ASGI:
        # The response names no file (it reaches any client); the log does.
        logger.warning("%s: a WSGI app cannot take WebSocket connections; refused", mount.file)
        return Response("A WSGI app answers this path: it cannot take WebSocket connections", 403)
    try:
        await mount.asgi(executor)(scope, channel.receive, channel.forward)
    except OSError:
        pass  # the client went away and the app let the server's error through
    except Exception as exc:
        logger.error(
            "%s: mounted %s raised %s on the WebSocket %s",
            mount.file,
            mount.kind.label,
            type(exc).__name__,
            scope.get("path"),
            exc_info=exc,
        )
        if channel.state is WebSocketState.CONNECTING:
            return internal_error()
        await channel.close(INTERNAL_ERROR)
    if channel.state is WebSocketState.CONNECTING:
        logger.error("%s: the mounted app returned without answering a WebSocket", mount.file)
        return internal_error()
    return Response(b"", 101)


async def close_all(channels: set[Channel], code: int = GOING_AWAY, reason: str = "") -> None:
    """Close every open connection of ``channels``, as the server shuts down."""
    await asyncio.gather(
        *(channel.close(code, reason) for channel in list(channels)), return_exceptions=True
    )


async def serve_websocket(face: ASGIFace, scope: Scope, receive: Receive, send: Send) -> None:
    """One WebSocket connection through the request's lifecycle, routed as a ``GET``
    request: middleware runs, then ``on_websocket`` or a mounted app takes the connection;
    whatever else answers refuses the handshake with its response."""
    channel = Channel(scope, receive, send)
    face.websockets.add(channel)
    lifecycle = face.lifecycle
    try:
        # The same head limits as over HTTP (a handshake has no body to count).
        refusal = lifecycle.refusal(check_request_head(face.limits, scope))
        if refusal is not None:
            await channel.answer(refusal)
            return
        path, raw, encoded = route_path(scope)
        shortcut = lifecycle.shortcut
        found = None if shortcut is None else shortcut(raw)
        if found is not None:
            mount, prefix = found
            child = mount_scope(scope, prefix, mount.state)
            await channel.answer(
                await serve_mounted_websocket(mount, child, channel, face.executor)
            )
            return
        loop = asyncio.get_running_loop()
        request = scope_request(scope, "GET", path, raw, encoded, NO_BODY, face.limits.form)
        request.websocket = True
        step = lifecycle.prepare(request, face.on_loop(loop).schedule, face, channel, loop)
        if isinstance(step, Flow):
            try:
                response = await step.arun()
            except Exception as exc:
                response = await step.arecover(exc)
            response, abandoned = lifecycle.finish(step, response)
            for stream in abandoned:
                await close_stream(stream)
        elif isinstance(step, MountCall):
            child = mount_scope(scope, step.prefix, step.mount.state)
            response = await serve_mounted_websocket(step.mount, child, channel, face.executor)
        else:
            response = step
        await channel.answer(response)
    finally:
        face.websockets.discard(channel)
