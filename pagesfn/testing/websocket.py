"""A WebSocket session with an ASGI app in process, from synchronous test code.

:class:`WebSocketSession` runs the app's ``websocket`` scope on the event loop of an ASGI
session (:func:`pagesfn.testing.client.asgi_session`) and speaks the ASGI WebSocket protocol
to it as a server would: the handshake (accepted, or refused with a close or an HTTP
response), messages both ways, and the close from either side. Every wait is bounded by
``timeout`` seconds, so a handler that never answers fails the test instead of hanging it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from .client import BASE_URL, CLIENT_ADDRESS

if TYPE_CHECKING:
    from concurrent.futures import Future
    from types import TracebackType

    import anyio.from_thread

    from ..app import Pages

DEFAULT_TIMEOUT = 10.0


class WebSocketRefused(Exception):
    """The app refused the handshake: ``status`` is the HTTP status a client sees (403 for
    a close before accepting), ``body`` what an HTTP refusal sent."""

    def __init__(self, status: int, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()):
        self.status = status
        self.body = body
        self.headers = list(headers)
        super().__init__(f"the WebSocket handshake was refused with {status}")


class WebSocketClosed(Exception):
    """The app closed the connection: ``code`` and ``reason`` are its close frame's."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"the app closed the WebSocket with {code} {reason}".rstrip())


class WebSocketSession:
    """One connection to ``path`` (a path, with a query if any), open inside ``with``.

    ``subprotocol`` and ``headers`` are what the app accepted with; ``close_code`` is set
    once the app has closed.
    """

    def __init__(
        self,
        app: Pages,
        portal: anyio.from_thread.BlockingPortal,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.portal = portal
        self.timeout = timeout
        self.subprotocol: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.close_code: int | None = None
        self.close_reason = ""
        url = httpx.URL(BASE_URL).join(path)
        sent = [(b"host", url.netloc)] + [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ]
        if subprotocols:
            sent.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode("latin-1")))
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": httpx.URL(url).path,
            "raw_path": url.raw_path.split(b"?")[0],
            "root_path": "",
            "query_string": url.query,
            "headers": sent,
            "client": (CLIENT_ADDRESS, 50000),
            "server": (url.host, url.port or 80),
            "subprotocols": list(subprotocols),
            "extensions": {"websocket.http.response": {}},
            "state": {},
        }
        self._task: Future[None] | None = None

    def __enter__(self) -> WebSocketSession:
        import anyio

        self._to_app_send, self._to_app = self.portal.call(_stream)
        self._from_app_send, self._from_app = self.portal.call(_stream)

        async def run() -> None:
            try:
                await self.app(self.scope, self._to_app.receive, self._from_app_send.send)
            finally:
                # Wakes a test waiting for a message the app will never send.
                with anyio.CancelScope(shield=True):
                    await self._from_app_send.send({"type": "pagesfn.test.app-returned"})

        self._task = self.portal.start_task_soon(run)
        self._put({"type": "websocket.connect"})
        first = self._take()
        if first["type"] == "websocket.accept":
            self.subprotocol = first.get("subprotocol")
            self.headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in first.get("headers", [])
            ]
            return self
        refused = WebSocketRefused(403)
        if first["type"] == "websocket.http.response.start":
            body = b""
            while True:
                part = self._take()
                if part["type"] != "websocket.http.response.body":
                    break
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    break
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in first["headers"]]
            refused = WebSocketRefused(first["status"], body, headers)
        self._finish()
        raise refused

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.close_code is None:
            self._put({"type": "websocket.disconnect", "code": 1000, "reason": ""})
        self._finish()

    # -- sending ---------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self._put({"type": "websocket.receive", "text": text})

    def send_bytes(self, data: bytes) -> None:
        self._put({"type": "websocket.receive", "bytes": data})

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Leave, as a client closing the connection does; the app sees a disconnect."""
        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.close_code, self.close_reason = code, reason
        self._finish()

    # -- receiving -------------------------------------------------------------------------

    def receive(self) -> str | bytes:
        """The next message the app sends, text or bytes; :class:`WebSocketClosed` when it
        closes instead."""
        message = self._take()
        if message["type"] == "websocket.send":
            data: str | bytes | None = message.get("text")
            return message.get("bytes", b"") if data is None else data
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebSocketClosed(self.close_code, self.close_reason)
        if message["type"] == "pagesfn.test.app-returned":
            self.close_code = 1006
            raise WebSocketClosed(1006, "the app returned without closing")
        raise AssertionError(f"an ASGI message out of place: {message['type']}")

    def receive_text(self) -> str:
        message = self.receive()
        if not isinstance(message, str):
            raise AssertionError(f"expected a text message, the app sent bytes: {message!r}")
        return message

    def receive_bytes(self) -> bytes:
        message = self.receive()
        if not isinstance(message, bytes):
            raise AssertionError(f"expected a bytes message, the app sent text: {message!r}")
        return message

    def receive_json(self) -> Any:
        return json.loads(self.receive())

    # -- the loop --------------------------------------------------------------------------

    def _put(self, message: dict[str, Any]) -> None:
        import anyio

        async def put() -> None:
            with anyio.fail_after(self.timeout):
                await self._to_app_send.send(message)

        self.portal.call(put)

    def _take(self) -> dict[str, Any]:
        import anyio

        async def take() -> dict[str, Any]:
            with anyio.fail_after(self.timeout):
                message: dict[str, Any] = await self._from_app.receive()
                return message

        try:
            return self.portal.call(take)
        except TimeoutError:
            raise TimeoutError(f"the app sent nothing in {self.timeout} s") from None

    def _finish(self) -> None:
        """Wait for the app's call to return (a failure in it raises here), then release the
        streams."""
        if self._task is not None:
            task, self._task = self._task, None
            try:
                task.result(self.timeout)
            finally:
                streams = (self._to_app_send, self._to_app, self._from_app_send, self._from_app)
                for stream in streams:
                    self.portal.call(stream.aclose)


async def _stream() -> tuple[Any, Any]:
    import anyio

    return anyio.create_memory_object_stream[dict[str, Any]](64)
