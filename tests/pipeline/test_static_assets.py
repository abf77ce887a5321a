"""Static assets behind the functions (``Pages(..., public=...)``), through both faces and a
real server: files, validators, ranges, folders, 404 pages, the SPA page, methods, big
files, path traversal, and middleware in front of it all."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import io
import random
import socket
import threading
from urllib.parse import quote, unquote_to_bytes, urlsplit
from wsgiref.util import setup_testing_defaults

import httpx
import pytest

FUNCTIONS = {
    "hello.py": """
        def on_request(context):
            return "hello from a function"
    """,
    # A function and a file at the same path: the function wins.
    "shadowed.txt.py": """
        def on_request(context):
            return "function, not file"
    """,
    # A function for POST only: other methods of the path go on to the file.
    "form.html.py": """
        def on_request_post(context):
            return ("posted", 201)
    """,
}

FILES: dict[str, str | bytes] = {
    "index.html": "<h1>home</h1>",
    "style.css": "body{color:red}",
    "data.bin": b"0123456789",
    "docs/index.html": "<h1>docs</h1>",
    "404.html": "<h1>root 404</h1>",
    "blog/404.html": "<h1>blog 404</h1>",
    "blog/post.html": "<p>post</p>",
    "shadowed.txt": "file, not function",
    "form.html": "<form></form>",
}
BIG_SIZE = 3 * 1024 * 1024 + 17
BIG = random.Random(1234).randbytes(BIG_SIZE)


@pytest.fixture
def site(public):
    return public({**FILES, "big.bin": BIG})


@pytest.fixture
def client(serve, site):
    return serve(FUNCTIONS, public=str(site))


def test_a_file_is_served_with_type_and_validators(client, site):
    result = client.get("/style.css")
    assert (result.status, result.text) == (200, "body{color:red}")
    assert result.header("content-type") == "text/css; charset=utf-8"
    assert result.header("content-length") == "15"
    info = (site / "style.css").stat()
    assert result.header("etag") == f'"{info.st_size:x}-{info.st_mtime_ns:x}"'
    assert result.header("last-modified") == email.utils.formatdate(int(info.st_mtime), usegmt=True)
    assert result.header("accept-ranges") == "bytes"


def test_if_none_match_gives_304_without_body(client):
    etag = client.get("/style.css").header("etag")
    result = client.get("/style.css", headers={"If-None-Match": etag})
    assert result.status == 304
    assert result.body == b""
    assert result.header("etag") == etag
    assert result.header("content-type") is None
    other = client.get("/style.css", headers={"If-None-Match": '"something-else"'})
    assert (other.status, other.text) == (200, "body{color:red}")


def test_if_modified_since_gives_304(client):
    last_modified = client.get("/style.css").header("last-modified")
    result = client.get("/style.css", headers={"If-Modified-Since": last_modified})
    assert (result.status, result.body) == (304, b"")


def test_range_gives_206_with_the_bytes_asked_for(client):
    result = client.get("/data.bin", headers={"Range": "bytes=0-3"})
    assert result.status == 206
    assert result.body == b"0123"
    assert result.header("content-range") == "bytes 0-3/10"
    assert result.header("content-length") == "4"
    suffix = client.get("/data.bin", headers={"Range": "bytes=-3"})
    assert (suffix.status, suffix.body) == (206, b"789")
    assert suffix.header("content-range") == "bytes 7-9/10"


def test_unsatisfiable_range_is_416(client):
    result = client.get("/data.bin", headers={"Range": "bytes=10-"})
    assert result.status == 416
    assert result.header("content-range") == "bytes */10"


def test_folder_with_slash_serves_its_index(client):
    result = client.get("/docs/")
    assert (result.status, result.text) == (200, "<h1>docs</h1>")
    assert result.header("content-type") == "text/html; charset=utf-8"
    assert client.get("/").text == "<h1>home</h1>"


def test_folder_without_slash_redirects_to_it(client):
    result = client.get("/docs")
    assert result.status == 307
    assert result.header("location") == "/docs/"


def test_pretty_url_serves_the_html_file(client):
    result = client.get("/blog/post")
    assert (result.status, result.text) == (200, "<p>post</p>")


def test_missing_file_is_the_nearest_404_page(client):
    result = client.get("/nothing/here.txt")
    assert (result.status, result.text) == (404, "<h1>root 404</h1>")
    assert result.header("content-type") == "text/html; charset=utf-8"
    result = client.get("/blog/missing")
    assert (result.status, result.text) == (404, "<h1>blog 404</h1>")


def test_spa_serves_the_index_for_missing_pages(serve, site):
    client = serve(FUNCTIONS, public=str(site), spa=True)
    result = client.get("/some/page")
    assert (result.status, result.text) == (200, "<h1>home</h1>")
    assert result.header("content-type") == "text/html; charset=utf-8"
    # An asset with an extension stays a 404; functions and files still come first.
    assert client.get("/some/app.js").status == 404
    assert client.get("/hello").text == "hello from a function"
    assert client.get("/style.css").text == "body{color:red}"


def test_head_has_the_headers_and_no_body(client):
    get = client.get("/style.css")
    result = client.request("HEAD", "/style.css")
    assert result.status == 200
    assert result.body == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert result.header(name) == get.header(name), name
    big = client.request("HEAD", "/big.bin")
    assert (big.status, big.body, big.header("content-length")) == (200, b"", str(BIG_SIZE))


def test_a_function_wins_over_a_file_at_the_same_path(client):
    assert client.get("/shadowed.txt").text == "function, not file"


def test_a_function_for_other_methods_leaves_get_to_the_file(client):
    assert client.get("/form.html").text == "<form></form>"
    posted = client.request("POST", "/form.html")
    assert (posted.status, posted.text) == (201, "posted")


def test_post_to_a_file_is_405_allowing_get_and_head(client):
    result = client.request("POST", "/style.css", body=b"x")
    assert result.status == 405
    assert result.header("allow") == "GET, HEAD, OPTIONS"
    result = client.request("DELETE", "/docs/")
    assert result.status == 405
    assert result.header("allow") == "GET, HEAD, OPTIONS"


def test_405_for_a_file_with_a_function_for_post_lists_both(client):
    result = client.request("PUT", "/form.html")
    assert result.status == 405
    assert result.header("allow") == "GET, HEAD, POST, OPTIONS"


def test_options_on_a_file_is_204_with_allow(client):
    result = client.request("OPTIONS", "/style.css")
    assert (result.status, result.body) == (204, b"")
    assert result.header("allow") == "GET, HEAD, OPTIONS"


def test_post_to_a_missing_path_is_the_404_page(client):
    result = client.request("POST", "/nothing")
    assert (result.status, result.text) == (404, "<h1>root 404</h1>")


def test_a_large_file_is_served_whole_and_exact(client):
    result = client.get("/big.bin")
    assert result.status == 200
    assert result.header("content-length") == str(BIG_SIZE)
    assert result.header("content-type") == "application/octet-stream"
    assert len(result.body) == BIG_SIZE
    assert result.body == BIG


def test_a_range_inside_a_large_file_is_exact(client):
    result = client.get("/big.bin", headers={"Range": "bytes=1000000-2500000"})
    assert result.status == 206
    assert result.header("content-range") == f"bytes 1000000-2500000/{BIG_SIZE}"
    assert result.body == BIG[1_000_000:2_500_001]
    tail = client.get("/big.bin", headers={"Range": "bytes=3000000-"})
    assert tail.body == BIG[3_000_000:]


def test_large_file_over_a_real_server(pages, site, uvicorn_server):
    app = pages(FUNCTIONS, public=str(site))
    with uvicorn_server(app) as url, httpx.Client(base_url=url) as http:
        response = http.get("/big.bin")
        assert response.status_code == 200
        assert response.headers["content-length"] == str(BIG_SIZE)
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(BIG).digest()
        assert response.content == BIG
        ranged = http.get("/big.bin", headers={"Range": "bytes=65536-2097151"})
        assert ranged.status_code == 206
        assert ranged.content == BIG[65536:2097152]
        with http.stream("GET", "/big.bin") as streamed:
            assert b"".join(streamed.iter_bytes()) == BIG


def test_a_file_opened_for_a_client_already_gone_is_closed(pages, site, monkeypatch):
    """A client leaving while the file is being opened (a thread-pool step the response
    cannot interrupt) leaves no open file behind once the step is over."""
    import pagesfn.http.wrappers

    release = threading.Event()
    opened: list[io.BufferedReader] = []

    def slow_open(path, mode):
        release.wait(10)
        file = open(path, mode)  # noqa: SIM115 (what the test checks is that pagesfn closes it)
        opened.append(file)
        return file

    monkeypatch.setattr(pagesfn.http.wrappers, "open", slow_open, raising=False)
    app = pages(FUNCTIONS, public=str(site))

    async def scenario() -> list[dict]:
        started = asyncio.Event()
        sent: list[dict] = []
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await started.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.start":
                started.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/big.bin",
            "raw_path": b"/big.bin",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"example.com")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)  # returns once the client is gone, the open pending
        assert not opened
        release.set()
        for _ in range(500):
            if opened and opened[0].closed:
                break
            await asyncio.sleep(0.01)
        return sent

    sent = asyncio.run(scenario())
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert len(opened) == 1 and opened[0].closed


# -- traversal --------------------------------------------------------------------------------

SECRET = "top secret, outside public/"
TRAVERSALS = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/docs/../../secret.txt",
    "/docs/%2e%2e/%2e%2e/secret.txt",
    "/a/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/docs/..%5c..%5csecret.txt",
    "/%00",
    "/secret.txt%00.html",
]
# What a client would normalise away before sending: only sent at the protocol level.
LITERAL_DOTS = ["/..", "/../secret.txt", "/docs/../../secret.txt", "/./../secret.txt"]


@pytest.fixture
def guarded(serve, site):
    (site.parent / "secret.txt").write_text(SECRET)
    return serve(FUNCTIONS, public=str(site))


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_never_reaches_outside_public(guarded, path):
    result = guarded.get(path)
    assert result.status in (400, 404), (path, result.status)
    assert SECRET.encode() not in result.body


def send_raw(app, face: str, raw_path: bytes) -> tuple[int, bytes]:
    """GET ``raw_path`` straight through a face's protocol, as a server passes it on:
    ``raw_path`` untouched and the path percent-decoded, with no client in between."""
    decoded = unquote_to_bytes(raw_path)
    if face == "wsgi":
        environ: dict = {"REQUEST_METHOD": "GET", "PATH_INFO": decoded.decode("latin-1")}
        environ["REQUEST_URI"] = raw_path.decode("latin-1")
        setup_testing_defaults(environ)
        started: list[str] = []

        def start_response(status, headers, exc_info=None):
            started.append(status)

        chunks = app.wsgi(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return int(started[0].split()[0]), body

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": decoded.decode("utf-8", "replace"),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.parametrize("path", LITERAL_DOTS + TRAVERSALS)
def test_traversal_at_the_protocol_level(face, pages, site, path):
    (site.parent / "secret.txt").write_text(SECRET)
    app = pages(FUNCTIONS, public=str(site))
    assert send_raw(app, face, b"/style.css") == (200, b"body{color:red}")
    status, body = send_raw(app, face, path.encode())
    assert status in (400, 404), (path, status)
    assert SECRET.encode() not in body


def test_an_absolute_path_of_the_secret_is_not_served(guarded, site):
    secret = site.parent / "secret.txt"
    for path in ("/" + quote(str(secret), safe=""), "/" + quote(str(secret), safe="/")):
        result = guarded.get(path)
        assert result.status in (400, 404), (path, result.status)
        assert SECRET.encode() not in result.body


def test_nul_in_the_path_is_a_400(guarded):
    assert guarded.get("/%00").status == 400
    assert guarded.get("/style.css%00").status == 400


def test_symlinks_out_of_public_are_not_followed(serve, site):
    outside = site.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (site.parent / "secret.txt").write_text(SECRET)
    (site / "link.txt").symlink_to(site.parent / "secret.txt")
    (site / "linkdir").symlink_to(outside, target_is_directory=True)
    (site / "inside.css").symlink_to(site / "style.css")
    client = serve(FUNCTIONS, public=str(site))
    for path in ("/link.txt", "/linkdir/secret.txt", "/linkdir/"):
        result = client.get(path)
        assert result.status == 404, path
        assert SECRET.encode() not in result.body
    assert client.get("/inside.css").text == "body{color:red}"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/.env", 404),
        ("/.git/config", 404),
        ("/docs/.hidden", 404),
        ("/_headers", 404),
        ("/_redirects", 404),
        ("/.well-known/security.txt", 200),
    ],
)
def test_dotfiles_and_control_files_are_not_served(serve, public, path, status):
    files = {
        ".env": "SECRET=1",
        ".git/config": "[core]",
        "docs/.hidden": "hidden",
        "_headers": "/*\n  X-Frame-Options: DENY",
        "_redirects": "/a /b",
        ".well-known/security.txt": "Contact: mailto:security@example.com",
        "404.html": "not here",
    }
    client = serve(FUNCTIONS, public=str(public(files)))
    result = client.get(path)
    assert result.status == status
    if status == 404:
        assert result.text == "not here"


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """Send ``GET target`` as is over a socket (no client normalises it); status and body."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


