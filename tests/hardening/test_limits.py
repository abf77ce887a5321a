"""Request limits on both faces: the body (413, 400), the time until the response starts
(504), the head (414, 431) and the wait for a pool thread (503), and how config files and
``Pages(...)`` set them."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from servers import serving

from pagesfn import Pages
from pagesfn.engine.limits import KIB, MIB, Limits, Pool, parse_size
from pagesfn.errors import BodyTooLarge, Overloaded, RequestRefused, RequestTimedOut
from pagesfn.serving.config import ConfigError, load_config
from pagesfn.types import Message, Receive

Serve = Callable[..., Any]
MakePages = Callable[..., Pages]
UvicornServer = Callable[[Any], AbstractContextManager[str]]

LIMIT = 1000
TIMEOUT = 0.3
CHUNK = 100


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


async def await_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """:func:`wait_until` for coroutines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


# -- trees ----------------------------------------------------------------------------------


def body_tree(marks: Path) -> dict[str, str]:
    """Readers of the request body: a sync and an async handler, a mounted Flask app and a
    mounted FastAPI app; each touches ``marks/<name>`` when it is called."""
    return {
        "sync.py": """
            from pathlib import Path


            def on_request_post(context):
                Path(context.env["MARKS"], "sync").touch()
                return {"size": len(context.request.get_data())}
        """,
        "async.py": """
            from pathlib import Path


            async def on_request_post(context):
                Path(context.env["MARKS"], "async").touch()
                return {"size": len(await context.request.body())}
        """,
        "swallow.py": """
            async def on_request_post(context):
                try:
                    await context.request.body()
                except Exception as exc:
                    return f"swallowed {type(exc).__name__}"
                return "read it all"
        """,
        "ignore.py": """
            def on_request_post(context):
                return "not read"
        """,
        "swallow_streaming.py": f"""
            from pathlib import Path


            class Chunks:
                \"\"\"A streamed body holding something to release when it is closed.\"\"\"

                def __aiter__(self):
                    return self

                async def __anext__(self):
                    raise StopAsyncIteration

                async def aclose(self):
                    Path({str(marks)!r}, "closed").touch()


            async def on_request_post(context):
                try:
                    await context.request.body()
                except Exception:
                    pass
                return Chunks()
        """,
        "flask/[[default]].py": f"""
            from pathlib import Path

            from flask import Flask, request

            app = Flask(__name__)


            @app.post("/echo")
            def echo():
                Path({str(marks)!r}, "flask").touch()
                return {{"size": len(request.get_data())}}
        """,
        "fastapi/[[default]].py": f"""
            from pathlib import Path

            from fastapi import FastAPI, Request

            app = FastAPI()


            @app.post("/echo")
            async def echo(request: Request):
                Path({str(marks)!r}, "fastapi").touch()
                return {{"size": len(await request.body())}}
        """,
    }


#: Where each reader of :func:`body_tree` answers, by the name it marks.
READERS = {"sync": "/sync", "async": "/async", "flask": "/flask/echo", "fastapi": "/fastapi/echo"}
#: The readers whose chunked body pagesfn reads ahead (a mounted WSGI app's).
READ_AHEAD = {"flask"}


def time_tree(marks: Path) -> dict[str, str]:
    """Handlers slower than the timeout, streams that start in time and last longer, and a
    mounted FastAPI app doing both; what must happen late touches a file in ``marks``."""
    return {
        "fast.py": """
            def on_request_get(context):
                return "fast"
        """,
        "slow_async.py": """
            import asyncio
            from pathlib import Path


            async def on_request_get(context):
                marks = Path(context.env["MARKS"])
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    (marks / "cancelled").touch()
                    raise
                finally:
                    (marks / "finally").touch()
                return "too late"
        """,
        "slow_sync.py": """
            import time
            from pathlib import Path


            def on_request_get(context):
                time.sleep(float(context.request.args["seconds"]))
                Path(context.env["MARKS"], "sync_done").touch()
                return "late"
        """,
        "own_timeout_async.py": """
            async def on_request_get(context):
                raise TimeoutError("the handler's own")
        """,
        "own_timeout_sync.py": """
            def on_request_get(context):
                raise TimeoutError("the handler's own")
        """,
        "stream_sync.py": """
            import time


            def on_request_get(context):
                def parts():
                    for count in range(5):
                        yield f"{count}\\n"
                        time.sleep(0.15)

                return parts()
        """,
        "stream_async.py": """
            import asyncio


            async def on_request_get(context):
                async def parts():
                    for count in range(5):
                        yield f"{count}\\n"
                        await asyncio.sleep(0.15)

                return parts()
        """,
        "flask/[[default]].py": """
            import time

            from flask import Flask

            app = Flask(__name__)


            @app.get("/sleep")
            def sleep():
                time.sleep(0.8)
                return "flask woke up"
        """,
        "fastapi/[[default]].py": f"""
            import asyncio
            from pathlib import Path

            from fastapi import FastAPI
            from fastapi.responses import StreamingResponse

            app = FastAPI()


            @app.get("/sleep")
            async def sleep():
                try:
                    await asyncio.sleep(10)
                finally:
                    Path({str(marks)!r}, "fastapi_finally").touch()
                return "too late"


            @app.get("/stream")
            async def stream():
                async def parts():
                    for count in range(5):
                        yield f"{{count}}\\n"
                        await asyncio.sleep(0.15)

                return StreamingResponse(parts(), media_type="text/plain")
        """,
    }


STREAMED = "0\n1\n2\n3\n4\n"

HEAD_TREE = {
    "[[rest]].py": """
        def on_request_get(context):
            return "ok"
    """,
}


# -- driving the faces by hand --------------------------------------------------------------


