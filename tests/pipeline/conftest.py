"""Fixtures for the pipeline tests: a static assets folder beside the functions tree, a
real server kept up for a whole module, and a port nobody listens on."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import pytest


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``{relative path: content}`` under ``root``, byte for byte (no dedenting)."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def public(tmp_path: Path) -> Callable[[Mapping[str, str | bytes]], Path]:
    """``public(files)`` writes a static assets folder (``tmp_path / "public"``) and
    returns it, to pass as ``Pages(..., public=...)``."""

    def make(files: Mapping[str, str | bytes]) -> Path:
        root = tmp_path / "public"
        root.mkdir(exist_ok=True)
        return write_files(root, files)

    return make


@pytest.fixture
def dead_url() -> str:
    """The URL of a loopback port nothing listens on (bound, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def long_lived_server(
    uvicorn_server: Callable[[Any], AbstractContextManager[str]],
) -> Iterator[Callable[[Any], str]]:
    """``long_lived_server(app)`` serves ``app`` with a real uvicorn on a loopback port until
    the module's tests are done, and returns its base URL.

    The suite's ``uvicorn_server`` for a module-scoped fixture: a uvicorn takes a tenth of
    a second to stop, which adds up when every test starts its own.
    """
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(uvicorn_server(app))
