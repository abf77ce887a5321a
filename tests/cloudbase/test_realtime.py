"""The seed's "mixing SSE and WebSocket" example: an SSE function at /stream and WebSocket
functions at /ws, against a real uvicorn with real clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import webtest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect


@pytest.fixture
def server(cloudbase_app, uvicorn_server) -> Iterator[str]:
    """The example project under uvicorn: its base http:// URL."""
    with uvicorn_server(cloudbase_app()) as url:
        yield url


def ws(url: str) -> str:
    return url.replace("http://", "ws://")


def refused(url: str, **options: Any) -> int:
    """The HTTP status a refused handshake got."""
    with pytest.raises(InvalidStatus) as raised, connect(url, open_timeout=10, **options):
        pass
    return raised.value.response.status_code


def events(lines: Iterator[str]) -> list[dict[str, str]]:
    """The events of an event stream, each as its fields."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                found.append(current)
            current = {}
            continue
        name, _, value = line.partition(": ")
        current[name] = value
    return found


# -- SSE ---------------------------------------------------------------------------------------


def test_an_event_stream_function_streams_its_events(server):
    with (
        httpx.Client(base_url=server, timeout=5) as client,
        client.stream("GET", "/stream?count=3") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert "content-length" not in response.headers
        got = events(response.iter_lines())
    assert got == [
        {"id": "0", "event": "tick", "data": '{"n":0}'},
        {"id": "1", "event": "tick", "data": '{"n":1}'},
        {"id": "2", "event": "tick", "data": '{"n":2}'},
        {"data": "done"},
    ]


def test_the_first_event_arrives_before_the_stream_ends(server):
    with (
        httpx.Client(base_url=server, timeout=5) as client,
        client.stream("GET", "/stream?count=1000") as response,
    ):
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert first == 'data: {"n":0}'
        # Closed with the rest unread: the function's generator is dropped.


def test_a_generator_sent_as_an_event_stream(server):
    with (
        httpx.Client(base_url=server, timeout=5) as client,
        client.stream("GET", "/stream?kind=gen&count=2") as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        got = events(response.iter_lines())
    assert got == [{"data": "line 0"}, {"data": "line 1"}]


# -- WebSocket ---------------------------------------------------------------------------------


def test_an_async_websocket_function_accepts_and_echoes(server):
    url = ws(server) + "/ws?room=a&room=b&who=ann"
    with connect(url, open_timeout=10, close_timeout=5) as socket:
        hello = json.loads(socket.recv(timeout=10))
        assert hello == {
            "event": {"room": ["a", "b"], "who": "ann"},
            "function": "ws",
            "url": "/ws?room=a&room=b&who=ann",
        }
        socket.send("hello")
        assert socket.recv(timeout=10) == "hello"
        socket.send(b"\x00\xff")
        assert socket.recv(timeout=10) == b"\x00\xff"
        for n in range(10):
            socket.send(f"m{n}")
        assert [socket.recv(timeout=10) for _ in range(10)] == [f"m{n}" for n in range(10)]


def test_a_websocket_function_answers_under_its_path(server):
    with connect(ws(server) + "/ws/room/1", open_timeout=10, close_timeout=5) as socket:
        assert json.loads(socket.recv(timeout=10))["url"] == "/ws/room/1"


def test_a_sync_websocket_function_gets_a_sync_socket(server):
    with connect(ws(server) + "/ws-sync?x=1", open_timeout=10, close_timeout=5) as socket:
        hello = json.loads(socket.recv(timeout=10))
        assert hello == {"event": {"x": "1"}, "function": "syncWs", "sync": True}
        socket.send("ping")
        assert socket.recv(timeout=10) == "ping"


def test_a_function_that_never_accepts_refuses_with_403(server):
    assert refused(ws(server) + "/ws-shy") == 403


def test_a_plain_function_refuses_a_handshake(server):
    # `user` returns a dict and never touches context.ws.
    assert refused(ws(server) + "/api/user") == 403
    assert refused(ws(server) + "/") == 403


def test_mounted_apps_without_websocket_routes_refuse(server):
    assert refused(ws(server) + "/api/shop/profile") == 403  # Flask: WSGI
    assert refused(ws(server) + "/api/fast/items/1") == 403  # FastAPI: no such route


def test_the_http_functions_still_answer_beside_them(server):
    assert httpx.get(server + "/ws").json() == {"ws": None, "event": {}}
    assert httpx.get(server + "/api/user").json()["function"] == "user"


def test_closing_connections_ends_the_function_with_1001(cloudbase_app, uvicorn_server):
    app = cloudbase_app()
    with (
        uvicorn_server(app) as url,
        connect(ws(url) + "/ws", open_timeout=10, close_timeout=5) as socket,
    ):
        socket.recv(timeout=10)
        (channel,) = app.websockets
        # On the server's loop, as the server's shutdown does it.
        asyncio.run_coroutine_threadsafe(app.close_connections(), channel.loop).result(10)
        with pytest.raises(ConnectionClosed) as raised:
            socket.recv(timeout=10)
        assert raised.value.rcvd is not None
        assert raised.value.rcvd.code == 1001
        deadline = time.monotonic() + 10
        while app.websockets and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not app.websockets


def test_a_handshake_on_the_wsgi_face_reaches_the_function_as_plain_http(cloudbase_app):
    # The WSGI face cannot upgrade: a config function answers HTTP too, so it is called
    # with no socket, and the client gets no 101.
    client = webtest.TestApp(cloudbase_app().wsgi)
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    response = client.get("/ws", headers=headers, expect_errors=True)
    assert response.status_int == 200
    assert response.json == {"ws": None, "event": {}}
