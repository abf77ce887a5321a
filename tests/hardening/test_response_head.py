"""One valid response head: whatever a handler, a mounted app or a bridge starts, a server
sends a valid head, or a 500 the log explains; never an injected header, never a dropped
connection."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from servers import OUT_OF_PROCESS, SERVERS, app_module, serving

from pagesfn import Pages
from pagesfn.http.head import InvalidHead, check_head, check_raw_head, check_status_line

# -- the check itself ----------------------------------------------------------------------

CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]
TOKEN = st.text("!#$%&'*+-.^_`|~0123456789abcdefXYZ", min_size=1, max_size=8)
VALUE = st.text(st.characters(codec="latin-1", exclude_characters=CONTROL), max_size=12)


@given(st.lists(st.tuples(TOKEN, VALUE), max_size=6), st.integers(100, 599))
def test_valid_heads_pass_trimmed(headers: list[tuple[str, str]], status: int) -> None:
    """Token names and control-free values pass, trimmed of spaces and tabs, in order;
    only body headers on 1xx/204/304 are dropped."""
    checked = check_head(status, headers)
    no_body = status < 200 or status in (204, 304)
    expected = [
        (name, value.strip(" \t"))
        for name, value in headers
        if not (no_body and name.lower() in ("content-length", "transfer-encoding"))
    ]
    assert checked == expected
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    assert check_raw_head(status, raw) == [
        (n.encode("latin-1"), v.encode("latin-1")) for n, v in expected
    ]


@given(TOKEN, VALUE, st.sampled_from(CONTROL), VALUE)
def test_a_control_character_in_a_value_is_refused(
    name: str, before: str, control: str, after: str
) -> None:
    with pytest.raises(InvalidHead):
        check_head(200, [(name, before + control + after)])
    with pytest.raises(InvalidHead):
        check_raw_head(200, [(name.encode(), (before + control + after).encode("latin-1"))])


@given(st.text(max_size=10).filter(lambda name: not name or not name.isalnum()))
def test_a_name_that_is_no_token_is_refused(name: str) -> None:
    if name and all(c in "!#$%&'*+-.^_`|~" or (c.isascii() and c.isalnum()) for c in name):
        return  # a token after all
    with pytest.raises(InvalidHead):
        check_head(200, [(name, "v")])


@pytest.mark.parametrize("status", [-1, 0, 99, 600, 999, 1000, True, 200.0, "200"])
def test_a_status_outside_100_to_599_is_refused(status: Any) -> None:
    with pytest.raises(InvalidHead):
        check_head(status, [])


@pytest.mark.parametrize("line", ["999 X", "20 OK", "200OK", "200 OK\r\nX: y", "2000 OK", ""])
def test_a_bad_wsgi_status_line_is_refused(line: str) -> None:
    with pytest.raises(InvalidHead):
        check_status_line(line)


def test_hop_by_hop_headers_are_dropped_toward_wsgi() -> None:
    headers = [("Transfer-Encoding", "chunked"), ("Connection", "close"), ("X-A", "1")]
    assert check_head(200, headers, drop_hop_by_hop=True) == [("X-A", "1")]
    assert check_head(200, headers) == headers


# -- handlers, on both faces ---------------------------------------------------------------

BAD_HEADS = {
    "value_crlf": "Response('x', headers={'X-A': 'a\\r\\nInjected: yes'})",
    "value_nul": "Response('x', headers=[('X-A', 'a\\x00b')])",
    "name_crlf": "Response('x', headers=[('X-A\\r\\nInjected', 'yes')])",
    "name_space": "Response('x', headers=[('X A', 'yes')])",
    "content_type": "Response('x', content_type='text/html\\r\\nInjected: yes')",
    "mimetype": "Response('x', mimetype='text/html\\nInjected: yes')",
    "status_999": "Response('x', status=999)",
    "status_99": "Response('x', status=99)",
    "status_line": "Response('x', status='299 Fine\\r\\nInjected: yes')",
    "not_latin1": "Response('x', headers={'X-A': 'caf\\u00e9 \\u2603'})",
}


def bad_tree() -> dict[str, str]:
    head = "from pagesfn import Response\n\ndef on_request(context):\n    return "
    tree = {f"{name}.py": head + expr + "\n" for name, expr in BAD_HEADS.items()}
    tree["trimmed.py"] = (
        "from pagesfn import Response\n\n"
        "def on_request(context):\n"
        "    return Response('x', headers=[('Set-Cookie', ' a=1 '), ('X-Tab', '\\tv')])\n"
    )
    tree["ok.py"] = "def on_request(context):\n    return 'ok'\n"
    return tree


@pytest.mark.parametrize("name", sorted(BAD_HEADS))
def test_a_handler_head_that_cannot_be_sent_is_a_logged_500(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    client = serve(bad_tree())
    with caplog.at_level(logging.ERROR, "pagesfn"):
        result = client.get("/" + name)
    assert (result.status, result.text) == (500, "Internal Server Error")
    assert result.header("Injected") is None
    assert any(r.getMessage().startswith(f"{name}.py: ") for r in caplog.records), caplog.text
    assert client.get("/ok").text == "ok"


def test_surrounding_whitespace_is_trimmed(serve: Callable[..., Any]) -> None:
    result = serve(bad_tree()).get("/trimmed")
    assert (result.header("Set-Cookie"), result.header("X-Tab")) == ("a=1", "v")


# -- on the wire ---------------------------------------------------------------------------

NATIVE_ASGI = """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"].rsplit("/", 1)[-1]
        headers = {
            "crlf": [(b"x-a", b"a\\r\\ninjected: yes")],
            "name": [(b"x a", b"v")],
            "chunked": [(b"transfer-encoding", b"chunked"), (b"content-type", b"text/plain")],
            "space": [(b"set-cookie", b" a=1")],
            "nocontent": [(b"content-length", b"0"), (b"content-type", b"text/plain")],
        }.get(path, [])
        status = {"nocontent": 204, "status": 999}.get(path, 200)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if status == 204 else b"asgi"})
