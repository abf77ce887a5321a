"""The FastAPI demo: a FastAPI app at /api, a Flask app at /legacy and plain route files,
in one tree.

The checks run through pagesfn's own pytest plugin, as a project's tests do: the module's
``pages`` fixture gives the demo's app, and ``pages_client`` runs each test on both faces
(the ASGI one after its lifespan started, as servers do; the WSGI one through WebTest, where
the mounted app's lifespan starts with the first request).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import webtest

from pagesfn import Pages
from pagesfn.testing import open_client

DEMO = Path(__file__).parents[2] / "demo_fastapi" / "functions"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def pages(pages, request):
    """The demo's app (with the options a test gives by indirect parametrization), for
    the plugin's ``pages_client``."""
    return pages(DEMO, **getattr(request, "param", {}))


def send_json(client, method, path, payload):
    return client.request(method, path, json=payload)


@pytest.mark.parametrize("pages", [{"eager": True}], indirect=True)
def test_demo_loads_eagerly(pages_client):
    page = pages_client.get("/").text
    for link in ("/api/docs", "/api/openapi.json", "/api/todos", "/api/health", "/legacy/"):
        assert f'href="{link}"' in page


def test_todo_crud(pages_client):
    client = pages_client
    assert client.get("/api/todos").json() == []

    created = send_json(client, "POST", "/api/todos", {"title": "  Water the plants "})
    assert created.status_code == 201
    assert created.json() == {"id": 1, "title": "Water the plants", "done": False}
    assert created.headers["Location"] == "http://testserver/api/todos/1"

    assert client.get("/api/todos/1").json()["title"] == "Water the plants"
    updated = send_json(client, "PATCH", "/api/todos/1", {"done": True})
    assert updated.json() == {"id": 1, "title": "Water the plants", "done": True}
    assert client.get("/api/todos").json() == [updated.json()]

    deleted = client.delete("/api/todos/1")
    assert (deleted.status_code, deleted.content) == (204, b"")
    missing = client.get("/api/todos/1")
    assert (missing.status_code, missing.json()) == (404, {"detail": "todo 1 not found"})
    assert client.delete("/api/todos/1").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "done": "maybe"}, "done"),
        ({"title": "ok", "owner": "ada"}, "owner"),
    ],
)
def test_invalid_todo_is_a_422(pages_client, payload, field):
    client = pages_client
    response = send_json(client, "POST", "/api/todos", payload)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert client.get("/api/todos").json() == []


def test_malformed_json_and_bad_ids_are_422s(pages_client):
    client = pages_client
    broken = client.post("/api/todos", content=b"{", headers=JSON)
    assert broken.status_code == 422
    assert client.get("/api/todos/first").status_code == 422


def test_todos_live_in_the_store_the_lifespan_opened(pages_client, pages_face):
    # The store comes from the lifespan state through request.state: requests share it,
    # and each Pages app runs its own lifespan, with its own store.
    send_json(pages_client, "POST", "/api/todos", {"title": "one"})
    send_json(pages_client, "POST", "/api/todos", {"title": "two"})
    assert [todo["title"] for todo in pages_client.get("/api/todos").json()] == ["one", "two"]
    other = Pages(DEMO)
    try:
        with open_client(other, pages_face) as client:
            assert client.get("/api/todos").json() == []
    finally:
        other.close()
        other.loader.unload()


def test_docs_load_the_schema_from_under_the_prefix(pages_client):
    client = pages_client
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert docs.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "url: '/api/openapi.json'" in docs.text

    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Todo API"
    assert schema["servers"] == [{"url": "/api"}]
    assert set(schema["paths"]) == {"/todos", "/todos/{todo_id}"}
    assert "/api/openapi.json" in client.get("/api/redoc").text


@pytest.mark.parametrize("path", ["/api", "/api/"])
def test_the_bare_prefix_reaches_the_apps_root(pages_client, path):
    assert pages_client.get(path).json() == {
        "docs": "http://testserver/api/docs",
        "openapi": "http://testserver/api/openapi.json",
        "todos": "http://testserver/api/todos",
    }


def test_health_file_beside_the_mount_is_answered_by_pagesfn(pages_client):
    response = pages_client.get("/api/health")
    assert response.json() == {"status": "ok", "served_by": "api/health.py"}


def test_flask_app_mounted_beside_the_fastapi_app(pages_client):
    client = pages_client
    for path in ("/legacy", "/legacy/"):
        page = client.get(path)
        assert page.status_code == 200
        assert '<a href="/legacy/status">' in page.text
    status = client.get("/legacy/status").json()
    assert status == {"framework": "flask", "script_root": "/legacy", "path": "/status"}
    redirected = client.get("/legacy/status.php")
    assert (redirected.status_code, redirected.headers["Location"]) == (301, "/legacy/status")


# -- the WSGI face in WebTest ------------------------------------------------------------


@pytest.fixture
def api(pages) -> webtest.TestApp:
    return webtest.TestApp(pages.wsgi)


def test_todo_api_on_the_wsgi_face(api):
    created = api.post_json("/api/todos", {"title": "Ship it"}, status=201)
    todo_url = created.headers["Location"]
    assert urlsplit(todo_url).path == "/api/todos/1"
    assert api.patch_json(todo_url, {"done": True}).json["done"] is True
    assert api.get("/api/todos").json == [{"id": 1, "title": "Ship it", "done": True}]
    invalid = api.post_json("/api/todos", {"title": 42}, status=422)
    assert invalid.json["detail"][0]["loc"] == ["body", "title"]
    api.delete(todo_url, status=204)
    api.get(todo_url, status=404)


def test_docs_and_legacy_links_on_the_wsgi_face(api):
    docs = api.get("/api/docs")
    assert "url: '/api/openapi.json'" in docs
    assert api.get("/api/openapi.json").json["servers"] == [{"url": "/api"}]
    status = api.get("/legacy/status.php", status=301).follow()
    assert status.json["script_root"] == "/legacy"
    home = api.get("/")
    assert home.click("/api/health", index=0).json["status"] == "ok"
