"""pagesfn's pytest plugin: a project's tests run on both faces of its app.

Registered through the ``pytest11`` entry point, so installing pagesfn is enough. A project
gives its app in a ``pages`` fixture returning a :class:`~pagesfn.Pages`, or names its
folder in the ``pages_project`` ini option (the app is then built from the folder's
``pagesfn.toml`` as ``pagesfn serve`` builds it). Then:

- ``pages_client`` runs each test that takes it twice, with the ids ``asgi`` (httpx, the
  app's lifespan run around the test) and ``wsgi`` (WebTest), answering with one
  :class:`~pagesfn.testing.Response`;
- ``@pytest.mark.pages_face("asgi")`` keeps a test to one face;
- ``pages_ws("/path")`` opens a :class:`~pagesfn.testing.WebSocketSession` on the ASGI
  face (``with pages_ws("/chat") as ws: ws.send_text("hi")``).

This module imports only pytest when pytest starts; the clients load when a test asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import anyio.from_thread

    from ..app import Pages
    from .client import PagesClient
    from .websocket import WebSocketSession

FACES = ("asgi", "wsgi")
MARKER = "pages_face"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "pages_project",
        "the folder of the pagesfn project the `pages` fixture builds (relative to the "
        "configuration file): its pagesfn.toml, functions/ and public/",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f'{MARKER}(*faces): run the test on these faces of the app only ("asgi", "wsgi")',
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pages_client" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    faces = FACES if marker is None else marker.args
    unknown = [face for face in faces if face not in FACES]
    if unknown or not faces:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER} takes "
            f'"asgi", "wsgi" or both, not {", ".join(map(repr, unknown)) or "nothing"}'
        )
    metafunc.parametrize("pages_face", faces, indirect=True, ids=list(faces))


@pytest.fixture
def pages(request: pytest.FixtureRequest) -> Iterator[Pages]:
    """The app under test, built from the ``pages_project`` folder; a project may define
    its own ``pages`` fixture instead."""
    from ..app import Pages
    from ..serving.config import load_config

    project = request.config.getini("pages_project")
    if not project:
        raise pytest.UsageError(
            "pagesfn's fixtures test the app a `pages` fixture returns: define one "
            "(returning your Pages app), or set `pages_project` in the pytest configuration "
            "to the project's folder"
        )
    base = request.config.inipath.parent if request.config.inipath else request.config.rootpath
    config = load_config(Path(base, project))
    app = Pages(**config.pages_options())
    yield app
    app.close()


@pytest.fixture
def pages_face(request: pytest.FixtureRequest) -> str:
    """The face ``pages_client`` drives: ``"asgi"`` or ``"wsgi"``."""
    face: str = getattr(request, "param", "asgi")
    return face


@pytest.fixture
def pages_asgi_session(pages: Pages) -> Iterator[anyio.from_thread.BlockingPortal]:
    """The event loop the ASGI face runs on for one test, the app's lifespan running:
    shared by ``pages_client`` on that face and ``pages_ws``."""
    from .client import asgi_session

    with asgi_session(pages) as portal:
        yield portal


@pytest.fixture
def pages_client(
    request: pytest.FixtureRequest, pages: Pages, pages_face: str
) -> Iterator[PagesClient]:
    """A client for one face of the app; the test runs once per face."""
    from .client import ASGIClient, WSGIClient

    if pages_face == "wsgi":
        yield WSGIClient(pages)
        return
    portal = request.getfixturevalue("pages_asgi_session")
    client = ASGIClient(pages, portal)
    yield client
    client.close()


@pytest.fixture
def pages_ws(
    pages: Pages, pages_asgi_session: anyio.from_thread.BlockingPortal
) -> Callable[..., WebSocketSession]:
    """``pages_ws(path, headers=..., subprotocols=...)``: a WebSocket session with the app
    (on the ASGI face: WSGI carries no WebSockets), to use in a ``with`` block."""
    from .websocket import WebSocketSession

    def connect(path: str, **options: Any) -> WebSocketSession:
        return WebSocketSession(pages, pages_asgi_session, path, **options)

    return connect