RAW_TRAVERSALS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/docs/../../secret.txt",
    "/a/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/..%5csecret.txt",
    "/%00",
]


def test_traversal_over_a_real_server(pages, site, uvicorn_server):
    (site.parent / "secret.txt").write_text(SECRET)
    app = pages(FUNCTIONS, public=str(site))
    with uvicorn_server(app) as url:
        assert raw_get(url, "/style.css") == (200, b"body{color:red}")
        for target in RAW_TRAVERSALS:
            status, body = raw_get(url, target)
            assert status in (400, 404), (target, status)
            assert SECRET.encode() not in body, target
        # httpx keeps escaped dots as they are (it only normalises literal ones).
        with httpx.Client(base_url=url) as http:
            for target in ("/%2e%2e/secret.txt", "/a/%2e%2e%2fsecret.txt", "/..%5csecret.txt"):
                response = http.get(httpx.URL(url).copy_with(raw_path=target.encode()))
                assert response.request.url.raw_path == target.encode()
                assert response.status_code in (400, 404), target
                assert SECRET not in response.text


# -- middleware in front of static assets -----------------------------------------------------

GUARDED_FUNCTIONS = {
    "_middleware.py": """
        def on_request(context):
            response = context.next()
            response.headers["X-Middleware"] = "saw " + context.request.path
            return response
    """,
    "private/_middleware.py": """
        from pagesfn import Response


        async def on_request(context):
            if context.request.headers.get("X-Pass") != "letmein":
                return Response("private", 403)
            return await context.next()
    """,
}


