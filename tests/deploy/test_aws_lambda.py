"""The AWS Lambda handler: events as API Gateway (HTTP API 2.0, REST), Application Load
Balancers and function URLs send them, through Mangum, to a tree of handlers and mounted
Flask and FastAPI apps."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import importlib.util
import json
import logging
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

import pagesfn.serving.server
from pagesfn import Pages
from pagesfn.adapters import LambdaError, LambdaHandler, lambda_handler

EVENTS = Path(__file__).parent / "events"

#: The start of a PNG file, a zero byte and bytes that are not UTF-8 among them.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(range(256))

TREE = {
    "_middleware.py": """
        async def on_request(context):
            response = await context.next()
            response.headers["X-Powered-By"] = "pagesfn"
            return response
        """,
    "index.py": """
        def on_request_get(context):
            return "home"
        """,
    "users/[user_id].py": """
        async def on_request_get(context):
            request = context.request
            return {
                "user_id": context.params["user_id"],
                "path": request.path,
                "url": request.url,
                "root_path": request.root_path,
                "fields": request.args.getlist("fields"),
                "client_ip": context.client_ip,
            }
        """,
    "search.py": """
        async def on_request(context):
            request = context.request
            payload = await request.json() if request.method == "POST" else None
            return {
                "method": request.method,
                "q": request.args.get("q"),
                "tags": request.args.getlist("tag"),
                "json": payload,
            }
        """,
    "image.py": f"""
        from pagesfn import Response

        PNG = {PNG!r}


        def on_request_get(context):
            return Response(PNG, content_type="image/png")
        """,
    "echo.py": """
        import hashlib

        from pagesfn import Response


        def on_request_post(context):  # a def handler: the body is read from a thread
            body = context.request.get_data()
            return Response(
                body,
                content_type=context.request.content_type,
                headers={"X-Body-SHA256": hashlib.sha256(body).hexdigest()},
            )
        """,
    "cookies.py": """
        from pagesfn import Response


        def on_request_get(context):
            response = Response.json({"seen": dict(context.request.cookies)})
            response.set_cookie("session", "new-session-id", httponly=True, secure=True)
            response.set_cookie("theme", "light", path="/")
            return response
        """,
    "visits.py": """
        async def on_request_post(context):
            visits = context.env["VISITS"]
            count = int(await visits.get("count") or 0) + 1
            await visits.put("count", str(count))
            return {"visits": count}
        """,
    "later.py": """
        import asyncio
        from pathlib import Path


        async def write_later(path, seconds):
            await asyncio.sleep(seconds)
            Path(path).write_text("async done")


        def write_now(path):
            Path(path).write_text("sync done")


        def on_request_post(context):
            folder = Path(context.request.args["folder"])
            seconds = float(context.request.args.get("seconds", "0.2"))
            context.wait_until(write_later(folder / "async.txt", seconds))
            context.wait_until(lambda: write_now(folder / "sync.txt"))
            return "accepted", 202
        """,
    "flask/[[default]].py": """
        from flask import Flask, request, url_for

        app = Flask(__name__)


        @app.get("/")
        def index():
            return {"route": "index", "self": url_for("index")}


        @app.get("/hello")
        def hello():
            return {
                "path": request.path,
                "script_root": request.script_root,
                "self": url_for("hello"),
                "name": request.args.get("name"),
                "cookies": dict(request.cookies),
            }
        """,
    "api/[[default]].py": """
        import contextlib
        from pathlib import Path

        from fastapi import FastAPI, Request

        LOG = Path(__file__).parents[2] / "lifespan.log"


        @contextlib.asynccontextmanager
        async def lifespan(app):
            with LOG.open("a") as log:
                log.write("startup\\n")
            yield {"greeting": "hello from the lifespan"}
            with LOG.open("a") as log:
                log.write("shutdown\\n")


        app = FastAPI(lifespan=lifespan)


        @app.get("/items/{item_id}", name="item")
        async def item(item_id: int, request: Request):
            return {
                "item_id": item_id,
                "root_path": request.scope["root_path"],
                "self": str(request.url_for("item", item_id=item_id)),
                "greeting": request.state.greeting,
            }
        """,
}


class FakeContext:
    """What Lambda passes as ``context`` (``awslambdaric``'s ``LambdaContext``)."""

    function_name = "pagesfn-site"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:pagesfn-site"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/pagesfn-site"
    log_stream_name = "2024/05/01/[$LATEST]4fd2b5e8c0a44c3e9b1f0d5b8c1a2e3f"
    identity = None
    client_context = None

    def __init__(self, timeout: float = 30.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def event(
    name: str,
    method: str | None = None,
    path: str | None = None,
    *,
    query: Sequence[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
) -> dict[str, Any]:
    """The sample ``events/<name>.json``, changed to ``method path?query`` with ``headers``
    and ``body`` in every field that carries them, as that event source fills them in:
    bytes are sent base64-encoded, with ``isBase64Encoded``. A new path comes without the
    sample's query string unless ``query`` is given, a new method without its body unless
    ``body`` is."""
    sample: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    context = sample["requestContext"]
    if path is not None and query is None:
        query = []
    if method is not None and body is None:
        _drop_body(sample)
    if sample.get("version") == "2.0":
        _http_api(sample, context, method, path, query, headers)
    elif "elb" in context:
        _alb(sample, method, path, query, headers)
    else:
        _rest_api(sample, context, method, path, query, headers)
    if body is not None:
        binary = isinstance(body, bytes)
        data = body if isinstance(body, bytes) else body.encode()
        sample["body"] = base64.b64encode(data).decode() if binary else body
        sample["isBase64Encoded"] = binary
        _set_header(sample, "content-length", str(len(data)))
    return sample


def _http_api(
    sample: dict[str, Any],
    context: dict[str, Any],
    method: str | None,
    path: str | None,
    query: Sequence[tuple[str, str]] | None,
    headers: Mapping[str, str] | None,
) -> None:
    if method is not None:
        context["http"]["method"] = method
    if path is not None:
        # An HTTP API stage other than $default is the first segment of the path.
        stage = context["stage"]
        full = path if stage == "$default" else f"/{stage}{path}"
        sample["rawPath"] = context["http"]["path"] = full
        if "pathParameters" in sample:
            sample["pathParameters"]["proxy"] = path.lstrip("/")
    if query is not None:
        sample["rawQueryString"] = urlencode(query)
        joined: dict[str, list[str]] = {}
        for key, value in query:
            joined.setdefault(key, []).append(value)
        sample["queryStringParameters"] = {k: ",".join(v) for k, v in joined.items()}
        if not query:
            del sample["queryStringParameters"]
    for key, value in (headers or {}).items():
        sample["headers"][key.lower()] = value


def _rest_api(
    sample: dict[str, Any],
    context: dict[str, Any],
    method: str | None,
    path: str | None,
    query: Sequence[tuple[str, str]] | None,
    headers: Mapping[str, str] | None,
) -> None:
    if method is not None:
        sample["httpMethod"] = context["httpMethod"] = method
    if path is not None:
        # REST APIs leave the stage out of ``path``; ``requestContext.path`` has it.
        sample["path"] = path
        context["path"] = f"/{context['stage']}{path}"
        sample["pathParameters"] = {"proxy": path.lstrip("/")}
    if query is not None:
        multi: dict[str, list[str]] = {}
        for key, value in query:
            multi.setdefault(key, []).append(value)
        sample["multiValueQueryStringParameters"] = multi or None
        sample["queryStringParameters"] = {k: v[-1] for k, v in multi.items()} or None
    for key, value in (headers or {}).items():
        sample["headers"][key] = value
        sample["multiValueHeaders"][key] = [value]


def _alb(
    sample: dict[str, Any],
    method: str | None,
    path: str | None,
    query: Sequence[tuple[str, str]] | None,
    headers: Mapping[str, str] | None,
) -> None:
    multi_value = "multiValueHeaders" in sample
    if method is not None:
        sample["httpMethod"] = method
    if path is not None:
        sample["path"] = path
    if query is not None:
        # A load balancer passes query parameters on as the client encoded them.
        encoded = [(quote(k), quote(v)) for k, v in query]
        if multi_value:
            multi: dict[str, list[str]] = {}
            for key, value in encoded:
                multi.setdefault(key, []).append(value)
            sample["multiValueQueryStringParameters"] = multi
        else:
            sample["queryStringParameters"] = dict(encoded)
    for key, value in (headers or {}).items():
        if multi_value:
            sample["multiValueHeaders"][key.lower()] = [value]
        else:
            sample["headers"][key.lower()] = value


def _drop_body(sample: dict[str, Any]) -> None:
    # As each source sends a request without a body: no field, null, or "".
    if sample.get("version") == "2.0":
        sample.pop("body", None)
    else:
        sample["body"] = "" if "elb" in sample["requestContext"] else None
    sample["isBase64Encoded"] = False
    for field in ("headers", "multiValueHeaders"):
        table = sample.get(field) or {}
        for key in [k for k in table if k.lower() in ("content-type", "content-length")]:
            del table[key]


def _set_header(sample: dict[str, Any], name: str, value: str) -> None:
    for field in ("headers", "multiValueHeaders"):
        table = sample.get(field)
        if table is None:
            continue
        key = next((k for k in table if k.lower() == name), name)
        table[key] = [value] if field == "multiValueHeaders" else value


@dataclass
class Reply:
    """What the handler returned, read back as API Gateway or the load balancer would."""

    raw: dict[str, Any]
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def read(sample: dict[str, Any], response: dict[str, Any]) -> Reply:
    headers: dict[str, list[str]] = {}
    if "multiValueHeaders" in response:
        for name, values in response["multiValueHeaders"].items():
            headers.setdefault(name.lower(), []).extend(values)
    for name, value in (response.get("headers") or {}).items():
        # An ALB without multi-value headers gets repeated names in varied casing.
        headers.setdefault(name.lower(), []).append(value)
    if sample.get("version") == "2.0" and response.get("cookies"):
        headers["set-cookie"] = list(response["cookies"])
    body = response.get("body") or ""
    data = base64.b64decode(body) if response["isBase64Encoded"] else body.encode()
    return Reply(response, response["statusCode"], headers, data)


@pytest.fixture
def project(tree: Callable[[Mapping[str, str]], Path]) -> Path:
    """A project folder: the functions tree and a pagesfn.toml binding a KV namespace."""
    root = tree(TREE).parent
    # On Lambda only /tmp is writable: a SQLite binding lives there, one per environment.
    kv = root / "tmp" / "visits.sqlite3"
    (root / "pagesfn.toml").write_text(f'[kv]\nVISITS = {{ path = "{kv.as_posix()}" }}\n')
    return root


@pytest.fixture
def handlers() -> Iterator[Callable[..., LambdaHandler]]:
    """``handlers(*args, **kwargs)`` is ``lambda_handler(...)``, closed after the test
    with the route modules it imported."""
    made: list[LambdaHandler] = []

    def make(*args: Any, **kwargs: Any) -> LambdaHandler:
        handler = lambda_handler(*args, **kwargs)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close()
        if handler.pages is not None:
            handler.pages.loader.unload()


@pytest.fixture
def handler(project: Path, handlers: Callable[..., LambdaHandler]) -> LambdaHandler:
    return handlers(project)


def invoke(handler: LambdaHandler, sample: dict[str, Any], **context: Any) -> Reply:
    # Lambda hands the handler its own copy of the event.
    return read(sample, handler(copy.deepcopy(sample), FakeContext(**context)))


SOURCES = ["http_api_v2", "function_url", "rest_api_v1", "alb", "alb_multi_value"]

#: The client address each sample carries, where Mangum finds it.
CLIENTS = {
    "http_api_v2": "205.255.255.176",
    "function_url": "198.51.100.23",
    "rest_api_v1": "192.0.2.1",
    "alb": "72.12.164.125",
    "alb_multi_value": "72.12.164.125",
}


#: Where each sample says the request went (the load balancer listens on port 80).
ORIGINS = {
    "http_api_v2": "https://r3pmxmplak.execute-api.us-east-2.amazonaws.com",
    "function_url": "https://a1b2c3d4e5f6g7h8i9j0kl1mn2op3qr4.lambda-url.us-east-1.on.aws",
    "rest_api_v1": "https://gy415nuibc.execute-api.us-east-1.amazonaws.com",
    "alb": "http://lambda-alb-123578498.us-east-2.elb.amazonaws.com",
    "alb_multi_value": "http://lambda-alb-123578498.us-east-2.elb.amazonaws.com",
}


# -- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_a_param_route_answers_every_event_source(handler: LambdaHandler, source: str) -> None:
    sample = event(source, "GET", "/users/ada", query=[("fields", "id"), ("fields", "name")])
    reply = invoke(handler, sample)
    assert reply.status == 200
    assert reply.header("content-type") == "application/json"
    assert reply.raw["isBase64Encoded"] is False
    body = reply.json()
    assert body["user_id"] == "ada"
    assert body["path"] == "/users/ada"
    assert body["root_path"] == ""
    # Without multi-value parameters, a load balancer passes a repeated name once: the last.
    fields = ["name"] if source == "alb" else ["id", "name"]
    assert body["fields"] == fields
    assert body["client_ip"] == CLIENTS[source]
    query = "&".join(f"fields={field}" for field in fields)
    assert body["url"] == f"{ORIGINS[source]}/users/ada?{query}"
    # The root middleware wraps every route.
    assert reply.header("x-powered-by") == "pagesfn"


def test_the_http_api_sample_as_sent_reads_its_query_string_and_json_body(
    handler: LambdaHandler,
) -> None:
    reply = invoke(handler, event("http_api_v2"))
    assert reply.status == 200
    assert reply.json() == {
        "method": "POST",
        "q": "lambda",
        "tags": ["aws", "python"],
        "json": {"limit": 10, "filters": {"runtime": "python"}},
    }


@pytest.mark.parametrize("source", ["rest_api_v1", "alb", "alb_multi_value"])
def test_query_strings_and_json_bodies_of_the_other_sources(
    handler: LambdaHandler, source: str
) -> None:
    sample = event(
        source,
        "POST",
        "/search",
        query=[("q", "lambda functions"), ("tag", "aws"), ("tag", "python")],
        headers={"Content-Type": "application/json"},
        body=json.dumps({"limit": 10}),
    )
    body = invoke(handler, sample).json()
    assert body["q"] == "lambda functions"  # a load balancer's encoded value, decoded
    assert body["tags"] == (["python"] if source == "alb" else ["aws", "python"])
    assert body["json"] == {"limit": 10}


@pytest.mark.parametrize("source", ["http_api_v2", "alb_multi_value"])
def test_an_unknown_path_is_a_404(handler: LambdaHandler, source: str) -> None:
    reply = invoke(handler, event(source, "GET", "/no/such/page"))
    assert reply.status == 404
    assert reply.header("x-powered-by") == "pagesfn"  # middleware runs for it too


def test_an_encoded_slash_is_a_slash(handler: LambdaHandler) -> None:
    # Mangum decodes the path and passes no raw_path: `a%2Fb` cannot be told from `a/b`
    # (a limitation docs/deployment.md states), while other escapes decode as usual.
    sample = event("http_api_v2", "GET", "/users/a%2Fb")
    assert invoke(handler, sample).status == 404
    sample = event("http_api_v2", "GET", "/users/J%C3%BCrgen%20K")
    assert invoke(handler, sample).json()["user_id"] == "Jürgen K"


def test_the_root_route(handler: LambdaHandler) -> None:
    reply = invoke(handler, event("function_url", "GET", "/"))
    assert (reply.status, reply.body) == (200, b"home")
    assert reply.header("content-type") == "text/plain; charset=utf-8"


# -- binary bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_a_binary_response_is_base64_encoded(handler: LambdaHandler, source: str) -> None:
    reply = invoke(handler, event(source, "GET", "/image"))
    assert reply.status == 200
    assert reply.raw["isBase64Encoded"] is True
    assert reply.header("content-type") == "image/png"
    assert reply.body == PNG
    assert base64.b64decode(reply.raw["body"]) == PNG


@pytest.mark.parametrize("source", SOURCES)
def test_a_binary_request_body_arrives_decoded(handler: LambdaHandler, source: str) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    sample = event(source, "POST", "/echo", headers=headers, body=PNG)
    assert sample["isBase64Encoded"] is True
    reply = invoke(handler, sample)
    assert reply.status == 200
    assert reply.header("x-body-sha256") == hashlib.sha256(PNG).hexdigest()
    assert reply.raw["isBase64Encoded"] is True
    assert reply.body == PNG


def test_text_mime_types_choose_what_is_sent_as_text(
    project: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    handler = handlers(project, text_mime_types=["image/png"])
    reply = invoke(handler, event("http_api_v2", "GET", "/users/ada"))
    # JSON is no longer listed as text: base64, which API Gateway decodes for the client.
    assert reply.raw["isBase64Encoded"] is True
    assert reply.json()["user_id"] == "ada"
    image = invoke(handler, event("http_api_v2", "GET", "/image"))
    assert image.raw["isBase64Encoded"] is True  # a listed type, but not UTF-8: base64
    assert image.body == PNG


@pytest.mark.parametrize("source", SOURCES)
def test_excluded_headers_are_left_out(
    project: Path, handlers: Callable[..., LambdaHandler], source: str
) -> None:
    handler = handlers(project, exclude_headers=["X-Powered-By"])
    reply = invoke(handler, event(source, "GET", "/users/ada"))
    assert reply.status == 200
    assert reply.header("x-powered-by") is None
    assert reply.header("content-type") == "application/json"


# -- mounted apps ----------------------------------------------------------------------


def test_a_mounted_flask_app_sees_its_own_path(handler: LambdaHandler) -> None:
    reply = invoke(handler, event("function_url"))  # the sample: GET /flask/hello?name=lambda
    assert reply.status == 200
    assert reply.json() == {
        "path": "/hello",
        "script_root": "/flask",
        "self": "/flask/hello",
        "name": "lambda",
        "cookies": {"session": "8f14e45fceea167a", "theme": "dark"},
    }
    assert reply.header("x-powered-by") == "pagesfn"  # middleware in front of the mount


@pytest.mark.parametrize("source", ["rest_api_v1", "alb"])
def test_the_bare_prefix_reaches_the_flask_root(handler: LambdaHandler, source: str) -> None:
    reply = invoke(handler, event(source, "GET", "/flask"))
    assert reply.status == 200
    assert reply.json() == {"route": "index", "self": "/flask/"}


@pytest.mark.parametrize("source", ["http_api_v2", "alb_multi_value"])
def test_a_mounted_fastapi_app_gets_its_root_path_and_lifespan_state(
    handler: LambdaHandler, source: str
) -> None:
    reply = invoke(handler, event(source, "GET", "/api/items/3"))
    assert reply.status == 200
    body = reply.json()
    assert body["item_id"] == 3
    assert body["root_path"] == "/api"
    assert body["self"].endswith("/api/items/3")
    assert body["greeting"] == "hello from the lifespan"


def test_the_lifespan_starts_once_per_environment(
    project: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    log = project / "lifespan.log"
    handler = handlers(project)
    # Started at build time: Lambda's init phase, before the first event.
    assert log.read_text() == "startup\n"
    for number in range(3):
        reply = invoke(handler, event("http_api_v2", "GET", f"/api/items/{number}"))
        assert reply.json()["item_id"] == number
    assert log.read_text() == "startup\n"  # not once per invocation, as Mangum's own does
    handler.close()
    assert log.read_text() == "startup\nshutdown\n"


def test_lifespan_off_skips_the_startup(
    project: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    handler = handlers(project, lifespan="off")
    assert invoke(handler, event("http_api_v2", "GET", "/users/ada")).status == 200
    assert not (project / "lifespan.log").exists()


def test_a_failed_startup_fails_the_handler(
    tmp_path: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    functions = tmp_path / "broken" / "functions"
    (functions / "api").mkdir(parents=True)
    (functions / "api" / "[[default]].py").write_text(
        textwrap.dedent(
            """
            import contextlib

            from fastapi import FastAPI


            @contextlib.asynccontextmanager
            async def lifespan(app):
                raise RuntimeError("the database is unreachable")
                yield


            app = FastAPI(lifespan=lifespan)
            """
        )
    )
    before = set(sys.modules)
    with pytest.raises(LambdaError, match="lifespan startup") as info:
        handlers(tmp_path / "broken")
    assert info.value.code == "lambda"
    assert "api/[[default]].py" in str(info.value)
    for name in set(sys.modules) - before:
        if name.startswith("_pagesfn_routes_"):
            del sys.modules[name]


# -- cookies ---------------------------------------------------------------------------


def test_cookies_on_an_http_api(handler: LambdaHandler) -> None:
    reply = invoke(handler, event("http_api_v2", "GET", "/cookies"))
    assert reply.status == 200
    # Payload 2.0 sends request cookies in ``cookies`` and takes response ones from there.
    assert reply.json()["seen"] == {
        "s_fid": "7AABXMPL1AFD9BBF-0643XMPL09956DE2",
        "regStatus": "pre-register",
    }
    assert "set-cookie" not in {name.lower() for name in reply.raw["headers"]}
    assert reply.raw["cookies"] == [
        "session=new-session-id; Secure; HttpOnly; Path=/",
        "theme=light; Path=/",
    ]


@pytest.mark.parametrize("source", ["rest_api_v1", "alb_multi_value"])
def test_cookies_as_multi_value_headers(handler: LambdaHandler, source: str) -> None:
    reply = invoke(handler, event(source, "GET", "/cookies"))
    assert reply.json()["seen"] == {"session": "8f14e45fceea167a", "theme": "dark"}
    assert reply.raw["multiValueHeaders"]["set-cookie"] == [
        "session=new-session-id; Secure; HttpOnly; Path=/",
        "theme=light; Path=/",
    ]


def test_cookies_on_a_load_balancer_without_multi_value_headers(handler: LambdaHandler) -> None:
    reply = invoke(handler, event("alb", "GET", "/cookies"))
    # Single-value headers: Mangum spells a repeated name in different cases.
    cookies = {k: v for k, v in reply.raw["headers"].items() if k.lower() == "set-cookie"}
    assert len(cookies) == 2
    assert sorted(cookies.values()) == [
        "session=new-session-id; Secure; HttpOnly; Path=/",
        "theme=light; Path=/",
    ]


# -- a stage in the path ---------------------------------------------------------------


def test_an_http_api_stage_is_the_base_path(
    project: Path, handlers: Callable[..., LambdaHandler]
) -> None:
    sample = event("http_api_v2_stage")  # GET /default/users/ada on the stage "default"
    assert invoke(handlers(project), sample).status == 404

    handler = handlers(project, api_gateway_base_path="/default")
    body = invoke(handler, sample).json()
    assert body["user_id"] == "ada"
    assert body["root_path"] == "/default"
    assert body["url"] == "https://r3pmxmplak.execute-api.us-east-2.amazonaws.com/default/users/ada"
    # Mounted apps build their links under the stage too.
    flask = invoke(handler, event("http_api_v2_stage", "GET", "/flask/hello")).json()
    assert (flask["path"], flask["script_root"]) == ("/hello", "/default/flask")
    assert flask["self"] == "/default/flask/hello"
    api = invoke(handler, event("http_api_v2_stage", "GET", "/api/items/7")).json()
    assert api["root_path"] == "/default/api"
    assert api["self"].endswith("/default/api/items/7")
    # The prefix matches whole segments only.
    other = event("http_api_v2_stage")
    other["rawPath"] = other["requestContext"]["http"]["path"] = "/defaultx/users/ada"
    assert invoke(handler, other).status == 404


# -- once per environment --------------------------------------------------------------


def test_the_app_is_built_once(
    project: Path, handlers: Callable[..., LambdaHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    build_app = pagesfn.serving.server.build_app

    def counting(config: Any) -> Any:
        built.append(build_app(config))
        return built[-1]

    monkeypatch.setattr(pagesfn.serving.server, "build_app", counting)
    handler = handlers(project)
    for source in SOURCES:
        assert invoke(handler, event(source, "GET", "/users/ada")).status == 200
    assert len(built) == 1
    assert handler.app is built[0] and handler.pages is built[0]
    assert handler.pages.debug is False  # built as `pagesfn serve` builds it


def test_a_kv_binding_keeps_its_values_across_invocations(handler: LambdaHandler) -> None:
    counts = [
        invoke(handler, event(source, "POST", "/visits")).json()["visits"]
        for source in ("http_api_v2", "alb")
    ]
    assert counts == [1, 2]


def test_the_documented_lambda_function_module(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_file = project / "lambda_function.py"
    module_file.write_text(
        "from pagesfn.adapters import lambda_handler\n\nhandler = lambda_handler()\n"
    )
    monkeypatch.chdir(project)  # Lambda runs the function in its folder, /var/task
    spec = importlib.util.spec_from_file_location("lambda_function", module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: LambdaHandler = module.handler
    try:
        reply = invoke(handler, event("http_api_v2", "GET", "/users/grace"))
        assert reply.json()["user_id"] == "grace"
    finally:
        handler.close()
        assert handler.pages is not None
        handler.pages.loader.unload()


def test_an_app_built_already(
    project: Path, pages: Callable[..., Pages], handlers: Callable[..., LambdaHandler]
) -> None:
    app = pages(project / "functions", kv={"VISITS": project / "visits.sqlite3"})
    handler = handlers(app=app)
    assert handler.pages is app
    assert invoke(handler, event("alb", "GET", "/users/ada")).json()["user_id"] == "ada"
    handler.close()  # the app is the caller's: it stays open
    again = handlers(app=app)
    assert invoke(again, event("alb", "GET", "/users/ada")).json()["user_id"] == "ada"


def test_an_app_built_already_takes_no_settings(pages: Callable[..., Pages]) -> None:
    app = pages({"index.py": "def on_request(context):\n    return 'hi'\n"})
    with pytest.raises(TypeError, match="built already"):
        lambda_handler(app=app, debug=True)


# -- wait_until ------------------------------------------------------------------------


def test_wait_until_work_is_finished_before_the_response_returns(
    handler: LambdaHandler, tmp_path: Path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    sample = event("http_api_v2", "POST", "/later", query=[("folder", str(folder))])
    reply = invoke(handler, sample)
    assert reply.status == 202
    # Lambda freezes the environment once the handler returns: the work is done already.
    assert (folder / "async.txt").read_text() == "async done"
    assert (folder / "sync.txt").read_text() == "sync done"


def test_wait_until_work_stops_at_the_invocation_deadline(
    handler: LambdaHandler, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    query = [("folder", str(folder)), ("seconds", "1.5")]
    sample = event("http_api_v2", "POST", "/later", query=query)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pagesfn"):
        # 1.3 s left: the response goes back after 0.3 s, a second before the deadline.
        reply = invoke(handler, sample, timeout=1.3)
    assert reply.status == 202
    assert time.monotonic() - start < 1.0
    assert "wait_until work still running" in caplog.text
    assert not (folder / "async.txt").exists()
    handler.close()  # the lifespan shutdown finishes it
    assert (folder / "async.txt").read_text() == "async done"


# -- misuse ----------------------------------------------------------------------------


def test_without_mangum_the_error_says_what_to_install(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mangum", None)
    with pytest.raises(ImportError, match=r"pip install 'mangum>=0.17'"):
        lambda_handler(project)


def test_an_event_that_is_no_http_request_is_refused(handler: LambdaHandler) -> None:
    sample = json.loads((EVENTS / "websocket_connect.json").read_text())
    with pytest.raises(LambdaError, match=r"WebSocket APIs .* not served"):
        handler(sample, FakeContext())
    with pytest.raises(LambdaError, match="not an HTTP request"):
        handler({"Records": []}, FakeContext())  # an SQS batch, say


def test_lifespan_on_requires_the_support(handlers: Callable[..., LambdaHandler]) -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"unsupported scope type {scope['type']}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    handler = handlers(app=plain)  # "auto": goes on without it
    reply = invoke(handler, event("alb", "GET", "/"))
    assert (reply.status, reply.body) == (200, b"plain")
    assert handler.pages is None
    with pytest.raises(LambdaError, match="lifespan='on' requires it"):
        handlers(app=plain, lifespan="on")


def test_the_request_log(
    project: Path, handlers: Callable[..., LambdaHandler], capsys: pytest.CaptureFixture[str]
) -> None:
    handler = handlers(project, access_log=True, log_format="json")
    assert handler.pages is not None and handler.app is not handler.pages
    invoke(handler, event("http_api_v2", "GET", "/users/ada"))
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["method"], line["path"], line["status"]) == ("GET", "/users/ada", 200)


def test_the_handler_refuses_a_running_loop(handler: LambdaHandler) -> None:
    async def call() -> None:
        handler(event("http_api_v2", "GET", "/users/ada"), FakeContext())

    with pytest.raises(LambdaError, match="synchronous code"):
        asyncio.run(call())
    # The handler still serves afterwards.
    assert invoke(handler, event("http_api_v2", "GET", "/users/ada")).status == 200
