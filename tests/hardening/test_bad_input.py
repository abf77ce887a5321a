"""Bad input on both faces and on the wire: malformed paths, odd headers, bodies that lie
about their length, invalid JSON and forms, and errors that must not leak outside debug
mode. Each answer is a 4xx (or nothing, to a client that has gone), never a 500 or a hang,
and the app keeps answering normal requests."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pagesfn import Pages

ECHO = """
    def on_request(context):
        return {"file": context.function_path, "params": context.params}
"""

TREE = {
    "users/[id].py": ECHO,
    "[[rest]].py": ECHO,
    "body.py": """
        def on_request_post(context):
            return {"size": len(context.request.get_data())}
    """,
    "abody.py": """
        async def on_request_post(context):
            return {"size": len(await context.request.body())}
    """,
    "json.py": """
        async def on_request_post(context):
            return {"got": await context.request.json()}
    """,
    "sjson.py": """
        def on_request_post(context):
            return {"got": context.request.get_json()}
    """,
    "form.py": """
        async def on_request_post(context):
            return {"field": (await context.request.form_data())["field"]}
    """,
    "sform.py": """
        def on_request_post(context):
            return {"field": context.request.form["field"]}
    """,
    "headers.py": """
        def on_request(context):
            request = context.request
            return {"host": request.host, "url": request.url, "type": request.mimetype}
    """,
    "flask/[[default]].py": """
        from flask import Flask, request

        app = Flask(__name__)


        @app.post("/body")
        def body():
            return {"size": len(request.get_data())}
    """,
}

Serve = Callable[..., Any]
Server = Callable[[Any], AbstractContextManager[str]]
Exchange = Callable[..., Any]
Direct = Callable[[Pages, str], Any]


def assert_still_serving(client: Any) -> None:
    result = client.get("/users/42")
    assert (result.status, result.json()["params"]) == (200, {"id": "42"})


def request_line(target: bytes, *headers: bytes) -> bytes:
    """A raw HTTP/1.1 GET with ``Host`` first and ``Connection: close``."""
    head = [b"GET " + target + b" HTTP/1.1", b"Host: testserver", *headers]
    return b"\r\n".join([*head, b"Connection: close", b"", b""])


def post(path: bytes, *headers: bytes, body: bytes) -> bytes:
    """A raw HTTP/1.1 POST with ``Host`` first and ``body`` as is after the head."""
    head = [b"POST " + path + b" HTTP/1.1", b"Host: testserver", *headers]
    return b"\r\n".join([*head, b"", b""]) + body


def wire_json(exchange: Exchange, url: str, target: bytes) -> Any:
    answer = exchange(url, request_line(target))
    assert answer.status == 200, answer.data
    return json.loads(answer.body)


# -- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/a%zz",
        "/%",
        "/%e9",
        "/users/caf%e9",
        "/users/%C3",
        "/users/%ED%A0%80",
        "/a%00b",
        "/users/%00",
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_malformed_escapes_are_400(serve: Serve, path: str, debug: bool) -> None:
    """Malformed escapes, escapes that are not UTF-8 and NUL answer 400 with the reason,
    even where a catch-all would take any path, in debug mode too."""
    client = serve(TREE, debug=debug)
    result = client.get(path)
    assert result.status == 400, result.body
    assert "request path" in result.text
    assert_still_serving(client)


# WebOb's test requests decode a cut-short escape into a control character, which no server
# does; requests built here decode the path as servers do.
@pytest.mark.parametrize(
    "raw", [b"/users/caf\xe9", b"/\xff\xfe", b"/users/a\x00b", b"/users/%2", b"/users/a%2/b"]
)
def test_raw_bytes_a_server_passes_on_are_400(
    face: str, pages: Callable[..., Pages], direct: Direct, raw: bytes
) -> None:
    """A request target with bytes that are not UTF-8, a NUL or a cut-short escape, as a
    lenient server hands it to either face, is a 400."""
    client = direct(pages(TREE), face)
    result = client.get(raw)
    assert result.status == 400, result.body
    assert client.get(b"/users/42").status == 200


def test_raw_request_lines_under_uvicorn(
    pages: Callable[..., Pages], uvicorn_server: Server, exchange: Exchange
) -> None:
    """On the wire, request targets with bytes that are not ASCII, NUL or a space get a
    4xx, and the next connection is served."""
    with uvicorn_server(pages(TREE)) as url:
        for target in (b"/users/caf\xe9", b"/users/caf\xc3\xa9", b"/users/a\x00b", b"/a b"):
            answer = exchange(url, request_line(target))
            assert answer.status is not None and 400 <= answer.status < 500, (target, answer)
        assert wire_json(exchange, url, b"/users/42")["params"] == {"id": "42"}


@pytest.mark.parametrize("value", ["x" * 4000, "é" * 666, "%?#;" * 333])
def test_a_4000_byte_segment_reaches_its_param(serve: Serve, value: str) -> None:
    """One segment of about 4,000 bytes on the wire (below the URL limit) is decoded
    whole into its parameter."""
    client = serve(TREE)
    segment = quote(value, safe="")
    assert 3990 <= len(segment) <= 4000
    result = client.get("/users/" + segment)
    assert (result.status, result.json()["params"]) == (200, {"id": value})


def test_a_4000_byte_segment_under_uvicorn(
    pages: Callable[..., Pages], uvicorn_server: Server, exchange: Exchange
) -> None:
    """The same long segments through a real server's parser."""
    with uvicorn_server(pages(TREE)) as url:
        for value in ("x" * 4000, "é" * 666):
            target = b"/users/" + quote(value, safe="").encode()
            assert wire_json(exchange, url, target)["params"] == {"id": value}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/a%2Fb", {"file": "[[rest]].py", "params": {"rest": ["users", "a", "b"]}}),
        ("/users%2F42", {"file": "users/[id].py", "params": {"id": "42"}}),
        ("/users/a%2Fb/c", {"file": "[[rest]].py", "params": {"rest": ["users", "a", "b", "c"]}}),
        ("/%75sers/%34%32", {"file": "users/[id].py", "params": {"id": "42"}}),
    ],
)
def test_an_encoded_slash_is_a_slash(serve: Serve, path: str, expected: dict[str, Any]) -> None:
    """``%2F`` is decoded with the rest of the path, as every server decodes it for the
    apps it serves: a path routes the same however its characters are spelled."""
    result = serve(TREE).get(path)
    assert (result.status, result.json()) == (200, expected)


