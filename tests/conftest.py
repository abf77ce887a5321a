"""Fixtures shared by the suite: trees on disk, and one client per face."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import pytest
from clients import ASGIClient, FaceClient, WSGIClient
from servers import uvicorn_serving, write_tree

from pagesfn import Pages

# pytester runs the pytest plugin (tests/testing/) on projects written for the test.
pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).parent / "fixtures"

Tree = str | Path | Mapping[str, str]

Client = FaceClient


def serving_with_uvicorn(app: Any) -> AbstractContextManager[str]:
    """Serve ``app`` with a real uvicorn (its default HTTP parser) on an ephemeral loopback
    port; yields its base URL."""
    return uvicorn_serving(app, "auto")


@pytest.fixture(scope="session")
def uvicorn_server() -> Callable[[Any], AbstractContextManager[str]]:
    """``with uvicorn_server(app) as url:`` serves ``app`` with a real uvicorn on loopback."""
    return serving_with_uvicorn


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
