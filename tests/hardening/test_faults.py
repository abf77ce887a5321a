"""Fault isolation: a handler that raises, returns garbage, runs out of memory or calls
``sys.exit()``, a route module that cannot be imported and a mounted app whose start-up
fails each break their own route only, answer a bare 500 and are logged naming their file;
the routes beside them, and the next request to the same route, keep working. A mounted
app that cannot start stops the server from starting, naming its file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import webtest

from pagesfn import LoadError, Pages
from pagesfn.types import Message

# The real servers' helpers of the command's tests (the folder is not a package).
sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from servers import werkzeug_serving
from test_servers import exited, free_port, running, wait_for

SECRET = "s3cr3t-in-the-error"

#: Each route fails as its name says when asked with ``?fail=1``, and answers "fine" else.
HANDLERS = {
    "ok.py": "def on_request(context):\n    return 'ok'\n",
    "raises.py": f"""
        def on_request(context):
            if context.request.args.get("fail"):
                raise RuntimeError("{SECRET}")
            return "fine"
    """,
    "araises.py": f"""
        async def on_request(context):
            if context.request.args.get("fail"):
                raise LookupError("{SECRET}")
            return "fine"
    """,
    "returns_object.py": """
        def on_request(context):
            return object() if context.request.args.get("fail") else "fine"
    """,
    "areturns_none.py": """
        async def on_request(context):
            return None if context.request.args.get("fail") else "fine"
    """,
    "bad_status.py": """
        def on_request(context):
            return ("body", 999) if context.request.args.get("fail") else "fine"
    """,
    "text_status.py": """
        def on_request(context):
            return ("body", "OK") if context.request.args.get("fail") else "fine"
    """,
    "long_tuple.py": """
        def on_request(context):
            return ("a", 200, {}, "extra") if context.request.args.get("fail") else "fine"
    """,
    "allocates.py": """
        def on_request(context):
            if context.request.args.get("fail"):
                bytearray(10**15)  # a petabyte: no machine has it
            return "fine"
    """,
    "aout_of_memory.py": """
        async def on_request(context):
            if context.request.args.get("fail"):
                raise MemoryError()
            return "fine"
    """,
}


def error_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("file", sorted(set(HANDLERS) - {"ok.py"}))
def test_a_failing_handler_answers_a_bare_500_and_breaks_nothing_else(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture, file: str
) -> None:
    """Raising, returning what is not a response, and running out of memory each answer
    500 without details, are logged naming the file, and leave the app serving."""
    client = serve(HANDLERS)
    path = "/" + file.removesuffix(".py")
    failed = client.get(path + "?fail=1")
    assert (failed.status, failed.text) == (500, "Internal Server Error")
    assert failed.header("Content-Type") == "text/plain; charset=utf-8"
    messages = error_messages(caplog)
    assert any(message.startswith(f"{file}: ") for message in messages), messages
    # The next request, to another route and to the same one.
    other = client.get("/ok")
    assert (other.status, other.text) == (200, "ok")
    again = client.get(path)
    assert (again.status, again.text) == (200, "fine")
    # And failing again changes nothing: the failure is per request.
    assert client.get(path + "?fail=1").status == 500
    assert client.get("/ok").text == "ok"


def test_a_failing_handler_never_shows_its_error_without_debug(serve: Callable[..., Any]) -> None:
    """Nothing of the exception, the traceback or the file reaches the client."""
    client = serve(HANDLERS)
    for file in ("raises.py", "araises.py", "returns_object.py"):
        failed = client.get("/" + file.removesuffix(".py") + "?fail=1")
        for leak in (SECRET, "Traceback", file, "object at 0x"):
            assert leak not in failed.text
            assert all(leak not in value for _, value in failed.headers)


STREAMS = {
    "ok.py": "def on_request(context):\n    return 'ok'\n",
    "numbers.py": """
        def on_request(context):
            if context.request.args.get("fail"):
                return (n for n in range(3))
            return iter(["fi", "ne"])
    """,
    "anumbers.py": """
        async def numbers():
            yield "a first chunk that is fine, "
            yield 42


        async def on_request(context):
            if context.request.args.get("fail"):
                return numbers()
            return "fine"
    """,
}


def wsgi_server(app: Pages) -> AbstractContextManager[str]:
    """Serve ``app.wsgi`` with werkzeug's threaded server on a loopback port."""
    return werkzeug_serving(app.wsgi)