def http_scope(
    path: str,
    *,
    method: str = "GET",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    """An ASGI HTTP scope as a server builds it (``host`` first, then ``headers``)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def wsgi_environ(
    path: str,
    *,
    method: str = "GET",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: Any = None,
    request_uri: bool = True,
    terminated: bool = False,
) -> dict[str, Any]:
    """A PEP 3333 environ as a server builds it (``HTTP_HOST`` first, then ``headers``)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b"") if body is None else body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if request_uri:
        environ["REQUEST_URI"] = path + ("?" + query if query else "")
    for name, value in headers or []:
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    if terminated:
        environ["wsgi.input_terminated"] = True
    return environ


def call_asgi(
    app: Pages, scope: dict[str, Any], receive: Receive | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI face once; its status, headers and body."""
    messages: list[Message] = []

    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive or no_body, send), 10)

    asyncio.run(run())
    start = messages[0]
    assert start["type"] == "http.response.start"
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body


def call_wsgi(app: Pages, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Call the WSGI face once (in a thread, given 10 s); its status, headers and body."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    def run() -> bytes:
        iterable = app.wsgi(environ, start_response)
        try:
            return b"".join(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    with ThreadPoolExecutor(1) as pool:
        body = pool.submit(run).result(10)
    status, headers = started[-1]
    return int(status.split()[0]), {k.lower(): v for k, v in headers}, body


def call_face(
    face: str,
    app: Pages,
    path: str,
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
) -> int:
    """The status of one GET to ``face`` built from the same parts on either face."""
    if face == "asgi":
        pairs = [(n.lower().encode(), v.encode()) for n, v in headers or []]
        scope = http_scope(path, query=query.encode(), headers=pairs)
        return call_asgi(app, scope)[0]
    return call_wsgi(app, wsgi_environ(path, query=query, headers=headers))[0]


def raw_exchange(url: str, head: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send ``head`` on a fresh connection to ``url`` and read until the server closes it;
    what came back and how long it took."""
    host, port = url.removeprefix("http://").split(":")
    began = time.monotonic()
    received = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received, time.monotonic() - began


def status_of(raw: bytes) -> int:
    return int(raw.split(b"\r\n", 1)[0].split()[1])


@contextmanager
def wsgiref_server(app: Any) -> Iterator[str]:
    """Serve a WSGI app with the standard library's ``wsgiref`` on loopback."""

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- the body -------------------------------------------------------------------------------


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


@pytest.fixture
def body_client(serve: Serve, marks: Path) -> Any:
    return serve(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})


@pytest.mark.parametrize("reader", READERS)
def test_a_declared_length_past_the_limit_is_413_before_anything_runs(
    body_client: Any, marks: Path, reader: str
) -> None:
    """A Content-Length above the limit is answered 413, and neither the handler nor the
    mounted app is called. ASGI adds ``Connection: close``; on WSGI closing the connection
    is the server's call (PEP 3333 keeps hop-by-hop headers from apps)."""
    result = body_client.request("POST", READERS[reader], body=b"x" * (LIMIT + 1))
    assert result.status == 413
    assert result.header("Connection") == ("close" if body_client.face == "asgi" else None)
    assert f"limit of {LIMIT} bytes" in result.text
    assert not (marks / reader).exists()


@pytest.mark.parametrize("reader", READERS)
def test_a_declared_length_at_the_limit_is_read(body_client: Any, marks: Path, reader: str) -> None:
    """A body of exactly the limit, declared, reaches its reader whole."""
    result = body_client.request("POST", READERS[reader], body=b"x" * LIMIT)
    assert (result.status, result.json()) == (200, {"size": LIMIT})
    assert (marks / reader).exists()


@pytest.mark.parametrize(("chunks", "status"), [(5, 200), (10, 200), (11, 413)])
@pytest.mark.parametrize("reader", READERS)
def test_a_chunked_body_is_counted_as_it_is_read(
    body_client: Any, marks: Path, reader: str, chunks: int, status: int
) -> None:
    """A body of unknown length under or at the limit is read whole; past it, whoever read
    it (a handler, mounted Flask, mounted FastAPI) the answer is 413. (A mounted WSGI app's
    body is read ahead, to hand it over with its length: one past the limit is refused
    there, counted all the same, before the app runs.)"""
    result = body_client.chunked("POST", READERS[reader], [b"x" * CHUNK] * chunks)
    assert result.status == status
    if status == 200:
        assert result.json() == {"size": CHUNK * chunks}
    else:
        assert f"limit of {LIMIT} bytes" in result.text
        assert result.header("Connection") == ("close" if body_client.face == "asgi" else None)
    # The reader was called: the body was counted, not refused from its head.
    assert (marks / reader).exists() is (status == 200 or reader not in READ_AHEAD)


def test_a_handler_that_swallows_the_error_still_answers_413(body_client: Any) -> None:
    """Catching the error of a body past the limit does not turn the answer into a 200."""
    result = body_client.chunked("POST", "/swallow", [b"x" * CHUNK] * 20)
    assert result.status == 413
    under = body_client.chunked("POST", "/swallow", [b"x" * CHUNK] * 3)
    assert (under.status, under.text) == (200, "read it all")


def test_the_stream_a_413_replaces_is_closed(body_client: Any, marks: Path) -> None:
    """A streamed response the 413 of a body past the limit replaces is closed, so what
    it holds is released, on both faces."""
    result = body_client.chunked("POST", "/swallow_streaming", [b"x" * CHUNK] * 20)
    assert result.status == 413
    assert (marks / "closed").exists()


