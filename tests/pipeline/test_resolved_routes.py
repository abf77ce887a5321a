"""A request an all-static route answers alone skips matching and loading once the route
has been resolved: what it gets must be what the full path gives, on both faces, after the
modules are forgotten and whatever methods clients make up (WebSocket handshakes after
HTTP requests: tests/websocket)."""

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


def test_a_route_edited_and_reloaded_answers_with_its_new_code(
    tree: Callable[[Mapping[str, str]], Path],
) -> None:
    """Forgetting the modules (``loader.unload()``) forgets their resolved handlers too."""
    root = tree(TREE)
    app = Pages(root)
    try:
        client = webtest.TestApp(app.wsgi)
        assert client.get("/hello").text == "get GET"
        (root / "hello.py").write_text("def on_request_get(context):\n    return 'edited'\n")
        app.loader.unload()
        assert client.get("/hello").text == "edited"
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
            return [(await client.request(method, "/any")).text for method in methods]

    assert asyncio.run(ask()) == methods
    # At most each path, with its slash or not, for each standard method.
    kept = app.pipeline._resolved
    assert sum(len(by_method) for by_method in kept.values()) <= 2 * len(TREE) * 7
