"""A project routed by a ``cloudbase-functions.json`` on AWS Lambda: ``lambda_handler``
builds the app as ``pagesfn serve`` does, so the file is found by itself, and API Gateway,
function URL and load balancer events reach ``main(event, context)`` functions, the default
function and a Flask app mounted under its route."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The Lambda tests' event samples and helpers.
import test_aws_lambda
from test_aws_lambda import PNG, SOURCES, event, invoke

from pagesfn.adapters import LambdaHandler
from pagesfn.routing.cloudbase import CONFIG_FILE, FunctionsConfigError

#: ``handlers(...)`` is ``lambda_handler(...)``, closed after the test (test_aws_lambda.py's).
handlers = test_aws_lambda.handlers

CONFIG = CONFIG_FILE

FUNCTIONS = {
    "functionsRoot": ".",
    "functions": [
        {"name": "default", "directory": "."},
        {"name": "user", "directory": "user", "triggerPath": "/api/user"},
        {"name": "shop", "directory": "shop"},
        {"name": "upload", "directory": "upload", "source": "handler.py", "target": "handle"},
        {"name": "nothing", "directory": "nothing", "triggerPath": "/nothing"},
    ],
    "routes": [
        {"functionName": "shop", "path": "/api/shop"},
        {"functionName": "upload", "path": "/upload"},
        {"functionName": "user", "path": "/v1/user"},
    ],
}

FILES = {
    "index.py": """
        def main(event, context):
            http = context.httpContext
            return {
                "function": "default",
                "url": http.url,
                "method": http.httpMethod,
                "event": event,
                "extended": context.extendedContext,
            }
        """,
    "user/index.py": """
        async def main(event, context):
            http = context.httpContext
            return {
                "function": context.function_name,
                "url": http.url,
                "method": http.httpMethod,
                "event": event,
                "host": http.headers.get("host"),
            }
        """,
    "shop/index.py": """
        from flask import Flask, request, url_for

        app = Flask(__name__)


        @app.get("/")
        def index():
            return {"route": "index", "self": url_for("index")}


        @app.get("/profile")
        def profile():
            return {
                "path": request.path,
                "script_root": request.script_root,
                "self": url_for("profile"),
                "name": request.args.get("name"),
            }


        main = app
        """,
    "upload/handler.py": """
        import hashlib


        def handle(event, context):
            return {"type": type(event).__name__, "sha256": hashlib.sha256(event).hexdigest()}
        """,
    "nothing/index.py": """
        def main(event, context):
            return None
        """,
}


def write_project(root: Path, config: dict[str, Any] = FUNCTIONS) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    (root / CONFIG).write_text(json.dumps(config, indent=2))
    return root


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A project folder with a ``cloudbase-functions.json`` and no ``functions`` folder."""
    return write_project(tmp_path / "site")


@pytest.fixture
def handler(site: Path, handlers: Callable[..., LambdaHandler]) -> LambdaHandler:
    return handlers(site)


def test_the_file_is_found_by_itself(handler: LambdaHandler, site: Path) -> None:
    assert handler.pages is not None
    assert handler.pages.functions_config == str(site / CONFIG)
    assert handler.pages.debug is False


@pytest.mark.parametrize("source", SOURCES)
def test_a_main_function_answers_every_event_source(handler: LambdaHandler, source: str) -> None:
    reply = invoke(handler, event(source, "GET", "/api/user/ada/profile", query=[("x", "1")]))
    assert reply.status == 200
    assert reply.header("content-type") == "application/json"
    body = reply.json()
    assert body["function"] == "user"
    assert body["url"] == "/api/user/ada/profile?x=1"
    assert (body["method"], body["event"]) == ("GET", {"x": "1"})
    assert body["host"]  # the event's headers reach httpContext.headers


def test_the_http_api_sample_as_sent_reaches_the_default_function(
    handler: LambdaHandler,
) -> None:
    reply = invoke(handler, event("http_api_v2"))  # POST /search with a JSON body
    assert reply.status == 200
    assert reply.json() == {
        "function": "default",
        "url": "/search?q=lambda&tag=aws&tag=python",
        "method": "POST",
        "event": {"limit": 10, "filters": {"runtime": "python"}},
        "extended": None,
    }


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("/", "default"),
        ("/api", "default"),
        ("/api/users", "default"),  # prefixes match whole segments
        ("/api/user", "user"),
        ("/api/user/", "user"),
        ("/v1/user/7", "user"),  # a second route to the same function
        ("/v1/users", "default"),
    ],
)
def test_routes_are_prefixes_on_whole_segments(
    handler: LambdaHandler, path: str, function: str
) -> None:
    reply = invoke(handler, event("http_api_v2", "GET", path))
    assert reply.status == 200
    assert reply.json()["function"] == function


