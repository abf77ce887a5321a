"""The request head timeout of ``pagesfn serve``/``dev``: idle connections and heads sent
too slowly are closed (after a 408 for a partial head), under uvicorn with h11 and with
httptools; requests sent in time, keep-alive and WebSockets are unaffected."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from servers import uvicorn_serving
from websockets.sync.client import connect

from pagesfn import Pages
from pagesfn.serving import head_timeout
from pagesfn.serving.head_timeout import HeadTimeoutProtocol

TIMEOUT = 0.6

TREE = {
    "ok.py": "def on_request(context):\n    return 'ok'\n",
    "chat.py": """
        async def on_websocket(socket):
            await socket.accept()
            async for message in socket:
                await socket.send_text(message)
    """,
}


class H11(HeadTimeoutProtocol):
    inner_http = "h11"


class HttpTools(HeadTimeoutProtocol):
    inner_http = "httptools"


@pytest.fixture(params=[H11, HttpTools], ids=["h11", "httptools"])
def server(
    request: pytest.FixtureRequest, pages: Callable[..., Pages]
) -> Iterator[tuple[str, int]]:
    if request.param is HttpTools:
        pytest.importorskip("httptools")
    head_timeout.set_timeout(TIMEOUT)
    app = pages(TREE)
    try:
        options = {"ws": "websockets-sansio", "timeout_keep_alive": 30}
        with uvicorn_serving(app, request.param, **options) as url:
            host, port = url.removeprefix("http://").split(":")
            yield host, int(port)
    finally:
        head_timeout.set_timeout(head_timeout.DEFAULT_HEAD_TIMEOUT)


def read_all(conn: socket.socket, limit: float = 5.0) -> bytes:
    """What the server sends until it closes the connection (fails after ``limit``)."""
    conn.settimeout(limit)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk


def read_response(conn: socket.socket) -> bytes:
    """One whole response (its head and its Content-Length of body)."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


REQUEST = b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"


def test_an_idle_connection_is_closed(server: tuple[str, int]) -> None:
    with socket.create_connection(server) as conn:
        started = time.monotonic()
        assert read_all(conn) == b""  # closed, with nothing to say
        assert TIMEOUT * 0.8 <= time.monotonic() - started < 5


def test_a_head_sent_too_slowly_is_a_408(server: tuple[str, int]) -> None:
    with socket.create_connection(server) as conn:
        with contextlib.suppress(OSError):  # the server closes it meanwhile
            for byte in REQUEST[:12]:
                conn.sendall(bytes([byte]))
                time.sleep(TIMEOUT / 6)
        assert read_all(conn).startswith(b"HTTP/1.1 408 ")


def test_a_slow_head_after_a_served_request_is_a_408(server: tuple[str, int]) -> None:
    """The timer starts again once a response is over: a kept-alive connection is held to
    it for its next head too."""
    with socket.create_connection(server) as conn:
        conn.sendall(REQUEST)
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        conn.sendall(b"GET /o")
        assert read_all(conn).startswith(b"HTTP/1.1 408 ")


def test_heads_sent_in_time_keep_the_connection(server: tuple[str, int]) -> None:
    """A head whose bytes come slowly but complete in time, and requests spaced by less
    than the timeout, are served on one connection for longer than the timeout."""
    with socket.create_connection(server) as conn:
        for _ in range(3):
            conn.sendall(REQUEST[:10])
            time.sleep(TIMEOUT / 3)
            conn.sendall(REQUEST[10:])
            assert read_response(conn).startswith(b"HTTP/1.1 200 ")
            time.sleep(TIMEOUT / 3)


def test_a_websocket_outlives_the_timeout(server: tuple[str, int]) -> None:
    host, port = server
    with connect(f"ws://{host}:{port}/chat", open_timeout=5) as ws:
        time.sleep(TIMEOUT * 2)
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"