@pytest.fixture
def real_server(
    face: str, uvicorn_server: Callable[[Any], AbstractContextManager[str]]
) -> Callable[[Pages], AbstractContextManager[str]]:
    """``with real_server(app) as url``: the current face of ``app`` behind a real server
    (uvicorn, or werkzeug's WSGI server)."""
    return uvicorn_server if face == "asgi" else wsgi_server


def answer(url: str, timeout: float = 5) -> tuple[int, bytes] | str:
    """The status and the whole body, or the name of the error that cut the response."""
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.TransportError as exc:
        return type(exc).__name__
    return response.status_code, response.content


@pytest.mark.parametrize("file", ["numbers.py", "anumbers.py"])
def test_a_stream_yielding_garbage_is_never_taken_for_a_whole_response(
    pages: Callable[..., Pages],
    real_server: Callable[[Pages], AbstractContextManager[str]],
    file: str,
) -> None:
    """A streamed body yielding an int is cut short or answered 500 (its headers may be
    out already), never taken for a complete 200; the app keeps serving."""
    path = "/" + file.removesuffix(".py")
    with real_server(pages(STREAMS)) as url:
        outcome = answer(url + path + "?fail=1")
        # A WSGI server sends headers with the first chunk: it answers 500 itself.
        assert outcome == "RemoteProtocolError" or outcome[0] == 500, outcome
        assert answer(url + "/ok") == (200, b"ok")
        assert answer(url + path) == (200, b"fine")


@pytest.mark.parametrize("file", ["numbers.py", "anumbers.py"])
def test_a_stream_yielding_garbage_is_logged_naming_its_file(
    pages: Callable[..., Pages],
    real_server: Callable[[Pages], AbstractContextManager[str]],
    caplog: pytest.LogCaptureFixture,
    file: str,
) -> None:
    """The error log of a broken stream says which route file produced it."""
    with real_server(pages(STREAMS)) as url:
        answer(url + "/" + file.removesuffix(".py") + "?fail=1")
    messages = error_messages(caplog)
    assert any("yielded int" in m or "raised TypeError" in m for m in messages), messages
    assert any(file in m for m in messages), messages


#: Modules that cannot be imported, beside routes and mounted apps that can.
BROKEN = {
    "index.py": "def on_request(context):\n    return 'home'\n",
    "api/syntax.py": """
        def on_request_get(context)
            return "never"
    """,
    "api/raises.py": f"""
        TOKEN = "{SECRET}"
        raise RuntimeError("cannot start: " + TOKEN)


        def on_request(context):
            return "never"
    """,
    "api/missing.py": """
        import a_package_nobody_installed_4f7c


        def on_request(context):
            return "never"
    """,
    "api/sibling.py": "def on_request(context):\n    return 'sibling'\n",
    "api/[id].py": "def on_request_get(context):\n    return {'id': context.params['id']}\n",
    "flask/[[default]].py": """
        from flask import Flask

        app = Flask(__name__)


        @app.get("/")
        def index():
            return "flask home"
    """,
    # A broken route inside a mounted app's folder: it shadows the app for its path only.
    "flask/broken.py": "import a_package_nobody_installed_4f7c\n\ndef on_request(c): ...\n",
    "fastapi/[[default]].py": """
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/")
        def index():
            return {"framework": "fastapi"}
    """,
}

BROKEN_FILES = ["api/missing.py", "api/raises.py", "api/syntax.py", "flask/broken.py"]


@pytest.mark.parametrize("file", BROKEN_FILES)
def test_a_module_that_fails_to_import_breaks_its_own_route_only(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture, file: str
) -> None:
    """Its route answers a bare 500, logged naming the file; the module's siblings, a
    parameter route in its folder and the mounted apps answer 200, before and after."""
    client = serve(BROKEN)
    path = "/" + file.removesuffix(".py")
    for _ in range(2):  # the first import attempt, then the failure remembered
        failed = client.get(path)
        assert (failed.status, failed.text) == (500, "Internal Server Error")
        for leak in (SECRET, "a_package_nobody_installed", file, "Traceback", "line"):
            assert leak not in failed.text
        assert client.get("/").text == "home"
        assert client.get("/api/sibling").text == "sibling"
        assert client.get("/api/7").json() == {"id": "7"}
        flask = client.get("/flask/")
        assert (flask.status, flask.text) == (200, "flask home")
        assert client.get("/fastapi/").json() == {"framework": "fastapi"}
    assert any(file in message for message in error_messages(caplog))


