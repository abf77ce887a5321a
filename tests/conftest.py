"""Fixtures shared by the suite: trees on disk, and one client per face."""

from __future__ import annotations

import io
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import httpx
import pytest
import webtest
from clients import FaceClient, Result
from servers import uvicorn_serving

from pagesfn import Pages
from pagesfn.types import Message

FIXTURES = Path(__file__).parent / "fixtures"

Tree = str | Path | Mapping[str, str]


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[list[Message]]:
    """Drive ``app``'s lifespan: startup on enter, shutdown on exit; yields what it sent."""
    inbox: anyio.abc.ObjectSendStream[Message]
    inbox, outbox = anyio.create_memory_object_stream[Message](2)
    sent: list[Message] = []
    event = anyio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        event.set()

    async def run() -> None:
        await app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, outbox.receive, send
        )

    async with inbox, outbox, anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        await inbox.send({"type": "lifespan.startup"})
        while not sent:
            await event.wait()
        if sent[0]["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {sent[0]}")
        yield sent
        await inbox.send({"type": "lifespan.shutdown"})


class ASGIClient(FaceClient):
    """Drives ``pages`` (the ASGI app) through httpx, from sync test code."""

    face = "asgi"

    def __init__(self, app: Pages, stack: ExitStack) -> None:
        self.app = app
        self._portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        transport = httpx.ASGITransport(app, client=("203.0.113.7", 50000))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        stack.callback(self._portal.call, self._client.aclose)
        # Run the lifespan protocol around the requests, as ASGI servers do.
        self.lifespan = stack.enter_context(self._portal.wrap_async_context_manager(lifespan(app)))

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        async def send() -> httpx.Response:
            return await self._client.request(method, path, headers=headers, content=body)

        response = self._portal.call(send)
        return Result(response.status_code, list(response.headers.multi_items()), response.content)

    def _send_chunked(
        self, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> Result:
        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        async def send() -> httpx.Response:
            # httpx sends an async iterable without Content-Length, as chunked.
            return await self._client.request(method, path, headers=headers, content=body())

        response = self._portal.call(send)
        return Result(response.status_code, list(response.headers.multi_items()), response.content)


class WSGIClient(FaceClient):
    """Drives ``pages.wsgi`` through WebTest (with its WSGI lint checks on)."""

    face = "wsgi"

    def __init__(self, app: Pages, stack: ExitStack) -> None:
        self.app = app
        self._test = webtest.TestApp(app.wsgi, extra_environ={"REMOTE_ADDR": "203.0.113.7"})

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        # Real WSGI servers (gunicorn, uWSGI, werkzeug) pass the raw request target on.
        environ = {"REQUEST_URI": path, "HTTP_HOST": "testserver"}
        response = self._test.request(
            path, method=method, headers=headers, body=body, environ=environ, expect_errors=True
        )
        return Result(
            response.status_int, list(response.headerlist), response.body, response.errors
        )

    def _send_chunked(
        self, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> Result:
        request = webtest.TestRequest.blank(path, method=method, headers=headers)
        # What a server passes on for a chunked request: the de-chunked body, no
        # CONTENT_LENGTH, and ``wsgi.input_terminated`` to say the stream ends with the body.
        request.environ.pop("CONTENT_LENGTH", None)
        request.environ.update(
            {
                "wsgi.input": io.BytesIO(b"".join(chunks)),
                "wsgi.input_terminated": True,
                "HTTP_TRANSFER_ENCODING": "chunked",
                "REQUEST_URI": path,
                "HTTP_HOST": "testserver",
            }
        )
        response = self._test.do_request(request, expect_errors=True)
        return Result(response.status_int, list(response.headerlist), response.body)


Client = FaceClient


def serving_with_uvicorn(app: Any) -> AbstractContextManager[str]:
    """Serve ``app`` with a real uvicorn (its default HTTP parser) on an ephemeral loopback
    port; yields its base URL."""
    return uvicorn_serving(app, "auto")


@pytest.fixture(scope="session")
def uvicorn_server() -> Callable[[Any], AbstractContextManager[str]]:
    """``with uvicorn_server(app) as url:`` serves ``app`` with a real uvicorn on loopback."""
    return serving_with_uvicorn


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` (sources are dedented)."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    """Write a functions tree from a dict and return its folder."""

    def make(files: Mapping[str, str]) -> Path:
        return write_tree(tmp_path / "functions", files)

    return make


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[Callable[..., Pages]]:
    """Build ``Pages`` apps from a fixture name, a folder or a dict of files; every module
    they import is removed from ``sys.modules`` afterwards."""
    apps: list[Pages] = []

    def make(source: Tree, **options: Any) -> Pages:
        if isinstance(source, Mapping):
            root = write_tree(tmp_path / f"functions{len(apps)}", source)
        elif isinstance(source, str) and not Path(source).is_absolute():
            root = FIXTURES / source
        else:
            root = Path(source)
        app = Pages(root, **options)
        apps.append(app)
        return app

    before = set(sys.modules)
    yield make
    for app in apps:
        app.close()
        app.loader.unload()
    leaked = [name for name in set(sys.modules) - before if name.startswith("_pagesfn_routes_")]
    assert not leaked, f"route modules left in sys.modules: {leaked}"


@pytest.fixture(params=["asgi", "wsgi"])
def face(request: pytest.FixtureRequest) -> str:
    face_name: str = request.param
    return face_name


@pytest.fixture
def serve(face: str, pages: Callable[..., Pages]) -> Iterator[Callable[..., Client]]:
    """``serve(tree, **options)`` gives a client for the current face (ASGI or WSGI)."""
    with ExitStack() as stack:

        def make(source: Tree, **options: Any) -> Client:
            app = pages(source, **options)
            cls = ASGIClient if face == "asgi" else WSGIClient
            return cls(app, stack)

        yield make
