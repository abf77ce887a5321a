"""``pagesfn dev`` and ``pagesfn serve`` as real processes on a loopback port: hot reload,
a broken tree while it is being edited, worker processes, the request log, ``.env`` values,
stopping on a signal, and failing at once when the tree cannot be served."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import pagesfn
from pagesfn.serving.scaffold import init_project

pytest.importorskip("uvicorn", reason="the servers run on uvicorn")
pytest.importorskip("watchfiles", reason="hot reload watches files with watchfiles")

T = TypeVar("T")

STARTUP_TIMEOUT = 20.0
RELOAD_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kwargs)

    def stop(self, signum: int, timeout: float) -> int:
        """Send ``signum`` and wait for the process to end; its exit status."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not stop within {timeout} s:\n{self.output()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def command(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "pagesfn", *(os.fspath(a) for a in args)]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # Nothing of the environment running the tests may change what the project answers.
    for name in ("GREETING", "PAGESFN_SERVER_OPTIONS"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def exited(*args: str | os.PathLike[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``pagesfn ARGS`` to its end (a start-up that fails), its output captured."""
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
    )


@contextmanager
def running(*args: str | os.PathLike[str], cwd: Path) -> Iterator[Server]:
    """Run ``pagesfn ARGS --port P`` until it answers HTTP; end it (and its workers) on
    exit, whatever happened."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command(*args, "--port", str(port)),
            cwd=cwd,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            # Its own process group: the workers can be killed with it if it hangs.
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: server.get("/").status_code, server, timeout=STARTUP_TIMEOUT)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        assert process.poll() is not None
        # Workers outliving their parent would hold the port: end what is left of the group.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(
    probe: Callable[[], T],
    server: Server,
    until: Callable[[T], bool] = lambda _: True,
    timeout: float = RELOAD_TIMEOUT,
) -> T:
    """Call ``probe`` until it returns a value ``until`` accepts (a refused or dropped
    connection counts as no value yet); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{server.output()}")
        try:
            value = probe()
        except (httpx.TransportError, ValueError) as exc:
            last = exc
        else:
            if until(value):
                return value
            last = value
        time.sleep(0.1)
    pytest.fail(f"gave up after {timeout} s; last: {last!r}\n{server.output()}")


def status_and_json(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    init_project(root)
    return root


def test_dev_reloads_edits_and_survives_broken_files(site: Path, tmp_path: Path) -> None:
    functions = site / "functions"
    user = functions / "api" / "users" / "[id].py"
    with running("dev", site, cwd=tmp_path) as server:
        assert status_and_json(server.get("/api/users/7")) == (200, {"id": "7"})
        # The tree alone, not every folder of the one the command runs in.
        watched = f"Will watch for changes in these directories: [{str(functions)!r}]"
        assert watched in server.output()

        # An edit is served without a restart by hand.
        user.write_text(
            user.read_text().replace(
                'return {"id": context.params["id"]}',
                'return {"id": context.params["id"], "edited": True}',
            )
        )
        edited = (200, {"id": "7", "edited": True})
        wait_for(lambda: status_and_json(server.get("/api/users/7")), server, edited.__eq__)

        # A syntax error breaks its own route only, naming the file and the line.
        (functions / "broken.py").write_text("def on_request_get(context)\n    return 1\n")
        broken = wait_for(lambda: server.get("/broken"), server, lambda r: r.status_code == 500)
        detail = broken.json()["detail"]
        assert "broken.py" in detail
        assert "line 1" in detail
        assert status_and_json(server.get("/api/users/7")) == edited
        assert server.get("/api/hello?name=Ada").status_code == 200
        (functions / "broken.py").unlink()
        wait_for(lambda: server.get("/broken").status_code, server, (404).__eq__)

        # A file the router cannot take breaks the whole tree until it is removed.
        bad = functions / "api" / "[a-b].py"
        bad.write_text("def on_request_get(context):\n    return 'x'\n")
        failing = wait_for(
            lambda: server.get("/api/users/7"), server, lambda r: r.status_code == 500
        )
        assert "api/[a-b].py: route parameter `a-b`" in failing.json()["detail"]
        for path in ["/", "/api/hello", "/about", "/no/such"]:
            response = server.get(path)
            assert response.status_code == 500, path
            assert "api/[a-b].py" in response.json()["detail"]
        html = server.get("/", headers={"Accept": "text/html"})
        assert html.headers["Content-Type"].startswith("text/html")
        assert "route parameter `a-b`" in html.text
        bad.unlink()
        wait_for(lambda: status_and_json(server.get("/api/users/7")), server, edited.__eq__)

        status = server.stop(signal.SIGINT, STOP_TIMEOUT)
        assert status in (0, -signal.SIGINT), server.output()

    output = server.output()
    lines = [line for line in output.splitlines() if "GET /api/users/7 200" in line]
    assert any("api/users/[id].py" in line for line in lines), output
    assert "WatchFiles detected changes" in output


def test_dev_reloads_a_mounted_app_whose_source_is_outside_the_tree(
    site: Path, tmp_path: Path
) -> None:
    """An existing app dropped in from its own folder (as with ``pip install -e``):
    ``--watch`` that folder and an edit to the app's source is served."""
    package = tmp_path / "shop_src"
    package.mkdir()
    source = package / "shop_app.py"
    source.write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'shop v1 ' + environ['SCRIPT_NAME'].encode()]\n"
    )
    mount = site / "functions" / "shop" / "[[default]].py"
    mount.parent.mkdir()
    mount.write_text(
        f"import sys\nsys.path.insert(0, {str(package)!r})\n\nfrom shop_app import app\n"
    )
    with running("dev", site, "--watch", package, cwd=tmp_path) as server:
        assert server.get("/shop/").text == "shop v1 /shop"
        assert f"{str(package)!r}" in server.output()  # among the watched folders
        source.write_text(source.read_text().replace("shop v1", "shop v2"))
        wait_for(lambda: server.get("/shop/").text, server, "shop v2 /shop".__eq__)