@pytest.mark.parametrize("kind", ["uvicorn-h11", "uvicorn-httptools", "hypercorn", "werkzeug"])
def test_the_stream_a_413_replaces_is_closed_under_real_servers(
    pages: MakePages, marks: Path, kind: str
) -> None:
    """The same under real servers of both faces (wsgiref reads no chunked body): the
    client gets the 413, and the replaced body is closed."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    with serving(kind, app) as url:
        response = httpx.post(
            url + "/swallow_streaming", content=iter([b"x" * CHUNK] * 20), timeout=10
        )
    assert response.status_code == 413
    assert f"limit of {LIMIT} bytes" in response.text
    assert (marks / "closed").exists()


def test_a_chunked_body_nobody_reads_is_not_counted(body_client: Any) -> None:
    """Only what is read counts: a handler ignoring a large chunked body answers as usual."""
    result = body_client.chunked("POST", "/ignore", [b"x" * CHUNK] * 30)
    assert (result.status, result.text) == (200, "not read")


def guarded_tree(marks: Path) -> dict[str, str]:
    """:func:`body_tree` and a slow handler under a middleware that turns every exception
    of the chain into its own 503, as the ``errors`` middleware of docs/pipeline.md does."""
    tree = {f"guarded/{name}": source for name, source in body_tree(marks).items()}
    tree["guarded/_middleware.py"] = """
        async def on_request(context):
            try:
                return await context.next()
            except Exception:
                return "caught by the middleware", 503
    """
    tree["guarded/slow.py"] = """
        import asyncio


        async def on_request_get(context):
            await asyncio.sleep(10)
            return "too late"
    """
    return tree


@pytest.mark.parametrize("reader", READERS)
def test_a_middleware_catching_errors_does_not_hide_a_413(
    serve: Serve, marks: Path, reader: str
) -> None:
    """Under a middleware that catches every exception, a chunked body past the limit read
    by a handler or a mounted app is still a 413; under the limit it is read whole."""
    client = serve(guarded_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    path = "/guarded" + READERS[reader]
    over = client.chunked("POST", path, [b"x" * CHUNK] * 11)
    assert over.status == 413
    # Refused as it was read: by its reader, or as pagesfn read it ahead for a WSGI app.
    assert (marks / reader).exists() is (reader not in READ_AHEAD)
    under = client.chunked("POST", path, [b"x" * CHUNK] * 10)
    assert (under.status, under.json()) == (200, {"size": LIMIT})


def test_a_middleware_catching_errors_does_not_hide_a_504(serve: Serve, marks: Path) -> None:
    """Under a middleware that catches every exception, a slow handler is still a 504."""
    client = serve(guarded_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})
    result, took = timed_get(client, "/guarded/slow")
    assert result.status == 504
    assert took < 2.0


def test_limits_off_lets_large_bodies_through(serve: Serve, marks: Path) -> None:
    """``max_body_size=None`` turns the limit off, declared and chunked alike."""
    client = serve(body_tree(marks), max_body_size=None, env={"MARKS": str(marks)})
    big = b"x" * (7 * MIB)
    assert client.request("POST", "/sync", body=big).json() == {"size": len(big)}
    chunked = client.chunked("POST", "/async", [b"x" * MIB] * 7)
    assert chunked.json() == {"size": 7 * MIB}


#: How many chunks an endless body gives before it gives up (so a reader ignoring the
#: limit fails the test instead of filling the memory).
ENDLESS = 10_000


@pytest.mark.parametrize("reader", READERS)
def test_asgi_stops_reading_an_endless_body(pages: MakePages, marks: Path, reader: str) -> None:
    """A chunked body that never ends is read only until it passes the limit: ``receive``
    is called limit/chunk + 1 times, and the answer is 413."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": calls < ENDLESS}

    scope = http_scope(READERS[reader], method="POST", headers=[(b"transfer-encoding", b"chunked")])
    status, headers, body = call_asgi(app, scope, receive)
    assert status == 413
    assert headers["connection"] == "close"
    assert f"limit of {LIMIT}".encode() in body
    assert calls == LIMIT // CHUNK + 1


