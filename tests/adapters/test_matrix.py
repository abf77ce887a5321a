"""The compatibility matrix: every framework, mounted from a catch-all file, on both faces.

Each fixture app in tests/fixtures/frameworks answers the same endpoints (relative to its
mount): ``/``, ``/items/<id>``, ``/redirect``, ``/query``, ``/json``, ``/form``,
``/upload``, ``/raw``, ``/stream``, ``/cookies`` and ``/boom``; the ones with a lifespan also
``/state``. ``serve`` runs every test on the ASGI face (httpx, with lifespan) and on the
WSGI face (WebTest).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
from drivers import framework_source

from pagesfn.adapters.wsgi_to_asgi import PRELOAD_LIMIT

# Flask and Django's WSGI handler are WSGI apps; the others are ASGI apps.
FRAMEWORKS = [
    "flask",
    "fastapi",
    "starlette",
    "quart",
    "django-wsgi",
    "django-asgi",
    "falcon-wsgi",
    "falcon-asgi",
    "bottle",
    "pyramid",
    "cherrypy",
    "litestar",
    "blacksheep",
    "connexion",
    "lilya",
]
WITH_LIFESPAN = {
    "fastapi": "hello from the fastapi lifespan",
    "starlette": "hello from the starlette lifespan",
    "quart": "hello from quart's before_serving",
    "falcon-asgi": "hello from the falcon lifespan",
    "litestar": "hello from the litestar lifespan",
    "blacksheep": "hello from the blacksheep lifespan",
    "lilya": "hello from the lilya lifespan",
}
# Starlette's ServerErrorMiddleware (and Lilya's) sends a 500, then re-raises the exception.
RERAISE = {"fastapi", "starlette", "lilya"}
HEALTH = """
    def on_request_get(context):
        return "healthy"
