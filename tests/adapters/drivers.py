"""Helpers for the adapter tests: fixture app sources, and ASGI and WSGI driven by hand."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

FRAMEWORK_SOURCES = Path(__file__).parent.parent / "fixtures" / "frameworks"


def framework_source(name: str) -> str:
    """The source of a fixture app: ``flask``, ``fastapi``, ``starlette``, ``quart``,
    ``django_wsgi`` or ``django_asgi``."""
    file = FRAMEWORK_SOURCES / (name + ".py" if name.startswith("django") else name + "_app.py")
    return file.read_text()


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Run ``app``'s lifespan as a server does: yields the startup reply; shuts down on exit
    when the startup completed."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, replies.put))
    await inbox.put({"type": "lifespan.startup"})
    reply = await replies.get()
    try:
        yield reply
    finally:
        if reply["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})
            assert (await replies.get())["type"] == "lifespan.shutdown.complete"
        await task


def http_scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None):
    """An ASGI HTTP scope, as a server builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def wsgi_environ(path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    """A PEP 3333 environ, as a WSGI server builds it."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(extra)
    return environ