@pytest.mark.parametrize(("chunks", "status"), [(10, 200), (11, 413)])
def test_an_http2_body_without_a_length_is_counted(
    pages: MakePages, marks: Path, chunks: int, status: int
) -> None:
    """An HTTP/2 request may carry a body with neither Content-Length nor chunked framing:
    it is counted as it is read, like a chunked one."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    sent = 0

    async def receive() -> Message:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": sent < chunks}

    scope = {**http_scope("/async", method="POST"), "http_version": "2"}
    result = call_asgi(app, scope, receive)
    assert result[0] == status
    if status == 200:
        assert result[2] == b'{"size":%d}' % LIMIT


class EndlessInput(io.RawIOBase):
    """A ``wsgi.input`` that always has more, up to :data:`ENDLESS` chunks."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def _next(self, size: int | None) -> bytes:
        if self.given >= ENDLESS * CHUNK:
            return b""
        count = CHUNK if size is None or size < 0 else min(size, CHUNK)
        self.given += count
        return b"x" * count

    def read(self, size: int | None = -1) -> bytes:
        return self._next(size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._next(size)


@pytest.mark.parametrize("reader", READERS)
def test_wsgi_stops_reading_an_endless_body(pages: MakePages, marks: Path, reader: str) -> None:
    """A ``wsgi.input`` that never ends (a chunked body, ``wsgi.input_terminated``) is read
    only a little past the limit, and the answer is 413."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    endless = EndlessInput()
    environ = wsgi_environ(
        READERS[reader],
        method="POST",
        headers=[("Transfer-Encoding", "chunked")],
        body=endless,
        terminated=True,
    )
    status, _, body = call_wsgi(app, environ)
    assert status == 413
    assert f"limit of {LIMIT}".encode() in body
    assert LIMIT < endless.given <= LIMIT + 2 * CHUNK


def test_a_real_server_answers_413_without_waiting_for_the_body(
    pages: MakePages, marks: Path, uvicorn_server: UvicornServer
) -> None:
    """Under uvicorn, a request declaring 100 MB gets its 413 at once and the connection
    closed, though not one byte of the body was sent."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    head = (
        b"POST /sync HTTP/1.1\r\nHost: testserver\r\nContent-Length: 100000000\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    with uvicorn_server(app) as url:
        received, took = raw_exchange(url, head)
    assert status_of(received) == 413
    assert b"connection: close" in received.lower()
    assert took < 2.0
    assert not (marks / "sync").exists()


@pytest.mark.parametrize(
    "value", ["abc", "-5", "1e3", "12 34"], ids=["word", "negative", "float", "two"]
)
def test_a_content_length_that_is_no_number_is_400(
    pages: MakePages, marks: Path, value: str
) -> None:
    """A Content-Length that is not a number is a 400 on both faces, before any reader runs."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    scope = http_scope("/sync", method="POST", headers=[(b"content-length", value.encode())])
    asgi_status, _, asgi_body = call_asgi(app, scope)
    environ = wsgi_environ("/sync", method="POST", headers=[("Content-Length", value)])
    wsgi_status, _, wsgi_body = call_wsgi(app, environ)
    assert (asgi_status, wsgi_status) == (400, 400)
    assert b"Content-Length is not a number" in asgi_body
    assert b"Content-Length is not a number" in wsgi_body
    assert not (marks / "sync").exists()


def test_conflicting_content_lengths_are_400(pages: MakePages, marks: Path) -> None:
    """Two Content-Length headers that disagree are a 400 (the same one twice is not)."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})

    def post(*lengths: bytes) -> int:
        scope = http_scope(
            "/sync", method="POST", headers=[(b"content-length", n) for n in lengths]
        )

        async def receive() -> Message:
            return {"type": "http.request", "body": b"abcd", "more_body": False}

        return call_asgi(app, scope, receive)[0]

    assert post(b"4", b"5") == 400
    assert not (marks / "sync").exists()
    assert post(b"4", b"4") == 200


@pytest.mark.parametrize(
    "lengths",
    [[b"abc"], [b"4", b"5"]],
    ids=["no-number", "conflicting"],
)
def test_a_real_server_refuses_a_bad_content_length(
    pages: MakePages, marks: Path, uvicorn_server: UvicornServer, lengths: list[bytes]
) -> None:
    """Under uvicorn a bad Content-Length gets a 400 (from the server or from the app)."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    head = b"POST /sync HTTP/1.1\r\nHost: testserver\r\n"
    head += b"".join(b"Content-Length: " + n + b"\r\n" for n in lengths) + b"\r\nabcd"
    with uvicorn_server(app) as url:
        received, _ = raw_exchange(url, head)
    assert status_of(received) == 400
    assert not (marks / "sync").exists()


def test_a_content_length_beside_chunked_does_not_lift_the_limit(
    pages: MakePages, marks: Path, uvicorn_server: UvicornServer
) -> None:
    """A request declaring ``Content-Length: 10`` and ``Transfer-Encoding: chunked`` (the
    server frames it by its chunks) cannot carry a body past the limit to a handler."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    body = b"x" * (5 * LIMIT)
    head = (
        b"POST /sync HTTP/1.1\r\nHost: testserver\r\nContent-Length: 10\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with uvicorn_server(app) as url:
        received, _ = raw_exchange(url, head + chunks)
    assert status_of(received) in (400, 413), received


def test_a_413_on_the_wsgi_face_survives_a_strict_wsgi_server(
    pages: MakePages, marks: Path
) -> None:
    """Under the standard library's WSGI server a declared body past the limit is a 413."""
    app = pages(body_tree(marks), max_body_size=LIMIT, env={"MARKS": str(marks)})
    head = b"POST /sync HTTP/1.1\r\nHost: testserver\r\nContent-Length: 5000\r\n\r\n"
    with wsgiref_server(app.wsgi) as url:
        received, _ = raw_exchange(url, head)
    assert status_of(received) == 413


# -- time -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["sync", "async"])
def test_a_body_shorter_than_its_content_length_is_408_at_the_deadline(
    pages: MakePages, marks: Path, uvicorn_server: UvicornServer, reader: str
) -> None:
    """A client that sends less body than its Content-Length promises, and waits, gets 408
    with ``Connection: close`` at the request timeout: its fault, not a 504 of the app's."""
    app = pages(body_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})
    head = f"POST {READERS[reader]} HTTP/1.1\r\nHost: testserver\r\nContent-Length: 100\r\n\r\n"
    with uvicorn_server(app) as url:
        received, took = raw_exchange(url, head.encode() + b"abc")
    assert status_of(received) == 408
    assert b"connection: close" in received.lower()
    assert b"did not arrive within the limit" in received
    assert took < 3
    assert (marks / reader).exists()  # the handler ran and waited for the body


@pytest.fixture
def timed(serve: Serve, marks: Path) -> Any:
    return serve(time_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})


def timed_get(client: Any, path: str) -> tuple[Any, float]:
    began = time.monotonic()
    result = client.get(path)
    return result, time.monotonic() - began


def test_an_async_handler_past_the_deadline_is_504_and_cancelled(timed: Any, marks: Path) -> None:
    """An async handler sleeping 10 s gets the client a 504 at the deadline, on both faces,
    and is cancelled there: its ``except CancelledError`` and ``finally`` run."""
    result, took = timed_get(timed, "/slow_async")
    assert result.status == 504
    assert f"limit of {TIMEOUT:g} s" in result.text
    assert took < 2.0
    assert wait_until(lambda: (marks / "finally").exists(), 3.0)
    assert (marks / "cancelled").exists()


def test_a_sync_handler_on_asgi_is_504_at_the_deadline_and_runs_on(
    pages: MakePages, marks: Path
) -> None:
    """On the ASGI face a sync handler sleeping 2 s gets the client a 504 at the
    deadline; its thread is not killed, so what it does after the sleep still happens."""
    app = pages(time_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})

    async def go() -> tuple[httpx.Response, float]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            began = time.monotonic()
            response = await c.get("/slow_sync", params={"seconds": "2"})
            return response, time.monotonic() - began

    response, took = asyncio.run(go())
    assert response.status_code == 504
    assert took < 1.5
    assert not (marks / "sync_done").exists()
    assert wait_until(lambda: (marks / "sync_done").exists(), 5.0)


