"""A request whose route has been resolved once skips loading (and, for an all-static route
with nothing in front of it, matching): what it gets must be what the full path gives, on
both faces, after the modules are forgotten and whatever methods clients make up
(WebSocket handshakes after HTTP requests: tests/websocket)."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import webtest

from pagesfn import Pages

TREE = {
    "hello.py": "def on_request_get(context):\n    return 'get ' + context.request.method\n",
    "any.py": "def on_request(context):\n    return context.request.method\n",
    "users/[id].py": "def on_request_get(context):\n    return context.params['id']\n",
    "items/[id].py": "def on_request(context):\n    return context.request.method\n",
}


def test_repeated_requests_answer_as_the_first(serve: Callable[..., Any]) -> None:
    client = serve(TREE)
    for _ in range(3):
        assert client.get("/hello").text == "get GET"
        assert client.get("/hello/").text == "get GET"  # its optional slash
        head = client.request("HEAD", "/hello")
        assert (head.status, head.body) == (200, b"")
        assert client.request("POST", "/hello").status == 405
        assert client.request("PATCH", "/any").text == "PATCH"
        assert client.get("/users/7").text == "7"
        assert client.get("/users/8/").text == "8"
        assert client.request("POST", "/users/7").status == 405
        assert client.request("PUT", "/items/1").text == "PUT"


def test_a_route_edited_and_reloaded_answers_with_its_new_code(
    tree: Callable[[Mapping[str, str]], Path],
) -> None:
    """Forgetting the modules (``loader.unload()``) forgets their resolved handlers too."""
    root = tree(TREE)
    app = Pages(root)
    try:
        client = webtest.TestApp(app.wsgi)
        assert client.get("/hello").text == "get GET"
        assert client.get("/users/1").text == "1"
        (root / "hello.py").write_text("def on_request_get(context):\n    return 'edited'\n")
        (root / "users" / "[id].py").write_text(
            "def on_request_get(context):\n    return 'user ' + context.params['id']\n"
        )
        app.loader.unload()
        assert client.get("/hello").text == "edited"
        assert client.get("/users/2").text == "user 2"
    finally:
        app.close()
        app.loader.unload()


def test_made_up_methods_do_not_grow_what_is_kept(pages: Callable[..., Pages]) -> None:
    app = pages(TREE)
    rng = random.Random(7)
    methods = ["".join(rng.choices(string.ascii_uppercase, k=8)) for _ in range(200)]

    async def ask() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [
                (await client.request(method, path)).text
                for method in methods
                for path in ("/any", "/items/1")
            ]

    assert asyncio.run(ask()) == [method for method in methods for _ in range(2)]
    # At most each route's standard methods and WebSocket sessions.
    kept = app.pipeline._handlers
    assert sum(len(by_method) for by_method in kept.values()) <= len(TREE) * 8