def test_eager_loading_names_every_file_that_fails(pages: Callable[..., Pages]) -> None:
    """``eager=True`` raises one ``LoadError`` naming each broken file and why."""
    with pytest.raises(LoadError) as raised:
        pages(BROKEN, eager=True)
    assert sorted(error.file for error in raised.value.errors) == BROKEN_FILES
    text = str(raised.value)
    for file in BROKEN_FILES:
        assert file in text
    assert "ModuleNotFoundError" in text
    assert "cannot start" in text
    assert "syntax error at line 1" in text


def test_load_all_lists_the_failures_and_the_app_keeps_serving(
    serve: Callable[..., Any],
) -> None:
    """``Pages.load_all()`` returns the broken files; it raises nothing and the rest of
    the tree serves as before."""
    client = serve(BROKEN)
    failures = client.app.load_all()
    assert sorted(error.file for error in failures) == BROKEN_FILES
    assert all(str(error).startswith(error.file + ": ") for error in failures)
    assert client.get("/api/sibling").text == "sibling"
    assert client.get("/flask/").text == "flask home"
    assert client.get("/api/missing").status == 500


def test_a_broken_module_costs_the_same_on_every_request(serve: Callable[..., Any]) -> None:
    """The error of a module that failed to import does not grow with the requests made
    to its route (seen in the debug page's traceback)."""
    client = serve(BROKEN, debug=True)

    def traceback() -> list[str]:
        shown = client.get("/api/missing", headers={"Accept": "application/json"})
        assert shown.status == 500
        lines: list[str] = shown.json()["traceback"]
        return lines

    first = traceback()
    for _ in range(10):
        traceback()
    assert len(traceback()) == len(first)


#: What stops a process when code raises it: ``sys.exit()`` (argparse and click call it
#: too) and a ``KeyboardInterrupt`` raised by code rather than by the server's signal.
STOPS = {"sys_exit": "sys.exit(2)", "interrupt": "raise KeyboardInterrupt"}


def exits(stop: str) -> dict[str, str]:
    """Handlers, streamed bodies, an event stream's source and ``wait_until`` work that
    run ``stop`` where the event loop (or the WSGI server's thread) runs them."""
    return {
        "ok.py": "async def on_request(context):\n    return 'ok'\n",
        "exits.py": f"""
            import sys


            async def on_request(context):
                {stop}
        """,
        "exits_sync.py": f"""
            import sys


            def on_request(context):
                {stop}
        """,
        "exits_later.py": f"""
            import asyncio
            import sys


            async def exit_later():
                await asyncio.sleep(0)
                {stop}


            async def on_request(context):
                context.wait_until(exit_later())
                return "scheduled"
        """,
        "exits_later_sync.py": f"""
            import sys


            def exit_later():
                {stop}


            def on_request(context):
                context.wait_until(exit_later)
                return "scheduled"
        """,
        "exits_streaming.py": f"""
            import sys


            async def chunks():
                yield "a first chunk, "
                {stop}


            async def on_request(context):
                return chunks()
        """,
        "exits_streaming_sync.py": f"""
            import sys


            def chunks():
                yield "a first chunk, "
                {stop}


            def on_request(context):
                return chunks()
        """,
        "exits_events.py": f"""
            import sys

            from pagesfn import EventStream


            async def events():
                yield "first"
                {stop}


            async def on_request(context):
                return EventStream(events())
        """,
    }


STREAMED_EXITS = ["exits_streaming.py", "exits_streaming_sync.py", "exits_events.py"]


def still_serving(url: str) -> None:
    """The app answers an async route, three times over (a stopped loop would not)."""
    for _ in range(3):
        assert answer(url + "/ok") == (200, b"ok")


@pytest.mark.parametrize("stop", sorted(STOPS))
@pytest.mark.parametrize("file", ["exits_later.py", "exits_later_sync.py"])
@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_an_exit_in_wait_until_work_is_its_failure_not_the_servers(
    pages: Callable[..., Pages],
    real_server: Callable[[Pages], AbstractContextManager[str]],
    caplog: pytest.LogCaptureFixture,
    file: str,
    stop: str,
) -> None:
    """``wait_until`` work calling ``sys.exit()`` or raising ``KeyboardInterrupt`` is
    logged as failed work; it does not stop the event loop it ran on (the server's, or the
    WSGI face's own)."""
    with real_server(pages(exits(STOPS[stop]))) as url:
        assert answer(url + "/" + file.removesuffix(".py")) == (200, b"scheduled")
        for _ in range(100):
            if "wait_until work failed" in error_messages(caplog):
                break
            time.sleep(0.05)
        assert "wait_until work failed" in error_messages(caplog)
        still_serving(url)


