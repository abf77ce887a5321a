"""Middleware in front of mounted apps: Flask (WSGI) and FastAPI (ASGI), on both faces.

The middleware can reject a request before the app runs, change the app's response, read
the body first and rewrite the path with ``next(...)``; the app still sees its own prefix,
the query string and the whole body. Every combination of face (ASGI, WSGI), app (WSGI,
ASGI) and middleware (sync, async) is run.
"""

from __future__ import annotations

import time

import httpx
import pytest

FLASK_APP = """
    from flask import Flask, request

    app = Flask(__name__)
    hits = []


    @app.route("/echo", methods=["GET", "POST"])
    def echo():
        hits.append(request.path)
        return {
            "app": "flask",
            "method": request.method,
            "root": request.script_root,
            "path": request.path,
            "args": request.args.to_dict(flat=False),
            "body": request.get_data(as_text=True),
        }


    @app.get("/other")
    def other():
        hits.append(request.path)
        return {"app": "flask", "route": "other", "root": request.script_root,
                "path": request.path, "args": request.args.to_dict()}


    @app.get("/hits")
    def count():
        return {"hits": hits}
"""

FASTAPI_APP = """
    from fastapi import FastAPI, Request

    app = FastAPI()
    hits = []


    @app.api_route("/echo", methods=["GET", "POST"])
    async def echo(request: Request):
        hits.append(request.url.path)
        body = await request.body()
        return {
            "app": "fastapi",
            "method": request.method,
            "root": request.scope["root_path"],
            "path": request.url.path,
            "args": {k: request.query_params.getlist(k) for k in request.query_params},
            "body": body.decode(),
        }


    @app.get("/other")
    async def other(request: Request):
        hits.append(request.url.path)
        return {"app": "fastapi", "route": "other", "root": request.scope["root_path"],
                "path": request.url.path, "args": dict(request.query_params)}


    @app.get("/hits")
    async def count():
        return {"hits": hits}
"""

# The same middleware in front of each app, sync or async; it reads the body when asked
# to (``X-Read: 1``) before handing the request on.
SYNC_MIDDLEWARE = """
    from pagesfn import Response


    def on_request(context):
        request = context.request
        prefix = "/" + request.path.split("/")[1]
        if request.headers.get("X-Key") != "open":
            return Response("denied", 401)
        if request.path == prefix + "/go-other":
            response = context.next(prefix + "/other?via=middleware")
        else:
            if request.headers.get("X-Read") == "1":
                context.data["seen"] = request.get_data(as_text=True)
            response = context.next()
        response.headers["X-Middleware"] = prefix[1:] + "-mw"
        if "seen" in context.data:
            response.headers["X-Seen-Length"] = str(len(context.data["seen"]))
        return response
"""
ASYNC_MIDDLEWARE = """
    from pagesfn import Response


    async def on_request(context):
        request = context.request
        prefix = "/" + request.path.split("/")[1]
        if request.headers.get("X-Key") != "open":
            return Response("denied", 401)
        if request.path == prefix + "/go-other":
            response = await context.next(prefix + "/other?via=middleware")
        else:
            if request.headers.get("X-Read") == "1":
                context.data["seen"] = (await request.body()).decode()
            response = await context.next()
        response.headers["X-Middleware"] = prefix[1:] + "-mw"
        if "seen" in context.data:
            response.headers["X-Seen-Length"] = str(len(context.data["seen"]))
        return response
"""
MIDDLEWARE = {"sync": SYNC_MIDDLEWARE, "async": ASYNC_MIDDLEWARE}


def tree(flavor: str) -> dict[str, str]:
    return {
        "flask/[[default]].py": FLASK_APP,
        "flask/_middleware.py": MIDDLEWARE[flavor],
        "api/[[default]].py": FASTAPI_APP,
        "api/_middleware.py": MIDDLEWARE[flavor],
    }


KEY = {"X-Key": "open"}
BODY = "name=pagesfn&" + "x" * 100_000


@pytest.fixture(params=["flask", "api"])
def prefix(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["sync", "async"])
def client(request, serve):
    """Both apps behind a sync middleware, then behind an async one."""
    return serve(tree(request.param))


def app_name(prefix: str) -> str:
    return "flask" if prefix == "flask" else "fastapi"


def test_middleware_rejects_before_the_app_runs(client, prefix):
    for method in ("GET", "POST"):
        result = client.request(method, f"/{prefix}/echo", body=b"payload")
        assert (result.status, result.text) == (401, "denied")
    assert client.get(f"/{prefix}/hits", headers=KEY).json() == {"hits": []}


def test_middleware_adds_a_header_to_the_app_response(client, prefix):
    result = client.get(f"/{prefix}/echo?a=1&a=2&b=x%20y", headers=KEY)
    assert result.status == 200
    assert result.header("x-middleware") == f"{prefix}-mw"
    assert result.header("content-type") == "application/json"
    assert result.json() == {
        "app": app_name(prefix),
        "method": "GET",
        "root": f"/{prefix}",
        "path": "/echo" if prefix == "flask" else f"/{prefix}/echo",
        "args": {"a": ["1", "2"], "b": ["x y"]},
        "body": "",
    }
    assert client.get(f"/{prefix}/hits", headers=KEY).json()["hits"] == [
        "/echo" if prefix == "flask" else f"/{prefix}/echo"
    ]


