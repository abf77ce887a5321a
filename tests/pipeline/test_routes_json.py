"""``_routes.json`` in the public folder: which paths invoke functions (middleware included)
and which go straight to the static assets; and the file generated from a route table."""

from __future__ import annotations

import json

import pytest

from pagesfn import RouteDefinitionError
from pagesfn.routing.rules import generate_routes_json

FUNCTIONS = {
    "_middleware.py": """
        def on_request(context):
            response = context.next()
            response.headers["X-Middleware"] = "ran"
            return response
    """,
    "api/[[path]].py": """
        def on_request(context):
            return {"function": context.params["path"], "method": context.request.method}
    """,
    "about.py": """
        def on_request(context):
            return "about from a function"
    """,
}
RULES = {"version": 1, "include": ["/api/*"], "exclude": ["/api/static/*"]}
FILES = {
    "_routes.json": json.dumps(RULES),
    "api/static/x": "static x",
    "api/static/404.html": "static 404",
    "about.html": "about from a file",
    "404.html": "root 404",
}


@pytest.fixture
def client(serve, public):
    return serve(FUNCTIONS, public=str(public(FILES)))


def test_an_included_path_invokes_functions_and_middleware(client):
    result = client.get("/api/x")
    assert result.status == 200
    assert result.json() == {"function": ["x"], "method": "GET"}
    assert result.header("x-middleware") == "ran"
    assert client.get("/api").json() == {"function": [], "method": "GET"}


def test_an_excluded_path_goes_straight_to_static_assets(client):
    result = client.get("/api/static/x")
    assert (result.status, result.text) == (200, "static x")
    assert result.header("x-middleware") is None


def test_an_excluded_missing_path_is_the_404_page_not_the_function(client):
    result = client.get("/api/static/missing")
    assert (result.status, result.text) == (404, "static 404")
    assert result.header("x-middleware") is None


def test_a_path_not_included_skips_its_function(client):
    result = client.get("/about")
    assert (result.status, result.text) == (200, "about from a file")
    assert result.header("x-middleware") is None


def test_a_post_to_an_excluded_file_is_405(client):
    result = client.request("POST", "/api/static/x", body=b"data")
    assert result.status == 405
    assert result.header("allow") == "GET, HEAD, OPTIONS"
    assert result.header("x-middleware") is None


def test_an_included_post_reaches_the_function(client):
    result = client.request("POST", "/api/static-ish", body=b"data")
    assert result.status == 200
    assert result.json() == {"function": ["static-ish"], "method": "POST"}


def test_the_rules_file_itself_is_not_served(client):
    result = client.get("/_routes.json")
    assert (result.status, result.text) == (404, "root 404")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({"version": 2, "include": ["/*"]}), "only version 1 exists"),
        (json.dumps({"version": 1}), "has no `include`"),
        (json.dumps({"version": 1, "include": ["api/*"]}), "does not start with `/`"),
        (json.dumps({"version": 1, "include": ["/*"], "extra": 1}), "unknown key `extra`"),
    ],
)
def test_an_invalid_rules_file_fails_at_startup_naming_it(pages, public, content, says):
    root = public({"_routes.json": content})
    with pytest.raises(RouteDefinitionError) as raised:
        pages(FUNCTIONS, public=str(root))
    message = str(raised.value)
    assert str(root / "_routes.json") in message
    assert says in message


# -- generation -------------------------------------------------------------------------------

GENERATED_TREE = {
    "index.py": "def on_request(context):\n    return 'home'\n",
    "about.py": "def on_request_get(context):\n    return 'about'\n",
    "users/me.py": "def on_request(context):\n    return 'me'\n",
    "users/[id].py": "def on_request(context):\n    return context.params['id']\n",
    "users/[id]/posts.py": "def on_request(context):\n    return 'posts'\n",
    "docs/[[path]].py": "def on_request(context):\n    return '/'.join(context.params['path'])\n",
    "admin/_middleware.py": "def on_request(context):\n    return context.next()\n",
    "admin/panel.py": "def on_request(context):\n    return 'panel'\n",
    "account/_middleware.py": "def on_request(context):\n    return context.next()\n",
    "flask/[[default]].py": "from flask import Flask\napp = Flask(__name__)\n",
    "shop/[category]/list.py": "def on_request(context):\n    return 'list'\n",
    "shop/cart.py": "def on_request(context):\n    return 'cart'\n",
}


def test_generated_rules_for_a_tree(pages):
    app = pages(GENERATED_TREE)
    assert generate_routes_json(app.table) == {
        "version": 1,
        "include": [
            "/",
            "/about",
            "/account/*",
            "/admin/*",
            "/docs/*",
            "/flask/*",
            "/shop/*",
            "/users/*",
        ],
        "exclude": [],
    }


def test_the_app_writes_the_same_rules(pages):
    app = pages(GENERATED_TREE)
    assert app.routes_json() == generate_routes_json(app.table)
    assert app.routes_json()["include"][0] == "/"


def test_root_middleware_generates_one_rule_for_everything(pages):
    app = pages({**GENERATED_TREE, "_middleware.py": "def on_request(context):\n    pass\n"})
    assert generate_routes_json(app.table) == {"version": 1, "include": ["/*"], "exclude": []}


def test_a_worker_generates_one_rule_for_everything(pages):
    worker = "from pagesfn import add_event_listener\n"
    app = pages({"_worker.py": worker})
    assert generate_routes_json(app.table) == {"version": 1, "include": ["/*"], "exclude": []}


def test_generated_rules_route_every_function_path(serve, pages, public):
    tree = {
        "about.py": "def on_request(context):\n    return 'fn about'\n",
        "users/[id].py": "def on_request(context):\n    return 'fn ' + context.params['id']\n",
    }
    generated = generate_routes_json(pages(tree).table)
    assert generated == {"version": 1, "include": ["/about", "/users/*"], "exclude": []}
    files = {"_routes.json": json.dumps(generated), "users.html": "file users", "x.txt": "file x"}
    client = serve(tree, public=str(public(files)))
    assert client.get("/about").text == "fn about"
    assert client.get("/users/7").text == "fn 7"
    # ``/users/*`` includes ``/users`` itself: no function answers it, so the file does.
    assert client.get("/users").text == "file users"
    assert client.get("/x.txt").text == "file x"


def test_a_tree_that_routes_nothing_cannot_generate_rules(pages):
    app = pages({"_helpers.py": "X = 1\n"})
    with pytest.raises(RouteDefinitionError, match="routes no path"):
        generate_routes_json(app.table)