@pytest.mark.parametrize("stop", sorted(STOPS))
@pytest.mark.parametrize("file", ["exits.py", "exits_sync.py"])
@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_an_exit_in_a_handler_is_a_500_logged_naming_its_file(
    pages: Callable[..., Pages],
    real_server: Callable[[Pages], AbstractContextManager[str]],
    caplog: pytest.LogCaptureFixture,
    file: str,
    stop: str,
) -> None:
    """A handler, ``def`` or ``async def``, calling ``sys.exit()`` or raising
    ``KeyboardInterrupt`` is answered 500 on both faces and logged naming its file, as any
    error; the server goes on."""
    with real_server(pages(exits(STOPS[stop]))) as url:
        assert answer(url + "/" + file.removesuffix(".py")) == (500, b"Internal Server Error")
        still_serving(url)
    assert any(m.startswith(f"{file}: ") for m in error_messages(caplog))


@pytest.mark.parametrize("stop", sorted(STOPS))
@pytest.mark.parametrize("file", ["exits.py", "exits_sync.py"])
def test_an_exit_never_leaves_the_wsgi_face(
    pages: Callable[..., Pages], stop: str, file: str
) -> None:
    """Called as a threaded WSGI server calls it, ``pages.wsgi`` answers 500 rather than
    letting the exit out (a gunicorn sync worker would die with it)."""
    client = webtest.TestApp(pages(exits(STOPS[stop])).wsgi)
    statuses: list[int] = []
    path = "/" + file.removesuffix(".py")
    worker = threading.Thread(
        target=lambda: statuses.append(client.get(path, expect_errors=True).status_int)
    )
    worker.start()
    worker.join(10)
    assert statuses == [500]


@pytest.mark.parametrize("stop", sorted(STOPS))
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_an_exit_in_a_mounted_app_behind_middleware_is_a_500(
    pages: Callable[..., Pages],
    real_server: Callable[[Pages], AbstractContextManager[str]],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    stop: str,
) -> None:
    """A mounted app (ASGI or WSGI) that calls ``sys.exit()`` or raises
    ``KeyboardInterrupt`` while a middleware's ``next()`` waits for it is an error of that
    request, answered 500 and logged naming its file, on both faces; the server goes on."""
    app = {
        "asgi": f"""
            import sys


            async def app(scope, receive, send):
                if scope["type"] == "http":
                    {STOPS[stop]}
        """,
        "wsgi": f"""
            import sys


            def app(environ, start_response):
                {STOPS[stop]}
        """,
    }[kind]
    tree = {
        "ok.py": "async def on_request(context):\n    return 'ok'\n",
        "_middleware.py": "async def on_request(context):\n    return await context.next()\n",
        "mounted/[[default]].py": app,
    }
    with real_server(pages(tree)) as url:
        assert answer(url + "/mounted/x") == (500, b"Internal Server Error")
        still_serving(url)
    assert any("[[default]].py" in m for m in error_messages(caplog))


def test_ctrl_c_in_a_wsgi_handler_on_the_main_thread_goes_through(
    pages: Callable[..., Pages],
) -> None:
    """A ``KeyboardInterrupt`` in the main thread may be the user's Ctrl-C: a
    single-threaded WSGI server (wsgiref's) must get it to stop, so it is let through."""
    client = webtest.TestApp(pages(exits(STOPS["interrupt"])).wsgi)
    with pytest.raises(KeyboardInterrupt):
        client.get("/exits_sync")


