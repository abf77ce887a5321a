"""What fails in the compatibility matrix because of the framework: the same failure with
the framework served alone, without pagesfn (test_matrix.FRAMEWORK_LIMITS names each one).

Chunked bodies are compared under gunicorn, the framework alone against the framework
mounted under pagesfn: the same status and body.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import drivers
import httpx
import pytest
import webtest
from drivers import FRAMEWORK_SOURCES, framework_source
from servers import app_module, gunicorn_serving
from test_matrix import ASGI_FRAMEWORKS, FRAMEWORK_LIMITS, path_of

from pagesfn.adapters.wsgi_to_asgi import PRELOAD_LIMIT

CHUNKED = sorted(framework for cell, framework in FRAMEWORK_LIMITS if cell == "large-chunked")
NON_ASCII = sorted(f for cell, f in FRAMEWORK_LIMITS if cell == "non-ascii-prefix")
NON_ASCII_ASGI = [framework for framework in NON_ASCII if framework in ASGI_FRAMEWORKS]
NON_ASCII_WSGI = [framework for framework in NON_ASCII if framework not in ASGI_FRAMEWORKS]


def module_of(framework: str) -> str:
    """The import name of ``framework``'s fixture app, with the name of its app."""
    django = framework.startswith("django")
    module = framework.replace("-", "_") + ("" if django else "_app")
    return f"{module}:{'application' if framework == 'django-wsgi' else 'app'}"


def chunks(size: int) -> Iterator[bytes]:
    yield b"first,"
    yield b"s" * (size - 11)
    yield b"third"


def post_chunked(url: str, size: int) -> tuple[int, bytes]:
    served = httpx.post(url, content=chunks(size), timeout=10)
    assert served.request.headers["transfer-encoding"] == "chunked"
    return served.status_code, served.content


@pytest.mark.parametrize("framework", CHUNKED)
def test_a_chunked_body_fails_the_same_with_the_framework_alone(
    framework: str, tmp_path: Path
) -> None:
    # gunicorn de-chunks the body and says so with wsgi.input_terminated (PEP 3333 has no
    # word for it); these frameworks read CONTENT_LENGTH bytes, or de-chunk it again.
    small, large = 7_011, PRELOAD_LIMIT + 50_000
    with gunicorn_serving(FRAMEWORK_SOURCES, module_of(framework)) as url:
        alone = post_chunked(url + "/raw", small)
    functions = tmp_path / "functions"
    (functions / "fw").mkdir(parents=True)
    (functions / "fw" / "[[default]].py").write_text(framework_source(framework.replace("-", "_")))
    target = app_module(tmp_path, functions, {}) + ":app"
    with gunicorn_serving(tmp_path, target) as url:
        # Mounted, a body within the preload limit reaches the app with its length...
        status, answer = post_chunked(url + "/fw/raw", small)
        assert (status, json.loads(answer)["size"]) == (200, small)
        # ... and a longer one fails as the framework alone fails.
        mounted = post_chunked(url + "/fw/raw", large)
    # The same failure: an error status (its page names the URL), or the body read empty.
    assert alone[0] == mounted[0]
    if alone[0] == 200:
        assert json.loads(alone[1])["size"] == json.loads(mounted[1])["size"] == 0


def load(framework: str):
    """The app of ``framework``'s fixture, imported on its own."""
    module, name = module_of(framework).split(":")
    spec = importlib.util.spec_from_file_location(module, FRAMEWORK_SOURCES / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    # Some frameworks look their app's module up by name (Litestar, Pyramid).
    sys.modules[module] = loaded
    spec.loader.exec_module(loaded)
    return getattr(loaded, name)


@pytest.mark.parametrize("framework", NON_ASCII_WSGI)
def test_a_non_ascii_script_name_fails_the_same_with_the_framework_alone(framework: str):
    # What a WSGI server passes for an app mounted at /café: SCRIPT_NAME's UTF-8 bytes, as
    # PEP 3333's latin-1 text.
    client = webtest.TestApp(
        load(framework), extra_environ={"SCRIPT_NAME": "/café".encode().decode("latin-1")}
    )
    index = client.get("/", expect_errors=True)
    # The prefix comes back as its UTF-8 bytes read as latin-1 in the URLs the root route
    # builds; or the root route redirects to the very URL asked for, a loop.
    mojibake = "/café".encode().decode("latin-1")
    if index.status_int == 200:
        assert path_of(index.json["self"]) == mojibake + "/"
    else:
        assert index.status_int in (301, 302, 303, 307, 308)
        location = index.headers["Location"].encode("latin-1").decode("utf-8")
        assert path_of(location) == "/café/"


@pytest.mark.parametrize("framework", NON_ASCII_ASGI)
def test_a_non_ascii_root_path_fails_the_same_with_the_framework_alone(framework: str):
    # What the ASGI spec has for an app mounted at a prefix: ``path`` includes
    # ``root_path``, both decoded, and ``raw_path`` is the request's path as sent.
    app = load(framework)

    async def statuses() -> dict[str, int]:
        async with drivers.lifespan(app):
            found = {}
            for prefix in ("/cafe", "/café"):

                async def mounted(scope, receive, send, prefix=prefix):
                    if scope["type"] == "http":
                        scope = {**scope, "root_path": prefix}
                    await app(scope, receive, send)

                transport = httpx.ASGITransport(mounted)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    found[prefix] = (await client.get(prefix + "/items/7")).status_code
            return found

    # Under an ASCII prefix it answers; under a non-ASCII one it does not find its route.
    assert asyncio.run(statuses()) == {"/cafe": 200, "/café": 404}


UPLOAD = sorted(framework for cell, framework in FRAMEWORK_LIMITS if cell == "upload")


@pytest.mark.parametrize("framework", UPLOAD)
def test_an_upload_leaves_a_file_open_with_the_framework_alone(framework: str):
    app = load(framework)
    content = bytes(range(256)) * 40

    async def upload() -> httpx.Response:
        async with drivers.lifespan(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                files = {"file": ("report.bin", content, "application/octet-stream")}
                return await client.post("/upload", data={"note": "n"}, files=files)

    # The upload itself works; a file the framework parsed is left for the collector.
    with pytest.warns(ResourceWarning, match="SpooledTemporaryFile"):
        assert asyncio.run(upload()).json()["size"] == len(content)
        gc.collect()
