"""Graceful shutdown of a real ``pagesfn serve`` process: on SIGTERM the requests it has
accepted are answered in full and ``wait_until`` work finishes, both within
``shutdown_timeout``; KV files are closed cleanly; new connections are refused or answered,
never left hanging. Also: debug pages are not served on a non-loopback address unless
allowed."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from test_servers import (
    STOP_TIMEOUT,
    Server,
    exited,
    free_port,
    running,
    wait_for,
)

Project = Callable[[Mapping[str, str]], Path]

#: How long the slow handlers and the ``wait_until`` work take.
SLOW = 1.5
#: The body of a slow answer: big enough to be sent in many pieces.
BODY_SIZE = 256 * 1024

SLOW_HANDLERS = {
    "functions/index.py": "def on_request(context):\n    return 'up'\n",
    # Each notes that it has started, so the test knows the request is in flight.
    "functions/slow.py": f"""
        import asyncio
        import pathlib

        STARTED = pathlib.Path(__file__).parents[1] / "started"


        async def on_request_get(context):
            n = context.request.args["n"]
            (STARTED / n).touch()
            await asyncio.sleep({SLOW})
            return n * {BODY_SIZE}
    """,
    "functions/slow_sync.py": f"""
        import pathlib
        import time

        STARTED = pathlib.Path(__file__).parents[1] / "started"


        def on_request_get(context):
            n = context.request.args["n"]
            (STARTED / n).touch()
            time.sleep({SLOW})
            return n * {BODY_SIZE}
    """,
    "functions/later.py": f"""
        import asyncio
        import pathlib
        import time

        DONE = pathlib.Path(__file__).parents[1] / "done"


        async def write_later(name):
            await asyncio.sleep({SLOW})
            (DONE / name).write_text("finished")


        def write_later_sync(name):
            time.sleep({SLOW})
            (DONE / name).write_text("finished")


        async def on_request_get(context):
            name = context.request.args["name"]
            if context.request.args.get("sync"):
                context.wait_until(lambda: write_later_sync(name))
            else:
                context.wait_until(write_later(name))
            return "scheduled"
    """,
}


def started_project(project: Project, files: Mapping[str, str]) -> Path:
    root = project(files)
    (root / "started").mkdir()
    (root / "done").mkdir()
    return root


def count(folder: Path) -> int:
    return sum(1 for _ in folder.iterdir())


def stopped(server: Server, signum: int = signal.SIGTERM) -> tuple[int, float]:
    """Send ``signum``; the exit status and the seconds it took to exit."""
    began = time.monotonic()
    status = server.stop(signum, STOP_TIMEOUT)
    return status, time.monotonic() - began


def test_sigterm_answers_every_accepted_request_in_full(
    project: Project, tmp_path: Path, server_name: str
) -> None:
    """Requests in flight when SIGTERM arrives, async and sync, get 200 and their whole
    body; connections made after it are refused or answered, and none of them hangs."""
    root = started_project(project, SLOW_HANDLERS)
    paths = [f"/slow?n={n}" for n in "1234"] + [f"/slow_sync?n={n}" for n in "5678"]
    with (
        running("serve", root, "--server", server_name, cwd=tmp_path) as server,
        ThreadPoolExecutor(16) as pool,
    ):
        # A client per request: each its own connection.
        in_flight = [pool.submit(httpx.get, server.url + p, timeout=30) for p in paths]
        wait_for(lambda: count(root / "started"), server, len(paths).__eq__)
        server.process.send_signal(signal.SIGTERM)

        # Until the process has exited: every new connection is refused or answered.
        late: list[Future[httpx.Response]] = []
        deadline = time.monotonic() + STOP_TIMEOUT
        while server.process.poll() is None and time.monotonic() < deadline:
            late.append(pool.submit(httpx.get, server.url + "/", timeout=10))
            time.sleep(0.05)
        status = server.process.wait(STOP_TIMEOUT)
        responses = [future.result(timeout=15) for future in in_flight]
        outcomes = []
        for future in late:
            try:
                outcomes.append(future.result(timeout=15).status_code)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                outcomes.append(type(exc).__name__)  # refused: the client knows at once
    assert status in (0, -signal.SIGTERM), server.output()
    for path, response in zip(paths, responses, strict=True):
        assert response.status_code == 200, path
        assert response.text == path[-1] * BODY_SIZE, path
    assert late, "no connection was tried while the server stopped"
    assert all(outcome in (200, 503) or isinstance(outcome, str) for outcome in outcomes)
    assert "ConnectError" in outcomes  # the listening socket was closed
    # httpx.ReadTimeout would have escaped above: nothing was accepted and left hanging.


def test_sigterm_finishes_wait_until_work_before_exiting(
    project: Project, tmp_path: Path, server_name: str
) -> None:
    """``wait_until`` work still running at SIGTERM, a coroutine and a plain function,
    completes before the process exits."""
    root = started_project(project, SLOW_HANDLERS)
    with running("serve", root, "--server", server_name, cwd=tmp_path) as server:
        assert server.get("/later?name=async").text == "scheduled"
        assert server.get("/later?name=sync&sync=1").text == "scheduled"
        status, took = stopped(server)
        # Read as the process has just exited: written before it did.
        written = {path.name: path.read_text() for path in (root / "done").iterdir()}
    assert status in (0, -signal.SIGTERM), server.output()
    assert written == {"async": "finished", "sync": "finished"}
    assert took < SLOW + 5, server.output()


BOUND = 2
#: How much longer than its bound a stop may take: noticing the signal, closing, exiting.
MARGIN = 3.0

STUCK = {
    "pagesfn.toml": f"shutdown_timeout = {BOUND}\n",
    "functions/index.py": "def on_request(context):\n    return 'up'\n",
    "functions/stuck.py": """
        import asyncio
        import pathlib

        STARTED = pathlib.Path(__file__).parents[1] / "started"


        async def on_request_get(context):
            (STARTED / "stuck").touch()
            await asyncio.sleep(30)
            return "too late"
    """,
    "functions/stuck_sync.py": """
        import pathlib
        import time

        STARTED = pathlib.Path(__file__).parents[1] / "started"


        def on_request_get(context):
            (STARTED / "stuck_sync").touch()
            time.sleep(30)
            return "too late"
    """,
    "functions/stuck_later.py": """
        import asyncio
        import pathlib
        import time

        STARTED = pathlib.Path(__file__).parents[1] / "started"


        async def on_request_get(context):
            context.wait_until(asyncio.sleep(30))
            context.wait_until(lambda: time.sleep(30))
            (STARTED / "stuck_later").touch()
            return "scheduled"
    """,
}


@pytest.mark.parametrize(
    ("routes", "answers"),
    [
        (["/stuck", "/stuck_sync"], [(500, "Internal Server Error")] * 2),
        (["/stuck_later"], [(200, "scheduled")]),
    ],
    ids=["handlers", "wait_until"],
)
def test_shutdown_timeout_bounds_what_does_not_finish(
    project: Project,
    tmp_path: Path,
    routes: list[str],
    answers: list[tuple[int, str]],
    server_name: str,
) -> None:
    """Handlers (async and sync) or ``wait_until`` work that would run for 30 s do not
    keep the process alive much past ``shutdown_timeout``; a request cut short is
    answered 500 rather than left hanging (Granian ends the worker: the connection is
    closed)."""
    root = started_project(project, STUCK)
    with (
        running("serve", root, "--server", server_name, cwd=tmp_path) as server,
        ThreadPoolExecutor(4) as pool,
    ):
        asked = [pool.submit(httpx.get, server.url + route, timeout=60) for route in routes]
        wait_for(lambda: count(root / "started"), server, len(routes).__eq__)
        status, took = stopped(server)
        got = [outcome(a) for a in asked]
    assert status in (0, -signal.SIGTERM), server.output()
    assert took < BOUND + MARGIN, f"{took:.1f} s to stop:\n{server.output()}"
    if server_name == "granian" and answers[0][0] == 500:
        answers = [("closed", "")] * len(answers)
    assert got == answers


def outcome(asked: Future[httpx.Response]) -> tuple[int | str, str]:
    """The status and body of a response, or ``("closed", "")`` for a connection closed
    without one."""
    try:
        response = asked.result(timeout=10)
    except httpx.RemoteProtocolError:
        return "closed", ""
    return response.status_code, response.text


def test_ctrl_c_is_bounded_by_shutdown_timeout_too(
    project: Project, tmp_path: Path, server_name: str
) -> None:
    """SIGINT (Ctrl-C) bounds a sync handler that would run for 30 s as SIGTERM does."""
    root = started_project(project, STUCK)
    with (
        running("serve", root, "--server", server_name, cwd=tmp_path) as server,
        ThreadPoolExecutor(1) as pool,
    ):
        pool.submit(httpx.get, server.url + "/stuck_sync", timeout=60)
        wait_for(lambda: count(root / "started"), server, (1).__eq__)
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(BOUND + MARGIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {BOUND + MARGIN} s after SIGINT")


KV_PROJECT = {
    "pagesfn.toml": '[kv]\nNOTES = { path = "data/notes.sqlite3" }\n',
    "functions/index.py": "def on_request(context):\n    return 'up'\n",
    "functions/note.py": """
        async def on_request_put(context):
            key = context.request.args["key"]
            await context.env["NOTES"].put(key, await context.request.text())
            return "kept"


        def on_request_post(context):
            key = context.request.args["key"]
            context.env["NOTES"].sync.put(key, context.request.get_data(as_text=True))
            return "kept"
    """,
}


def test_sigterm_closes_sqlite_kv_files(project: Project, tmp_path: Path, server_name: str) -> None:
    """What handlers wrote to a SQLite KV binding, on the event loop and in threads, is in
    the database file after SIGTERM, which was closed cleanly: its WAL checkpointed back
    and removed, and the file passes an integrity check."""
    root = project(KV_PROJECT)
    database = root / "data" / "notes.sqlite3"
    wal = database.with_name(database.name + "-wal")
    with running("serve", root, "--server", server_name, cwd=tmp_path) as server:
        for n in range(10):
            put = httpx.put(f"{server.url}/note?key=a{n}", content=f"async {n}", timeout=5)
            post = httpx.post(f"{server.url}/note?key=s{n}", content=f"sync {n}", timeout=5)
            assert (put.text, post.text) == ("kept", "kept")
        assert wal.exists()  # the writes are in the WAL meanwhile
        status, _ = stopped(server)
    assert status in (0, -signal.SIGTERM), server.output()
    assert not wal.exists(), "the WAL was left behind: the KV file was not closed"
    assert not database.with_name(database.name + "-shm").exists()
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as reader:
        assert reader.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = dict(reader.execute('SELECT name, value FROM "kv:NOTES"').fetchall())
    assert rows == {
        **{f"a{n}": f"async {n}".encode() for n in range(10)},
        **{f"s{n}": f"sync {n}".encode() for n in range(10)},
    }


def test_dev_refuses_a_non_loopback_host_unless_allowed(project: Project, tmp_path: Path) -> None:
    """``pagesfn dev --host 0.0.0.0`` (debug pages on) exits with one line naming
    ``--allow-remote-debug``; with that flag it starts and serves debug pages."""
    root = project({"functions/index.py": "def on_request(context):\n    return 'up'\n"})
    refused = exited("dev", root, "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    assert refused.returncode == 3
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith("pagesfn: ")
    assert "0.0.0.0" in line and "--allow-remote-debug" in line

    allowed = ("dev", root, "--host", "0.0.0.0", "--allow-remote-debug", "--no-reload")
    with running(*allowed, cwd=tmp_path) as server:
        assert server.get("/").text == "up"
        missing = server.get("/no/such/page")
        assert missing.status_code == 404
        assert missing.json()["path"] == "/no/such/page"  # a debug page: the routes listed


def test_serve_starts_on_a_non_loopback_host(project: Project, tmp_path: Path) -> None:
    """``pagesfn serve --host 0.0.0.0`` has no debug pages to protect: it starts."""
    root = project({"functions/index.py": "def on_request(context):\n    return 'up'\n"})
    with running("serve", root, "--host", "0.0.0.0", cwd=tmp_path) as server:
        assert server.get("/").text == "up"
        assert server.get("/no/such/page").text == "Not Found"