def test_a_sync_handler_on_wsgi_is_504_when_it_returns_late(pages: MakePages, marks: Path) -> None:
    """On the WSGI face nothing interrupts a sync handler: the 504 comes when it returns
    after the deadline, its result thrown away."""
    app = pages(time_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})
    began = time.monotonic()
    status, _, body = call_wsgi(app, wsgi_environ("/slow_sync", query="seconds=0.6"))
    took = time.monotonic() - began
    assert status == 504
    assert b"late" not in body
    assert took >= 0.6
    assert (marks / "sync_done").exists()


def test_a_sync_handler_within_the_deadline_answers(timed: Any) -> None:
    """A sync handler that returns before the deadline is not touched by it."""
    result = timed.get("/slow_sync?seconds=0.05")
    assert (result.status, result.text) == (200, "late")


def test_a_mounted_asgi_app_past_the_deadline_is_504_and_cancelled(
    pages: MakePages, marks: Path
) -> None:
    """On the ASGI face a mounted FastAPI endpoint that sleeps is cancelled at the
    deadline, and the client gets 504."""
    app = pages(time_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})

    async def go() -> tuple[httpx.Response, float]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            began = time.monotonic()
            response = await c.get("/fastapi/sleep")
            return response, time.monotonic() - began

    response, took = asyncio.run(go())
    assert response.status_code == 504
    assert took < 2.0
    assert (marks / "fastapi_finally").exists()


def test_a_mounted_app_on_wsgi_is_not_timed(pages: MakePages, marks: Path) -> None:
    """The documented limitation: on the WSGI face a mounted app is left to the server's
    own worker timeout, so a Flask view slower than the request timeout still answers."""
    app = pages(time_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})
    status, _, body = call_wsgi(app, wsgi_environ("/flask/sleep"))
    assert (status, body) == (200, b"flask woke up")


@pytest.mark.parametrize("path", ["/stream_sync", "/stream_async", "/fastapi/stream"])
def test_a_stream_that_started_in_time_may_run_past_the_deadline(timed: Any, path: str) -> None:
    """The timeout ends when the response starts: a stream (a sync or async generator, a
    FastAPI ``StreamingResponse``) lasting longer than the timeout is sent whole."""
    result, took = timed_get(timed, path)
    assert (result.status, result.text) == (200, STREAMED)
    assert took > TIMEOUT


@pytest.mark.parametrize("timeout", [None, 0])
def test_no_request_timeout_waits_for_the_handler(
    serve: Serve, marks: Path, timeout: float | None
) -> None:
    """``request_timeout=None`` (or 0) turns the timeout off: a slow handler answers."""
    client = serve(time_tree(marks), request_timeout=timeout, env={"MARKS": str(marks)})
    result = client.get("/slow_sync?seconds=0.5")
    assert (result.status, result.text) == (200, "late")


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_handler_raising_its_own_timeout_error_is_500(timed: Any, kind: str) -> None:
    """A ``TimeoutError`` of the handler's own is a failure like any other (500), not the
    request timeout's 504."""
    result = timed.get(f"/own_timeout_{kind}")
    assert result.status == 500