"""


# The cells that fail because of the framework itself: each is shown failing the same way
# with the framework served alone, without pagesfn, by test_framework_alone.py.
FRAMEWORK_LIMITS = {
    # pagesfn hands a chunked body that ends within its preload limit over with its length;
    # a longer one streams, and these frameworks cannot read it.
    ("large-chunked", "django-wsgi"): "Django's WSGI handler ignores chunked bodies",
    ("large-chunked", "falcon-wsgi"): "Falcon's WSGI request ignores chunked bodies",
    ("large-chunked", "bottle"): "Bottle de-chunks a body the server has already de-chunked",
    ("non-ascii-prefix", "bottle"): "Bottle builds URLs from SCRIPT_NAME left in latin-1",
    ("non-ascii-prefix", "cherrypy"): "CherryPy builds URLs from SCRIPT_NAME left in latin-1",
    ("non-ascii-prefix", "blacksheep"): "BlackSheep finds no route under a non-ASCII root_path",
    ("upload", "connexion"): "Connexion's form validator leaves the files it parsed open",
}
# The ASGI apps among them (the others are WSGI apps).
ASGI_FRAMEWORKS = {
    "fastapi",
    "starlette",
    "quart",
    "django-asgi",
    "falcon-asgi",
    "litestar",
    "blacksheep",
    "connexion",
    "lilya",
}


def expect_framework_limit(request: pytest.FixtureRequest, cell: str, framework: str) -> None:
    """Mark the running test an expected failure when ``cell`` is a limit of ``framework``."""
    reason = FRAMEWORK_LIMITS.get((cell, framework))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def tree_for(framework: str, folder: str) -> dict[str, str]:
    """``framework`` mounted at ``folder`` ("" for the root), with a plain handler beside it."""
    base = f"{folder}/" if folder else ""
    return {
        f"{base}[[default]].py": framework_source(framework.replace("-", "_")),
        f"{base}health.py": HEALTH,
    }


@dataclass
class Mounted:
    client: object
    prefix: str  # decoded, as the app should report it
    framework: str

    @property
    def url_prefix(self) -> str:
        return quote(self.prefix)

    def get(self, path: str, **kwargs):
        return self.client.get(self.url_prefix + path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.request("POST", self.url_prefix + path, **kwargs)


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def mounted(serve, framework) -> Mounted:
    """The framework mounted at ``/<framework>``."""
    return Mounted(serve(tree_for(framework, framework)), "/" + framework, framework)


@pytest.fixture(params=["named", "root", "deep", "non-ascii"])
def mounted_anywhere(request, serve, framework) -> Mounted:
    """The framework mounted at ``/<framework>``, at ``/``, two folders down, and in a
    folder whose name is not ASCII."""
    folder = {
        "named": framework,
        "root": "",
        "deep": f"deep/{framework}",
        "non-ascii": f"café-{framework}",
    }[request.param]
    return Mounted(serve(tree_for(framework, folder)), f"/{folder}" if folder else "", framework)


def path_of(url: str) -> str:
    """The decoded path of ``url`` (frameworks differ on percent-encoding non-ASCII)."""
    return unquote(urlsplit(url).path)


def test_routes_under_the_prefix(mounted):
    result = mounted.get("/items/7?x=1")
    assert result.status == 200
    assert result.json()["id"] == "7"
    assert result.json()["url"] == f"http://testserver{mounted.prefix}/items/7?x=1"


def test_percent_encoded_path_reaches_the_app_decoded(mounted):
    result = mounted.get("/items/caf%C3%A9")
    assert result.status == 200
    assert result.json()["id"] == "café"
    assert path_of(result.json()["url"]) == f"{mounted.prefix}/items/café"


@pytest.mark.parametrize("slash", ["", "/"])
def test_the_bare_prefix_reaches_the_apps_root_route(mounted, slash):
    result = mounted.get(slash)
    assert result.status == 200  # not a 404, and not a redirect (which could loop)
    assert result.json()["route"] == "index"
    assert result.json()["root"] == mounted.prefix


def test_a_plain_handler_beside_the_mount_still_answers(mounted):
    assert mounted.get("/health").text == "healthy"
    assert mounted.get("/health/").text == "healthy"
    # ... and the app still gets everything else under its folder.
    assert mounted.get("/items/healthy").json()["id"] == "healthy"


@pytest.mark.parametrize("path", ["x", "x/", "x/items/7", "-more/items/7"])
def test_neighbours_sharing_the_prefix_text_do_not_reach_the_app(mounted, path):
    # The mount matches on segment boundaries: /flaskx is not under /flask.
    result = mounted.get(path)
    assert result.status == 404
    assert result.text == "Not Found"  # pagesfn's own 404, not the framework's


def test_url_building_includes_the_prefix(mounted_anywhere, request):
    if "é" in mounted_anywhere.prefix:
        expect_framework_limit(request, "non-ascii-prefix", mounted_anywhere.framework)
    index = mounted_anywhere.get("/").json()
    assert path_of(index["self"]) == f"{mounted_anywhere.prefix}/"
    assert index["root"] == mounted_anywhere.prefix
    item = mounted_anywhere.get("/items/7").json()
    assert path_of(item["link"]) == f"{mounted_anywhere.prefix}/items/abc"
    assert unquote(item["url"]) == f"http://testserver{mounted_anywhere.prefix}/items/7"


def test_redirects_stay_under_the_prefix(mounted_anywhere, request):
    if "é" in mounted_anywhere.prefix:
        expect_framework_limit(request, "non-ascii-prefix", mounted_anywhere.framework)
    result = mounted_anywhere.get("/redirect")
    assert result.status in (302, 303, 307)
    location = result.header("Location")
    assert location is not None
    if mounted_anywhere.client.face == "wsgi":
        # WSGI header values are bytes as latin-1 text; Quart sends a non-ASCII Location as
        # UTF-8 (the same bytes on both faces; httpx decodes them as UTF-8).
        location = location.encode("latin-1").decode("utf-8")
    assert path_of(location) == f"{mounted_anywhere.prefix}/"
    # Following it lands on the app's root route, not on a redirect again.
    followed = mounted_anywhere.client.get(quote(urlsplit(location).path, safe="/%"))
    assert followed.status == 200
    assert followed.json()["route"] == "index"


def test_query_strings(mounted):
    result = mounted.get("/query?a=1&b=x%20y&a=2")
    assert result.status == 200
    assert result.json() == {"a": ["1", "2"], "b": "x y"}


def test_json_body(mounted):
    payload = {"name": "Ada", "langs": ["fr", "日本語"], "n": 3}
    result = mounted.post(
        "/json", body=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    assert result.status == 200
    assert result.json() == {"json": payload}


def test_urlencoded_form(mounted):
    result = mounted.post("/form", data={"name": "Ada Lovelace", "lang": "fr & en"})
    assert result.status == 200
    assert result.json() == {"form": {"name": "Ada Lovelace", "lang": "fr & en"}}


def test_multipart_upload(mounted, request):
    expect_framework_limit(request, "upload", mounted.framework)
    content = bytes(range(256)) * 40
    result = mounted.post(
        "/upload",
        data={"note": "quarterly"},
        files={"file": ("report.bin", content, "application/octet-stream")},
    )
    assert result.status == 200
    assert result.json() == {
        "note": "quarterly",
        "name": "report.bin",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def test_a_body_larger_than_the_preload_buffer(mounted):
    body = bytes(range(251)) * 4200  # about 1 MB: streamed into the app, not preloaded
    result = mounted.post("/raw", body=body, headers={"Content-Type": "application/octet-stream"})
    assert result.status == 200
    assert result.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@pytest.mark.parametrize(
    ("size", "cell"), [(7_011, "chunked"), (PRELOAD_LIMIT + 50_000, "large-chunked")]
)
def test_chunked_request_body(mounted, request, size, cell):
    expect_framework_limit(request, cell, mounted.framework)
    chunks = [b"first,", b"s" * (size - 11), b"third"]
    body = b"".join(chunks)
    result = mounted.client.chunked(
        "POST",
        mounted.prefix + "/raw",
        chunks,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert result.status == 200
    assert result.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_streamed_response(mounted):
    result = mounted.get("/stream")
    assert result.status == 200
    assert result.header("Content-Type").startswith("text/plain")
    assert result.text == "".join(f"chunk {i}\n" for i in range(5))


def test_repeated_set_cookie_headers_are_kept(mounted):
    result = mounted.get("/cookies")
    assert result.status == 200
    cookies = result.header_all("Set-Cookie")
    assert len(cookies) == 2
    # Django's WSGI handler writes them with a leading space, which strict servers refuse:
    # the head check trims it, on both faces.
    assert cookies[0].startswith("a=1")
    assert cookies[1].startswith("b=2")


def asgi_status(app, path: str) -> int:
    """The status an ASGI server would send for ``GET path``, whatever the app raises."""

    async def go() -> int:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await client.get(path)).status_code

    return asyncio.run(go())


# Falcon's WSGI app writes the traceback of an error it caught to ``wsgi.errors``.
TO_WSGI_ERRORS = {"falcon-wsgi", "bottle"}
# Litestar logs the errors it answers through the logging setup it makes, left off here
# (as in a mixed tree, where it would change every app's logging).
UNLOGGED = {"litestar"}


def test_an_error_in_the_app_is_a_500_and_the_rest_keeps_working(mounted, caplog, capsys):
    caplog.set_level(logging.ERROR)
    reraises = mounted.framework in RERAISE
    if mounted.client.face == "asgi" and reraises:
        # Starlette sends its 500, then re-raises for the server to log; pagesfn passes the
        # exception on to the server the same way.
        with pytest.raises(RuntimeError, match="boom"):
            mounted.get("/boom")
        assert asgi_status(mounted.client.app, mounted.prefix + "/boom") == 500
    else:
        failed = mounted.get("/boom")
        assert failed.status == 500
    assert mounted.get("/items/1").json()["id"] == "1"
    assert mounted.get("/health").text == "healthy"
    if mounted.client.face == "wsgi" and reraises:
        # No server sees the exception on this face, so the bridge logs it, naming the file.
        logged = [r for r in caplog.records if r.name == "pagesfn" and r.exc_info]
        assert logged, "the re-raised exception was lost"
        assert f"{mounted.framework}/[[default]].py" in logged[0].getMessage()
        assert "boom" in str(logged[0].exc_info[1])
    elif mounted.framework in TO_WSGI_ERRORS:
        # ``wsgi.errors``: WebTest keeps it; through the bridge it is the standard error.
        assert "RuntimeError: boom" in (failed.errors or capsys.readouterr().err)
    elif not reraises and mounted.framework not in UNLOGGED:
        # The framework caught it and logged the traceback itself.
        assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize("framework", sorted(WITH_LIFESPAN))
def test_lifespan_state_reaches_requests(mounted):
    result = mounted.get("/state")
    assert result.status == 200
    assert result.json() == {"state": WITH_LIFESPAN[mounted.framework]}


@pytest.mark.parametrize("framework", ["fastapi"])
def test_fastapi_docs_load_the_schema_under_the_prefix(mounted_anywhere):
    docs = mounted_anywhere.get("/docs")
    assert docs.status == 200
    # The page tells the browser where to fetch the schema: under the prefix.
    assert f"url: '{mounted_anywhere.prefix}/openapi.json'" in docs.text
    schema = mounted_anywhere.get("/openapi.json")
    assert schema.status == 200
    assert "/items/{item_id}" in schema.json()["paths"]
