"""Fixtures for bad-input tests: raw HTTP/1.1 exchanges with a real server, and direct
calls into either face with a request no test client would build, each under a deadline so
that a hang fails the test instead of stalling it."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import httpx
import pytest

from pagesfn import Pages
from pagesfn.types import Message

#: Seconds any one exchange may take before the test fails as a hang.
DEADLINE = 5.0

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)


@dataclass
class Wire:
    """What a server sent back on one connection, as bytes."""

    data: bytes

    @property
    def status(self) -> int | None:
        """The status of the first response, ``None`` when nothing came back."""
        found = _STATUS_LINE.match(self.data)
        return int(found[1]) if found else None

    @property
    def body(self) -> bytes:
        """The first response's body, de-chunked when it was sent chunked."""
        head, _, body = self.data.partition(b"\r\n\r\n")
        if not _CHUNKED.search(head):
            return body
        chunks = []
        while body:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            chunks.append(body[:size])
            body = body[size + 2 :]
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = _CONTENT_LENGTH.search(head)
    return length is not None and len(body) >= int(length[1])


def send_raw(url: str, request: bytes, *, then: str = "read") -> Wire:
    """Send ``request`` as is to the server at ``url`` and return what comes back.

    ``then`` is what the client does after sending: ``"read"`` (read one response),
    ``"shut"`` (close its write side, then read until the server closes) or ``"close"``
    (drop the connection at once; nothing is read). A server that answers nothing within
    :data:`DEADLINE` fails the test.
    """
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE) as sock:
        sock.sendall(request)
        if then == "close":
            return Wire(b"")
        if then == "shut":
            sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while not (then == "read" and _complete(received)):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pytest.fail(f"no answer within {DEADLINE} s to {request[:80]!r}")
        except ConnectionResetError:
            pass
        return Wire(received)


@dataclass
class Called:
    """One response from a face called directly."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class Direct:
    """Requests built by hand (raw target bytes, repeated headers, a body that does not
    match its length) sent straight into one face of ``app``, as a lenient server would
    pass them on, each within :data:`DEADLINE`."""

    def __init__(
        self, app: Pages, face: str, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.app = app
        self.face = face
        #: The ASGI face runs on this loop (in another thread) when given, as under a
        #: server, rather than on a new loop per request.
        self.loop = loop

    def request(
        self,
        method: str,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: bytes = b"",
    ) -> Called:
        """Send ``method target``; a ``content-length`` among ``headers`` is sent as is,
        otherwise the body's length is. Repeated headers stay separate on ASGI and are
        joined with a comma on WSGI, as servers do."""
        if not any(name == b"content-length" for name, _ in headers) and body:
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        if self.face == "asgi":
            return self._asgi(method, target, headers, body)
        return self._wsgi(method, target, headers, body)

    def get(self, target: bytes) -> Called:
        return self.request("GET", target)

    def _wsgi(
        self, method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Called:
        path, _, query = target.partition(b"?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "REQUEST_URI": target.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "203.0.113.7",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if not any(name == b"host" for name, _ in headers):
            headers = [(b"host", b"testserver"), *headers]
        joined: dict[str, list[str]] = {}
        for name, value in headers:
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            joined.setdefault(key, []).append(value.decode("latin-1"))
        environ.update((key, ", ".join(values)) for key, values in joined.items())
        return _in_thread(lambda: self._wsgi_call(environ))

    def _wsgi_call(self, environ: dict[str, Any]) -> Called:
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            started.append((status, headers))
            return lambda data: None

        chunks = self.app.wsgi(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, headers = started[-1]
        return Called(int(status.split()[0]), headers, body)

    def _asgi(
        self, method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Called:
        path, _, query = target.partition(b"?")
        if not any(name == b"host" for name, _ in headers):
            headers = [(b"host", b"testserver"), *headers]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote_to_bytes(path).decode("utf-8", "replace"),
            "raw_path": path,
            "root_path": "",
            "query_string": query,
            "headers": list(headers),
            "client": ("203.0.113.7", 50000),
            "server": ("testserver", 80),
        }
        sent: list[Message] = []
        requests: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Message:
            if requests:
                return requests.pop()
            # The client stays connected until the response is sent.
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)

        async def run() -> None:
            await asyncio.wait_for(self.app(scope, receive, send), DEADLINE)

        try:
            if self.loop is None:
                asyncio.run(run())
            else:
                asyncio.run_coroutine_threadsafe(run(), self.loop).result()
        except TimeoutError:
            pytest.fail(f"the ASGI face did not answer within {DEADLINE} s")
        start = next(m for m in sent if m["type"] == "http.response.start")
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Called(start["status"], pairs, content)


def _in_thread(call: Callable[[], Called]) -> Called:
    outcome: list[Called | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():
        pytest.fail(f"the WSGI face did not answer within {DEADLINE} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


class Fetch:
    """GET requests to one face of an app: the ASGI face under a real uvicorn, the WSGI
    face in-process (so an exception a mounted app raises after answering stays in the
    server, as it would in production)."""

    def __init__(
        self,
        face: str,
        app: Pages,
        stack: ExitStack,
        serving: Callable[[Any], AbstractContextManager[str]],
    ) -> None:
        self.face = face
        self.app = app
        if face == "asgi":
            url = stack.enter_context(serving(app))
            # A connection per request: uvicorn closes one after an app raised on it.
            fresh = httpx.Limits(max_keepalive_connections=0)
            client = httpx.Client(base_url=url, timeout=DEADLINE, limits=fresh)
            self._http = stack.enter_context(client)

    def get(self, path: str) -> Called:
        if self.face == "asgi":
            response = self._http.get(path)
            return Called(response.status_code, list(response.headers.items()), response.content)
        return Direct(self.app, "wsgi").get(path.encode("ascii"))


@pytest.fixture
def fetch(
    face: str,
    pages: Callable[..., Pages],
    uvicorn_server: Callable[[Any], AbstractContextManager[str]],
) -> Iterator[Callable[..., Fetch]]:
    """``fetch(tree, **options)``: GET requests to the current face over a real server
    (ASGI) or a direct call (WSGI)."""
    with ExitStack() as stack:

        def make(source: Any, **options: Any) -> Fetch:
            return Fetch(face, pages(source, **options), stack, uvicorn_server)

        yield make


@pytest.fixture
def exchange() -> Callable[..., Wire]:
    """``exchange(url, request_bytes, then="read" | "shut" | "close")``: one raw HTTP/1.1
    exchange with a real server (see :func:`send_raw`)."""
    return send_raw


@pytest.fixture
def direct() -> Callable[[Pages, str], Direct]:
    """``direct(app, face).request(method, target, headers, body)``: a hand-built request
    straight into the ``"asgi"`` or ``"wsgi"`` face of ``app``."""
    return Direct
