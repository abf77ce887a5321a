"""Method resolution: own handler, HEAD from GET, on_request, OPTIONS, fall-through, 405."""

from __future__ import annotations

import pytest

TREE = {
    "items.py": """
        def on_request_get(context):
            return "list"

        async def on_request_post(context):
            return ("created", 201)
    """,
    "any.py": """
        def on_request(context):
            return context.request.method
    """,
    "mixed.py": """
        def on_request(context):
            return "fallback " + context.request.method

        def on_request_delete(context):
            return "deleted"
    """,
    "opts.py": """
        def on_request_options(context):
            return ("custom options", 200, {"Allow": "GET"})

        def on_request_get(context):
            return "get"
    """,
    "users/me.py": """
        def on_request_get(context):
            return "me"
    """,
    "users/[id].py": """
        def on_request_get(context):
            return "user " + context.params["id"]

        def on_request_post(context):
            return "post to " + context.params["id"]
    """,
}


@pytest.fixture
def client(serve):
    return serve(TREE)


def test_own_handler(client):
    assert client.get("/items").text == "list"
    result = client.request("POST", "/items")
    assert (result.status, result.text) == (201, "created")


def test_head_uses_get_without_body(client):
    result = client.request("HEAD", "/items")
    assert result.status == 200
    assert result.body == b""
    assert result.header("content-length") == "4"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_on_request_takes_every_method(client, method):
    assert client.request(method, "/any").text == method


def test_on_request_is_the_fallback_of_specific_handlers(client):
    assert client.request("DELETE", "/mixed").text == "deleted"
    assert client.request("PUT", "/mixed").text == "fallback PUT"


def test_options_without_handler_answers_204_with_allow(client):
    result = client.request("OPTIONS", "/items")
    assert result.status == 204
    assert result.body == b""
    assert result.header("allow") == "GET, HEAD, POST, OPTIONS"


def test_options_handler_wins(client):
    result = client.request("OPTIONS", "/opts")
    assert (result.status, result.text, result.header("allow")) == (200, "custom options", "GET")


def test_405_lists_allowed_methods(client):
    result = client.request("DELETE", "/items")
    assert result.status == 405
    assert result.header("allow") == "GET, HEAD, POST, OPTIONS"


def test_method_falls_through_to_less_specific_route(client):
    assert client.get("/users/me").text == "me"
    assert client.request("POST", "/users/me").text == "post to me"
    result = client.request("PUT", "/users/me")
    assert result.status == 405
    assert result.header("allow") == "GET, HEAD, POST, OPTIONS"


def test_unknown_path_is_404_for_every_method(client):
    for method in ("GET", "POST", "OPTIONS"):
        assert client.request(method, "/nope").status == 404
