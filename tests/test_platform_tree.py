"""The route table of the platforms' own example tree, on both faces."""

from __future__ import annotations

import pytest

FILE_PATHS = [
    ("/", "index"),
    ("/hello-pages", "hello-pages"),
    ("/hello-pages/", "hello-pages"),
    ("/helloworld", "helloworld"),
]

JSON_PATHS = [
    ("/api/users/list", {"file": "api/users/list.py"}),
    ("/api/users/geo", {"file": "api/users/geo.py", "geo": {}}),
    ("/api/visit", {"file": "api/visit/index.py"}),
    ("/api/visit/", {"file": "api/visit/index.py"}),
    ("/api/users/1024", {"file": "api/users/[id].py", "id": "1024"}),
    ("/api/users/vip/1024", {"file": "api/[[default]].py", "default": ["users", "vip", "1024"]}),
    ("/api/books/list", {"file": "api/[[default]].py", "default": ["books", "list"]}),
    ("/api/1024", {"file": "api/[[default]].py", "default": ["1024"]}),
    ("/api", {"file": "api/[[default]].py", "default": []}),
    ("/api/", {"file": "api/[[default]].py", "default": []}),
]


@pytest.fixture
def client(serve):
    return serve("platform")


@pytest.mark.parametrize(("path", "text"), FILE_PATHS)
def test_text_routes(client, path, text):
    result = client.get(path)
    assert result.status == 200
    assert result.text == text
    assert result.header("content-type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize(("path", "payload"), JSON_PATHS)
def test_json_routes(client, path, payload):
    result = client.get(path)
    assert result.status == 200, result.text
    assert result.json() == payload
    assert result.header("content-type") == "application/json"


@pytest.mark.parametrize("path", ["/v2/vip/1024", "/HelloWorld", "/Api/users/list", "/index"])
def test_unrouted_paths_are_404(client, path):
    assert client.get(path).status == 404


def test_params_are_decoded(client):
    assert client.get("/api/users/a%3Bb").json()["id"] == "a;b"
    assert client.get("/api/users/caf%C3%A9").json()["id"] == "café"
    # An encoded slash is a slash (docs/routing.md).
    assert client.get("/api/x%2Fy/z").json()["default"] == ["x", "y", "z"]


@pytest.mark.parametrize("path", ["/api/users/%zz", "/api/users/%FF", "/api/users/%C3", "/a%00b"])
def test_malformed_paths_are_400(client, path):
    result = client.get(path)
    assert result.status == 400
    assert "path" in result.text


def test_route_table_in_precedence_order(pages):
    app = pages("platform")
    assert [route.pattern for route in app.routes] == [
        "/",
        "/api/users/geo",
        "/api/users/list",
        "/api/users/[id]",
        "/api/visit",
        "/api/[[default]]",
        "/hello-pages",
        "/helloworld",
    ]


def test_encoded_static_names_reach_their_file(client):
    assert client.get("/hello%2Dpages").text == "hello-pages"
    assert client.get("/api/users/l%69st").json() == {"file": "api/users/list.py"}
