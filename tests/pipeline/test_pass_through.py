"""``context.pass_through_on_exception()``: an error later in the chain is answered by the
static assets (the file at the path, or the 404 page) instead of a 500."""

from __future__ import annotations

import logging

import pytest

FUNCTIONS = {
    "_middleware.py": """
        def on_request(context):
            if context.request.headers.get("X-Pass") == "1":
                context.pass_through_on_exception()
            return context.next()
    """,
    "async/_middleware.py": """
        async def on_request(context):
            context.pass_through_on_exception()
            return await context.next()
    """,
    "page.html.py": """
        def on_request(context):
            raise RuntimeError("the page function broke")
    """,
    "nothing.py": """
        async def on_request(context):
            raise RuntimeError("the nothing function broke")
    """,
    "bad-json.py": """
        def on_request(context):
            return {"got": context.request.get_json()}
    """,
    "async/page.html.py": """
        async def on_request(context):
            raise KeyError("async page")
    """,
    "fine.py": """
        def on_request(context):
            return "fine"
    """,
}
FILES = {
    "page.html": "<p>static page</p>",
    "async/page.html": "<p>static async page</p>",
    "404.html": "<p>root 404</p>",
}


@pytest.fixture
def client(serve, public):
    return serve(FUNCTIONS, public=str(public(FILES)))


PASS = {"X-Pass": "1"}


def test_without_pass_through_an_error_is_a_500(client):
    result = client.get("/page.html")
    assert (result.status, result.text) == (500, "Internal Server Error")


def test_pass_through_serves_the_file_at_the_path(client, caplog):
    caplog.set_level(logging.WARNING, logger="pagesfn")
    result = client.get("/page.html", headers=PASS)
    assert (result.status, result.text) == (200, "<p>static page</p>")
    assert result.header("content-type") == "text/html; charset=utf-8"
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    # The error is still logged, and so is the pass-through.
    assert any("page.html.py" in m and "RuntimeError" in m for m in messages), messages
    assert any("passing through" in m for m in messages), messages


def test_pass_through_without_a_file_is_the_404_page(client):
    result = client.get("/nothing", headers=PASS)
    assert (result.status, result.text) == (404, "<p>root 404</p>")
    assert client.get("/nothing").status == 500


def test_pass_through_for_a_head_request(client):
    result = client.request("HEAD", "/page.html", headers=PASS)
    assert (result.status, result.body) == (200, b"")
    assert result.header("content-length") == str(len("<p>static page</p>"))


def test_pass_through_from_an_async_middleware(client):
    result = client.get("/async/page.html")
    assert (result.status, result.text) == (200, "<p>static async page</p>")


def test_a_client_error_is_not_passed_through(client):
    result = client.request(
        "POST",
        "/bad-json",
        headers={**PASS, "Content-Type": "application/json"},
        body=b"{not json",
    )
    assert result.status == 400
    assert "not valid JSON" in result.text


def test_pass_through_does_not_touch_a_request_that_succeeds(client):
    result = client.get("/fine", headers=PASS)
    assert (result.status, result.text) == (200, "fine")


def test_pass_through_without_public_is_a_404(serve):
    client = serve(FUNCTIONS)
    result = client.get("/page.html", headers=PASS)
    assert (result.status, result.text) == (404, "Not Found")
    assert client.get("/page.html").status == 500
