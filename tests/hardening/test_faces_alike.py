"""The two faces answer alike where they used to differ: awaitables returned by handlers,
the head limits of WebSocket handshakes, a request with two ``Host`` headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import ASGI_SERVERS, OUT_OF_PROCESS, WSGI_SERVERS, app_module, serving
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from pagesfn import Pages

TREE = {
    "awaits.py": """
        import asyncio

        async def later():
            await asyncio.sleep(0)
            return {"from": "the awaitable"}

        async def on_request(context):
            return later()
    """,
    "chat.py": """
        async def on_websocket(socket):
            await socket.accept()
            await socket.send_text("hello")
            await socket.close()
    """,
    "host.py": """
        def on_request(context):
            return context.request.host
    """,
}


def test_an_awaitable_returned_by_an_async_handler_is_awaited_on_both_faces(
    serve: Callable[..., Any],
) -> None:
    result = serve(TREE).get("/awaits")
    assert (result.status, result.json()) == (200, {"from": "the awaitable"})


@pytest.mark.parametrize(
    ("options", "target", "headers", "status"),
    [
        ({"max_url_length": 100}, "/chat?" + "q" * 200, {}, 414),
        ({"max_header_count": 20}, "/chat", {f"x-h{i}": "v" for i in range(30)}, 431),
        ({"max_header_size": 2000}, "/chat", {"x-big": "v" * 3000}, 431),
    ],
)
def test_a_websocket_handshake_keeps_the_head_limits(
    pages: Callable[..., Pages],
    uvicorn_server: Callable[[Any], Any],
    options: dict[str, int],
    target: str,
    headers: dict[str, str],
    status: int,
) -> None:
    """A handshake whose head an HTTP request could not have is refused with the status
    the HTTP request gets; within the limits it is accepted."""
    with uvicorn_server(pages(TREE, **options)) as url:
        ws = url.replace("http://", "ws://")
        with (
            pytest.raises(InvalidStatus) as raised,
            connect(ws + target, open_timeout=10, additional_headers=headers),
        ):
            pass
        assert raised.value.response.status_code == status
        with connect(ws + "/chat", open_timeout=10) as socket:
            assert socket.recv(timeout=5) == "hello"


@pytest.mark.parametrize("server", ASGI_SERVERS + WSGI_SERVERS)
def test_two_host_headers_are_a_400_under_every_server(
    pages: Callable[..., Pages], exchange: Callable[..., Any], server: str, tmp_path: Path
) -> None:
    """RFC 9112 3.2: a request with two ``Host`` headers is refused, whether the server
    refuses it itself (h11, Granian, gunicorn), passes both on (httptools) or joins them
    (WSGI servers)."""
    app = pages(TREE)
    served = (
        serving(server, app_module(tmp_path, Path(app.functions), {}), tmp_path)
        if server in OUT_OF_PROCESS
        else serving(server, app)
    )
    with served as url:
        request = b"GET /host HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n"
        assert exchange(url, request).status == 400
        one = b"GET /host HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        answer = exchange(url, one)
        assert (answer.status, answer.body) == (200, b"a.test")
