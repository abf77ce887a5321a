"""Fixtures for the streaming tests: real servers (uvicorn for the ASGI face, werkzeug's
threaded server for the WSGI face) on ephemeral loopback ports, and the probes route files
use to talk to the tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import pytest
from servers import werkzeug_serving

HERE = Path(__file__).parent
# Route modules import ``stream_probes`` (beside this file) by name.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import stream_probes  # noqa: E402


@pytest.fixture(autouse=True)
def probes() -> Iterator[Any]:
    stream_probes.reset()
    yield stream_probes
    # Let any generator still held open go, so no thread outlives the test by long.
    for name in ("release", "more"):
        stream_probes.fire(name)
    stream_probes.reset()


@pytest.fixture
def real_server(
    pages: Callable[..., Any], uvicorn_server: Callable[[Any], AbstractContextManager[str]]
) -> Iterator[Callable[..., str]]:
    """``real_server(kind, tree, **options)`` serves a tree on a real server and returns its
    base URL: ``"uvicorn"`` serves the ASGI face, ``"werkzeug"`` the WSGI face."""
    with ExitStack() as stack:

        def start(kind: str, tree: Any, **options: Any) -> str:
            app = pages(tree, **options)
            if kind == "uvicorn":
                return stack.enter_context(uvicorn_server(app))
            return stack.enter_context(werkzeug_serving(app.wsgi))

        yield start
        # Generators still held open go before the servers stop.
        for name in ("release", "more"):
            stream_probes.fire(name)
