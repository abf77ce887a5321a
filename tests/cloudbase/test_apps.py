"""A function whose target is an app (as the seed's ``exports.main = app`` with Express):
mounted under its route, seeing the route path as its root path, on both faces."""

from __future__ import annotations

import pytest

# -- Flask (WSGI), `main = app` at /api/shop ------------------------------------------------


def test_the_express_style_app_answers_its_routes_under_the_function_path(client):
    profile = client.get("/api/shop/profile")
    assert (profile.status, profile.json()) == (200, {"user": "profile"})
    listing = client.get("/api/shop/list")
    assert (listing.status, listing.json()) == (200, {"users": []})


def test_the_app_sees_the_route_path_as_its_script_root(client):
    body = client.get("/api/shop/where?x=1").json()
    assert body["script_root"] == "/api/shop"
    assert body["path"] == "/where"
    assert body["full_path"] == "/where?x=1"
    # url_for builds links with the prefix.
    assert body["profile"] == "/api/shop/profile"
    assert body["external"].endswith("/api/shop/list")
    assert body["external"].startswith("http://")


def test_the_app_takes_bodies_and_methods(client):
    response = client.request(
        "POST",
        "/api/shop/orders",
        headers={"Content-Type": "application/json"},
        body='{"sku": "a1"}',
    )
    assert (response.status, response.json()) == (201, {"got": {"sku": "a1"}})
    assert client.request("DELETE", "/api/shop/profile").status == 405


@pytest.mark.parametrize(
    "path", ["/api/shop", "/api/shop/", "/api/shop/nothing", "/api/shop/profile/x"]
)
def test_the_app_answers_its_own_404s(client, path):
    response = client.get(path)
    assert response.status == 404
    # Flask's page, not the default function's JSON.
    assert "Not Found" in response.text
    assert "default" not in response.text


def test_paths_beside_the_app_are_not_its(client):
    body = client.get("/api/shopping/profile").json()
    assert body["function"] == "default"


# -- FastAPI (ASGI), target `api` at /api/fast ----------------------------------------------


def test_a_fastapi_target_answers_under_its_route(client):
    response = client.get("/api/fast/items/3?q=z")
    assert (response.status, response.json()) == (200, {"item_id": 3, "q": "z"})
    assert client.get("/api/fast/items/x").status == 422
    assert client.get("/api/fast/nothing").status == 404


def test_the_fastapi_app_has_the_route_path_as_its_root_path(client):
    body = client.get("/api/fast/where").json()
    assert body["root_path"] == "/api/fast"
    assert body["path"] == "/api/fast/where"
    assert body["item_url"].endswith("/api/fast/items/7")


def test_a_mounted_app_is_one_app_for_every_request(cloudbase_app):
    app = cloudbase_app()
    [route] = [r for r in app.table.routes if r.function == "shop"]
    endpoint = app.loader.endpoint(route)
    assert endpoint.mount is not None
    assert endpoint.handlers == {}
    assert app.loader.endpoint(route) is endpoint


def test_an_app_with_many_routes_is_mounted_at_each_and_started_once(cloudbase, project):
    config = project(
        {
            "functions": [{"name": "api", "directory": "api", "target": "app"}],
            "routes": [
                {"functionName": "api", "path": "/v1/api"},
                {"functionName": "api", "path": "/v2/api"},
            ],
        },
        {
            "api/index.py": """
                from contextlib import asynccontextmanager

                from fastapi import FastAPI, Request

                started = []


                @asynccontextmanager
                async def lifespan(app):
                    started.append(1)
                    yield


                app = FastAPI(lifespan=lifespan)


                @app.get("/where")
                async def where(request: Request):
                    return {"root_path": request.scope["root_path"], "started": len(started)}
            """
        },
    )
    client = cloudbase(config)
    assert client.get("/v1/api/where").json() == {"root_path": "/v1/api", "started": 1}
    assert client.get("/v2/api/where").json() == {"root_path": "/v2/api", "started": 1}
    assert client.get("/v3/api/where").status == 404
