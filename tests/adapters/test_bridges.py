"""Bridge properties: bounded memory, close() on every path, disconnects, one pool.

The ASGI face calls WSGI apps through ``WSGIBridge``; the WSGI face calls ASGI apps through
``ASGIBridge``. These tests drive both faces by hand (ASGI messages, WSGI iterables) where
the in-memory test clients would hide the property, and through a real uvicorn server for
a client that goes away.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import httpx
import pytest
from drivers import http_scope, wsgi_environ
from probes import probe

MIB = 1024 * 1024
CHUNK = 256 * 1024
TOTAL = 50 * MIB // CHUNK  # 200 chunks: 50 MiB through each bridge

# -- bounded memory ----------------------------------------------------------------------

FLASK_STREAMS = """
    from flask import Flask, Response, request
    from probes import probe

    app = Flask(__name__)
    CHUNK = 256 * 1024


    @app.get("/download")
    def download():
        meter = probe("download")
        count = int(request.args["chunks"])

        def chunks():
            for _ in range(count):
                meter.produce()
                yield b"d" * CHUNK

        return Response(chunks(), mimetype="application/octet-stream")


    @app.post("/upload")
    def upload():
        meter = probe("upload")
        size = 0
        while data := request.stream.read(CHUNK):
            size += len(data)
            meter.consumed = size  # in bytes
        return {"size": size}
"""


def test_wsgi_bridge_streams_a_large_response_with_backpressure(pages):
    app = pages({"flask/[[default]].py": FLASK_STREAMS})
    meter = probe("download")
    received = 0

    async def receive():
        await asyncio.Event().wait()  # the client never goes away

    async def send(message):
        nonlocal received
        if message["type"] == "http.response.body":
            if message.get("body"):
                received += len(message["body"])
                meter.consume()
            if meter.consumed % 10 == 0:
                await asyncio.sleep(0.002)  # a slow client

    scope = http_scope("/flask/download")
    scope["query_string"] = f"chunks={TOTAL}".encode()
    asyncio.run(app(scope, receive, send))
    assert received == TOTAL * CHUNK
    assert meter.produced == meter.consumed == TOTAL
    # The app is never more than a couple of chunks ahead of the client.
    assert meter.max_ahead <= 2


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_wsgi_bridge_streams_a_large_request_body_with_backpressure(pages, length):
    # Larger than the default body limit: turned off here, where streaming is the point.
    app = pages({"flask/[[default]].py": FLASK_STREAMS}, max_body_size=None)
    meter = probe("upload")
    produced = 0
    max_ahead = 0
    sent = []

    async def receive():
        nonlocal produced, max_ahead
        if produced == TOTAL * CHUNK:
            await asyncio.Event().wait()
        produced += CHUNK
        max_ahead = max(max_ahead, produced - meter.consumed)
        return {"type": "http.request", "body": b"u" * CHUNK, "more_body": produced < TOTAL * CHUNK}

    async def send(message):
        sent.append(message)

    header = (
        (b"content-length", str(TOTAL * CHUNK).encode())
        if length
        else (b"transfer-encoding", b"chunked")
    )
    asyncio.run(app(http_scope("/flask/upload", "POST", [header]), receive, send))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"size": TOTAL * CHUNK}
    # What the client has sent is never more than a couple of chunks ahead of the app.
    assert max_ahead <= 2 * CHUNK


STARLETTE_STREAMS = """
    from probes import probe
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    CHUNK = 256 * 1024


    async def download(request):
        meter = probe("download")
        total = int(request.query_params["chunks"])

        async def chunks():
            try:
                for _ in range(total):
                    meter.produce()
                    yield b"d" * CHUNK
            finally:
                meter.close()  # the generator was closed: finished, or stopped early

        return StreamingResponse(chunks(), media_type="application/octet-stream")


    async def upload(request):
        meter = probe("upload")
        size = 0
        async for data in request.stream():
            size += len(data)
            meter.consume()
        return JSONResponse({"size": size})


    app = Starlette(
        routes=[Route("/download", download), Route("/upload", upload, methods=["POST"])]
    )
