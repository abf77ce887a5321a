"""The FastAPI demo: a FastAPI app at /api, a Flask app at /legacy and plain route files,
in one tree.

``serve`` runs every check on both faces (the ASGI one after its lifespan started, as
servers do); WebTest drives the WSGI face, where the mounted app's lifespan starts with the
first request.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import webtest

DEMO = Path(__file__).parents[2] / "demo_fastapi" / "functions"
JSON = {"Content-Type": "application/json"}


def send_json(client, method, path, payload):
    return client.request(method, path, body=json.dumps(payload), headers=JSON)


def test_demo_loads_eagerly(serve):
    client = serve(DEMO, eager=True)
    page = client.get("/").text
    for link in ("/api/docs", "/api/openapi.json", "/api/todos", "/api/health", "/legacy/"):
        assert f'href="{link}"' in page


def test_todo_crud(serve):
    client = serve(DEMO)
    assert client.get("/api/todos").json() == []

    created = send_json(client, "POST", "/api/todos", {"title": "  Water the plants "})
    assert created.status == 201
    assert created.json() == {"id": 1, "title": "Water the plants", "done": False}
    assert created.header("Location") == "http://testserver/api/todos/1"

    assert client.get("/api/todos/1").json()["title"] == "Water the plants"
    updated = send_json(client, "PATCH", "/api/todos/1", {"done": True})
    assert updated.json() == {"id": 1, "title": "Water the plants", "done": True}
    assert client.get("/api/todos").json() == [updated.json()]

    deleted = client.request("DELETE", "/api/todos/1")
    assert (deleted.status, deleted.body) == (204, b"")
    missing = client.get("/api/todos/1")
    assert (missing.status, missing.json()) == (404, {"detail": "todo 1 not found"})
    assert client.request("DELETE", "/api/todos/1").status == 404


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
def test_invalid_todo_is_a_422(serve, payload, field):
    client = serve(DEMO)
    response = send_json(client, "POST", "/api/todos", payload)
    assert response.status == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert client.get("/api/todos").json() == []


def test_malformed_json_and_bad_ids_are_422s(serve):
    client = serve(DEMO)
    broken = client.request("POST", "/api/todos", body="{", headers=JSON)
    assert broken.status == 422
    assert client.get("/api/todos/first").status == 422


def test_todos_live_in_the_store_the_lifespan_opened(serve):
    # The store comes from the lifespan state through request.state: requests share it,
    # and each Pages app runs its own lifespan, with its own store.
    first = serve(DEMO)
    send_json(first, "POST", "/api/todos", {"title": "one"})
    send_json(first, "POST", "/api/todos", {"title": "two"})
    assert [todo["title"] for todo in first.get("/api/todos").json()] == ["one", "two"]
    assert serve(DEMO).get("/api/todos").json() == []


def test_docs_load_the_schema_from_under_the_prefix(serve):
    client = serve(DEMO)
    docs = client.get("/api/docs")
    assert docs.status == 200
    assert docs.header("Content-Type") == "text/html; charset=utf-8"
    assert "url: '/api/openapi.json'" in docs.text

    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Todo API"
    assert schema["servers"] == [{"url": "/api"}]
    assert set(schema["paths"]) == {"/todos", "/todos/{todo_id}"}
    assert "/api/openapi.json" in client.get("/api/redoc").text


@pytest.mark.parametrize("path", ["/api", "/api/"])
def test_the_bare_prefix_reaches_the_apps_root(serve, path):
    assert serve(DEMO).get(path).json() == {
        "docs": "http://testserver/api/docs",
        "openapi": "http://testserver/api/openapi.json",
        "todos": "http://testserver/api/todos",
    }


def test_health_file_beside_the_mount_is_answered_by_pagesfn(serve):
    response = serve(DEMO).get("/api/health")
    assert response.json() == {"status": "ok", "served_by": "api/health.py"}


def test_flask_app_mounted_beside_the_fastapi_app(serve):
    client = serve(DEMO)
    for path in ("/legacy", "/legacy/"):
        page = client.get(path)
        assert page.status == 200
        assert '<a href="/legacy/status">' in page.text
    status = client.get("/legacy/status").json()
    assert status == {"framework": "flask", "script_root": "/legacy", "path": "/status"}
    redirected = client.get("/legacy/status.php")
    assert (redirected.status, redirected.header("Location")) == (301, "/legacy/status")


# -- the WSGI face in WebTest ------------------------------------------------------------


@pytest.fixture
def api(pages) -> webtest.TestApp:
    return webtest.TestApp(pages(DEMO).wsgi)


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