def test_the_extended_context_header(
    site: Path, handler: LambdaHandler, handlers: Callable[..., LambdaHandler]
) -> None:
    context = {"uid": "u-1", "source": "cloudbase"}
    headers = {"X-Cloudbase-Context": json.dumps(context), "X-Other": json.dumps({"a": 1})}
    sample = event("alb_multi_value", "GET", "/", headers=headers)
    assert invoke(handler, sample).json()["extended"] == context
    other = handlers(site, extended_context_header="X-Other")
    assert invoke(other, sample).json()["extended"] == {"a": 1}


@pytest.mark.parametrize("source", ["function_url", "rest_api_v1", "alb"])
def test_a_mounted_flask_app_sees_its_own_path(handler: LambdaHandler, source: str) -> None:
    sample = event(source, "GET", "/api/shop/profile", query=[("name", "lambda")])
    reply = invoke(handler, sample)
    assert reply.status == 200
    assert reply.json() == {
        "path": "/profile",
        "script_root": "/api/shop",
        "self": "/api/shop/profile",
        "name": "lambda",
    }


@pytest.mark.parametrize("path", ["/api/shop", "/api/shop/"])
def test_the_bare_route_reaches_the_flask_root(handler: LambdaHandler, path: str) -> None:
    reply = invoke(handler, event("http_api_v2", "GET", path))
    assert reply.status == 200
    assert reply.json() == {"route": "index", "self": "/api/shop/"}


def test_a_missing_flask_page_is_flasks_404(handler: LambdaHandler) -> None:
    reply = invoke(handler, event("http_api_v2", "GET", "/api/shop/nope"))
    assert reply.status == 404
    assert b"Not Found" in reply.body


@pytest.mark.parametrize("source", ["http_api_v2", "rest_api_v1", "alb_multi_value"])
def test_a_binary_body_is_the_event_as_bytes(handler: LambdaHandler, source: str) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    sample = event(source, "POST", "/upload", headers=headers, body=PNG)
    reply = invoke(handler, sample)
    assert reply.status == 200
    assert reply.json() == {"type": "bytes", "sha256": hashlib.sha256(PNG).hexdigest()}


def test_none_is_an_empty_204(handler: LambdaHandler) -> None:
    reply = invoke(handler, event("function_url", "GET", "/nothing"))
    assert (reply.status, reply.body) == (204, b"")


def test_an_http_api_stage_is_the_base_path(
    site: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    handler = handlers(site, api_gateway_base_path="/default")
    user = invoke(handler, event("http_api_v2_stage", "GET", "/api/user/ada")).json()
    assert (user["function"], user["url"]) == ("user", "/default/api/user/ada")
    shop = invoke(handler, event("http_api_v2_stage", "GET", "/api/shop/profile")).json()
    assert (shop["path"], shop["script_root"]) == ("/profile", "/default/api/shop")
    assert shop["self"] == "/default/api/shop/profile"


def test_a_functions_folder_wins_unless_the_config_is_named(
    site: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    (site / "functions").mkdir()
    (site / "functions" / "hello.py").write_text("def on_request(context):\n    return 'tree'\n")
    tree = handlers(site)
    assert invoke(tree, event("http_api_v2", "GET", "/hello")).body == b"tree"
    assert invoke(tree, event("http_api_v2", "GET", "/api/user/ada")).status == 404
    named = handlers(site, functions_config=site / CONFIG)
    reply = invoke(named, event("http_api_v2", "GET", "/hello"))
    assert reply.json()["function"] == "default"
    assert invoke(named, event("http_api_v2", "GET", "/api/user/ada")).json()["function"] == "user"


def test_functions_config_in_pagesfn_toml(
    tmp_path: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    root = tmp_path / "site"
    write_project(root / "conf", {**FUNCTIONS, "functionsRoot": "."})
    (root / "pagesfn.toml").write_text(
        'functions-config = "conf/cloudbase-functions.json"\nextended-context-header = "X-Ctx"\n'
    )
    handler = handlers(root)
    sample = event("http_api_v2", "GET", "/", headers={"X-Ctx": '{"from": "toml"}'})
    assert invoke(handler, sample).json()["extended"] == {"from": "toml"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {**FUNCTIONS, "routes": [{"functionName": "default", "path": "/api/user"}]},
            "Route conflict: `/api/user` is claimed by the functions `user`",
        ),
        (
            {**FUNCTIONS, "routes": [{"functionName": "ghost", "path": "/ghost"}]},
            "Function ghost not found: `routes[0]` calls it, and `functions` does not define it",
        ),
    ],
    ids=["route conflict", "missing function"],
)
def test_a_config_that_cannot_be_served_fails_the_init_phase(
    tmp_path: Path, handlers: Callable[..., LambdaHandler], config: dict[str, Any], expected: str
) -> None:
    root = write_project(tmp_path / "site", config)
    with pytest.raises(FunctionsConfigError) as raised:
        handlers(root)
    assert expected in str(raised.value)