def test_a_504_is_logged_naming_the_route_file(
    timed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The log line of a 504 names the route file that did not answer and the timeout."""
    with caplog.at_level(logging.ERROR, logger="pagesfn"):
        assert timed.get("/slow_async").status == 504
    logged = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("slow_async.py" in line and "504" in line for line in logged), logged
    assert any(f"{TIMEOUT:g} s" in line for line in logged), logged


def test_a_504_from_a_mount_is_logged_naming_its_file(
    pages: MakePages, marks: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A mounted app's 504 (ASGI face) is logged with the catch-all file that mounts it."""
    app = pages(time_tree(marks), request_timeout=TIMEOUT, env={"MARKS": str(marks)})
    with caplog.at_level(logging.ERROR, logger="pagesfn"):
        status, _, _ = call_asgi(app, http_scope("/fastapi/sleep"))
    assert status == 504
    logged = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("fastapi/[[default]].py" in line and "504" in line for line in logged), logged


# -- the thread pool ------------------------------------------------------------------------

POOL_TREE = {
    "quick.py": """
        async def on_request_get(context):
            return "async needs no thread"
    """,
    "block.py": """
        import time
        from pathlib import Path


        def on_request_get(context):
            marks = Path(context.env["MARKS"])
            (marks / ("started-" + context.request.args["n"])).touch()
            deadline = time.monotonic() + 10
            while not (marks / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return "done " + context.request.args["n"]
    """,
    "flask/[[default]].py": """
        from flask import Flask

        app = Flask(__name__)


        @app.get("/hello")
        def hello():
            return "hello from flask"
    """,
}


def queued(app: Pages) -> int:
    """Calls waiting for a thread of ``app``'s pool."""
    pool = app.executor
    assert isinstance(pool, Pool)
    return pool.queued


@pytest.mark.parametrize("third_path", ["/block?n=3", "/flask/hello"])
def test_a_full_pool_queue_answers_503_at_once(
    pages: MakePages, marks: Path, third_path: str
) -> None:
    """With one thread and a queue of one, a third request needing a thread (a sync
    handler, a mounted WSGI app) while one runs and one waits is refused at once with 503
    and ``Retry-After``; once the first is released all complete, and the pool takes work
    again."""
    app = pages(POOL_TREE, max_threads=1, max_queue=1, env={"MARKS": str(marks)})

    async def go() -> None:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            first = asyncio.ensure_future(c.get("/block", params={"n": "1"}))
            assert await await_until(lambda: (marks / "started-1").exists())
            second = asyncio.ensure_future(c.get("/block", params={"n": "2"}))
            assert await await_until(lambda: queued(app) == 1)
            began = time.monotonic()
            third = await c.get(third_path)
            took = time.monotonic() - began
            assert third.status_code == 503
            assert third.headers["Retry-After"] == "1"
            assert "try again shortly" in third.text
            assert took < 1.0
            assert not (marks / "started-2").exists()
            quick = await c.get("/quick")
            assert (quick.status_code, quick.text) == (200, "async needs no thread")
            (marks / "release").touch()
            done = await asyncio.wait_for(asyncio.gather(first, second), 10)
            assert [(r.status_code, r.text) for r in done] == [(200, "done 1"), (200, "done 2")]
            after = await c.get("/block", params={"n": "4"})
            assert (after.status_code, after.text) == (200, "done 4")
            again = await c.get("/flask/hello")
            assert (again.status_code, again.text) == (200, "hello from flask")
        assert not (marks / "started-3").exists()

    asyncio.run(go())


def test_max_queue_zero_queues_without_bound(pages: MakePages, marks: Path) -> None:
    """``max_queue=0`` is no bound: with the one thread busy, every later sync request
    waits for it, and all are answered once it is free."""
    app = pages(POOL_TREE, max_threads=1, max_queue=0, env={"MARKS": str(marks)})

    async def go() -> None:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            first = asyncio.ensure_future(c.get("/block", params={"n": "0"}))
            assert await await_until(lambda: (marks / "started-0").exists())
            rest = [asyncio.ensure_future(c.get("/block", params={"n": str(n)})) for n in (1, 2, 3)]
            assert await await_until(lambda: queued(app) == 3)
            (marks / "release").touch()
            done = await asyncio.wait_for(asyncio.gather(first, *rest), 10)
            assert [(r.status_code, r.text) for r in done] == [(200, f"done {n}") for n in range(4)]

    asyncio.run(go())


def test_a_hung_pool_fills_then_refuses(pages: MakePages, marks: Path) -> None:
    """A sync handler past the request timeout keeps its thread: with every thread hung and
    the queue full, the next request is refused with 503 rather than queued; a call that
    timed out while it waited for a thread is dropped without running."""
    app = pages(
        POOL_TREE, max_threads=1, max_queue=1, request_timeout=TIMEOUT, env={"MARKS": str(marks)}
    )

    async def go() -> None:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            first, second = await asyncio.gather(
                c.get("/block", params={"n": "1"}), c.get("/block", params={"n": "2"})
            )
            assert (first.status_code, second.status_code) == (504, 504)
            third = await c.get("/block", params={"n": "3"})
            assert third.status_code == 503
            (marks / "release").touch()
            assert await await_until(lambda: queued(app) == 0)
            after = await c.get("/block", params={"n": "4"})
            assert (after.status_code, after.text) == (200, "done 4")
        # One thread takes the queue in order: the call that timed out while it waited
        # was dropped, never run, before the fourth ran.
        assert (marks / "started-1").exists()
        assert not (marks / "started-2").exists()

    asyncio.run(go())


# -- the head -------------------------------------------------------------------------------

URL_LIMIT = 100
COUNT_LIMIT = 20
SIZE_LIMIT = 1000
HEAD_LIMITS = {
    "max_url_length": URL_LIMIT,
    "max_header_count": COUNT_LIMIT,
    "max_header_size": SIZE_LIMIT,
}


def padding_headers(count: int, size: int = 0) -> list[tuple[str, str]]:
    """``count`` headers ``x-pad-NN``; the last one's value makes names and values
    ``size`` bytes in all, with the ``host: testserver`` header both faces get."""
    headers = [(f"x-pad-{n:02d}", "v") for n in range(count)]
    if size:
        used = len("host") + len("testserver") + sum(len(k) + len(v) for k, v in headers[:-1])
        name = headers[-1][0]
        headers[-1] = (name, "v" * (size - used - len(name)))
    return headers


@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_url_length_boundary(pages: MakePages, face: str) -> None:
    """A path of exactly ``max_url_length`` bytes is served; one byte more is 414."""
    app = pages(HEAD_TREE, **HEAD_LIMITS)
    assert call_face(face, app, "/" + "a" * (URL_LIMIT - 1)) == 200
    assert call_face(face, app, "/" + "a" * URL_LIMIT) == 414
    assert call_face(face, app, "/a", query="q=" + "b" * URL_LIMIT) == 414


@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_header_count_boundary(pages: MakePages, face: str) -> None:
    """``max_header_count`` headers are served; one more is 431."""
    app = pages(HEAD_TREE, **HEAD_LIMITS)
    assert call_face(face, app, "/", headers=padding_headers(COUNT_LIMIT - 1)) == 200
    assert call_face(face, app, "/", headers=padding_headers(COUNT_LIMIT)) == 431


@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_header_size_boundary(pages: MakePages, face: str) -> None:
    """Header names and values of exactly ``max_header_size`` bytes are served; one byte
    more is 431."""
    app = pages(HEAD_TREE, **HEAD_LIMITS)
    assert call_face(face, app, "/", headers=padding_headers(3, SIZE_LIMIT)) == 200
    assert call_face(face, app, "/", headers=padding_headers(3, SIZE_LIMIT + 1)) == 431


def test_head_limits_through_the_clients(serve: Serve) -> None:
    """Through each face's client: a long URL is 414, many or large headers 431, with the
    reason in the body; a request within every limit is served."""
    client = serve(HEAD_TREE, **HEAD_LIMITS)
    assert client.get("/ok?q=1").status == 200
    long_url = client.get("/" + "a" * 200)
    assert long_url.status == 414
    assert "more than the limit of 100" in long_url.text
    many = client.get("/", headers=dict(padding_headers(COUNT_LIMIT + 5)))
    assert many.status == 431
    assert "more than the limit of 20" in many.text
    large = client.get("/", headers={"x-large": "v" * SIZE_LIMIT})
    assert large.status == 431
    assert "more than the limit of 1000" in large.text


def test_head_limits_under_a_real_server(pages: MakePages, uvicorn_server: UvicornServer) -> None:
    """Under uvicorn the app answers 414 and 431 itself for heads within h11's buffer."""
    app = pages(HEAD_TREE, **HEAD_LIMITS)
    with uvicorn_server(app) as url, httpx.Client(base_url=url, timeout=5) as http:
        assert http.get("/" + "a" * (URL_LIMIT - 1)).status_code == 200
        assert http.get("/" + "a" * URL_LIMIT).status_code == 414
        assert http.get("/", headers=dict(padding_headers(10))).status_code == 200
        assert http.get("/", headers=dict(padding_headers(COUNT_LIMIT + 1))).status_code == 431
        assert http.get("/", headers={"x-large": "v" * 500}).status_code == 200
        assert http.get("/", headers={"x-large": "v" * 2000}).status_code == 431


def test_a_url_at_the_limit_is_served_by_a_wsgi_server_without_request_uri(
    pages: MakePages,
) -> None:
    """A path of exactly ``max_url_length`` bytes without a query is served on the WSGI
    face even when the server does not pass the raw request target."""
    app = pages(HEAD_TREE, **HEAD_LIMITS)
    environ = wsgi_environ("/" + "a" * (URL_LIMIT - 1), request_uri=False)
    assert call_wsgi(app, environ)[0] == 200


def test_both_faces_measure_a_url_with_a_query_alike(pages: MakePages) -> None:
    """The same URL (path, ``?``, query) gets the same answer on both faces."""
    app = pages(HEAD_TREE, **HEAD_LIMITS)
    query = "q=" + "b" * (URL_LIMIT - 4)  # "/a" + "?" + query: URL_LIMIT + 1 bytes
    assert call_face("asgi", app, "/a", query=query) == 414
    assert call_face("wsgi", app, "/a", query=query) == 414


# -- configuration --------------------------------------------------------------------------


def test_pages_defaults(pages: MakePages) -> None:
    """The defaults: 6 MiB, 30 s, 8192 bytes of URL, 100 headers of 32 KiB, 1000 queued."""
    assert pages(HEAD_TREE).limits == Limits(
        max_body_size=6 * MIB,
        request_timeout=30.0,
        max_url_length=8192,
        max_header_count=100,
        max_header_size=32 * KIB,
        max_queue=1000,
    )


@pytest.mark.parametrize(
    ("written", "size"),
    [
        (6291456, 6 * MIB),
        ("6291456", 6 * MIB),
        ("6MB", 6 * MIB),
        ("6 MiB", 6 * MIB),
        ("6m", 6 * MIB),
        ("512k", 512 * KIB),
        ("512KiB", 512 * KIB),
        ("512kb", 512 * KIB),
        ("1GB", 1024 * MIB),
        ("100B", 100),
        (" 7 ", 7),
        (0, 0),
        ("0", 0),
    ],
)
def test_parse_size_forms(written: int | str, size: int) -> None:
    """Sizes are bytes, or a number with a unit in powers of 1024, any case, ``B`` optional."""
    assert parse_size(written) == size


@pytest.mark.parametrize("written", ["", "MB", "1.5MB", "-1", "6 TB", "six", "6 M B", -1])
def test_parse_size_errors(written: int | str) -> None:
    """What is not a size is a ``ValueError`` quoting it."""
    with pytest.raises(ValueError, match="size"):
        parse_size(written)


@pytest.mark.parametrize("kebab", [False, True], ids=["snake", "kebab"])
def test_pagesfn_toml_sets_every_limit(tmp_path: Path, kebab: bool) -> None:
    """Every limit is a ``pagesfn.toml`` key (snake or kebab case) that reaches ``Pages``."""
    (tmp_path / "functions").mkdir()
    lines = [
        'max_body_size = "2MB"',
        "request_timeout = 2.5",
        "max_url_length = 200",
        "max_header_count = 30",
        'max_header_size = "4KiB"',
        "max_queue = 7",
    ]
    if kebab:
        lines = [line.replace("_", "-", 2) for line in lines]
    (tmp_path / "pagesfn.toml").write_text("\n".join(lines) + "\n")
    config = load_config(tmp_path)
    assert config.limits == Limits(2 * MIB, 2.5, 200, 30, 4 * KIB, 7)
    app = Pages(**config.pages_options())
    try:
        assert app.limits == Limits(2 * MIB, 2.5, 200, 30, 4 * KIB, 7)
    finally:
        app.close()


def test_zero_in_the_config_turns_a_limit_off(tmp_path: Path) -> None:
    """0 in the config file is no limit at all in the app."""
    (tmp_path / "functions").mkdir()
    keys = ["max_body_size", "request_timeout", "max_url_length"]
    keys += ["max_header_count", "max_header_size", "max_queue"]
    (tmp_path / "pagesfn.toml").write_text("".join(f"{key} = 0\n" for key in keys))
    app = Pages(**load_config(tmp_path).pages_options())
    try:
        assert app.limits == Limits(None, None, None, None, None, None)
    finally:
        app.close()


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    """Command-line values (as the flags give them: sizes as text) win over the file."""
    (tmp_path / "functions").mkdir()
    (tmp_path / "pagesfn.toml").write_text('max_body_size = "2MB"\nrequest_timeout = 9\n')
    config = load_config(tmp_path, {"max_body_size": "1KB", "request_timeout": 0.5})
    assert (config.limits.max_body_size, config.limits.request_timeout) == (KIB, 0.5)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('max_body_size = "lots"', "max_body_size"),
        ("max-body-size = true", "max-body-size"),
        ("max_body_size = -1", "max_body_size"),
        ("max_header_size = 1.5", "max_header_size"),
        ("request_timeout = -1", "request_timeout"),
        ('request-timeout = "30s"', "request-timeout"),
        ("request_timeout = inf", "request_timeout"),
        ("max_url_length = -1", "max_url_length"),
        ('max_header_count = "ten"', "max_header_count"),
        ("max-queue = 2.5", "max-queue"),
    ],
)
def test_a_bad_limit_is_a_config_error_naming_the_key(tmp_path: Path, line: str, key: str) -> None:
    """A limit of the wrong kind is a ``ConfigError`` naming the key as it was written."""
    (tmp_path / "pagesfn.toml").write_text(line + "\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    problems = [str(problem) for problem in excinfo.value.problems]
    assert len(problems) == 1
    assert f"`{key}`" in problems[0]
    assert "pagesfn.toml" in problems[0]


def test_a_limits_table_sets_every_limit(tmp_path: Path) -> None:
    """A ``[limits]`` table holds the limits (snake or kebab case), each spelled as at the
    top level; one the table does not name keeps its default."""
    (tmp_path / "functions").mkdir()
    (tmp_path / "pagesfn.toml").write_text(
        "port = 9999\n\n[limits]\n"
        'max-body-size = "2MB"\nrequest_timeout = 2.5\nmax_url_length = 0\n'
        'max_form_memory_size = "1KiB"\n'
    )
    config = load_config(tmp_path)
    assert config.port == 9999
    expected = Limits(
        max_body_size=2 * MIB,
        request_timeout=2.5,
        max_url_length=None,
        max_form_memory_size=KIB,
    )
    assert config.limits == expected
    app = Pages(**config.pages_options())
    try:
        assert app.limits == expected
    finally:
        app.close()


def test_a_limits_table_in_pyproject(tmp_path: Path) -> None:
    """``[tool.pagesfn.limits]`` is the same table in ``pyproject.toml``."""
    (tmp_path / "pyproject.toml").write_text("[tool.pagesfn.limits]\nmax_queue = 3\n")
    assert load_config(tmp_path).limits == Limits(max_queue=3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[limits]\nmax_body = 1\n",
            "unknown key `limits.max_body`; did you mean `limits.max_body_size`?",
        ),
        ("limits = 5\n", "`limits` must be a table"),
        ("max_queue = 1\n[limits]\nmax-queue = 2\n", "`max_queue` and `limits.max-queue`"),
        ('[limits]\nrequest_timeout = "soon"\n', "`limits.request_timeout` must be"),
    ],
)
def test_a_bad_limits_table_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    """A key of ``[limits]`` that is no limit (with the closest one), a ``limits`` that is
    no table, a limit set twice, a value of the wrong kind: each one problem naming it."""
    (tmp_path / "pagesfn.toml").write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    [problem] = excinfo.value.problems
    assert message in str(problem)


