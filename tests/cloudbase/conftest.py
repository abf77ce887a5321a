"""Fixtures for the ``cloudbase-functions.json`` tests: the seed document's example as a
project (``project/``), clients for it on each face, and throwaway projects in ``tmp_path``.

Every app is built through the suite's ``pages`` fixture (by ``serve``), so it is closed
and its route modules unloaded after the test, and a leaked ``_pagesfn_routes_*`` module
fails the test."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from servers import write_tree

from pagesfn import Pages

PROJECT = Path(__file__).parent / "project"
CONFIG = PROJECT / "cloudbase-functions.json"


@pytest.fixture
def cloudbase(serve: Callable[..., Any]) -> Callable[..., Any]:
    """``cloudbase(config=CONFIG, **options)``: a client for the current face (ASGI or WSGI)
    of ``Pages(functions_config=config, **options)``."""

    def make(config: str | Path = CONFIG, **options: Any) -> Any:
        # The positional folder is ignored when a config routes the app.
        return serve(Path(config).parent, functions_config=config, **options)

    return make


@pytest.fixture
def client(cloudbase: Callable[..., Any]) -> Any:
    """A client of the example project on the current face."""
    return cloudbase(env={"GREETING": "hello"})


@pytest.fixture
def cloudbase_app(pages: Callable[..., Pages]) -> Callable[..., Pages]:
    """``cloudbase_app(config=CONFIG, **options)``: the app itself (for a real server)."""

    def make(config: str | Path = CONFIG, **options: Any) -> Pages:
        return pages(Path(config).parent, functions_config=config, **options)

    return make


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """``project(config, files)`` writes a project in ``tmp_path``: ``config`` (a dict, or
    text written as is) as ``cloudbase-functions.json`` beside ``files`` (``{relative
    path: source}``, dedented); returns the config file's path."""
    count = 0

    def make(config: Mapping[str, Any] | str, files: Mapping[str, str] | None = None) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"project{count}"
        root.mkdir()
        write_tree(root, files or {})
        file = root / "cloudbase-functions.json"
        file.write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
        return file

    return make
