"""Sanic mounted under ``/shop``, beside a plain handler: on both faces in-process, and under
every real server but wsgiref (which reads no chunked body).

Sanic routes on ``raw_path`` as the path below its mount: pagesfn recognises its app and
hands it that path (``PrefixStripped``). Sanic never reads ``root_path``, so the URLs it
builds (``url_for``, ``request.url``, redirects) leave the prefix out; that is checked here
as equal to what Sanic alone builds, and the README lists Sanic among the frameworks that
cannot live under a prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import drivers
import httpx
import pytest
from clients import ASGIClient, FaceClient, WireClient, WSGIClient
from drivers import framework_source
from servers import ASGI_SERVERS, serving_tree, write_tree
from test_framework_alone import load
from test_matrix import HEALTH

from pagesfn import Pages

pytest.importorskip("sanic")

SETUPS = [
    "asgi-in-process",
    "wsgi-in-process",
    *(f"asgi-{server}" for server in ASGI_SERVERS),
    "wsgi-werkzeug",
    "wsgi-waitress",
    "wsgi-gunicorn",
]


@dataclass
class Site:
    client: FaceClient
    setup: str
    url: str | None  # on the wire


@pytest.fixture(scope="module", params=SETUPS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    face, where = request.param.split("-", 1)
    root = tmp_path_factory.mktemp(request.param)
    files = {"shop/[[default]].py": framework_source("sanic"), "health.py": HEALTH}
    functions = write_tree(root / "functions", files)
    with ExitStack() as stack:
        if where == "in-process":
            pages = Pages(functions)
            stack.callback(pages.loader.unload)
            stack.callback(pages.close)
            client = (ASGIClient if face == "asgi" else WSGIClient)(pages, stack)
            yield Site(client, request.param, None)
            return
        url = stack.enter_context(serving_tree(where, functions, root))
        yield Site(WireClient(url, face, stack), request.param, url)


@cache
def alone(path: str) -> tuple[int, bytes, str | None]:
    """Sanic alone at the root, in this process: the status, body and Location of
    ``GET path``."""
    app = load("sanic")

    async def get() -> httpx.Response:
        async with drivers.lifespan(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.get(path)

    answer = asyncio.run(get())
    return answer.status_code, answer.content, answer.headers.get("location")


def test_a_nested_route_with_a_parameter(site: Site) -> None:
    answer = site.client.get("/shop/items/7?x=1")
    assert answer.status == 200
    assert answer.json()["id"] == "7"
    # Sanic sees the path below its mount, as it would alone.
    assert answer.json()["path"] == json.loads(alone("/items/7")[1])["path"] == "/items/7"
    # Sanic hands a path parameter on percent-encoded (alone too): as alone, %2F included.
    for below in ("/items/caf%C3%A9", "/items/a%2Fb"):
        mounted, by_itself = site.client.get("/shop" + below).json(), json.loads(alone(below)[1])
        assert (mounted["id"], mounted["path"]) == (by_itself["id"], by_itself["path"])


@pytest.mark.parametrize("path", ["/shop", "/shop/"])
def test_the_bare_prefix_reaches_its_root_route(site: Site, path: str) -> None:
    answer = site.client.get(path)
    assert answer.status == 200
    assert answer.json() == {"route": "index", "path": "/", "root": "/shop"}


@pytest.mark.parametrize("path", ["/shopx", "/shopx/items/7"])
def test_a_sibling_prefix_does_not_reach_it(site: Site, path: str) -> None:
    answer = site.client.get(path)
    assert (answer.status, answer.text) == (404, "Not Found")


def test_its_own_404_as_alone(site: Site) -> None:
    answer = site.client.get("/shop/no/such/page")
    assert (answer.status, answer.body) == alone("/no/such/page")[:2]


def test_the_urls_it_builds_leave_the_prefix_out_as_alone(site: Site) -> None:
    item = site.client.get("/shop/items/7").json()
    built = json.loads(alone("/items/7")[1])
    assert item["link"] == built["link"] == "/items/abc"
    assert urlsplit(item["url"]).path == urlsplit(built["url"]).path == "/items/7"
    redirect = site.client.get("/shop/redirect")
    assert redirect.status == 302
    assert redirect.header("Location") == alone("/redirect")[2] == "/"


def test_query_json_and_form_bodies(site: Site) -> None:
    query = site.client.get("/shop/query?a=1&b=x%20y&a=2")
    assert query.json() == {"a": ["1", "2"], "b": "x y"}
    payload = {"name": "Ada", "langs": ["fr", "日本語"]}
    sent = site.client.request(
        "POST", "/shop/json", body=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    assert sent.json() == {"json": payload}
    form = site.client.request("POST", "/shop/form", data={"name": "Ada", "lang": "fr & en"})
    assert form.json() == {"form": {"name": "Ada", "lang": "fr & en"}}


@pytest.mark.parametrize("size", [7_011, 1_050_000])
def test_sized_and_chunked_bodies(site: Site, size: int) -> None:
    chunks = [b"first,", b"s" * (size - 11), b"third"]
    body = b"".join(chunks)
    expected = {"size": size, "sha256": hashlib.sha256(body).hexdigest()}
    assert site.client.request("POST", "/shop/raw", body=body).json() == expected
    assert site.client.chunked("POST", "/shop/raw", chunks).json() == expected


def test_a_streamed_response_and_two_cookies(site: Site) -> None:
    streamed = site.client.get("/shop/stream")
    assert streamed.status == 200
    assert streamed.text == "".join(f"chunk {i}\n" for i in range(5))
    cookies = site.client.get("/shop/cookies").header_all("Set-Cookie")
    assert [cookie.split(";")[0] for cookie in cookies] == ["a=1", "b=2"]
    assert all("Path=/" in cookie for cookie in cookies)


def test_its_start_up_listener_runs_and_an_error_spares_the_rest(site: Site) -> None:
    assert site.client.get("/shop/state").json() == {
        "state": "hello from sanic's before_server_start"
    }
    assert site.client.get("/shop/boom").status == 500
    assert site.client.get("/shop/items/8").json()["id"] == "8"
    assert site.client.get("/health").text == "healthy"


def test_a_websocket_through_the_mount(site: Site) -> None:
    from websockets.sync.client import connect

    if site.url is None or not site.setup.startswith("asgi-"):
        pytest.skip("WebSockets are tested on the wire, under the ASGI servers")
    with connect(site.url.replace("http://", "ws://") + "/shop/ws", open_timeout=10) as socket:
        socket.send("hello")
        assert socket.recv(timeout=10) == "hello from /shop"
