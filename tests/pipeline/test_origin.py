"""``Pages(..., origin=url)``: what neither functions nor static assets answer is proxied to
a real server (a plain ASGI app on uvicorn), bodies streamed both ways."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import threading

import httpx
import pytest
from werkzeug.serving import make_server

BIG_SIZE = 5 * 1024 * 1024 + 3
BIG = random.Random(99).randbytes(BIG_SIZE)
CHUNK = 64 * 1024
GZIPPED = gzip.compress(b"compressed at the origin " * 1000)


async def origin_app(scope, receive, send):
    """The origin: echoes requests as JSON, plus a few special paths."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    path = scope["path"]
    if path == "/big":
        # No Content-Length: sent chunked, as it is produced.
        headers = [(b"content-type", b"application/octet-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, BIG_SIZE, CHUNK):
            chunk = BIG[start : start + CHUNK]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/created":
        headers = [
            (b"content-type", b"text/plain"),
            (b"x-origin", b"yes"),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; Path=/; HttpOnly"),
            (b"location", b"/things/1"),
        ]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": b"made it"})
        return
    if path == "/gzip":
        headers = [
            (b"content-type", b"text/plain"),
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(GZIPPED)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": GZIPPED})
        return
    if path == "/status/404":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"origin 404"})
        return
    echo = {
        "method": scope["method"],
        "path": path,
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "body": body.decode("latin-1") if len(body) < 1000 else None,
    }
    data = json.dumps(echo).encode()
    headers = [(b"content-type", b"application/json"), (b"x-origin", b"echo")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def headers_of(echo: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        found.setdefault(name, []).append(value)
    return found


FUNCTIONS = {
    "_middleware.py": """
        def on_request(context):
            request = context.request
            if request.headers.get("X-Pass") == "1":
                context.pass_through_on_exception()
            if request.headers.get("X-Read") == "1":
                context.data["read"] = len(request.get_data())
            response = context.next()
            response.headers["X-Middleware"] = str(context.data.get("read", "-"))
            return response
    """,
    "hello.py": """
        def on_request(context):
            return "hello from a function"
    """,
    "broken.py": """
        def on_request(context):
            raise RuntimeError("broken function")
    """,
}
FILES = {"style.css": "body{color:red}", "404.html": "static 404"}


@pytest.fixture(scope="module")
def origin_url(long_lived_server):
    return long_lived_server(origin_app)


@pytest.fixture
def client(origin_url, serve, public):
    return serve(FUNCTIONS, public=str(public(FILES)), origin=origin_url)


def test_an_unrouted_get_reaches_the_origin(client):
    result = client.get("/some/where?a=1&b=two%20words")
    assert result.status == 200
    assert result.header("x-origin") == "echo"
    assert result.header("x-middleware") == "-"
    echo = result.json()
    assert echo["query"] == "a=1&b=two%20words"
    assert (echo["method"], echo["path"]) == ("GET", "/some/where")
    assert (echo["length"], echo["body"]) == (0, "")


@pytest.mark.parametrize(
    ("sent", "forwarded"),
    [
        ("/files/a%20b", "/files/a%20b"),
        ("/files/%61%2Fb%20c", "/files/a/b%20c"),
        ("/files/caf%C3%A9;v=1/x", "/files/caf%C3%A9%3Bv=1/x"),
        ("/files/~u/!$&'()*+,=:@/", "/files/~u/!$&'()*+,=:@/"),
    ],
)
def test_the_origin_gets_the_path_as_decided(client, sent, forwarded):
    """The origin is sent the one path pagesfn routed on, spelled one way: escapes of
    characters that need none decoded, ``%2F`` a slash, ``;`` escaped (servers that take
    it for path parameters would read another path)."""
    echo = client.get(sent).json()
    assert echo["raw_path"] == forwarded


def test_a_post_body_reaches_the_origin(client):
    body = b"name=value&" + b"z" * 200_000
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    result = client.request("POST", "/submit?x=1", body=body, headers=form)
    assert result.status == 200
    echo = result.json()
    assert (echo["method"], echo["path"], echo["query"]) == ("POST", "/submit", "x=1")
    assert (echo["length"], echo["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    headers = headers_of(echo)
    assert headers["content-type"] == ["application/x-www-form-urlencoded"]
    assert headers["content-length"] == [str(len(body))]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_reach_the_origin(client, method):
    echo = client.request(method, "/thing/1", body=b"payload").json()
    assert (echo["method"], echo["body"]) == (method, "payload")


def test_a_chunked_body_reaches_the_origin(client):
    chunks = [bytes([65 + i]) * 10_000 for i in range(7)]
    result = client.chunked("POST", "/upload", chunks, headers={"Content-Type": "text/plain"})
    assert result.status == 200
    echo = result.json()
    whole = b"".join(chunks)
    assert (echo["length"], echo["sha256"]) == (len(whole), hashlib.sha256(whole).hexdigest())


def test_a_body_read_by_middleware_still_reaches_the_origin(client):
    result = client.request("POST", "/after-read", body=b"read me twice", headers={"X-Read": "1"})
    assert result.header("x-middleware") == str(len(b"read me twice"))
    assert result.json()["body"] == "read me twice"


def test_forwarded_headers_are_set(client, origin_url):
    headers = headers_of(client.get("/who").json())
    assert headers["x-forwarded-for"] == ["203.0.113.7"]
    assert headers["x-forwarded-host"] == ["testserver"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["host"] == [origin_url.removeprefix("http://")]


def test_an_earlier_forwarded_for_is_extended(client):
    headers = headers_of(client.get("/who", headers={"X-Forwarded-For": "198.51.100.1"}).json())
    assert headers["x-forwarded-for"] == ["198.51.100.1, 203.0.113.7"]


def test_hop_by_hop_request_headers_are_removed(client):
    sent = {
        "Connection": "x-custom",
        "X-Custom": "connection-only",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "X-Kept": "end-to-end",
    }
    headers = headers_of(client.get("/hops", headers=sent).json())
    for name in ("x-custom", "keep-alive", "te"):
        assert name not in headers, name
    assert "x-custom" not in headers.get("connection", [""])[0]
    assert headers["x-kept"] == ["end-to-end"]


def test_the_origin_status_and_headers_come_back(client):
    result = client.request("POST", "/created", body=b"{}")
    assert (result.status, result.text) == (201, "made it")
    assert result.header("x-origin") == "yes"
    assert result.header("location") == "/things/1"
    assert result.header_all("set-cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
    assert result.header("x-middleware") == "-"


def test_a_head_request_reaches_the_origin_and_gets_no_body(client):
    result = client.request("HEAD", "/some/where")
    assert (result.status, result.body) == (200, b"")
    assert result.header("x-origin") == "echo"


def test_the_origin_404_is_passed_on_not_the_static_404_page(client):
    result = client.get("/status/404")
    assert (result.status, result.text) == (404, "origin 404")


def test_a_large_streamed_origin_response_arrives_intact(client):
    result = client.get("/big")
    assert result.status == 200
    assert len(result.body) == BIG_SIZE
    assert result.body == BIG


def test_static_files_win_over_the_origin(client):
    result = client.get("/style.css")
    assert (result.status, result.text) == (200, "body{color:red}")
    assert result.header("x-origin") is None


def test_a_post_to_a_static_file_goes_to_the_origin(client):
    echo = client.request("POST", "/style.css", body=b"posted").json()
    assert (echo["method"], echo["path"], echo["body"]) == ("POST", "/style.css", "posted")


def test_a_function_wins_over_the_origin(client):
    result = client.get("/hello")
    assert (result.status, result.text) == (200, "hello from a function")
    assert result.header("x-origin") is None


def test_a_pass_through_goes_to_the_origin(client):
    result = client.get("/broken?from=pass", headers={"X-Pass": "1"})
    assert result.status == 200
    echo = result.json()
    assert (echo["path"], echo["query"]) == ("/broken", "from=pass")
    assert client.get("/broken").status == 500


def test_an_origin_with_a_base_path(serve, origin_url):
    client = serve(FUNCTIONS, origin=origin_url + "/base/")
    echo = client.get("/x/y?z=1").json()
    assert (echo["path"], echo["query"]) == ("/base/x/y", "z=1")


def test_an_origin_that_is_down_is_a_502_naming_it(serve, public, dead_url, caplog):
    caplog.set_level(logging.ERROR, logger="pagesfn")
    client = serve(FUNCTIONS, public=str(public(FILES)), origin=dead_url)
    result = client.get("/anything")
    assert result.status == 502
    assert result.text.startswith(f"Bad Gateway: the origin {dead_url} is unreachable")
    assert any(dead_url in r.getMessage() for r in caplog.records if r.name == "pagesfn")
    # What functions and files answer is unaffected.
    assert client.get("/hello").text == "hello from a function"
    assert client.get("/style.css").text == "body{color:red}"


def test_both_servers_real_with_big_bodies_both_ways(pages, public, origin_url, uvicorn_server):
    app = pages(FUNCTIONS, public=str(public(FILES)), origin=origin_url)
    upload = random.Random(7).randbytes(3 * 1024 * 1024)

    def chunks():
        for start in range(0, len(upload), 100_000):
            yield upload[start : start + 100_000]

    with uvicorn_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        response = http.post("/echo", content=chunks())
        assert response.status_code == 200
        echo = response.json()
        assert (echo["length"], echo["sha256"]) == (len(upload), hashlib.sha256(upload).hexdigest())
        assert headers_of(echo)["x-forwarded-for"] == ["127.0.0.1"]
        with http.stream("GET", "/big") as streamed:
            assert streamed.status_code == 200
            assert b"".join(streamed.iter_bytes()) == BIG
        # A compressed answer is passed on as it is, still compressed.
        with http.stream("GET", "/gzip") as streamed:
            assert streamed.headers["content-encoding"] == "gzip"
            assert streamed.headers["content-length"] == str(len(GZIPPED))
            assert b"".join(streamed.iter_raw()) == GZIPPED


# -- a middleware that calls next() twice -----------------------------------------------------

RETRYING = {
    "_middleware.py": """
        def on_request(context):
            first = context.next()
            if context.request.headers.get("X-Retry") != "1":
                return first
            # A retry: the same request through the rest of the chain once more.
            second = context.next()
            second.headers["X-First-Status"] = str(first.status_code)
            return second
    """,
    "fn.py": """
        def on_request(context):
            return {"body": context.request.get_data(as_text=True)}
    """,
}
PAYLOAD = b"retry me: " + b"p" * 50_000


def test_a_retried_function_gets_the_body_again(serve, origin_url):
    client = serve(RETRYING, origin=origin_url)
    result = client.request("POST", "/fn", body=PAYLOAD, headers={"X-Retry": "1"})
    assert (result.status, result.header("x-first-status")) == (200, "200")
    assert result.json() == {"body": PAYLOAD.decode()}


@pytest.fixture
def wsgi_server(pages):
    """Serves a tree's WSGI face on a real (werkzeug) server: ``wsgi_server(tree, **options)``
    returns its base URL."""
    servers = []

    def start(tree, **options):
        server = make_server("127.0.0.1", 0, pages(tree, **options).wsgi, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.mark.parametrize("server", ["uvicorn", "werkzeug"])
def test_a_retried_origin_request_gets_the_body_again(
    server, pages, origin_url, long_lived_server, wsgi_server
):
    # Over real servers, where a body read twice from the socket has nothing more to give.
    if server == "uvicorn":
        url = long_lived_server(pages(RETRYING, origin=origin_url))
    else:
        url = wsgi_server(RETRYING, origin=origin_url)
    with httpx.Client(base_url=url, timeout=2) as http:
        try:
            response = http.post("/upstream", content=PAYLOAD, headers={"X-Retry": "1"})
        except httpx.TimeoutException:
            pytest.fail("the retried request never reached the origin: it waits for the body")
    assert (response.status_code, response.headers["x-first-status"]) == (200, "200")
    echo = response.json()
    assert (echo["method"], echo["path"]) == ("POST", "/upstream")
    assert (echo["length"], echo["sha256"]) == (len(PAYLOAD), hashlib.sha256(PAYLOAD).hexdigest())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:3000", "must be an http:// or https:// URL"),
        ("ftp://127.0.0.1", "must be an http:// or https:// URL"),
        ("http://127.0.0.1:3000/?x=1", "takes no query or fragment"),
    ],
)
def test_an_origin_that_is_not_an_http_url_is_refused(tree, url, message):
    from pagesfn import Pages

    with pytest.raises(ValueError, match=message):
        Pages(tree({"index.py": "def on_request(c):\n    return 'x'\n"}), origin=url)