@pytest.mark.parametrize("read_first", [False, True])
def test_the_app_gets_the_post_body_whether_or_not_middleware_read_it(client, prefix, read_first):
    headers = {**KEY, "Content-Type": "application/x-www-form-urlencoded"}
    if read_first:
        headers["X-Read"] = "1"
    result = client.request("POST", f"/{prefix}/echo?q=1", headers=headers, body=BODY)
    assert result.status == 200
    data = result.json()
    assert (data["method"], data["body"], data["args"]) == ("POST", BODY, {"q": ["1"]})
    assert result.header("x-seen-length") == (str(len(BODY)) if read_first else None)


def test_the_app_gets_a_chunked_body_read_first_by_middleware(client, prefix):
    headers = {**KEY, "X-Read": "1", "Content-Type": "text/plain"}
    chunks = [b"first-", b"second-", b"third"]
    result = client.chunked("POST", f"/{prefix}/echo", chunks, headers=headers)
    assert result.status == 200
    assert result.json()["body"] == "first-second-third"
    assert result.header("x-seen-length") == str(len(b"".join(chunks)))


def test_rewrite_with_next_reaches_another_route_of_the_app(client, prefix):
    result = client.get(f"/{prefix}/go-other?dropped=1", headers=KEY)
    assert result.status == 200
    assert result.header("x-middleware") == f"{prefix}-mw"
    assert result.json() == {
        "app": app_name(prefix),
        "route": "other",
        "root": f"/{prefix}",
        "path": "/other" if prefix == "flask" else f"/{prefix}/other",
        "args": {"via": "middleware"},
    }


def test_an_unknown_app_path_is_the_app_404_with_the_middleware_header(client, prefix):
    result = client.get(f"/{prefix}/nope", headers=KEY)
    assert result.status == 404
    assert result.header("x-middleware") == f"{prefix}-mw"


def test_apps_answer_at_their_own_folder(client, prefix):
    # The folder itself (no trailing slash) goes through the middleware too.
    assert client.get(f"/{prefix}").status == 401
    result = client.get(f"/{prefix}", headers=KEY)
    assert result.header("x-middleware") == f"{prefix}-mw"


# -- a response the middleware replaces ---------------------------------------------------

STREAMING_FLASK = """
    from flask import Flask, Response

    app = Flask(__name__)
    closed = []


    @app.get("/stream")
    def stream():
        def chunks():
            for _ in range(100):
                yield b"x" * 10_000

        # No Content-Length: the body streams as the generator yields it.
        response = Response(chunks(), mimetype="application/octet-stream")
        response.call_on_close(lambda: closed.append("closed"))
        return response


    @app.get("/closed")
    def count():
        return {"closed": len(closed)}
"""
REPLACING_MIDDLEWARE = """
    from pagesfn import Response


    def on_request(context):
        response = context.next()
        if context.request.path == "/flask/stream" and "keep" not in context.request.args:
            return Response(f"replaced a {response.status_code}")
        return response
"""
STREAMING_TREE = {
    "flask/[[default]].py": STREAMING_FLASK,
    "_middleware.py": REPLACING_MIDDLEWARE,
    "ping.py": "def on_request(context):\n    return 'pong'\n",
}


def closed_count(client, expected: int, wait: float = 2.0) -> int:
    """The app's count of closed responses, once it reaches ``expected`` or ``wait`` ends."""
    deadline = time.monotonic() + wait
    while True:
        count = client.get("/flask/closed").json()["closed"]
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.02)


def test_a_streamed_app_response_kept_by_middleware_is_sent_and_closed(serve):
    client = serve(STREAMING_TREE)
    result = client.get("/flask/stream?keep=1")
    assert result.status == 200
    assert result.body == b"x" * 1_000_000
    assert closed_count(client, 1) == 1


def test_a_streamed_app_response_replaced_by_middleware_is_closed(serve):
    # PEP 3333: the app's iterable is closed however its response ends, so the app's
    # cleanup (``call_on_close``, releasing a connection) runs even when nobody sent it.
    client = serve(STREAMING_TREE)
    result = client.get("/flask/stream")
    assert (result.status, result.text) == (200, "replaced a 200")
    assert closed_count(client, 1) == 1


def test_replaced_app_responses_do_not_use_up_the_thread_pool(pages, long_lived_server):
    # Each replaced response must give its worker thread back; with four threads, six
    # requests in a row over a real server show whether they do.
    url = long_lived_server(pages(STREAMING_TREE, max_threads=4))
    with httpx.Client(base_url=url, timeout=2) as http:
        for attempt in range(6):
            try:
                response = http.get("/flask/stream")
            except httpx.TimeoutException:
                pytest.fail(f"request {attempt + 1} of 6 got no answer: the pool is used up")
            assert response.text == "replaced a 200"
        assert http.get("/ping").text == "pong"