def test_dev_reloads_a_mounted_app_importable_from_outside_the_tree(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app on the import path (as ``pip install -e`` puts it) is watched with nothing
    to say: its folder is found from the import in the mounting file."""
    package = tmp_path / "src" / "blog"
    package.mkdir(parents=True)
    source = package / "__init__.py"
    source.write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'blog v1']\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    mount = site / "functions" / "blog" / "[[default]].py"
    mount.parent.mkdir()
    mount.write_text("from blog import app\n")
    with running("dev", site, cwd=tmp_path) as server:
        assert server.get("/blog/").text == "blog v1"
        assert f"{str(package)!r}" in server.output()  # among the watched folders
        source.write_text(source.read_text().replace("blog v1", "blog v2"))
        wait_for(lambda: server.get("/blog/").text, server, "blog v2".__eq__)


def test_dev_under_granian_reloads_edits_and_a_broken_tree(site: Path, tmp_path: Path) -> None:
    """``pagesfn dev --server granian``: Granian's reloader watches the tree as uvicorn's
    does; a tree broken while it is edited is answered with what is wrong, then fixed."""
    pytest.importorskip("granian", reason="pip install 'granian>=2.5'")
    functions = site / "functions"
    user = functions / "api" / "users" / "[id].py"
    with running("dev", site, "--server", "granian", cwd=tmp_path) as server:
        assert status_and_json(server.get("/api/users/7")) == (200, {"id": "7"})
        user.write_text(user.read_text().replace('"id": context', '"edited": True, "id": context'))
        edited = (200, {"edited": True, "id": "7"})
        wait_for(lambda: status_and_json(server.get("/api/users/7")), server, edited.__eq__)

        bad = functions / "api" / "[a-b].py"
        bad.write_text("def on_request_get(context):\n    return 'x'\n")
        failing = wait_for(lambda: server.get("/"), server, lambda r: r.status_code == 500)
        assert "api/[a-b].py" in failing.json()["detail"]
        bad.unlink()
        wait_for(lambda: status_and_json(server.get("/api/users/7")), server, edited.__eq__)
        # What the server writes itself, and the bytecode, restart nothing.
        restarts = server.output().count("Changes detected")
        (functions / "api" / "__pycache__").mkdir(exist_ok=True)
        (functions / "api" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
        (functions / ".hidden").write_text("x")
        time.sleep(1.5)
        assert server.output().count("Changes detected") == restarts
        status = server.stop(signal.SIGINT, STOP_TIMEOUT)
        assert status in (0, -signal.SIGINT), server.output()
    lines = [line for line in server.output().splitlines() if "GET /api/users/7 200" in line]
    assert any("api/users/[id].py" in line for line in lines), server.output()


def test_dev_reads_the_env_file(site: Path, tmp_path: Path) -> None:
    (site / ".env").write_text("GREETING=Howdy\n")
    with running("dev", site, cwd=tmp_path) as server:
        response = server.get("/api/hello?name=Ada")
        assert status_and_json(response) == (200, {"message": "Howdy, Ada!"})


#: How each server logs the process id of a worker it started.
WORKER_STARTED = {
    "uvicorn": r"Started server process \[(\d+)\]",
    "granian": r"Spawning worker-\d+ with PID: (\d+)",
}


def test_serve_with_workers(site: Path, tmp_path: Path, server_name: str) -> None:
    (site / "functions" / "boom.py").write_text(
        "def on_request_get(context):\n    raise RuntimeError('secret detail')\n"
    )
    with running("serve", site, "--workers", "2", "--server", server_name, cwd=tmp_path) as server:
        response = server.get("/api/hello?name=Ada")
        assert status_and_json(response) == (200, {"message": "Hello, Ada!"})
        # No software named to clients where the server lets pagesfn choose (uvicorn).
        assert response.headers.get("server") == (None if server_name == "uvicorn" else "granian")
        assert "date" in response.headers

        started = WORKER_STARTED[server_name]
        pids = wait_for(
            lambda: set(re.findall(started, server.output())), server, lambda p: len(p) == 2
        )
        assert str(server.process.pid) not in pids

        # No debug pages: the project's 404 page, and a bare 500.
        missing = server.get("/no/such")
        assert missing.status_code == 404
        assert missing.text == (site / "public" / "404.html").read_text()
        failed = server.get("/boom")
        assert (failed.status_code, failed.text) == (500, "Internal Server Error")
        assert failed.headers["Content-Type"].startswith("text/plain")

        status = server.stop(signal.SIGTERM, 15)
        assert status in (0, -signal.SIGTERM), server.output()

    output = server.output()
    assert "secret detail" in output  # logged for the operator, never sent
    assert "GET /api/hello" not in output  # no request log unless asked for


@pytest.mark.parametrize("mode", ["serve", "dev"])
def test_the_start_up_line_names_the_server_the_event_loop_and_the_http_parser(
    site: Path, tmp_path: Path, mode: str, server_name: str
) -> None:
    """A plain install serves on uvloop and httptools where the platform has them (they
    are dependencies), and the server says which loop and parser it runs on."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    if server_name == "granian":
        parser = "hyper (Rust)"
    with running(mode, site, "--server", server_name, cwd=tmp_path) as server:
        line = f"pagesfn {mode}: {server_name}, {loop} event loop, {parser} HTTP parser"
        wait_for(server.output, server, lambda output: line in output)
    if sys.platform == "linux":  # where both have wheels, they are what a user gets
        assert loop == "uvloop"
        assert parser in ("httptools", "hyper (Rust)")


def test_serve_logs_json_lines(site: Path, tmp_path: Path, server_name: str) -> None:
    options = ("--access-log", "--log-format", "json", "--server", server_name)
    with running("serve", site, *options, cwd=tmp_path) as server:
        server.get("/api/users/7?x=1", headers={"eo-log-uuid": "req-42"})
        server.get("/about")

        def logged() -> list[dict[str, Any]]:
            lines = [line for line in server.output().splitlines() if line.startswith("{")]
            return [json.loads(line) for line in lines]

        entries = wait_for(logged, server, lambda e: len(e) >= 3)  # "/" was asked first
    by_path = {entry["path"]: entry for entry in entries}
    user = by_path["/api/users/7?x=1"]
    assert (user["method"], user["status"], user["file"]) == ("GET", 200, "api/users/[id].py")
    assert user["request_id"] == "req-42"
    assert user["client"] == "127.0.0.1"
    assert (by_path["/about"]["status"], by_path["/about"]["file"]) == (200, "public/")


def test_dev_starts_on_a_broken_tree_and_recovers(site: Path, tmp_path: Path) -> None:
    bad = site / "functions" / "x" / "[a-b].py"
    bad.parent.mkdir()
    bad.write_text("def on_request_get(context):\n    return 'x'\n")
    with running("dev", site, cwd=tmp_path) as server:
        response = server.get("/api/users/7")
        assert response.status_code == 500
        assert "x/[a-b].py: route parameter `a-b`" in response.json()["detail"]
        bad.rename(bad.with_name("[a_b].py"))
        fixed = wait_for(lambda: server.get("/x/1"), server, lambda r: r.status_code == 200)
        assert fixed.text == "x"
        assert status_and_json(server.get("/api/users/7")) == (200, {"id": "7"})


def test_dev_notices_a_folder_moved_into_the_tree(site: Path, tmp_path: Path) -> None:
    staged = tmp_path / "staging" / "blog"
    staged.mkdir(parents=True)
    (staged / "post.py").write_text("def on_request_get(context):\n    return 'post'\n")
    with running("dev", site, cwd=tmp_path) as server:
        assert server.get("/blog/post").status_code == 404
        staged.rename(site / "functions" / "blog")  # as `mv` or a checkout does
        wait_for(lambda: server.get("/blog/post").text, server, "post".__eq__, timeout=6)


def test_dev_notices_a_functions_folder_created_after_it_started(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "public").mkdir(parents=True)
    (site / "public" / "a.txt").write_text("a")
    with running("dev", site, cwd=tmp_path) as server:
        missing = server.get("/hello")
        assert missing.status_code == 500
        assert "the functions folder does not exist" in missing.json()["detail"]
        # What the page says to do: create it.
        (site / "functions").mkdir()
        time.sleep(0.5)  # a folder made and filled at once is another matter
        (site / "functions" / "hello.py").write_text("def on_request(context):\n    return 'hi'\n")
        wait_for(lambda: server.get("/hello").text, server, "hi".__eq__, timeout=6)


def test_serve_fails_at_once_on_a_broken_tree(site: Path, tmp_path: Path) -> None:
    bad = site / "functions" / "x" / "[a-b].py"
    bad.parent.mkdir()
    bad.write_text("def on_request_get(context):\n    return 'x'\n")
    started = time.monotonic()
    result = exited("serve", site, "--port", str(free_port()), cwd=tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("pagesfn: the functions tree has 1 problem")
    assert "x/[a-b].py: route parameter `a-b` must be a Python identifier" in line


@pytest.mark.parametrize("module", ["pagesfn", "pagesfn.serving.cli"])
def test_python_m_runs_the_command(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"version {pagesfn.__version__}\n")


SLOW = """
import asyncio
import pathlib

DONE = pathlib.Path(__file__).parents[1] / "later.txt"


async def finish_later():
    await asyncio.sleep(2.0)  # beyond the response and the SIGTERM
    DONE.write_text("written after the response")


async def on_request_get(context):
    context.wait_until(finish_later())
    await asyncio.sleep(1.0)
    return "slow answer"
"""


def test_serve_finishes_requests_and_wait_until_work_on_sigterm(
    site: Path, tmp_path: Path, server_name: str
) -> None:
    (site / "functions" / "slow.py").write_text(SLOW)
    serving = running("serve", site, "--server", server_name, cwd=tmp_path)
    with serving as server, ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(server.get, "/slow")
        time.sleep(0.5)  # the request is being handled
        status = server.stop(signal.SIGTERM, 15)
        response = in_flight.result(timeout=10)
    assert (response.status_code, response.text) == (200, "slow answer")
    assert status in (0, -signal.SIGTERM), server.output()
    # The wait_until work finished before the process exited.
    assert (site / "later.txt").read_text() == "written after the response"


WATCHER = """
import pathlib
from pagesfn import WebSocketDisconnect

SEEN = pathlib.Path(__file__).parents[1] / "closed-with.txt"


async def on_websocket(socket):
    await socket.accept()
    try:
        async for message in socket:
            await socket.send(message)
    finally:
        SEEN.write_text(str(socket.close_code))
"""


def test_serve_closes_websockets_with_1001_on_sigterm(
    site: Path, tmp_path: Path, server_name: str
) -> None:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    (site / "functions" / "watch.py").write_text(WATCHER)
    with running("serve", site, "--server", server_name, cwd=tmp_path) as server:
        url = server.url.replace("http://", "ws://")
        with pytest.raises(InvalidStatus) as refused:
            connect(url + "/", open_timeout=10)  # an HTTP route: refused, and not logged
        assert refused.value.response.status_code == 403
        with connect(url + "/watch", open_timeout=10) as socket:
            socket.send("ping")
            assert socket.recv(timeout=10) == "ping"
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
        status = server.process.wait(STOP_TIMEOUT)
    assert status in (0, -signal.SIGTERM), server.output()
    assert "without completing handshake" not in server.output()
    received = closed.value.rcvd
    # Granian drops its connections as soon as its worker is told to stop: the worker's
    # SIGTERM closes them first, then hands the stop over (every time, not in a race).
    assert received is not None and received.code == 1001, server.output()
    assert (site / "closed-with.txt").read_text() == "1001"


TICKER = """
import asyncio
import pathlib
from pagesfn import EventStream

ENDED = pathlib.Path(__file__).parents[1] / "ticker-ended.txt"


async def ticks():
    try:
        n = 0
        while True:
            n += 1
            yield {"n": n}
            await asyncio.sleep(0.1)
    finally:
        ENDED.write_text("closed")


def on_request_get(context):
    return EventStream(ticks())
"""


@pytest.mark.parametrize("command", ["serve", "dev"])
def test_stopping_ends_open_event_streams_at_once(
    site: Path, tmp_path: Path, command: str, server_name: str
) -> None:
    (site / "functions" / "ticker.py").write_text(TICKER)
    with running(command, site, "--server", server_name, cwd=tmp_path) as server:
        with httpx.stream("GET", server.url + "/ticker", timeout=10) as response:
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("data:")) == 'data: {"n":1}'
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            rest = list(lines)  # the stream ends, rather than running on
        status = server.process.wait(STOP_TIMEOUT)
        took = time.monotonic() - started
    assert status in (0, -signal.SIGTERM), server.output()
    assert took < 5, f"{took:.1f} s to stop:\n{server.output()}"
    assert len(rest) < 100
    assert (site / "ticker-ended.txt").read_text() == "closed"
    assert "timeout graceful shutdown exceeded" not in server.output()


def test_the_scf_bootstrap_starts_a_server_that_answers(site: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pagesfn.serving.cli import main

    port = free_port()
    result = CliRunner().invoke(main, ["bootstrap", "scf", str(site), "--port", str(port)])
    assert result.exit_code == 0, result.output
    script = site / "scf_bootstrap"
    assert os.access(script, os.X_OK)
    log = tmp_path / "scf.log"
    env = {**environment(), "PAGESFN_PYTHON": sys.executable}
    with log.open("wb") as sink:
        # Started the way the platform starts it: by path, from another folder.
        process = subprocess.Popen(
            [str(script)], cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        response = wait_for(
            lambda: server.get("/api/hello?name=SCF"), server, timeout=STARTUP_TIMEOUT
        )
        assert response.json() == {"message": "Hello, SCF!"}
        assert server.stop(signal.SIGTERM, STOP_TIMEOUT) in (0, -signal.SIGTERM)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert "0.0.0.0" in script.read_text()


@pytest.mark.parametrize("mode", ["serve", "dev"])
def test_a_connection_that_sends_no_head_is_closed(
    site: Path, tmp_path: Path, mode: str, server_name: str
) -> None:
    """``--head-timeout`` reaches the server: a connection that sends nothing is closed, one
    that sends part of a head gets 408 (Granian closes it without a word), and the server
    serves on."""
    options = ("--head-timeout", "1", "--server", server_name)
    with running(mode, site, *options, cwd=tmp_path) as server:
        address = ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
        with socket.create_connection(address, timeout=10) as idle:
            started = time.monotonic()
            assert idle.recv(1024) == b""
            assert 0.8 <= time.monotonic() - started < 8
        with socket.create_connection(address, timeout=10) as partial:
            partial.sendall(b"GET /api/hello HTTP/1.1\r\nHost:")
            answer = partial.recv(1024)
            if server_name == "granian":
                assert answer == b""
            else:
                assert answer.startswith(b"HTTP/1.1 408 ")
        assert server.get("/api/hello?name=Ada").status_code == 200
