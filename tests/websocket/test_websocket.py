"""WebSockets: ``on_websocket`` handlers, middleware in front of them, mounted apps, and
what answers a handshake nobody takes; against a real uvicorn with a real client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from pagesfn import Pages

ECHO = {
    "echo.py": """
        async def on_websocket(socket):
            await socket.accept()
            async for message in socket:
                await socket.send(message)
    """,
    "sync_echo.py": """
        def on_websocket(socket):
            socket.accept()
            for message in socket:
                socket.send(message)
    """,
    "json.py": """
        async def on_websocket(socket):
            await socket.accept()
            while True:
                data = await socket.receive_json()
                await socket.send_json({"got": data})
    """,
    "rooms/[room].py": """
        async def on_websocket(socket):
            context = socket.context
            await socket.accept()
            await socket.send_json({
                "room": context.params["room"],
                "who": context.request.args.get("who"),
                "header": context.request.headers.get("X-Test"),
                "greeting": context.env["GREETING"],
                "path": context.request.path,
            })
            await socket.close()
    """,
    "chat.py": """
        async def on_websocket(socket):
            chosen = next((p for p in socket.subprotocols if p in ("chat.v1", "chat.v2")), None)
            await socket.accept(chosen)
            await socket.send(chosen or "none")
            await socket.close(4001, "bye")
    """,
    "both.py": """
        def on_request_get(context):
            return "plain GET"

        async def on_websocket(socket):
            await socket.accept()
            await socket.send("upgraded")
    """,
    "both/[id].py": """
        def on_request_get(context):
            return "plain GET " + context.params["id"]

        async def on_websocket(socket):
            await socket.accept()
            await socket.send("upgraded " + socket.context.params["id"])
    """,
    "http_only.py": "def on_request(context):\n    return 'http'\n",
}


@pytest.fixture
def ws_server(
    pages: Callable[..., Pages], uvicorn_server: Callable[[Any], AbstractContextManager[str]]
) -> Iterator[Callable[..., str]]:
    """``ws_server(tree, **options)`` serves a tree under uvicorn; returns its ws:// URL."""
    with_servers: list[AbstractContextManager[str]] = []

    def start(tree: Any, **options: Any) -> str:
        options.setdefault("env", {"GREETING": "hello"})
        server = uvicorn_server(pages(tree, **options))
        with_servers.append(server)
        return server.__enter__().replace("http://", "ws://")

    yield start
    for server in reversed(with_servers):
        server.__exit__(None, None, None)


@contextmanager
def opened(url: str, **options: Any) -> Iterator[ClientConnection]:
    with connect(url, open_timeout=10, close_timeout=5, **options) as connection:
        yield connection


def refused(url: str, **options: Any) -> int:
    """The HTTP status a refused handshake got."""
    with pytest.raises(InvalidStatus) as raised, connect(url, open_timeout=10, **options):
        pass
    return raised.value.response.status_code