# Where the bug stops uvicorn, its thread ends with the SystemExit: that is the failure.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("stop", sorted(STOPS))
@pytest.mark.parametrize(
    "file", ["exits_streaming.py", "exits_streaming_sync.py", "exits_events.py"]
)
@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_an_exit_in_a_streamed_body_does_not_stop_the_server(
    pages: Callable[..., Pages],
    real_server: Callable[[Pages], AbstractContextManager[str]],
    file: str,
    stop: str,
) -> None:
    """A streamed body or an event stream's source calling ``sys.exit()`` or raising
    ``KeyboardInterrupt`` is cut short; the server serves on."""
    with real_server(pages(exits(STOPS[stop]))) as url:
        outcome = answer(url + "/" + file.removesuffix(".py"))
        assert outcome == "RemoteProtocolError" or outcome[0] == 500, outcome
        assert answer(url + "/ok", 2) == (200, b"ok")


FAILING_LIFESPAN = """
    import contextlib

    from fastapi import FastAPI


    @contextlib.asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("the database is down")
        yield


    app = FastAPI(lifespan=lifespan)


    @app.get("/")
    def index():
        return {"ok": True}
"""

LIFESPAN_TREE = {
    "index.py": "def on_request(context):\n    return 'home'\n",
    "api/[[default]].py": FAILING_LIFESPAN,
}


async def lifespan_startup(app: Pages) -> list[Message]:
    """Send ``lifespan.startup`` and return what the app answered, once it has returned
    (it does after a failed startup) or answered."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = asyncio.ensure_future(app(scope, inbox.get, send))
    for _ in range(1000):
        if sent or running.done():
            break
        await asyncio.sleep(0.01)
    if not running.done():
        await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(running, 10)
    return sent


def test_a_failing_mounted_lifespan_fails_the_asgi_startup_naming_its_file(
    pages: Callable[..., Pages],
) -> None:
    """The server is told ``lifespan.startup.failed`` with a message naming the file of
    the mounted app and its error."""
    sent = asyncio.run(lifespan_startup(pages(LIFESPAN_TREE)))
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    text = sent[0]["message"]
    assert text.startswith("api/[[default]].py: lifespan startup failed")
    assert "the database is down" in text


def test_a_failed_mounted_app_costs_the_same_on_every_wsgi_request(
    pages: Callable[..., Pages], caplog: pytest.LogCaptureFixture
) -> None:
    """On the WSGI face, where a mounted app's lifespan starts with its first request, the
    logged failure of each later request is the same size."""
    client = webtest.TestApp(pages(LIFESPAN_TREE).wsgi)

    def logged_traceback() -> str:
        caplog.clear()
        assert client.get("/api/", expect_errors=True).status_int == 500
        [record] = [r for r in caplog.records if r.exc_info]
        return logging.Formatter().formatException(record.exc_info)

    logged_traceback()  # the first request starts the lifespan, which fails
    second = logged_traceback()  # the failure remembered
    for _ in range(5):
        logged_traceback()
    assert logged_traceback().count("\n") == second.count("\n")
    assert client.get("/").text == "home"


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["1 process", "2 workers"])
def test_serve_exits_non_zero_naming_a_mounted_app_that_fails_to_start(
    tree: Callable[[Mapping[str, str]], Path], tmp_path: Path, workers: list[str]
) -> None:
    """``pagesfn serve`` does not run on without the app: it exits with status 3 (a
    start-up failure), and its output names the app's file and its error."""
    project = tree(LIFESPAN_TREE).parent
    result = exited("serve", project, "--port", str(free_port()), *workers, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "api/[[default]].py: lifespan startup failed" in result.stderr
    assert "RuntimeError: the database is down" in result.stderr


DYING = {
    "ok.py": "def on_request(context):\n    return 'ok'\n",
    "die.py": """
        import os


        def on_request(context):
            os._exit(3)  # the status uvicorn's supervisor takes for a failed start
    """,
}


def test_a_worker_that_dies_while_serving_is_replaced(
    tree: Callable[[Mapping[str, str]], Path], tmp_path: Path
) -> None:
    """With ``--workers 2``, a worker that exits while serving (with status 3, even) is
    replaced; the command serves on, and says so in its log."""
    project = tree(DYING).parent
    with running("serve", project, "--workers", "2", cwd=tmp_path) as server:
        for _ in range(3):
            with contextlib.suppress(httpx.TransportError):
                server.get("/die")
            assert wait_for(lambda: server.get("/ok").text, server) == "ok"
        wait_for(
            lambda: server.output().count("while serving; starting another"),
            server,
            lambda count: count >= 3,
        )
        assert server.process.poll() is None
        started = wait_for(
            lambda: server.output().count("Application startup complete"),
            server,
            lambda count: count >= 5,
        )
        assert started >= 5  # two workers and three replacements