@pytest.fixture
def fronted(serve, public):
    root = public(
        {**FILES, "big.bin": BIG, "private/report.txt": "the report", "private/404.html": "gone"}
    )
    return serve(GUARDED_FUNCTIONS, public=str(root))


def test_middleware_runs_for_static_files(fronted):
    result = fronted.get("/style.css")
    assert (result.status, result.text) == (200, "body{color:red}")
    assert result.header("x-middleware") == "saw /style.css"
    assert result.header("content-type") == "text/css; charset=utf-8"
    missing = fronted.get("/missing")
    assert (missing.status, missing.text) == (404, "<h1>root 404</h1>")
    assert missing.header("x-middleware") == "saw /missing"


def test_middleware_sees_conditional_static_responses(fronted):
    etag = fronted.get("/style.css").header("etag")
    result = fronted.get("/style.css", headers={"If-None-Match": etag})
    assert (result.status, result.body) == (304, b"")
    assert result.header("x-middleware") == "saw /style.css"


def test_middleware_blocks_private_static_files(fronted):
    for path in ("/private/report.txt", "/private/missing", "/private/"):
        result = fronted.get(path)
        assert (result.status, result.text) == (403, "private"), path
        assert result.header("x-middleware") == f"saw {path}"
    allowed = fronted.get("/private/report.txt", headers={"X-Pass": "letmein"})
    assert (allowed.status, allowed.text) == (200, "the report")
    missing = fronted.get("/private/missing", headers={"X-Pass": "letmein"})
    assert (missing.status, missing.text) == (404, "gone")