def closed_code(connection: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as raised:
        connection.recv(timeout=10)
    return raised.value.rcvd.code if raised.value.rcvd else None


# Handlers


@pytest.mark.parametrize("path", ["/echo", "/sync_echo"])
def test_echo_text_and_bytes(ws_server, path):
    with opened(ws_server(ECHO) + path) as socket:
        socket.send("hello")
        assert socket.recv(timeout=10) == "hello"
        socket.send(b"\x00\xff")
        assert socket.recv(timeout=10) == b"\x00\xff"
        for n in range(20):
            socket.send(f"m{n}")
        assert [socket.recv(timeout=10) for _ in range(20)] == [f"m{n}" for n in range(20)]


def test_json_messages(ws_server):
    with opened(ws_server(ECHO) + "/json") as socket:
        socket.send(json.dumps({"a": [1, "é"]}))
        assert json.loads(socket.recv(timeout=10)) == {"got": {"a": [1, "é"]}}


def test_handler_sees_the_context_of_the_handshake(ws_server):
    url = ws_server(ECHO) + "/rooms/lobby?who=ann"
    with opened(url, additional_headers={"X-Test": "yes"}) as socket:
        assert json.loads(socket.recv(timeout=10)) == {
            "room": "lobby",
            "who": "ann",
            "header": "yes",
            "greeting": "hello",
            "path": "/rooms/lobby",
        }
        assert closed_code(socket) == 1000


def test_subprotocol_selection_and_close_code(ws_server):
    url = ws_server(ECHO) + "/chat"
    with opened(url, subprotocols=["chat.v2", "chat.v1"]) as socket:
        assert socket.subprotocol == "chat.v2"
        assert socket.recv(timeout=10) == "chat.v2"
        with pytest.raises(ConnectionClosed) as raised:
            socket.recv(timeout=10)
        assert (raised.value.rcvd.code, raised.value.rcvd.reason) == (4001, "bye")
    with opened(url) as socket:
        assert socket.subprotocol is None
        assert socket.recv(timeout=10) == "none"


def test_a_route_may_answer_http_and_websocket(ws_server):
    import httpx

    base = ws_server(ECHO)
    # Asked over HTTP first too: what the route resolved to for GET is not the handshake's,
    # for an all-static route and a parameter route alike.
    for path, suffix in [("/both", ""), ("/both/7", " 7"), ("/both/8", " 8")] * 2:
        url = base + path
        response = httpx.get(url.replace("ws://", "http://"))
        assert (response.status_code, response.text) == (200, "plain GET" + suffix)
        with opened(url) as socket:
            assert socket.recv(timeout=10) == "upgraded" + suffix


# Handshakes nobody takes


def test_http_to_a_websocket_route_is_426(serve):
    client = serve(ECHO)
    response = client.get("/echo")
    assert response.status == 426
    # Upgrade is hop-by-hop: PEP 3333 keeps it from WSGI apps (wsgiref refuses it).
    assert response.header("Upgrade") == ("websocket" if client.face == "asgi" else None)
    assert client.request("POST", "/echo").status == 426


def test_a_handshake_on_the_wsgi_face_is_refused_with_403(pages):
    import webtest

    client = webtest.TestApp(pages(ECHO).wsgi)
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    response = client.get("/echo", headers=headers, expect_errors=True)
    assert response.status_int == 403
    assert "ASGI" in response.text


def test_websocket_to_http_routes_and_unknown_paths_is_refused(ws_server):
    url = ws_server(ECHO)
    assert refused(url + "/http_only") == 403
    assert refused(url + "/nowhere") == 404


def test_a_handler_that_never_accepts_refuses_the_connection(ws_server):
    tree = {"shy.py": "async def on_websocket(socket):\n    pass\n"}
    assert refused(ws_server(tree) + "/shy") == 403


def test_failures_before_and_after_accepting(ws_server, caplog):
    tree = {
        "early.py": """
            async def on_websocket(socket):
                raise ValueError("before accepting")
        """,
        "late.py": """
            async def on_websocket(socket):
                await socket.accept()
                await socket.receive()
                raise ValueError("after accepting")
        """,
        "echo.py": ECHO["echo.py"],
    }
    url = ws_server(tree)
    assert refused(url + "/early") == 500
    with opened(url + "/late") as socket:
        socket.send("go")
        assert closed_code(socket) == 1011
    assert "late.py: handler `on_websocket` raised ValueError" in caplog.text
    with opened(url + "/echo") as socket:  # the server carries on
        socket.send("still here")
        assert socket.recv(timeout=10) == "still here"


def test_a_broken_route_file_refuses_with_500(ws_server):
    tree = {"broken.py": "async def on_websocket(socket)\n    pass\n"}
    assert refused(ws_server(tree) + "/broken") == 500


# Disconnects


def test_a_client_leaving_ends_the_handlers_loop(ws_server, tmp_path):
    marker = tmp_path / "ended.txt"
    tree = {
        "watch.py": f"""
            import pathlib
            from pagesfn import WebSocketDisconnect

            async def on_websocket(socket):
                await socket.accept()
                async for message in socket:
                    await socket.send(message)
                try:
                    await socket.receive()
                except WebSocketDisconnect as gone:
                    pathlib.Path({str(marker)!r}).write_text(str(gone.code))
        """,
        "sync_watch.py": f"""
            import pathlib

            def on_websocket(socket):
                socket.accept()
                for message in socket:
                    socket.send(message)
                pathlib.Path({str(marker)!r} + ".sync").write_text(str(socket.close_code))
        """,
    }
    url = ws_server(tree)
    for path, written in [("/watch", marker), ("/sync_watch", Path(f"{marker}.sync"))]:
        with opened(url + path) as socket:
            socket.send("x")
            assert socket.recv(timeout=10) == "x"
            socket.close(4321, "leaving")
        deadline = time.monotonic() + 10
        # Until the handler has written the code: the file exists a moment before that.
        while not (written.exists() and written.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert written.read_text() == "4321"


# Middleware


MIDDLEWARE = {
    "_middleware.py": """
        from pagesfn import Response

        async def on_request(context):
            if context.request.args.get("token") != "s3cret":
                return Response("who are you?", 401, {"WWW-Authenticate": "Token"})
            context.data["user"] = "ann"
            response = await context.next()
            context.data["done"] = response.status_code
            return response
    """,
    "room.py": """
        async def on_websocket(socket):
            await socket.accept()
            await socket.send(socket.context.data["user"])
            await socket.receive()
    """,
}


def test_middleware_refuses_a_handshake_with_its_response(ws_server):
    url = ws_server(MIDDLEWARE) + "/room"
    assert refused(url) == 401
    assert refused(url + "?token=wrong") == 401
    with opened(url + "?token=s3cret") as socket:
        assert socket.recv(timeout=10) == "ann"


def test_sync_middleware_in_front_of_a_websocket(ws_server):
    tree = {
        "_middleware.py": """
            def on_request_get(context):
                context.data["seen"] = context.request.headers.get("Upgrade")
                return context.next()
        """,
        "room.py": """
            async def on_websocket(socket):
                await socket.accept()
                await socket.send(socket.context.data["seen"])
        """,
    }
    with opened(ws_server(tree) + "/room") as socket:
        assert socket.recv(timeout=10) == "websocket"


# Mounted apps

FASTAPI = {
    "api/[[default]].py": """
        from fastapi import FastAPI, WebSocket

        app = FastAPI()

        @app.websocket("/ws/{name}")
        async def talk(websocket: WebSocket, name: str):
            await websocket.accept()
            text = await websocket.receive_text()
            await websocket.send_json({
                "name": name, "text": text, "root_path": websocket.scope["root_path"],
                "path": websocket.url.path,
            })
            await websocket.close()
    """,
    "flask/[[default]].py": """
        from flask import Flask

        app = Flask(__name__)

        @app.get("/")
        def index():
            return "flask"
    """,
}


@pytest.mark.parametrize("middleware", [False, True], ids=["straight", "behind-middleware"])
def test_a_mounted_asgi_app_takes_websockets_under_its_prefix(ws_server, middleware):
    tree = dict(FASTAPI)
    if middleware:
        tree["_middleware.py"] = """
            async def on_request(context):
                return await context.next()
        """
    with opened(ws_server(tree) + "/api/ws/ann") as socket:
        socket.send("hi")
        assert json.loads(socket.recv(timeout=10)) == {
            "name": "ann",
            "text": "hi",
            "root_path": "/api",
            "path": "/api/ws/ann",
        }
        assert closed_code(socket) == 1000


def test_a_mounted_asgi_app_refuses_what_it_has_no_route_for(ws_server):
    assert refused(ws_server(FASTAPI) + "/api/nothing") == 403


def test_a_mounted_wsgi_app_cannot_take_websockets(ws_server):
    assert refused(ws_server(FASTAPI) + "/flask/") == 403


# Shutdown


def test_close_connections_closes_websockets_with_1001(pages, uvicorn_server):
    import asyncio

    app = pages(ECHO)
    with uvicorn_server(app) as url, opened(url.replace("http://", "ws://") + "/echo") as socket:
        socket.send("x")
        assert socket.recv(timeout=10) == "x"
        (channel,) = app.websockets
        # On the server's loop, as the server's shutdown does it.
        asyncio.run_coroutine_threadsafe(app.close_connections(), channel.loop).result(10)
        assert closed_code(socket) == 1001
        deadline = time.monotonic() + 10
        while app.websockets and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not app.websockets


# The route table


def test_routes_list_websocket_handlers(tree):
    from click.testing import CliRunner

    from pagesfn.serving.cli import main

    root = tree({k: ECHO[k] for k in ("echo.py", "both.py")})
    result = CliRunner().invoke(main, ["routes", str(root.parent), "--json"])
    assert result.exit_code == 0, result.output
    methods = {row["pattern"]: row["methods"] for row in json.loads(result.output)}
    assert methods == {"/echo": ["WEBSOCKET"], "/both": ["GET", "HEAD", "OPTIONS", "WEBSOCKET"]}


def test_middleware_cannot_export_on_websocket(tree):
    from pagesfn.errors import RouteDefinitionError
    from pagesfn.routing import scan

    root = tree({"_middleware.py": "async def on_websocket(socket):\n    pass\n", **ECHO})
    with pytest.raises(RouteDefinitionError) as raised:
        scan(str(root))
    (problem,) = raised.value.problems
    assert problem.file == "_middleware.py"
    assert "on_request" in problem.fix
