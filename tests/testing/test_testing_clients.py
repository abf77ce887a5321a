"""pagesfn.testing's clients: one API on both faces, the same answers from both."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import write_tree

from pagesfn import Pages
from pagesfn.testing import (
    PagesClient,
    TooManyRedirects,
    WebSocketClosed,
    WebSocketRefused,
    WebSocketSession,
    open_client,
)
from pagesfn.testing.client import asgi_session

TREE = {
    "echo/[[path]].py": """
        import hashlib

        FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")

        def on_request(context):
            request = context.request
            formed = request.mimetype in FORMS
            return {
                "method": request.method,
                "path": request.path,
                "args": {k: request.args.getlist(k) for k in request.args},
                "form": {k: request.form.getlist(k) for k in request.form} if formed else {},
                "files": {
                    k: [f.filename, f.content_type, hashlib.sha256(f.read()).hexdigest()]
                    for k, f in request.files.items()
                } if formed else {},
                "json": request.get_json() if request.is_json else None,
                "body": "" if formed else request.get_data().decode("latin-1"),
                "cookies": dict(request.cookies),
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
    """,
    "login.py": """
        from pagesfn import Response

        def on_request_post(context):
            response = Response("", status=303, headers={"Location": "/me"})
            response.set_cookie("session", "ada")
            response.set_cookie("theme", "dark", path="/settings")
            return response
    """,
    "logout.py": """
        from pagesfn import Response

        def on_request_get(context):
            response = Response("", status=302, headers={"Location": "/me"})
            response.delete_cookie("session")
            return response
    """,
    "me.py": """
        def on_request_get(context):
            return {"session": context.request.cookies.get("session")}
    """,
    "hop/[n].py": """
        from pagesfn import Response

        def on_request(context):
            n = int(context.params["n"])
            request = context.request
            if n == 0:
                return {"method": request.method, "body": request.get_data(as_text=True)}
            status = int(request.args.get("status", "302"))
            location = f"/hop/{n - 1}?status={status}"
            return Response("", status=status, headers={"Location": location})
    """,
    "loop.py": """
        from pagesfn import Response

        def on_request(context):
            return Response("", status=302, headers={"Location": "/loop"})
    """,
    "latin.py": """
        from pagesfn import Response

        def on_request(context):
            return Response("café".encode("latin-1"), content_type="text/plain; charset=latin-1")
    """,
    "ws/echo.py": """
        async def on_websocket(socket):
            chosen = next(iter(socket.subprotocols), None)
            await socket.accept(chosen)
            async for message in socket:
                if message == "bye":
                    await socket.close(4001, "asked to")
                    return
                await socket.send(message)
    """,
    "ws/refuse.py": """
        async def on_websocket(socket):
            await socket.close(4003)
    """,
}


@pytest.fixture(params=["asgi", "wsgi"])
def client(request: pytest.FixtureRequest, pages: Callable[..., Pages]) -> Iterator[PagesClient]:
    with open_client(pages(TREE), request.param) as client:
        yield client


def test_one_answer_shape(client: PagesClient) -> None:
    answer = client.get("/echo/a/b", params={"q": ["1", "2"], "x": "é"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["args"] == {"q": ["1", "2"], "x": ["é"]}
    assert answer.json()["path"] == "/echo/a/b"
    # The Host header is the one a client sends, on both faces: no default port added.
    assert answer.json()["headers"]["host"] == "testserver"
    assert answer.text == answer.content.decode()
    assert answer.url == "http://testserver/echo/a/b?q=1&q=2&x=%C3%A9"
    assert repr(answer) == f"<Response [200] {answer.url}>"
    # The text follows the charset the response names.
    assert client.get("/latin").text == "café"


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_every_method(client: PagesClient, method: str) -> None:
    answer = getattr(client, method)("/echo/x")
    assert answer.json()["method"] == method.upper()
    assert client.head("/echo/x").content == b""


def test_bodies_are_encoded_once_for_both_faces(client: PagesClient) -> None:
    sent = client.post("/echo/j", json={"a": [1, "日本"]}).json()
    assert sent["json"] == {"a": [1, "日本"]}
    form = client.post("/echo/f", data={"name": "Ada", "tags": ["x", "y"]}).json()
    assert form["form"] == {"name": ["Ada"], "tags": ["x", "y"]}
    data = bytes(range(256)) * 8
    upload = client.post(
        "/echo/u",
        data={"note": "n"},
        files={"file": ("report.bin", data, "application/octet-stream")},
    ).json()
    assert upload["form"] == {"note": ["n"]}
    digest = hashlib.sha256(data).hexdigest()
    assert upload["files"] == {"file": ["report.bin", "application/octet-stream", digest]}
    raw = client.put("/echo/r", content=b"\x00raw", headers={"Content-Type": "x/y"}).json()
    assert raw["body"] == "\x00raw" and raw["headers"]["content-type"] == "x/y"
    assert client.post("/echo/t", data="as text").json()["body"] == "as text"


def test_cookies_are_kept_as_a_browser_keeps_them(client: PagesClient) -> None:
    logged_in = client.post("/login")
    assert logged_in.status_code == 303  # not followed unless asked
    assert logged_in.cookies == {"session": "ada", "theme": "dark"}
    assert client.cookies == {"session": "ada", "theme": "dark"}
    # Sent back where their path matches, and only there.
    assert client.get("/echo/x").json()["cookies"] == {"session": "ada"}
    assert client.get("/me").json() == {"session": "ada"}
    # A cookie for one request rides beside the kept ones.
    once = client.get("/echo/x", cookies={"extra": "1"}).json()["cookies"]
    assert once == {"session": "ada", "extra": "1"}
    assert client.get("/echo/x").json()["cookies"] == {"session": "ada"}
    # Deleted by the site, gone from the jar.
    client.get("/logout")
    assert client.get("/me").json() == {"session": None}
    client.set_cookie("session", "grace")
    assert client.get("/me").json() == {"session": "grace"}
    client.clear_cookies()
    assert client.cookies == {}


def test_redirects_are_followed_only_when_asked(client: PagesClient) -> None:
    assert client.get("/hop/2").status_code == 302
    followed = client.get("/hop/2", follow_redirects=True)
    assert followed.json() == {"method": "GET", "body": ""}
    assert [hop.status_code for hop in followed.history] == [302, 302]
    assert followed.url == "http://testserver/hop/0?status=302"
    # A 303, or a 301/302 after a POST, becomes a GET; a 307 or 308 keeps the method and body.
    assert client.post("/hop/1", content=b"x", follow_redirects=True).json()["method"] == "GET"
    kept = client.post("/hop/2?status=307", content=b"again", follow_redirects=True).json()
    assert kept == {"method": "POST", "body": "again"}
    logged_in = client.post("/login", follow_redirects=True)
    assert logged_in.json() == {"session": "ada"}  # the cookie set on the way is sent
    with pytest.raises(TooManyRedirects):
        client.get("/loop", follow_redirects=True)


def test_the_underlying_clients_stay_in_reach(pages: Callable[..., Pages]) -> None:
    app = pages(TREE)
    with open_client(app, "wsgi") as wsgi:
        wsgi.post("/login")
        # WebTest's own API, sharing the cookies kept.
        assert wsgi.webtest.get("/me").json == {"session": "ada"}
        assert wsgi.get("/hop/1").native.follow().json["method"] == "GET"
    with open_client(app, "asgi") as asgi:
        asgi.post("/login")

        async def me(http):
            return (await http.get("/me")).json()

        assert asgi.run(me) == {"session": "ada"}


@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_an_unknown_face_and_a_crashing_handler(pages: Callable[..., Pages], face: str) -> None:
    app = pages({"boom.py": "def on_request(context):\n    raise RuntimeError('x')\n"})
    with open_client(app, face) as client:
        assert client.get("/boom").status_code == 500
    with pytest.raises(ValueError, match="asgi, wsgi"), open_client(app, "http"):
        pass


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    app = Pages(write_tree(tmp_path_factory.mktemp("tree"), TREE))
    yield app
    app.close()
    app.loader.unload()


@settings(max_examples=40, deadline=None)
@given(
    segment=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1),
    value=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)
def test_both_faces_deliver_the_same_request(shared: Pages, segment: str, value: str) -> None:
    """Whatever the path segment and query value, the two faces' clients hand the app the
    same request."""
    seen = []
    for face in ("asgi", "wsgi"):
        with open_client(shared, face) as client:
            answer = client.get("/echo/" + quote(segment, safe=""), params={"v": value})
            if answer.status_code == 200:
                seen.append((200, answer.json()["path"], answer.json()["args"]))
            else:
                seen.append((answer.status_code, answer.text, None))
    assert seen[0] == seen[1]
    # pagesfn refuses a backslash, a dot segment and an empty one in a path (400).
    path = "/echo/" + segment
    refused = "\\" in path or "//" in path or {".", ".."} & set(path.split("/"))
    assert seen[0][0] == (400 if refused else 200)
    if not refused:
        assert seen[0] == (200, path, {"v": [value]})


@pytest.fixture
def ws(pages: Callable[..., Pages]) -> Iterator[Callable[..., WebSocketSession]]:
    app = pages(TREE)
    with ExitStack() as stack:
        portal = stack.enter_context(asgi_session(app))
        yield lambda path, **options: WebSocketSession(app, portal, path, **options)


def test_a_websocket_session(ws) -> None:
    with ws("/ws/echo", subprotocols=["chat.v1"]) as socket:
        assert socket.subprotocol == "chat.v1"
        socket.send_text("hello")
        assert socket.receive_text() == "hello"
        socket.send_bytes(b"\x00\x01")
        assert socket.receive_bytes() == b"\x00\x01"
        socket.send_json({"a": 1})
        assert socket.receive_json() == {"a": 1}
        socket.send_text("bye")
        with pytest.raises(WebSocketClosed) as closed:
            socket.receive()
        assert (closed.value.code, closed.value.reason) == (4001, "asked to")
    # The client leaving ends the handler's loop.
    with ws("/ws/echo") as socket:
        socket.send_text("once")
        assert socket.receive() == "once"
        socket.close()
        assert socket.close_code == 1000


def test_a_refused_websocket(ws) -> None:
    with pytest.raises(WebSocketRefused) as refused, ws("/ws/refuse"):
        pass
    assert refused.value.status == 403
    # No route takes WebSockets here: pagesfn answers the handshake with a 404.
    with pytest.raises(WebSocketRefused) as missing, ws("/no/such/socket"):
        pass
    assert missing.value.status == 404