def test_middleware_in_front_of_a_large_static_file(fronted):
    result = fronted.get("/big.bin")
    assert result.status == 200
    assert result.header("x-middleware") == "saw /big.bin"
    assert result.body == BIG


BYPASSES = [
    "/%70rivate/report.txt",
    "/private//report.txt",
    "/private/%2e/report.txt",
    "/private/report.txt/",
    "/private%2Freport.txt",
    "/private%2freport.txt",
    "/x/%2e%2e/private/report.txt",
    "//private/report.txt",
]


@pytest.mark.parametrize("path", BYPASSES)
def test_encoded_paths_do_not_slip_past_the_private_middleware(fronted, path):
    result = fronted.get(path)
    assert result.status in (400, 403, 404), (path, result.status)
    assert b"the report" not in result.body


@pytest.mark.parametrize(
    "path", ["/x/../private/report.txt", "/private/./report.txt", "/./private/report.txt"]
)
def test_dot_segments_do_not_slip_past_the_private_middleware(face, pages, public, path):
    root = public({"private/report.txt": "the report", "style.css": "body{color:red}"})
    app = pages(GUARDED_FUNCTIONS, public=str(root))
    status, body = send_raw(app, face, path.encode())
    assert status in (400, 403, 404), (path, status)
    assert b"the report" not in body


def test_the_spa_fallback_needs_a_public_folder(tree):
    from pagesfn import Pages

    with pytest.raises(ValueError, match="spa=True needs a public folder"):
        Pages(tree({"index.py": "def on_request(c):\n    return 'x'\n"}), spa=True)
