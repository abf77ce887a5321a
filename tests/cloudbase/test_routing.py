"""Routing by ``cloudbase-functions.json``, rule by rule as the CloudBase document has them
(prefix match on whole segments, longest match, trailing slash, many routes for one
function, the default route, ``triggerPath``), on both faces."""

from __future__ import annotations

import os

import pytest

from pagesfn import RouteWarning
from pagesfn.routing import RouteKind


def function_of(client, path, method="GET"):
    """The name of the function that answered ``path`` (and the URL it saw)."""
    response = client.request(method, path)
    assert response.status == 200, (path, response.status, response.text)
    body = response.json()
    return body["function"]


def named(function):
    """The source of a function answering with its name."""
    return (
        "def main(event, context):\n"
        f"    return {{'function': {function!r}, 'path': context.httpContext.url}}\n"
    )


# -- the seed's quick start --------------------------------------------------------------------


def test_the_quick_start_answers_each_function(client):
    assert client.get("/").json() == {
        "function": "default",
        "message": "Hello from default function",
        "path": "/",
    }
    assert client.get("/api/user").json() == {
        "function": "user",
        "message": "User API",
        "path": "/api/user",
        "method": "GET",
    }
    response = client.get("/api/order")
    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.json() == {"function": "order", "message": "Order API", "path": "/api/order"}


# -- 1. prefix match, 4. whole segments --------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/user",
        "/api/user/",
        "/api/user/profiles",
        "/api/user/list",
        "/api/user/a/b/c",
        "/api/user/list/",
        "/api/user?id=1",
    ],
)
def test_a_route_answers_its_path_and_everything_under_it(client, path):
    assert function_of(client, path) == "user"


@pytest.mark.parametrize(
    "path",
    [
        "/api/users",
        "/api/user123",
        "/api/use",
        "/api",
        "/api/",
        "/apiuser",
        "/api/userprofile",
        "/x/api/user",
        "/API/user",
        "/api/User",
    ],
)
def test_a_route_never_answers_part_of_a_segment_or_a_parent(client, path):
    # Nothing else claims these, so the default function (at `/`) takes them.
    assert function_of(client, path) == "default"


def test_the_url_the_function_sees_is_the_full_path(client):
    assert client.get("/api/user/a/b?x=1").json()["path"] == "/api/user/a/b?x=1"
    assert client.get("/about").json()["path"] == "/about"


def test_segments_match_decoded_and_the_url_stays_as_sent(client):
    body = client.get("/api/%75ser/a%2Fb").json()
    assert (body["function"], body["path"]) == ("user", "/api/%75ser/a%2Fb")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method_reaches_the_function(client, method):
    response = client.request(method, "/api/user/list")
    assert response.status == 200
    assert response.json()["method"] == method


# -- 2. longest match ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("/api/user", "user"),
        ("/api/user/list", "user"),
        ("/api/user/profiles", "user"),
        ("/api/user/profile", "userProfile"),
        ("/api/user/profile/", "userProfile"),
        ("/api/user/profile/detail", "userProfile"),
        ("/api/user/profile/detail/more", "userProfile"),
        ("/echo", "echo"),
        ("/echo/sync", "echo"),
        ("/echo/async", "asyncEcho"),
        ("/echo/async/deeper", "asyncEcho"),
        ("/echo/asynchronous", "echo"),
    ],
)
def test_the_longest_matching_route_wins(client, path, function):
    response = client.get(path)
    assert response.status == 200
    body = response.json()
    assert body["function"] == function
    assert body.get("path", body.get("url")) == path


def test_route_order_in_the_file_does_not_decide(cloudbase, project):
    # The longer route written first, the shorter after it: still the longest wins.
    config = project(
        {
            "functions": [
                {"name": "deep", "directory": "deep"},
                {"name": "shallow", "directory": "shallow"},
            ],
            "routes": [
                {"functionName": "deep", "path": "/a/b/c"},
                {"functionName": "shallow", "path": "/a"},
            ],
        },
        {"deep/index.py": named("deep"), "shallow/index.py": named("shallow")},
    )
    client = cloudbase(config)
    assert function_of(client, "/a/b/c/d") == "deep"
    assert function_of(client, "/a/b/c") == "deep"
    assert function_of(client, "/a/b") == "shallow"
    assert function_of(client, "/a/b/cd") == "shallow"
    assert client.get("/b").status == 404  # no default function, nothing at `/`


# -- 3. trailing slash ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/user", "/v2/user/", "/v2/user/x", "/v2/user/x/"])
def test_a_route_written_with_a_trailing_slash_is_the_same_route(client, path):
    # The config writes `/v2/user/`.
    assert function_of(client, path) == "user"


def test_a_trailing_slash_on_the_request_is_ignored(client):
    assert function_of(client, "/api/order/") == "order"
    assert function_of(client, "/api/user/profile/") == "userProfile"


# -- 5. one function, many routes ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/user", "/v1/user", "/v2/user", "/v1/user/list"])
def test_one_function_answers_each_of_its_routes(client, path):
    response = client.get(path)
    assert response.json() == {
        "function": "user",
        "message": "User API",
        "path": path,
        "method": "GET",
    }


@pytest.mark.parametrize("path", ["/v1", "/v3/user", "/v1/users", "/v1/order"])
def test_only_the_routes_of_a_function_reach_it(client, path):
    assert function_of(client, path) == "default"


def test_a_function_with_many_routes_is_imported_once(cloudbase_app):
    app = cloudbase_app()
    routes = [r for r in app.table.routes if r.function == "user"]
    paths = sorted("/" + "/".join(s.value for s in r.segments[:-1]) for r in routes)
    assert paths == ["/api/user", "/v1/user", "/v2/user"]
    endpoints = {id(app.loader.endpoint(r).handlers["*"].fn) for r in routes}
    assert len(endpoints) == 1


