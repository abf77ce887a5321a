"""Real servers on loopback, one context manager per server a user may run pagesfn under.

``serving(kind, pages)`` serves the face of ``pages`` that ``kind`` speaks and yields its
base URL: ``uvicorn-h11``, ``uvicorn-httptools``, ``hypercorn`` and ``granian`` serve the
ASGI face; ``wsgiref``, ``werkzeug``, ``waitress`` and ``gunicorn`` the WSGI face. gunicorn,
waitress and Granian run in their own process (:data:`OUT_OF_PROCESS`: none has an
in-process API that stops cleanly), importing the app from the module :func:`app_module`
writes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from importlib.util import find_spec
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as wsgiref_make_server

import pytest
import uvicorn
from werkzeug.serving import make_server as werkzeug_make_server

ASGI_SERVERS = ("uvicorn-h11", "uvicorn-httptools", "hypercorn", "granian")
WSGI_SERVERS = ("wsgiref", "werkzeug", "waitress", "gunicorn")
SERVERS = ASGI_SERVERS + WSGI_SERVERS
#: The servers run as a process of their own, serving the app of an :func:`app_module`.
OUT_OF_PROCESS = ("gunicorn", "waitress", "granian")


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def uvicorn_serving(app: Any, http: Any = "h11", **options: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread (``http``: its ``--http`` choice, or a
    protocol class; ``options``: more of ``uvicorn.Config``'s). Requests still open when
    it stops are cancelled after a second, not waited for."""
    if http == "httptools" and find_spec("httptools") is None:
        pytest.skip("httptools is not installed: pip install httptools")
    sock = _free_socket()
    options = {"lifespan": "on", "log_level": "warning", "timeout_graceful_shutdown": 1, **options}
    config = uvicorn.Config(app, http=http, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield _url(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def hypercorn_serving(app: Any) -> Iterator[str]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()  # hypercorn binds by address
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.graceful_timeout = 1
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(serve(app, config, shutdown_trigger=stop.wait, mode="asgi"),),
        daemon=True,
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _wait_for(port)
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per connection so a test's slow request blocks no other."""

    daemon_threads = True


def wsgiref_serving(app: Any) -> AbstractContextManager[str]:
    """Serve the WSGI ``app`` with the standard library's wsgiref, a thread a connection."""
    server = wsgiref_make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    return _in_thread(server, server.server_port)


def werkzeug_serving(app: Any) -> AbstractContextManager[str]:
    """Serve the WSGI ``app`` with werkzeug's threaded server."""
    server = werkzeug_make_server("127.0.0.1", 0, app, threaded=True)
    return _in_thread(server, server.port)


@contextmanager
def _in_thread(server: Any, port: int) -> Iterator[str]:
    """Run a ``socketserver`` server in a thread until the block ends."""
    # A short poll: shutdown() waits for one.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def app_module(folder: Path, functions: Path, options: dict[str, Any]) -> str:
    """Write a module building ``Pages(functions, **options)`` (``asgi`` its ASGI face,
    ``app`` its WSGI face) in ``folder``; returns its import name."""
    module = folder / "served_pages_app.py"
    module.write_text(
        "from pagesfn import Pages\n"
        f"pages = Pages({str(functions)!r}, **{options!r})\n"
        "asgi = pages\n"
        "app = pages.wsgi\n"
    )
    return "served_pages_app"


def waitress_serving(folder: Path, target: str) -> AbstractContextManager[str]:
    """waitress serving ``target`` (``module:name``, a WSGI app importable from ``folder``)
    with four threads."""
    if find_spec("waitress") is None:
        pytest.skip("waitress is not installed: pip install waitress")
    command = ["-m", "waitress", "--threads=4", "--listen=127.0.0.1:{port}", target]
    return _process_serving(folder, command)


def gunicorn_serving(folder: Path, target: str) -> AbstractContextManager[str]:
    """gunicorn serving ``target`` (``module:name``, a WSGI app importable from ``folder``),
    one worker with four threads."""
    if find_spec("gunicorn") is None:
        pytest.skip("gunicorn is not installed: pip install gunicorn")
    command = ["-m", "gunicorn", "--workers", "1", "--threads", "4", "--graceful-timeout", "1"]
    command += ["--log-level", "warning", target, "--bind", "127.0.0.1:{port}"]
    return _process_serving(folder, command)


def granian_serving(folder: Path, target: str) -> AbstractContextManager[str]:
    """Granian serving ``target`` (``module:name``, an ASGI app importable from ``folder``)
    through its ASGI interface, one worker."""
    if find_spec("granian") is None:
        pytest.skip("granian is not installed: pip install granian")
    command = ["-m", "granian", "--interface", "asgi", "--workers", "1", "--log-level", "warning"]
    command += ["--host", "127.0.0.1", "--port", "{port}", target]
    return _process_serving(folder, command)


@contextmanager
def _process_serving(folder: Path, command: list[str]) -> Iterator[str]:
    """Run ``python`` with ``command`` (``{port}`` standing for a free port) in ``folder``,
    until the block ends."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    arguments = [argument.replace("{port}", str(port)) for argument in command]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), *sys.path])}
    process = subprocess.Popen([sys.executable, *arguments], cwd=folder, env=env)
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def serving(kind: str, pages: Any, folder: Path | None = None) -> AbstractContextManager[str]:
    """Serve ``pages`` (a :class:`~pagesfn.Pages`) with the server named ``kind``. For the
    servers :data:`OUT_OF_PROCESS`, ``pages`` is instead the name of an :func:`app_module`
    written in ``folder``."""
    if kind in OUT_OF_PROCESS:
        assert folder is not None and isinstance(pages, str)
        if kind == "granian":
            return granian_serving(folder, f"{pages}:asgi")
        return (gunicorn_serving if kind == "gunicorn" else waitress_serving)(
            folder, f"{pages}:app"
        )
    servers: dict[str, Callable[[Any], AbstractContextManager[str]]] = {
        "uvicorn-h11": lambda app: uvicorn_serving(app, "h11"),
        "uvicorn-httptools": lambda app: uvicorn_serving(app, "httptools"),
        "hypercorn": hypercorn_serving,
        "wsgiref": wsgiref_serving,
        "werkzeug": werkzeug_serving,
    }
    app = pages if kind in ASGI_SERVERS else pages.wsgi
    return servers[kind](app)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` (sources are dedented)."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return root


def serving_tree(kind: str, functions: Path, folder: Path) -> AbstractContextManager[str]:
    """Serve the functions tree at ``functions`` with the server ``kind``: in this process
    (the app closed and its route modules unloaded afterwards), or, for the servers
    :data:`OUT_OF_PROCESS`, from an :func:`app_module` written in ``folder``."""
    if kind in OUT_OF_PROCESS:
        return serving(kind, app_module(folder, functions, {}), folder)
    return _serving_pages(kind, functions)


@contextmanager
def _serving_pages(kind: str, functions: Path) -> Iterator[str]:
    from pagesfn import Pages

    app = Pages(functions)
    try:
        with serving(kind, app) as url:
            yield url
    finally:
        app.loader.unload()
        app.close()