"""

NATIVE_WSGI = """
    def app(environ, start_response):
        path = environ["PATH_INFO"].rsplit("/", 1)[-1]
        headers = {
            "crlf": [("X-A", "a\\r\\nInjected: yes")],
            "name": [("X A", "v")],
            "chunked": [("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")],
            "space": [("Set-Cookie", " a=1")],
            "nocontent": [("Content-Length", "0")],
            "notmodified": [("Content-Length", "42"), ("ETag", '"x"')],
        }.get(path, [("Content-Type", "text/plain")])
        status = {
            "nocontent": "204 No Content",
            "notmodified": "304 Not Modified",
            "status": "999 Nine",
        }.get(path, "200 OK")
        start_response(status, headers)
        return [] if status[:3] in ("204", "304") else [b"wsgi"]
"""

WIRE_TREE = {
    "asgi/[[default]].py": NATIVE_ASGI,
    "wsgi/[[default]].py": NATIVE_WSGI,
    **{f"handler/{file}": source for file, source in bad_tree().items()},
}


@pytest.fixture
def wire(tmp_path: Path, pages: Callable[..., Pages]) -> Iterator[Callable[[str], str]]:
    """``wire(server)``: the URL of :data:`WIRE_TREE` served by a real ``server``."""
    with ExitStack() as stack:

        def start(server: str) -> str:
            app = pages(WIRE_TREE)
            if server in OUT_OF_PROCESS:
                folder = tmp_path / "gunicorn"
                folder.mkdir(exist_ok=True)
                target = app_module(folder, Path(app.functions), {})
                return stack.enter_context(serving(server, target, folder))
            return stack.enter_context(serving(server, app))

        yield start


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()


@pytest.mark.parametrize("server", SERVERS)
def test_bad_heads_are_500_on_the_wire(
    wire: Callable[[str], str], exchange: Callable[..., Any], server: str
) -> None:
    """Every server sends a 500 for a head no server can send, from a handler and from a
    mounted app of either kind, through a bridge or not; never an empty reply and never
    the injected header."""
    url = wire(server)
    paths = [f"/handler/{name}" for name in BAD_HEADS]
    paths += [f"/{kind}/{case}" for kind in ("asgi", "wsgi") for case in ("crlf", "name", "status")]
    for path in paths:
        answer = exchange(url, request(path))
        assert answer.status == 500, (server, path, answer.data)
        head = answer.data.partition(b"\r\n\r\n")[0].lower()
        assert b"injected" not in head, (server, path, answer.data)
    assert exchange(url, request("/handler/ok")).status == 200


@pytest.mark.parametrize("server", SERVERS)
def test_fixable_heads_are_fixed_on_the_wire(
    wire: Callable[[str], str], exchange: Callable[..., Any], server: str
) -> None:
    """A leading space in a value (Django's cookies), hop-by-hop headers from an app
    (BlackSheep's Transfer-Encoding) and Content-Length on 204 and 304 are fixed, under
    every server, for mounted apps of either kind on either face."""
    url = wire(server)
    for kind in ("asgi", "wsgi"):
        spaced = exchange(url, request(f"/{kind}/space"))
        assert spaced.status == 200, (server, kind, spaced.data)
        assert b"\r\nset-cookie: a=1\r\n" in spaced.data.lower(), (server, kind, spaced.data)
        chunked = exchange(url, request(f"/{kind}/chunked"))
        assert (chunked.status, chunked.body) == (200, kind.encode()), (server, chunked.data)
        empty = exchange(url, request(f"/{kind}/nocontent"))
        assert empty.status == 204, (server, kind, empty.data)
        if server != "wsgiref":  # which adds "Content-Length: 0" to it by itself
            assert b"content-length" not in empty.data.lower(), (server, kind, empty.data)
    unchanged = exchange(url, request("/wsgi/notmodified"))
    assert unchanged.status == 304, (server, unchanged.data)
    assert b"content-length: 42" not in unchanged.data.lower(), (server, unchanged.data)