def test_flags_win_over_the_limits_table(tmp_path: Path) -> None:
    """A flag wins over the same limit in the table; ``run(limits=Limits(...))`` sets
    every limit at once, and a flag beside it still wins."""
    (tmp_path / "pagesfn.toml").write_text("[limits]\nmax_queue = 9\nmax_header_count = 9\n")
    config = load_config(tmp_path, {"max_queue": 2})
    assert (config.limits.max_queue, config.limits.max_header_count) == (2, 9)
    given = Limits(max_queue=5, request_timeout=None)
    config = load_config(tmp_path, {"limits": given, "max_header_count": 4})
    assert config.limits == Limits(max_queue=5, request_timeout=None, max_header_count=4)


def test_pages_takes_a_limits_value_and_single_limits(pages: MakePages) -> None:
    """``Pages(limits=Limits(...))``, with single limits by name over it; a name that is
    no limit is a ``TypeError`` naming the closest one; a negative limit a ``ValueError``."""
    app = pages(HEAD_TREE, limits=Limits(max_queue=3, max_url_length=50), max_url_length=0)
    assert app.limits == Limits(max_queue=3, max_url_length=None)
    with pytest.raises(TypeError, match="'max_body' is not a limit; did you mean 'max_body_size'"):
        pages(HEAD_TREE, max_body=3)
    with pytest.raises(ValueError, match="max_queue must not be negative"):
        Limits(max_queue=-1)
    with pytest.raises(TypeError, match="max_queue must be a number, not bool"):
        Limits(max_queue=True)


