"""Protocol details of each face: raw paths, mounts under a prefix, lifespan, real servers."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import webtest
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

TREE = {
    "users/[id].py": """
        def on_request(context):
            request = context.request
            return {"id": context.params["id"], "path": request.path, "root": request.root_path}
    """,
    "index.py": "def on_request(c):\n    return 'root'\n",
    "later.py": """
        import asyncio, pathlib

        async def write(path):
            await asyncio.sleep(0.1)
            path.write_text("done")

        def on_request(context):
            context.wait_until(write(pathlib.Path(__file__).parent / "later.out"))
            return "scheduled"
    """,
}


def test_wsgi_without_raw_uri_routes_on_path_info(pages):
    client = webtest.TestApp(pages(TREE).wsgi)
    assert client.get("/users/caf%C3%A9").json["id"] == "café"
    # An encoded slash is a slash, with or without the raw request target.
    assert client.get("/users/a%2Fb", expect_errors=True).status_int == 404
    extra = {"REQUEST_URI": "/users/a%2Fb"}
    assert client.get("/users/a%2Fb", extra_environ=extra, expect_errors=True).status_int == 404


def test_wsgi_ignores_a_raw_uri_that_disagrees_with_path_info(pages):
    client = webtest.TestApp(pages(TREE).wsgi)
    result = client.get("/users/1", extra_environ={"REQUEST_URI": "/elsewhere/2"})
    assert result.json["id"] == "1"


def test_wsgi_mounted_under_a_prefix(pages):
    outer = DispatcherMiddleware(lambda e, s: [], {"/prefix": pages(TREE).wsgi})
    client = webtest.TestApp(outer)
    body = client.get(
        "/prefix/users/a%3Bb", extra_environ={"REQUEST_URI": "/prefix/users/a%3Bb"}
    ).json
    assert body == {"id": "a;b", "path": "/users/a;b", "root": "/prefix"}
    assert client.get("/prefix").text == "root"


def test_asgi_mounted_under_a_prefix(pages):
    outer = Starlette(routes=[Mount("/prefix", app=pages(TREE))])

    async def go():
        transport = httpx.ASGITransport(outer)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/prefix/users/a%3Bb")).json()

    assert asyncio.run(go()) == {"id": "a;b", "path": "/users/a;b", "root": "/prefix"}


def test_asgi_lifespan_shutdown_finishes_wait_until(pages, tmp_path):
    app = pages(TREE)

    async def go():
        messages = asyncio.Queue()
        sent = []

        async def receive():
            return await messages.get()

        async def send(message):
            sent.append(message["type"])

        lifespan = asyncio.create_task(
            app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        )
        await messages.put({"type": "lifespan.startup"})
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/later")).text == "scheduled"
        await messages.put({"type": "lifespan.shutdown"})
        await lifespan
        return sent

    assert asyncio.run(go()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert (tmp_path / "functions0" / "later.out").read_text() == "done"


def test_a_websocket_to_an_http_route_closes_before_accepting(pages):
    app = pages(TREE)
    sent = []

    async def go():
        async def receive():
            return {"type": "websocket.connect"}

        async def send(message):
            sent.append(message)

        await app({"type": "websocket", "path": "/", "headers": []}, receive, send)

    asyncio.run(go())
    assert sent[0]["type"] == "websocket.close"


@pytest.fixture
def uvicorn_url(pages, uvicorn_server):
    """A real uvicorn server on an ephemeral loopback port."""
    with uvicorn_server(pages(TREE)) as url:
        yield url


@pytest.fixture
def wsgi_url(pages):
    """A real threaded WSGI server (werkzeug's) on an ephemeral loopback port."""
    server = make_server("127.0.0.1", 0, pages(TREE).wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.mark.parametrize("server", ["uvicorn_url", "wsgi_url"])
def test_real_servers(request, server):
    base = request.getfixturevalue(server)
    with httpx.Client(base_url=base) as client:
        assert client.get("/").text == "root"
        assert client.get("/users/a%3Bb").json()["id"] == "a;b"
        assert client.get("/users/a%2Fb").status_code == 404
        assert client.get("/users/caf%C3%A9/").json()["id"] == "café"
        assert client.get("/users/%zz").status_code == 400
        assert client.get("/missing").status_code == 404
        assert client.head("/").headers["content-length"] == "4"
