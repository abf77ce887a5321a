"""Plain handlers: pagesfn against the equivalent Starlette routes and a bare ASGI callable
sending the same responses, measured in the same run, repetitions interleaved.

Each app answers three routes as a user of each would write them: an ``async def``
handler (``/hello``), a ``def`` handler (``/sync``: both pagesfn and Starlette run it in a
thread pool) and an ``async def`` handler of a parameter route (``/users/{id}``). Each is
measured in-process, with the timing loop of :mod:`benchmarks.timing`, and over HTTP, the
load from wrk in its own process (:mod:`benchmarks.serving`), one worker each:

* ``pagesfn serve`` as installed, against Starlette and the bare callable under uvicorn
  on its fastest stack (uvloop and httptools, named on its command line);
* ``pagesfn serve --server granian`` against both under Granian, when it is installed.

A missing wrk or uvicorn skips the over-HTTP part with a note instead of failing. The
targets: pagesfn at least as fast as Starlette in-process, and ``pagesfn serve`` at least
as fast as Starlette on uvicorn's fastest stack, for each route.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pagesfn import Pages
from pagesfn.types import ASGIApp, Receive, Scope, Send

from . import serving
from .report import progress
from .results import IN_PROCESS, Ratio, Result, Row
from .timing import Case, Settings, Stats, measure, time_ratio
from .trees import functions_tree, pages_app, route_source

TARGET = 1.0  # pagesfn must serve at least this many requests per Starlette request

LOAD = serving.Load()

HELLO = "Hello, world!"

FUNCTIONS = "functions"
FILES = {
    f"{FUNCTIONS}/hello.py": route_source(repr(HELLO)),
    f"{FUNCTIONS}/sync.py": (
        "from pagesfn import Response\n\n\n"
        "def on_request_get(context):\n"
        f"    return Response({HELLO!r})\n"
    ),
    f"{FUNCTIONS}/users/[id].py": route_source("f\"Hello, {context.params['id']}!\""),
    # What the servers import: the peers (pagesfn is served by its own command).
    "peer_server.py": (
        "from benchmarks.handler import bare_app, starlette_app\n\n"
        "starlette = starlette_app()\n"
        "bare = bare_app\n"
    ),
}

CASES = ("pagesfn", "Starlette", "bare ASGI")  # who answers, in the order measured

# (variant, path requested, body every app must answer)
VARIANTS = (
    ("async", "/hello", HELLO.encode()),
    ("def", "/sync", HELLO.encode()),
    ("param", "/users/42", b"Hello, 42!"),
)


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(HELLO)


def hello_sync(request: Request) -> PlainTextResponse:
    return PlainTextResponse(HELLO)


async def user(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"Hello, {request.path_params['id']}!")


def starlette_app() -> Starlette:
    return Starlette(
        routes=[Route("/hello", hello), Route("/sync", hello_sync), Route("/users/{id}", user)]
    )


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The floor: the same responses with no framework at all."""
    path: str = scope["path"]
    if path == "/hello" or path == "/sync":
        status, body = 200, HELLO.encode()
    elif path.startswith("/users/") and path.count("/") == 2:
        status, body = 200, f"Hello, {path[7:]}!".encode()
    else:
        status, body = 404, b"Not Found"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def run(settings: Settings) -> Result:
    rows: list[Row] = []
    ratios: list[Ratio] = []
    notes = [
        "in-process: the apps called directly, no server; over HTTP: each app served by a "
        "process of its own on 127.0.0.1, one worker"
    ]
    with functions_tree(FILES) as root:
        with pages_app(root / FUNCTIONS) as (pages, _):
            _in_process(pages, settings, rows, ratios)
        _over_http(root, serving.load_for(settings, LOAD), rows, ratios, notes)
    return Result(
        "handler",
        "plain handlers (async, def, parameter route): pagesfn vs Starlette vs bare ASGI",
        tuple(rows),
        tuple(ratios),
        notes=tuple(notes),
    )


def _add(
    variant: str,
    path: str,
    where: str,
    stats: Sequence[Stats],
    stacks: Sequence[str],
    rows: list[Row],
    ratios: list[Ratio],
    target: float | None,
) -> None:
    """The rows of one variant (``stats`` and ``stacks`` in the order of :data:`CASES`)
    and pagesfn's throughput against each peer's; ``target`` bounds the Starlette ratio."""
    group = f"{variant} {path}, {where}"
    rows += [
        Row(group, case, s, stack) for case, s, stack in zip(CASES, stats, stacks, strict=True)
    ]
    ours, theirs, bare = stats
    # A throughput ratio is the inverse of the time ratio.
    label = f"{where}: {variant}: pagesfn req/s / "
    ratios.append(Ratio(label + "Starlette req/s", time_ratio(theirs, ours), target))
    ratios.append(Ratio(label + "bare ASGI req/s", time_ratio(bare, ours)))


def _in_process(pages: Pages, settings: Settings, rows: list[Row], ratios: list[Ratio]) -> None:
    apps: tuple[ASGIApp, ...] = (pages, starlette_app(), bare_app)
    stacks = (IN_PROCESS,) * len(CASES)
    for variant, path, body in VARIANTS:
        progress("handler", f"in-process: timing {variant} {path}")
        cases = [Case(name, app, path, body) for name, app in zip(CASES, apps, strict=True)]
        stats = measure(cases, settings)
        _add(variant, path, "in-process", stats, stacks, rows, ratios, TARGET)


def _over_http(
    root: Path, load: serving.Load, rows: list[Row], ratios: list[Ratio], notes: list[str]
) -> None:
    if serving.unavailable("handler", notes, "uvicorn"):
        return
    # (where, the servers of CASES, target)
    plan: list[tuple[str, list[serving.Server], float | None]] = [
        (
            "HTTP uvicorn",
            [
                serving.pagesfn_serve("pagesfn serve", root),
                serving.uvicorn("uvicorn Starlette", "peer_server:starlette", root),
                serving.uvicorn("uvicorn bare ASGI", "peer_server:bare", root),
            ],
            TARGET,
        )
    ]
    if serving.missing_tools("granian", wrk=False):
        notes.append("over HTTP (Granian): skipped: granian not installed")
    else:
        granian = [
            serving.pagesfn_serve("pagesfn serve --server granian", root, "--server", "granian"),
            serving.granian("granian Starlette", "peer_server:starlette", root),
            serving.granian("granian bare ASGI", "peer_server:bare", root),
        ]
        plan.append(("HTTP granian", granian, None))
    servers = [server for _, group, _ in plan for server in group]
    with ExitStack() as stack:
        urls: list[str] = []
        for server in servers:
            progress("handler", f"over HTTP: starting {server.name}")
            urls.append(stack.enter_context(serving.serve(server, root)))
        targets = [
            serving.Target(f"{server.name} {path}", url + path, body)
            for _, path, body in VARIANTS
            for server, url in zip(servers, urls, strict=True)
        ]
        progress("handler", f"over HTTP: {len(targets)} cases, {load.describe()}")
        stats = serving.measure_http(targets, load, "handler")

    for index, (variant, path, _) in enumerate(VARIANTS):
        per_variant = stats[len(servers) * index : len(servers) * (index + 1)]
        for group_index, (where, group, target) in enumerate(plan):
            start = group_index * len(CASES)
            cases = per_variant[start : start + len(CASES)]
            stacks = [server.stack for server in group]
            _add(variant, path, where, cases, stacks, rows, ratios, target)
    serving.describe_servers("handler", notes, load, servers, root, no_gunicorn=False)