@pytest.mark.parametrize(
    "target",
    [
        b"/users/..",
        b"/../users/42",
        b"/users/./42",
        b"/a/../b",
        b"/users/%2e%2e",
        b"/users/..%2F..%2Fetc",
        b"/x/%2E/users/42",
        b"//users/42",
        b"/users//42",
        b"/users/42//",
        b"/users%2F%2F42",
        b"/users/a\\b",
        b"/users/a%5Cb",
    ],
)
def test_dot_and_empty_segments_are_400_on_both_faces(
    pages: Callable[..., Pages],
    uvicorn_server: Server,
    exchange: Exchange,
    direct: Direct,
    target: bytes,
) -> None:
    """Dot segments, empty segments and backslashes, however spelled, are refused alike by
    both faces and under a real server: consumers would read them differently."""
    app = pages(TREE)
    for face in ("asgi", "wsgi"):
        answer = direct(app, face).get(target)
        assert answer.status == 400, (face, answer.body)
    with uvicorn_server(app) as url:
        assert exchange(url, request_line(target)).status == 400


# -- headers --------------------------------------------------------------------------------


def test_conflicting_headers_under_uvicorn(
    pages: Callable[..., Pages], uvicorn_server: Server, exchange: Exchange
) -> None:
    """Two ``Host`` headers, conflicting or malformed ``Content-Length`` get a 4xx on the
    wire; two ``Content-Type`` headers never a 5xx."""
    with uvicorn_server(pages(TREE)) as url:
        refused = [
            request_line(b"/headers", b"Host: other"),
            post(b"/body", b"Content-Length: 3", b"Content-Length: 5", body=b"abcde"),
            post(b"/body", b"Content-Length: 3, 5", body=b"abcde"),
            post(b"/body", b"Content-Length: -1", body=b"abc"),
            post(b"/body", b"Content-Length: 0x3", body=b"abc"),
        ]
        for request in refused:
            answer = exchange(url, request)
            assert answer.status is not None and 400 <= answer.status < 500, (request, answer)
        types = (b"Content-Type: text/plain", b"Content-Type: application/json")
        for path, body in ((b"/sjson", b"[1]"), (b"/json", b"{nope")):
            length = b"Content-Length: %d" % len(body)
            answer = exchange(url, post(path, *types, length, b"Connection: close", body=body))
            assert answer.status is not None and answer.status < 500, (path, answer)
        assert wire_json(exchange, url, b"/users/42")["params"] == {"id": "42"}


