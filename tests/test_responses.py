"""What handlers may return, and what reaches the client."""

from __future__ import annotations

import pytest

TREE = {
    "str.py": "def on_request(c):\n    return 'héllo'\n",
    "bytes.py": "def on_request(c):\n    return b'\\x00\\x01'\n",
    "dict.py": "def on_request(c):\n    return {'a': 1, 'ü': [1, 2]}\n",
    "list.py": "async def on_request(c):\n    return [1, 'two', None]\n",
    "pair.py": "def on_request(c):\n    return 'nope', 418\n",
    "triple.py": "def on_request(c):\n    return {'ok': False}, 422, {'X-Reason': 'bad'}\n",
    "with_headers.py": "def on_request(c):\n    return 'h', {'X-One': '1'}\n",
    "json.py": """
        from pagesfn import Response

        def on_request(c):
            return Response.json({"n": 1}, status=201, headers={"X-Kind": "json"})
    """,
    "redirect.py": """
        from pagesfn import Response

        def on_request(c):
            return Response.redirect("/ünïcode/target?q=1", 301)
    """,
    "cookies.py": """
        from pagesfn import Response

        def on_request(c):
            response = Response("cookies", headers=[("X-Multi", "a"), ("X-Multi", "b")])
            response.set_cookie("session", "abc", httponly=True)
            response.set_cookie("theme", "dark", max_age=60)
            return response
    """,
    "empty.py": """
        from pagesfn import Response

        def on_request(c):
            return Response("ignored", 204)
    """,
    "custom_type.py": """
        from pagesfn import Response

        def on_request(c):
            return Response("<p>hi</p>", headers={"Content-Type": "text/html; charset=utf-8"})
    """,
    "none.py": "def on_request(c):\n    return None\n",
    "garbage.py": "def on_request(c):\n    return object()\n",
    "badtuple.py": "def on_request(c):\n    return ('a', 'b', 'c', 'd')\n",
    "badstatus.py": "def on_request(c):\n    return ('a', 1000)\n",
    "badheader.py": "def on_request(c):\n    return ('a', 200, {'X-Bad': 'caf\\u00e9 \\u2603'})\n",
}


@pytest.fixture
def client(serve):
    return serve(TREE)


def test_str_is_utf8_text(client):
    result = client.get("/str")
    assert result.body == "héllo".encode()
    assert result.header("content-type") == "text/plain; charset=utf-8"
    assert result.header("content-length") == str(len("héllo".encode()))


def test_bytes_are_octet_stream(client):
    result = client.get("/bytes")
    assert result.body == b"\x00\x01"
    assert result.header("content-type") == "application/octet-stream"


@pytest.mark.parametrize(
    ("path", "value"), [("/dict", {"a": 1, "ü": [1, 2]}), ("/list", [1, "two", None])]
)
def test_dict_and_list_are_json(client, path, value):
    result = client.get(path)
    assert result.json() == value
    assert result.header("content-type") == "application/json"


def test_tuples(client):
    assert (client.get("/pair").status, client.get("/pair").text) == (418, "nope")
    triple = client.get("/triple")
    assert (triple.status, triple.json(), triple.header("x-reason")) == (422, {"ok": False}, "bad")
    pair = client.get("/with_headers")
    assert (pair.status, pair.text, pair.header("x-one")) == (200, "h", "1")


def test_response_json(client):
    result = client.get("/json")
    assert (result.status, result.json(), result.header("x-kind")) == (201, {"n": 1}, "json")


def test_redirect(client):
    result = client.get("/redirect")
    assert result.status == 301
    assert result.header("location") == "/%C3%BCn%C3%AFcode/target?q=1"


def test_repeated_headers_and_cookies_are_kept(client):
    result = client.get("/cookies")
    cookies = result.header_all("set-cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("session=abc") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("theme=dark") and "Max-Age=60" in cookies[1]
    assert result.header_all("x-multi") == ["a", "b"]


def test_204_has_no_body(client):
    result = client.get("/empty")
    assert (result.status, result.body, result.header("content-length")) == (204, b"", None)


def test_explicit_content_type(client):
    assert client.get("/custom_type").header("content-type") == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/none", "returned None"),
        ("/garbage", "returned object"),
        ("/badtuple", "tuple of 4 items"),
        ("/badstatus", "status 1000"),
        ("/badheader", "X-Bad"),
    ],
)
def test_unusable_results_are_500_and_logged(client, caplog, path, says):
    result = client.get(path)
    assert result.status == 500
    assert result.text == "Internal Server Error"
    file = path.lstrip("/") + ".py"
    logged = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    # A head is checked as it is sent, past the handler: its log names the file alone.
    handler = "" if says == "X-Bad" else "`on_request`"
    assert any(file in m and handler in m and says in m for m in logged), logged


def test_unusable_result_is_shown_in_debug(serve):
    client = serve(TREE, debug=True)
    result = client.get("/none")
    assert result.status == 500
    assert "none.py" in result.text and "returned None" in result.text