"""


def test_asgi_bridge_streams_a_large_response_with_backpressure(pages):
    app = pages({"starlette/[[default]].py": STARLETTE_STREAMS})
    meter = probe("download")
    statuses = []
    environ = wsgi_environ("/starlette/download", QUERY_STRING=f"chunks={TOTAL}")
    body = app.wsgi(environ, lambda status, headers, exc_info=None: statuses.append(status))
    received = 0
    try:
        for chunk in body:
            received += len(chunk)
            meter.consume()
            if meter.consumed % 10 == 0:
                time.sleep(0.002)  # a slow client
    finally:
        body.close()
    assert statuses == ["200 OK"]
    assert received == TOTAL * CHUNK
    assert meter.produced == meter.consumed == TOTAL
    assert meter.max_ahead <= 2


class GeneratedInput(io.RawIOBase):
    """A request body of ``total`` bytes made as it is read, counting the reads."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.reads = 0
        self.threads: set[str] = set()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.threads.add(threading.current_thread().name)
        size = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= size
        if size:
            self.reads += 1
            meter = probe("upload")
            meter.max_ahead = max(meter.max_ahead, self.reads - meter.consumed)
        return b"u" * size


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_asgi_bridge_streams_a_large_request_body_with_backpressure(pages, length):
    # Larger than the default body limit: turned off here, where streaming is the point.
    app = pages({"starlette/[[default]].py": STARLETTE_STREAMS}, max_body_size=None)
    meter = probe("upload")
    body = GeneratedInput(TOTAL * CHUNK)
    extra = {"wsgi.input": body, "CONTENT_TYPE": "application/octet-stream"}
    if length:
        extra["CONTENT_LENGTH"] = str(TOTAL * CHUNK)
    else:
        extra["wsgi.input_terminated"] = True
        extra["HTTP_TRANSFER_ENCODING"] = "chunked"
    statuses = []
    result = app.wsgi(
        wsgi_environ("/starlette/upload", "POST", **extra),
        lambda status, headers, exc_info=None: statuses.append(status),
    )
    assert statuses == ["200 OK"]
    assert b"".join(result) == b'{"size":52428800}'
    assert body.reads >= TOTAL  # read in pieces as the app asked, not in one go
    # The body is read from the server no more than a couple of pieces ahead of the app.
    assert meter.max_ahead <= 2
    # ... in the app's shared thread pool.
    assert {name.split("_")[0] for name in body.threads} == {"pagesfn"}


# -- close() on every path -----------------------------------------------------------------

CLOSING = """
    from flask import Flask, Response, request
    from probes import probe

    app = Flask(__name__)


    def closing(response):
        response.call_on_close(probe("close").close)  # called from the iterable's close()
        return response


    @app.get("/ok")
    def ok():
        return closing(Response("ok"))


    @app.get("/stream")
    def stream():
        meter = probe("close")
        count = int(request.args["chunks"])
        fail_at = int(request.args.get("fail_at", -1))
        size = int(request.args.get("size", 10))

        def chunks():
            for i in range(count):
                meter.produce()
                if i == fail_at:
                    raise RuntimeError("the generator failed")
                yield b"x" * size

        return closing(Response(chunks()))
"""


def test_close_is_called_when_the_response_is_sent(serve):
    client = serve({"flask/[[default]].py": CLOSING})
    assert client.get("/flask/ok").text == "ok"
    assert client.get("/flask/stream?chunks=5").text == "x" * 50
    assert probe("close").close_calls == 2


def test_close_is_called_when_the_iterable_fails_before_the_response_starts(serve, caplog):
    client = serve({"flask/[[default]].py": CLOSING})
    if client.face == "wsgi":
        # Called directly, the app's iterable goes straight to the server, which sees the
        # exception (WebTest re-raises it) and closes the iterable.
        with pytest.raises(RuntimeError, match="the generator failed"):
            client.get("/flask/stream?chunks=5&fail_at=0")
    else:
        # The generator fails before its first chunk, so nothing was sent: a 500, logged.
        assert client.get("/flask/stream?chunks=5&fail_at=0").status == 500
        assert "flask/[[default]].py" in caplog.text
    assert probe("close").close_calls == 1
    assert client.get("/flask/ok").text == "ok"


def test_close_is_called_when_a_streamed_iterable_fails(serve):
    # A generator declares no length, so it streams from its first chunk on both faces:
    # the exception reaches the server (which closes the connection), and the iterable is
    # closed all the same.
    client = serve({"flask/[[default]].py": CLOSING})
    with pytest.raises(RuntimeError, match="the generator failed"):
        client.get("/flask/stream?chunks=5&fail_at=2")
    assert probe("close").close_calls == 1
    assert client.get("/flask/ok").text == "ok"