def test_every_limit_has_a_flag_with_its_default() -> None:
    """Each field of ``Limits`` is a flag of ``pagesfn serve`` and ``pagesfn dev``, whose
    help shows its default; the flag's value reaches the config."""
    from click.testing import CliRunner

    from pagesfn.engine.limits import LIMITS
    from pagesfn.serving.cli import main

    for command in ("serve", "dev"):
        shown = CliRunner().invoke(main, [command, "--help"]).output
        for spec in LIMITS:
            assert f"--{spec.name.replace('_', '-')} " in shown, spec.name
    assert "[6MiB]" in shown and "[32KiB]" in shown and "[30]" in shown


def test_a_bad_flag_is_a_config_error_naming_the_flag(tmp_path: Path) -> None:
    """A bad ``--max-body-size`` is reported as the flag."""
    with pytest.raises(ConfigError, match="--max-body-size"):
        load_config(tmp_path, {"max_body_size": "a lot"})


@pytest.mark.parametrize(
    "option",
    [
        "max_body_size",
        "request_timeout",
        "max_url_length",
        "max_header_count",
        "max_header_size",
        "max_queue",
    ],
)
def test_a_negative_limit_in_python_is_a_value_error(tmp_path: Path, option: str) -> None:
    """``Pages(...)`` refuses a negative limit, naming it."""
    (tmp_path / "functions").mkdir()
    options: dict[str, Any] = {option: -1}
    with pytest.raises(ValueError, match=option):
        Pages(tmp_path / "functions", **options)


def test_the_refusals_carry_their_status_and_code() -> None:
    """Each refusal is a ``RequestRefused`` with its status, stable code and headers."""
    too_large = BodyTooLarge(LIMIT)
    timed_out = RequestTimedOut(TIMEOUT)
    overloaded = Overloaded(3)
    assert all(isinstance(e, RequestRefused) for e in (too_large, timed_out, overloaded))
    assert (too_large.status, too_large.code) == (413, "body-too-large")
    assert ("Connection", "close") in too_large.headers
    assert (timed_out.status, timed_out.code) == (504, "timeout")
    assert (overloaded.status, overloaded.code) == (503, "overloaded")
    assert ("Retry-After", "1") in overloaded.headers