@pytest.mark.parametrize(
    ("target", "headers", "refused"),
    [
        (b"/headers", [(b"host", b"a.test"), (b"host", b"b.test")], False),
        (b"/headers", [(b"content-type", b"application/json"), (b"content-type", b"a/b")], False),
        (
            b"/sjson",
            [(b"content-type", b"text/plain"), (b"content-type", b"application/json")],
            False,
        ),
        (b"/body", [(b"content-length", b"3"), (b"content-length", b"5")], True),
        (b"/body", [(b"content-length", b"3, 5")], True),
    ],
)
def test_repeated_headers_a_server_passes_on(
    face: str,
    pages: Callable[..., Pages],
    direct: Direct,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    refused: bool,
) -> None:
    """Repeated headers as lenient servers pass them on (separate on ASGI, joined with a
    comma on WSGI) never give a 5xx; conflicting lengths give a 400."""
    client = direct(pages(TREE), face)
    method = "GET" if target == b"/headers" else "POST"
    result = client.request(method, target, headers, b"[1]")
    if refused:
        assert result.status == 400, result.body
    else:
        assert result.status < 500, result.body
    assert client.get(b"/users/42").status == 200


# -- bodies that lie about their length --------------------------------------------------


@pytest.mark.parametrize("then", ["shut", "close"])
def test_a_body_shorter_than_its_length_under_uvicorn(
    pages: Callable[..., Pages],
    uvicorn_server: Server,
    exchange: Exchange,
    caplog: pytest.LogCaptureFixture,
    then: str,
) -> None:
    """A client that promises 100 bytes, sends 5 and then stops sending (or drops the
    connection) gets no 5xx and leaves no error; the next connection is served."""
    with uvicorn_server(pages(TREE)) as url:
        for path in (b"/body", b"/abody", b"/json", b"/sjson", b"/form", b"/flask/body"):
            headers = (b"Content-Type: application/json", b"Content-Length: 100")
            answer = exchange(url, post(path, *headers, body=b"short"), then=then)
            assert answer.status is None or 400 <= answer.status < 500, (path, answer)
            assert wire_json(exchange, url, b"/users/42")["params"] == {"id": "42"}
    errors = [r for r in caplog.records if r.name == "pagesfn" and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def short_input(direct: Direct, app: Pages, path: str) -> Any:
    """POST ``path`` on the WSGI face with ``CONTENT_LENGTH: 100`` over a 5-byte input."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
    return direct(app, "wsgi").request("POST", path.encode(), headers, b"short")


@pytest.mark.parametrize("path", ["/body", "/abody", "/json", "/sjson", "/flask/body"])
def test_a_short_wsgi_input_does_not_hang(
    pages: Callable[..., Pages], direct: Direct, path: str
) -> None:
    """A ``wsgi.input`` that ends before ``CONTENT_LENGTH`` is answered at once (never a
    wait for bytes that will not come) and without a 5xx."""
    app = pages(TREE)
    result = short_input(direct, app, path)
    assert result.status < 500, result.body
    assert direct(app, "wsgi").get(b"/users/42").status == 200


@pytest.mark.parametrize("path", ["/body", "/abody"])
def test_a_short_wsgi_input_is_400(pages: Callable[..., Pages], direct: Direct, path: str) -> None:
    """A body that ends before its ``CONTENT_LENGTH`` never reaches a handler as if it
    were whole: the client has gone, as on the ASGI face, so the answer is a 400."""
    assert short_input(direct, pages(TREE), path).status == 400


# -- JSON and forms -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{nope", b"", b"\xff\xfe", b'{"a": 1', b"[1,]", b"\x00"])
@pytest.mark.parametrize("path", ["/json", "/sjson"])
def test_invalid_json_is_400(serve: Serve, path: str, body: bytes) -> None:
    """A JSON body that does not parse is a 400 naming the problem."""
    client = serve(TREE)
    headers = {"Content-Type": "application/json"}
    result = client.request("POST", path, body=body, headers=headers)
    assert result.status == 400, result.body
    assert "not valid JSON" in result.text
    assert_still_serving(client)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_json_of_another_type_is_415_for_get_json(serve: Serve, content_type: str) -> None:
    """``request.get_json()`` refuses a body that is not declared JSON with 415, as Flask
    does."""
    client = serve(TREE)
    headers = {"Content-Type": content_type} if content_type else {}
    result = client.request("POST", "/sjson", body=b"[1]", headers=headers)
    assert result.status == 415, result.body
    assert_still_serving(client)


@pytest.mark.parametrize("path", ["/json", "/sjson"])
def test_deeply_nested_json_is_400(serve: Serve, path: str) -> None:
    """A JSON body nested deeper than the parser can go is bad input (400), not a crash."""
    headers = {"Content-Type": "application/json"}
    result = serve(TREE).request("POST", path, body=b"[" * 100_000, headers=headers)
    assert result.status == 400


def test_json_with_a_lone_surrogate_echoes_back(serve: Serve) -> None:
    """Valid JSON carrying an escaped lone surrogate, returned by the handler, comes back
    as JSON that parses to the same value."""
    headers = {"Content-Type": "application/json"}
    result = serve(TREE).request("POST", "/json", body=b'{"s": "\\ud800"}', headers=headers)
    assert result.status == 200
    assert result.json() == {"got": {"s": "\ud800"}}


MALFORMED_MULTIPART = [
    (b"garbage", "multipart/form-data; boundary=xyz"),
    (
        b'--xyz\r\nContent-Disposition: form-data; name="field"\r\n\r\nva',
        "multipart/form-data; boundary=xyz",
    ),
    (b"--xyz\r\n\r\n", "multipart/form-data"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_MULTIPART)
@pytest.mark.parametrize("path", ["/form", "/sform"])
def test_a_malformed_multipart_body_is_400(
    serve: Serve, path: str, body: bytes, content_type: str
) -> None:
    """A form handler reading its field from a malformed multipart body answers 400, as
    the same handler does in Flask."""
    client = serve(TREE)
    result = client.request("POST", path, body=body, headers={"Content-Type": content_type})
    assert result.status == 400, result.body


# -- nothing leaks outside debug mode -------------------------------------------------------

SECRET = "s3cr3t-value"


def leaky_tree(debug: bool) -> dict[str, str]:
    return {
        "ok.py": "def on_request(context):\n    return 'ok'\n",
        "boom.py": """
            def on_request(context):
                raise RuntimeError(context.env["SECRET"])
        """,
        "aboom.py": """
            async def on_request(context):
                raise RuntimeError(context.env["SECRET"])
        """,
        "syntax.py": f"""
            TOKEN = "{SECRET}"
            def on_request(context)
                return TOKEN
        """,
        "importboom.py": f"""
            raise RuntimeError("{SECRET}")
            def on_request(context):
                return "never"
        """,
        "flask/[[default]].py": f"""
            from flask import Flask

            app = Flask(__name__)
            app.config["PROPAGATE_EXCEPTIONS"] = True


            @app.get("/boom")
            def boom():
                raise RuntimeError("{SECRET}")
        """,
        # FastAPI answers its own 500 before re-raising; its debug flag follows the app's
        # so that the debug run shows the error through the same path.
        "fast/[[default]].py": f"""
            from fastapi import FastAPI

            app = FastAPI(debug={debug})


            @app.get("/boom")
            async def boom():
                raise RuntimeError("{SECRET}")
        """,
    }


@pytest.mark.parametrize(
    ("path", "status", "shown"),
    [
        ("/boom", 500, SECRET),
        ("/aboom", 500, SECRET),
        ("/syntax", 500, "syntax error at line 2"),
        ("/importboom", 500, SECRET),
        ("/flask/boom", 500, SECRET),
        ("/fast/boom", 500, SECRET),
        ("/missing", 404, "ok.py"),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_errors_leak_nothing_outside_debug(
    fetch: Callable[..., Any], tmp_path: Path, debug: bool, path: str, status: int, shown: str
) -> None:
    """Outside debug mode a failing handler, a module that does not import, a mounted
    Flask or FastAPI app that raises, and a 404 answer without a traceback, a path of the
    tree, the secret or the route list; in debug mode the same requests show them."""
    client = fetch(leaky_tree(debug), debug=debug, env={"SECRET": SECRET})
    result = client.get(path)
    assert result.status == status, result.body
    text = result.body.decode("utf-8", "replace")
    if debug:
        assert shown in text
        if shown == SECRET:
            assert "Traceback" in text and str(tmp_path) in text
    else:
        for leak in ("Traceback", 'File "', str(tmp_path), SECRET, shown):
            assert leak not in text, (leak, text)
    assert client.get("/ok").body == b"ok"
