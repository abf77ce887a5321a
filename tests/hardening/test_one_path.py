"""One canonical path per request: whatever a mounted app, the origin or the static files
would serve a request as, the ``_middleware.py`` of that path has run first, on both faces
and under real servers, however the path is spelled."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import OUT_OF_PROCESS, SERVERS, app_module, serving, uvicorn_serving

from pagesfn import Pages

GUARD = """
    from pagesfn import Response

    def on_request(context):
        if context.request.headers.get("x-pass") != "yes":
            return Response("refused by admin/_middleware.py", status=403)
        response = context.next()
        return response
"""

FLASK = """
    from flask import Flask, request

    app = Flask(__name__)

    @app.route("/", defaults={"rest": ""})
    @app.route("/<path:rest>")
    def anything(rest):
        return {"served": request.path}
"""

FASTAPI = """
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.get("/{rest:path}")
    def anything(rest: str, request: Request):
        return {"served": request.scope["path"][len(request.scope["root_path"]):] or "/"}
"""

STATIC_SECRET = b"STATIC-SECRET"


async def origin_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The origin: answers every request with the path it was sent, as JSON."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = json.dumps({"raw_path": scope["raw_path"].decode("latin-1")}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(source))
    return root


#: Spellings that consumers may read as the guarded folder, or as a way around it.
PIECES = [
    "admin",
    "ADMIN",
    "%61dmin",
    "%2561dmin",
    "admin;p=1",
    "admin%3Bp",
    "admin%2Fsecret",
    "secret",
    "secret.txt",
    "x",
    "",
    ".",
    "..",
    "%2e",
    "%2E%2e",
    ".%2e",
    "%2F",
    "%2f",
    "%252F",
    "%5C",
    "\\",
    "%00",
]
targets = st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map(
    lambda parts: ("/" + "/".join(parts)).encode("latin-1")
)


def resolved(segments: list[str]) -> list[str]:
    """``segments`` with dot and empty segments resolved, as a lenient server does."""
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    return kept


def served_as(kind: str, status: int, body: bytes) -> list[str] | None:
    """The segments the consumer behind ``kind`` may have served a 2xx answer as (``None``:
    no 2xx), read as leniently as consumers read them: backslashes as slashes, dot and
    empty segments resolved; at the origin, the target's ``;`` parameters dropped (as Java
    servers do) before it is decoded."""
    if not 200 <= status < 300:
        return None
    if kind == "origin" and body == STATIC_SECRET:
        return ["admin", "secret.txt"]
    echo = json.loads(body)
    if "served" in echo:  # a mounted app's decoded path
        return resolved(str(echo["served"]).replace("\\", "/").split("/"))
    raw = [segment.split(";", 1)[0] for segment in str(echo["raw_path"]).split("/")]
    return resolved(unquote("/".join(raw)).replace("\\", "/").split("/"))


def guarded(segments: list[str]) -> bool:
    """Whether a path is under the guarded folder."""
    return segments[:1] == ["admin"]


def check(kind: str, target: bytes, answer: Any) -> None:
    """``answer`` (a face's or a server's) is a refusal, or served outside the guard."""
    status = answer.status
    assert status is not None, (kind, target, "no answer")
    assert status < 500, (kind, target, answer.body[:200])
    served = served_as(kind, status, answer.body)
    if served is not None:
        assert not guarded(served), f"{kind}: {target!r} reached {served} past the guard"


def test_the_guard_guards(
    apps_once: dict[str, Pages], server_loop: asyncio.AbstractEventLoop, direct: Callable[..., Any]
) -> None:
    """The canonical path is refused without the header and served with it: the property
    below can fail."""
    for face in ("asgi", "wsgi"):
        for kind, target in (
            ("flask", b"/admin/secret"),
            ("fastapi", b"/admin/secret"),
            ("origin", b"/admin/elsewhere"),
            ("origin", b"/admin/secret.txt"),
        ):
            client = direct(apps_once[kind], face, server_loop)
            assert client.get(target).status == 403
            allowed = client.request("GET", target, [(b"x-pass", b"yes")])
            assert allowed.status == 200, (face, kind, allowed.body)
            assert guarded(served_as(kind, allowed.status, allowed.body) or [])


# ``direct`` only hands out a class: nothing of it is kept between examples.
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=targets)
def test_no_spelling_reaches_a_guarded_path_without_its_middleware(
    apps_once: dict[str, Pages],
    server_loop: asyncio.AbstractEventLoop,
    direct: Callable[..., Any],
    target: bytes,
) -> None:
    """Generated paths (dot, empty and encoded segments, encoded slashes and backslashes,
    path parameters) sent as a lenient server passes them on: each is refused (400), or
    refused by the guard (403), or served as a path outside the guarded folder, by the
    mounted Flask and FastAPI apps, the static files and the origin, on both faces."""
    for face in ("asgi", "wsgi"):
        for kind, app in apps_once.items():
            check(kind, target, direct(app, face, server_loop).get(target))


@pytest.fixture
def origin_url() -> Iterator[str]:
    with uvicorn_serving(origin_app) as url:
        yield url


@pytest.fixture(scope="module")
def apps_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pages]]:
    """The guarded folder in front of a root-mounted Flask app, a root-mounted FastAPI app,
    and static files with an origin behind them; built once for the property's examples."""
    root = tmp_path_factory.mktemp("one-path")
    public = root / "public"
    (public / "admin").mkdir(parents=True)
    (public / "admin" / "secret.txt").write_bytes(STATIC_SECRET)
    with ExitStack() as stack:
        origin = stack.enter_context(uvicorn_serving(origin_app))
        built = {
            kind: Pages(
                write_files(root / kind, {"admin/_middleware.py": GUARD, **files}), **options
            )
            for kind, files, options in (
                ("flask", {"[[default]].py": FLASK}, {}),
                ("fastapi", {"[[default]].py": FASTAPI}, {}),
                ("origin", {}, {"public": public, "origin": origin}),
            )
        }
        for app in built.values():
            stack.callback(app.loader.unload)
            stack.callback(app.close)
        yield built


