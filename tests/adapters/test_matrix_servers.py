"""The compatibility matrix on the wire: every framework of test_matrix.py mounted from a
catch-all file (at ``/fw``, and at ``/café`` beside it), served by each real server users
deploy on: uvicorn (h11 and httptools), hypercorn and Granian for the ASGI face; wsgiref,
werkzeug, waitress and gunicorn for the WSGI face. In-process clients forgive what servers
refuse; these requests go through a socket.

One server starts per framework and server, for all the cells that use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import drivers
import httpx
import pytest
import webtest
from drivers import framework_source
from servers import ASGI_SERVERS, SERVERS, serving_tree, write_tree
from test_framework_alone import load
from test_matrix import (
    ASGI_FRAMEWORKS,
    FRAMEWORKS,
    HEALTH,
    WITH_LIFESPAN,
    expect_framework_limit,
    path_of,
)


@dataclass
class Site:
    url: str
    server: str
    framework: str

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, timeout=10, **kwargs)


@pytest.fixture(
    scope="module",
    params=[(server, framework) for server in SERVERS for framework in FRAMEWORKS],
    ids="-".join,
)
def site(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Site]:
    server, framework = request.param
    root = tmp_path_factory.mktemp(f"{server}-{framework}")
    source = framework_source(framework.replace("-", "_"))
    files = {"fw/[[default]].py": source, "café/[[default]].py": source, "health.py": HEALTH}
    functions = write_tree(root / "functions", files)
    with serving_tree(server, functions, root) as url:
        yield Site(url, server, framework)


def test_a_nested_route_with_a_parameter(site: Site) -> None:
    answer = site.get("/fw/items/7?x=1")
    assert answer.status_code == 200
    assert answer.json()["id"] == "7"
    assert path_of(answer.json()["url"]) == "/fw/items/7"
    assert urlsplit(answer.json()["url"]).query == "x=1"


@pytest.mark.parametrize("path", ["/fw", "/fw/"])
def test_the_bare_prefix(site: Site, path: str) -> None:
    answer = site.get(path)
    assert answer.status_code == 200
    assert (answer.json()["route"], answer.json()["root"]) == ("index", "/fw")


@pytest.mark.parametrize("path", ["/fwx", "/fwx/items/7"])
def test_a_sibling_prefix_does_not_reach_the_app(site: Site, path: str) -> None:
    answer = site.get(path)
    assert (answer.status_code, answer.text) == (404, "Not Found")


def test_the_frameworks_own_404(site: Site) -> None:
    assert site.get("/fw/no/such/route").status_code == 404


def test_url_building_and_redirects_stay_under_the_prefix(site: Site) -> None:
    item = site.get("/fw/items/7").json()
    assert path_of(item["link"]) == "/fw/items/abc"
    moved = site.get("/fw/redirect")
    assert moved.status_code in (302, 303, 307)
    assert path_of(moved.headers["location"]) == "/fw/"
    followed = site.get("/fw/redirect", follow_redirects=True)
    assert (followed.status_code, followed.json()["route"]) == (200, "index")


def test_a_non_ascii_prefix(site: Site, request: pytest.FixtureRequest) -> None:
    expect_framework_limit(request, "non-ascii-prefix", site.framework)
    answer = site.get("/caf%C3%A9/items/7")
    assert answer.status_code == 200
    assert path_of(answer.json()["url"]) == "/café/items/7"
    assert path_of(answer.json()["link"]) == "/café/items/abc"


def test_non_ascii_and_encoded_slashes_in_paths_and_queries(site: Site) -> None:
    answer = site.get("/fw/items/caf%C3%A9")
    assert (answer.status_code, answer.json()["id"]) == (200, "café")
    query = site.get("/fw/query?a=caf%C3%A9&a=x%2Fy&b=%E6%97%A5%2F%26")
    assert query.json() == {"a": ["café", "x/y"], "b": "日/&"}


def test_a_json_body(site: Site) -> None:
    payload = {"name": "Ada", "langs": ["fr", "日本語"]}
    answer = site.post("/fw/json", json=payload)
    assert (answer.status_code, answer.json()) == (200, {"json": payload})


def test_a_form_body(site: Site) -> None:
    answer = site.post("/fw/form", data={"name": "Ada Lovelace", "lang": "fr & en"})
    assert answer.json() == {"form": {"name": "Ada Lovelace", "lang": "fr & en"}}


# What fails because of the server itself, whatever it serves (test_server_alone.py
# shows each with the server serving a bare WSGI app).
SERVER_LIMITS = {
    ("chunked", "wsgiref"): "wsgiref does not read chunked request bodies",
    ("encoded-slash", "wsgiref"): "wsgiref does not pass the request's path as sent",
}
# The frameworks each server limit shows with: Bottle de-chunks a body itself when the
# server passes it on still chunked; only a framework routing on raw_path (BlackSheep)
# tells %2F from / in a path.
SHOWS_WITH = {
    "chunked": lambda framework: framework != "bottle",
    "encoded-slash": lambda framework: framework == "blacksheep",
}


def expect_server_limit(request: pytest.FixtureRequest, cell: str, site: Site) -> None:
    reason = SERVER_LIMITS.get((cell, site.server))
    if reason is not None and SHOWS_WITH[cell](site.framework):
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def test_a_chunked_body(site: Site, request: pytest.FixtureRequest) -> None:
    expect_server_limit(request, "chunked", site)
    parts = [b"first,", b"second," * 1000, b"third"]
    body = b"".join(parts)
    answer = site.post(
        "/fw/raw", content=iter(parts), headers={"Content-Type": "application/octet-stream"}
    )
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 200
    assert answer.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_a_streamed_response(site: Site) -> None:
    with httpx.stream("GET", site.url + "/fw/stream", timeout=10) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        text = b"".join(answer.iter_bytes()).decode()
    assert text == "".join(f"chunk {i}\n" for i in range(5))


def test_cookies_with_a_sensible_path(site: Site) -> None:
    answer = site.get("/fw/cookies")
    cookies = answer.headers.get_list("set-cookie")
    assert [cookie.split(";")[0].strip() for cookie in cookies] == ["a=1", "b=2"]
    for cookie in cookies:
        paths = [
            part.strip()[5:]
            for part in cookie.split(";")
            if part.strip().lower().startswith("path=")
        ]
        # At the site's root or under the mount, never elsewhere.
        assert all(path in ("/", "/fw") or path.startswith("/fw/") for path in paths), cookie


def test_lifespan_state(site: Site) -> None:
    if site.framework not in WITH_LIFESPAN:
        pytest.skip(f"{site.framework}'s app here has no lifespan")
    answer = site.get("/fw/state")
    assert answer.json() == {"state": WITH_LIFESPAN[site.framework]}


def test_a_plain_handler_beside_the_mounts(site: Site) -> None:
    assert site.get("/health").text == "healthy"
    assert json.loads(site.get("/fw/items/health").text)["id"] == "health"


# The fixture apps with a WebSocket route (``/ws``: echoes a message and its root_path).
WEBSOCKETS = {"fastapi", "starlette", "quart", "falcon-asgi", "litestar", "blacksheep", "lilya"}


def websocket_url(site: Site) -> str:
    """The WebSocket URL of ``site``, when its server and app carry WebSockets."""
    if site.server not in ASGI_SERVERS:
        pytest.skip("a WSGI server carries no WebSockets")
    if site.framework not in WEBSOCKETS:
        pytest.skip(f"{site.framework}'s app here has no WebSocket route")
    return site.url.replace("http://", "ws://")


def echoed(url: str) -> str:
    from websockets.sync.client import connect

    with connect(url, open_timeout=10) as socket:
        socket.send("hello")
        return socket.recv(timeout=10)


def test_a_websocket_through_the_mount(site: Site) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = websocket_url(site)
    assert echoed(url + "/fw/ws") == "hello from /fw"
    # A sibling prefix is pagesfn's, which has no WebSocket route there: refused.
    with pytest.raises(InvalidStatus) as refused:
        connect(url + "/fwx/ws", open_timeout=10)
    assert refused.value.response.status_code in (403, 404)


def test_a_websocket_under_a_non_ascii_prefix(site: Site, request: pytest.FixtureRequest) -> None:
    url = websocket_url(site)
    expect_framework_limit(request, "non-ascii-prefix", site.framework)
    assert echoed(url + "/caf%C3%A9/ws") == "hello from /café"


@functools.cache
def answered_alone(framework: str, path: str) -> tuple[int, str | None]:
    """The status (and the ``id`` of a 200) ``framework``'s app gives ``GET path`` served
    alone at the root, in this process: ASGI apps through httpx (its scope as uvicorn builds
    it), WSGI apps through WebTest (its environ as gunicorn builds it)."""
    app = load(framework)
    if framework in ASGI_FRAMEWORKS:

        async def get() -> httpx.Response:
            async with contextlib.AsyncExitStack() as stack:
                if framework in WITH_LIFESPAN:  # the others have none (Django refuses one)
                    await stack.enter_async_context(drivers.lifespan(app))
                transport = httpx.ASGITransport(app)
                client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
                async with client:
                    return await client.get(path)

        answer = asyncio.run(get())
        status, body = answer.status_code, answer.content
    else:
        served = webtest.TestApp(app).get(path, expect_errors=True)
        status, body = served.status_int, served.body
    return status, json.loads(body)["id"] if status == 200 else None


@pytest.mark.parametrize("below", ["/items/a%2Fb", "/items/a%252Fb", "/items/%E6%97%A5%2F"])
def test_an_encoded_slash_in_a_path_means_what_it_means_alone(
    site: Site, below: str, request: pytest.FixtureRequest
) -> None:
    """Whatever the framework makes of ``%2F`` in a path segment (a 404 for most, which
    route on the decoded path), mounted it makes the same."""
    if "%2F" in below:
        expect_server_limit(request, "encoded-slash", site)
    answer = site.get("/fw" + below)
    mounted = answer.status_code, answer.json()["id"] if answer.status_code == 200 else None
    assert mounted == answered_alone(site.framework, below)