def test_close_is_called_when_the_iterable_fails_mid_stream(pages):
    # On the ASGI face, past the buffer the response has started: the exception goes to the
    # server (which closes the connection), and the iterable is closed all the same.
    app = pages({"flask/[[default]].py": CLOSING})
    sent = []

    async def receive():
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    scope = http_scope("/flask/stream")
    scope["query_string"] = b"chunks=100&fail_at=50&size=65536"
    with pytest.raises(RuntimeError, match="the generator failed"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert sent[-1].get("more_body") is True  # the response never claimed to be complete
    assert probe("close").close_calls == 1


def test_asgi_face_stops_a_wsgi_app_when_the_client_disconnects(pages):
    app = pages({"flask/[[default]].py": CLOSING})
    meter = probe("close")
    gone = asyncio.Event()
    chunks_sent = 0

    async def receive():
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal chunks_sent
        if message["type"] == "http.response.body" and message.get("body"):
            chunks_sent += 1
            if chunks_sent == 5:
                gone.set()  # the client goes away after five chunks
            await asyncio.sleep(0.001)  # uvicorn drops the rest silently, as here

    scope = http_scope("/flask/stream")
    scope["query_string"] = b"chunks=10000&size=65536"
    asyncio.run(app(scope, receive, send))
    assert meter.close_calls == 1
    assert meter.produced < 100  # stopped well before the 10,000th chunk


def test_asgi_face_stops_a_wsgi_app_when_the_server_cannot_deliver(pages):
    app = pages({"flask/[[default]].py": CLOSING})
    meter = probe("close")
    chunks_sent = 0

    async def receive():
        await asyncio.Event().wait()

    async def send(message):
        nonlocal chunks_sent
        if message["type"] == "http.response.body" and message.get("body"):
            chunks_sent += 1
            if chunks_sent > 5:
                raise OSError("the connection was reset")  # servers of ASGI spec 2.4

    scope = http_scope("/flask/stream")
    scope["query_string"] = b"chunks=10000&size=65536"
    asyncio.run(app(scope, receive, send))
    assert meter.close_calls == 1
    assert meter.produced < 100


def test_asgi_face_stops_a_wsgi_app_when_the_server_cancels_the_request(pages):
    # Some servers (hypercorn) cancel the app's task when the client goes away.
    app = pages({"flask/[[default]].py": CLOSING})
    meter = probe("close")

    async def receive():
        await asyncio.Event().wait()

    async def send(message):
        await asyncio.sleep(0.001)

    async def scenario():
        scope = http_scope("/flask/stream")
        scope["query_string"] = b"chunks=10000&size=65536"
        task = asyncio.create_task(app(scope, receive, send))
        while meter.produced < 10:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert meter.wait_closed(10)
    assert meter.produced < 100


def test_wsgi_face_stops_an_asgi_app_when_the_server_closes_the_iterable(pages):
    app = pages({"starlette/[[default]].py": STARLETTE_STREAMS})
    meter = probe("download")
    environ = wsgi_environ("/starlette/download", QUERY_STRING="chunks=10000")
    body = app.wsgi(environ, lambda status, headers, exc_info=None: None)
    iterator = iter(body)
    for _ in range(3):
        assert len(next(iterator)) == CHUNK
    body.close()  # what a WSGI server does when its client goes away
    assert meter.wait_closed(10)  # the app's generator was closed...
    assert meter.produced < 10  # ...having produced no more than it was asked for


# -- a real server and a client that goes away -------------------------------------------

UVICORN_FLASK = """
    from flask import Flask, Response, request
    from probes import probe

    app = Flask(__name__)
    CHUNK = 64 * 1024
    TOTAL = 2000  # 125 MiB, if anyone read it all


    @app.route("/big", methods=["GET", "POST"])
    def big():
        meter = probe("uvicorn")
        request.get_data()

        def chunks():
            for _ in range(TOTAL):
                meter.produce()
                yield b"x" * CHUNK

        response = Response(chunks(), mimetype="application/octet-stream")
        response.call_on_close(meter.close)
        return response
"""


@pytest.fixture
def uvicorn_url(pages, uvicorn_server):
    """A real uvicorn server on an ephemeral loopback port, serving the tree's ASGI face."""
    with uvicorn_server(pages({"flask/[[default]].py": UVICORN_FLASK})) as url:
        yield url


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_uvicorn_client_disconnecting_early_stops_the_wsgi_app(uvicorn_url, method):
    meter = probe("uvicorn")
    # A POST with a body too large to preload: the body is streamed into the app first.
    content = b"b" * MIB if method == "POST" else None
    with (
        httpx.Client(base_url=uvicorn_url) as client,
        client.stream(method, "/flask/big", content=content) as response,
    ):
        assert response.status_code == 200
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= MIB:
                break  # leaving the block closes the connection mid-response
    assert meter.wait_closed(10), "close() was not called on the WSGI iterable"
    produced = meter.produced
    assert produced < 500  # of 2000: it stopped well before the end
    time.sleep(0.2)
    assert meter.produced == produced  # and it is no longer being consumed


# -- one pool, repeated headers, os.environ ---------------------------------------------------

THREADS = """
    import threading

    from flask import Flask

    app = Flask(__name__)


    @app.get("/")
    def index():
        return threading.current_thread().name
"""


def test_wsgi_apps_share_the_apps_thread_pool(serve):
    client = serve({"one/[[default]].py": THREADS, "two/[[default]].py": THREADS}, max_threads=1)
    names = {client.get(path).text for path in ["/one/", "/two/", "/one/", "/two/"]}
    if client.face == "asgi":
        # Both mounts run in the app's one pool (of one thread here), not a pool each.
        assert len(names) == 1
        assert names.pop().startswith("pagesfn")
    else:
        # On the WSGI face they run in the server's thread.
        assert names == {threading.current_thread().name}


FLASK = """
    from flask import Flask, Response

    app = Flask(__name__)


    @app.get("/page")
    def page():
        return "a page of text"


    @app.get("/headers")
    def headers():
        response = Response("ok")
        response.headers.add("X-Multi", "one")
        response.headers.add("X-Multi", "two")
        return response
"""


def test_head_requests_get_the_headers_without_the_body(serve):
    client = serve({"flask/[[default]].py": FLASK})
    get = client.get("/flask/page")
    head = client.request("HEAD", "/flask/page")
    assert head.status == 200
    assert head.body == b""
    assert head.header("Content-Length") == get.header("Content-Length") == "14"


def test_repeated_response_headers_are_kept_in_order(serve):
    client = serve({"flask/[[default]].py": FLASK, "starlette/[[default]].py": STARLETTE_HEADERS})
    for path in ["/flask/headers", "/starlette/headers"]:
        assert client.get(path).header_all("X-Multi") == ["one", "two"]


STARLETTE_HEADERS = """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route


    async def headers(request):
        response = PlainTextResponse("ok")
        response.headers.append("X-Multi", "one")
        response.headers.append("X-Multi", "two")
        return response


    app = Starlette(routes=[Route("/headers", headers)])
"""


SLOW_STREAM = """
    import threading

    from flask import Flask, Response
    from probes import probe

    app = Flask(__name__)


    @app.get("/events")
    def events():
        meter = probe("events")

        def chunks():
            yield "data: first\\n\\n"
            # Wait (a little) for the client to have the first event, as a feed would.
            meter.signal.wait(0.5)
            yield "data: second\\n\\n"

        return Response(chunks(), mimetype="text/event-stream")
"""


def test_a_slow_stream_of_small_chunks_reaches_the_client_as_it_is_produced(pages):
    app = pages({"flask/[[default]].py": SLOW_STREAM})
    meter = probe("events")
    bodies = []

    async def receive():
        await asyncio.Event().wait()

    async def send(message):
        if message["type"] == "http.response.body" and message.get("body"):
            bodies.append(message["body"])
            meter.signal.set()  # tell the app the client has its first event

    asyncio.run(app(http_scope("/flask/events"), receive, send))
    assert bodies[0] == b"data: first\n\n"


# -- environ to scope ----------------------------------------------------------------------


@pytest.mark.parametrize("port", ["51234", 51234], ids=["str", "int"])
def test_the_client_port_may_be_a_string_or_an_int(port):
    # CGI makes REMOTE_PORT a string; werkzeug's development server puts an int there.
    from pagesfn.adapters.environ import build_scope

    environ = wsgi_environ("/")
    environ.update({"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": port})
    assert build_scope(environ)["client"] == ("127.0.0.1", 51234)


SPOOLING = """
import tempfile

import probes

SPOOLED = probes.probe("spooled")


def app(environ, start_response):
    # As WebOb does for a body it must read twice: a copy the app owns, left in the environ.
    copy = tempfile.TemporaryFile()
    copy.write(environ["wsgi.input"].read())
    copy.seek(0)
    environ["wsgi.input"] = copy
    SPOOLED.spooled = copy
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d bytes" % len(copy.read())]
"""


def test_a_body_the_app_spooled_for_itself_is_closed_with_the_request(pages):
    # On the ASGI face the bridge owns the environ: what the app left as its body is closed
    # when the request ends, not when the collector reaches the environ.
    app = pages({"spool/[[default]].py": SPOOLING})

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post("/spool/", content=b"x" * 100_000)

    assert asyncio.run(post()).text == "100000 bytes"
    assert probe("spooled").spooled.closed