@pytest.fixture(scope="module")
def server_loop(apps_once: dict[str, Pages]) -> Iterator[asyncio.AbstractEventLoop]:
    """One loop serving the ASGI face, as a server's would, run within the apps' lifespan
    (whose shutdown closes the origin's connections on it)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    lifespans = [
        asyncio.run_coroutine_threadsafe(_Lifespan.start(app), loop).result(10)
        for app in apps_once.values()
    ]
    yield loop
    for lifespan in lifespans:
        asyncio.run_coroutine_threadsafe(lifespan.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


class _Lifespan:
    """An app's ASGI lifespan, driven by hand."""

    def __init__(self, app: Pages) -> None:
        self.messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self.task = asyncio.ensure_future(app(scope, self.messages.get, self.sent.put))

    @classmethod
    async def start(cls, app: Pages) -> _Lifespan:
        lifespan = cls(app)
        await lifespan.messages.put({"type": "lifespan.startup"})
        assert (await lifespan.sent.get())["type"] == "lifespan.startup.complete"
        return lifespan

    async def stop(self) -> None:
        await self.messages.put({"type": "lifespan.shutdown"})
        assert (await self.sent.get())["type"] == "lifespan.shutdown.complete"
        await self.task


#: The spellings found to reach guarded paths, sent on the wire as they are.
ATTACKS = [
    b"/x/../admin/secret",
    b"/./admin/secret",
    b"/x/%2e%2e/admin/secret",
    b"/admin%2Fsecret",
    b"/%61dmin%2Fsecret",
    b"//admin/secret",
    b"/admin;p=1/secret",
    b"/admin\\secret",
    b"/x/..%2Fadmin/secret",
    b"/x%2F..%2Fadmin%2Fsecret",
]


@pytest.mark.parametrize("server", SERVERS)
def test_attacks_under_real_servers(
    server: str, tmp_path: Path, origin_url: str, exchange: Callable[..., Any]
) -> None:
    """Each spelling, sent as is to a real server, is refused (400, the guard's 403) or
    served as a path outside the guarded folder, by the Flask mount and by the origin,
    whatever the server does to the path first; the guard lets the header through."""
    public = tmp_path / "public"
    (public / "admin").mkdir(parents=True)
    (public / "admin" / "secret.txt").write_bytes(STATIC_SECRET)
    trees = {
        "flask": ({"admin/_middleware.py": GUARD, "[[default]].py": FLASK}, {}),
        "origin": ({"admin/_middleware.py": GUARD}, {"public": str(public), "origin": origin_url}),
    }
    for kind, (files, options) in trees.items():
        functions = write_files(tmp_path / f"functions-{kind}", files)
        with ExitStack() as stack:
            if server in OUT_OF_PROCESS:
                folder = tmp_path / f"app-{kind}"
                folder.mkdir()
                target = app_module(folder, functions, options)
                url = stack.enter_context(serving(server, target, folder))
            else:
                app = Pages(functions, **options)
                stack.callback(app.loader.unload)
                stack.callback(app.close)
                url = stack.enter_context(serving(server, app))
            for attack in ATTACKS:
                answer = exchange(url, _request(attack))
                check(kind, attack, answer)
                if b";" not in attack:  # the one spelling that names another path
                    assert answer.status in (400, 403), (server, kind, attack, answer.data)
            allowed = exchange(url, _request(b"/admin/secret", b"x-pass: yes"))
            assert allowed.status == 200, (server, kind, allowed.data[:300])


def _request(target: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


WORKER = """
    from pagesfn import add_event_listener

    def fetch(event):
        if not event.request.path.startswith("/admin"):
            event.respond_with({"served": event.request.path})

    add_event_listener("fetch", fetch)
"""


@pytest.mark.parametrize("face", ["asgi", "wsgi"])
def test_a_worker_and_its_pass_through_get_the_decided_path(
    pages: Callable[..., Pages], direct: Callable[..., Any], tmp_path: Path, face: str
) -> None:
    """``_worker.py`` runs after the path decision: it never sees a refused path, and what
    it passes through to the static files is the path it saw."""
    public = tmp_path / "worker-public"
    (public / "admin").mkdir(parents=True)
    (public / "admin" / "secret.txt").write_bytes(STATIC_SECRET)
    client = direct(pages({"_worker.py": WORKER}, public=public), face)
    for target in (b"/x/../admin/secret.txt", b"//admin/secret.txt", b"/x/%2e%2e/admin/secret.txt"):
        assert client.get(target).status == 400, target
    assert json.loads(client.get(b"/caf%C3%A9%2Fx").body) == {"served": "/café/x"}
    assert client.get(b"/%61dmin%2Fsecret.txt").body == STATIC_SECRET  # passed through