# -- 7. the default route -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/about", "/health", "/api/users", "/api", "/deep/unknown/path/", "/ap"]
)
def test_the_default_function_takes_what_no_route_claims(client, path):
    body = client.get(path).json()
    assert body == {
        "function": "default",
        "message": "Hello from default function",
        "path": path,
    }


def test_the_default_function_takes_every_method(client):
    assert function_of(client, "/health", "POST") == "default"
    assert function_of(client, "/health", "DELETE") == "default"


def test_a_route_on_slash_is_the_default_route(cloudbase, project):
    # The seed's rule 7: `default` routed to `/` explicitly, `user` and `order` beside it.
    config = project(
        {
            "functions": [
                {"name": "default", "directory": "."},
                {"name": "user", "directory": "user"},
                {"name": "order", "directory": "order"},
            ],
            "routes": [
                {"functionName": "user", "path": "/api/user"},
                {"functionName": "order", "path": "/api/order"},
                {"functionName": "default", "path": "/"},
            ],
        },
        {
            "index.py": named("default"),
            "user/index.py": named("user"),
            "order/index.py": named("order"),
        },
    )
    client = cloudbase(config)
    assert function_of(client, "/api/user") == "user"
    assert function_of(client, "/api/order") == "order"
    for path in ("/", "/about", "/health"):
        assert function_of(client, path) == "default"


def test_the_seeds_complete_example_with_trigger_path_slash(cloudbase, project):
    config = project(
        {
            "functionsRoot": ".",
            "functions": [
                {"name": "default", "directory": ".", "triggerPath": "/"},
                {"name": "user", "directory": "user", "triggerPath": "/api/user"},
                {"name": "product", "directory": "product", "triggerPath": "/api/product"},
            ],
        },
        {
            "index.py": named("default"),
            "user/index.py": named("user"),
            "product/index.py": named("product"),
        },
    )
    client = cloudbase(config)
    assert function_of(client, "/api/product/7") == "product"
    assert function_of(client, "/api/products") == "default"
    assert function_of(client, "/") == "default"


def test_another_function_on_slash_leaves_default_unrouted(cloudbase, project):
    config = project(
        {
            "functions": [
                {"name": "default", "directory": "."},
                {"name": "home", "directory": "home", "triggerPath": "/"},
            ]
        },
        {"index.py": named("default"), "home/index.py": named("home")},
    )
    with pytest.warns(RouteWarning, match="function `default` has no route"):
        client = cloudbase(config)
    assert function_of(client, "/") == "home"
    assert function_of(client, "/about") == "home"


def test_a_default_function_with_a_route_of_its_own_does_not_take_slash(cloudbase, project):
    config = project(
        {"functions": [{"name": "default", "directory": ".", "triggerPath": "/home"}]},
        {"index.py": named("default")},
    )
    client = cloudbase(config)
    assert function_of(client, "/home/x") == "default"
    assert client.get("/").status == 404
    assert client.get("/about").status == 404


def test_without_a_default_route_unclaimed_paths_are_404(cloudbase, project):
    config = project(
        {"functions": [{"name": "user", "directory": "user", "triggerPath": "/api/user"}]},
        {"user/index.py": named("user")},
    )
    client = cloudbase(config)
    assert function_of(client, "/api/user/1") == "user"
    for path in ("/", "/api", "/api/users"):
        assert client.get(path).status == 404


# -- triggerPath ---------------------------------------------------------------------------------


def test_trigger_path_alone_routes_a_function(client):
    # `order` has only its triggerPath.
    assert function_of(client, "/api/order/42") == "order"


def test_trigger_path_is_the_same_as_a_routes_entry(cloudbase, project):
    files = {"user/index.py": named("user")}
    by_trigger = project(
        {"functions": [{"name": "user", "directory": "user", "triggerPath": "/api/user"}]},
        files,
    )
    by_route = project(
        {
            "functions": [{"name": "user", "directory": "user"}],
            "routes": [{"functionName": "user", "path": "/api/user"}],
        },
        files,
    )
    for config in (by_trigger, by_route):
        client = cloudbase(config)
        assert function_of(client, "/api/user/list") == "user"
        assert client.get("/api/users").status == 404


def test_trigger_path_and_routes_add_up(client):
    # `user` has triggerPath /api/user, and /api/user again, /v1/user and /v2/user/ in
    # routes: the same path twice is no conflict.
    for path in ("/api/user", "/v1/user", "/v2/user"):
        assert function_of(client, path) == "user"


# -- the route table ---------------------------------------------------------------------------


def test_every_route_is_a_function_catch_all(cloudbase_app):
    app = cloudbase_app()
    routes = {
        "/" + "/".join(s.value for s in route.segments[:-1]): route for route in app.table.routes
    }
    assert {path: route.function for path, route in routes.items()} == {
        "/": "default",
        "/api/user": "user",
        "/v1/user": "user",
        "/v2/user": "user",
        "/api/user/profile": "userProfile",
        "/api/order": "order",
        "/echo": "echo",
        "/echo/async": "asyncEcho",
        "/results": "results",
        "/results/async": "asyncResults",
        "/api/shop": "shop",
        "/api/fast": "fast",
        "/stream": "sse",
        "/ws": "ws",
        "/ws-sync": "syncWs",
        "/ws-shy": "shyWs",
    }
    assert all(route.kind is RouteKind.FUNCTION for route in routes.values())
    assert routes["/api/user/profile"].file == "user_profile/profile.py"
    assert routes["/"].file == "index.py"
    assert routes["/api/fast"].handlers["*"] == "api"
    assert app.table.warnings == ()
    # functionsRoot "." is the config file's own folder.
    assert app.table.root == os.path.dirname(app.functions_config)
