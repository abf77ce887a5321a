"""A plain async handler: pagesfn against the equivalent Starlette route and a bare ASGI
callable sending the same response, measured in the same run, repetitions interleaved.

Each app serves both routes, ``/hello`` and ``/users/{id}``, in that order, as a user of
each would write them. Each is measured in-process, with the timing loop of
:mod:`benchmarks.timing`, and over HTTP: each app under a uvicorn process of its own, the
load from wrk in its own process (:mod:`benchmarks.serving`); a missing wrk or uvicorn
skips that part with a note instead of failing. The target is set in-process, where the
apps' own cost is all there is to time; over HTTP, where uvicorn's share of each request
narrows the gaps, the ratios are reported only.
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
from .results import Ratio, Result, Row
from .timing import Case, Settings, Stats, measure, time_ratio
from .trees import functions_tree, pages_app, route_source

TARGET = 1.0  # pagesfn must serve at least this many requests per Starlette request

LOAD = serving.Load()

HELLO = "Hello, world!"

FUNCTIONS = "functions"
FILES = {
    f"{FUNCTIONS}/hello.py": route_source(repr(HELLO)),
    f"{FUNCTIONS}/users/[id].py": route_source("f\"Hello, {context.params['id']}!\""),
    # What the servers import: the pagesfn app and the peers.
    "pages_server.py": (
        "from pathlib import Path\n\n"
        "from pagesfn import Pages\n\n"
        f"app = Pages(Path(__file__).parent / {FUNCTIONS!r})\n"
    ),
    "peer_server.py": (
        "from benchmarks.handler import bare_app, starlette_app\n\n"
        "starlette = starlette_app()\n"
        "bare = bare_app\n"
    ),
}

CASES = ("pagesfn", "Starlette", "bare ASGI")  # who answers, in the order measured

# (variant, path requested, body every app must answer)
VARIANTS = (
    ("static", "/hello", HELLO.encode()),
    ("param", "/users/42", b"Hello, 42!"),
)


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(HELLO)


async def user(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"Hello, {request.path_params['id']}!")


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/hello", hello), Route("/users/{id}", user)])


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The floor: the same responses with no framework at all."""
    path: str = scope["path"]
    if path == "/hello":
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
        "in-process: the apps called directly, no server; over HTTP: each app served by its "
        "own uvicorn process on 127.0.0.1"
    ]
    with functions_tree(FILES) as root:
        with pages_app(root / FUNCTIONS) as (pages, _):
            _in_process(pages, settings, rows, ratios)
        _over_http(root, serving.load_for(settings, LOAD), rows, ratios, notes)
    return Result(
        "handler",
        "plain async handler: pagesfn vs Starlette vs bare ASGI",
        tuple(rows),
        tuple(ratios),
        notes=tuple(notes),
    )


def _add(
    variant: str,
    path: str,
    where: str,
    stats: Sequence[Stats],
    rows: list[Row],
    ratios: list[Ratio],
    target: float | None,
) -> None:
    """The rows of one variant (``stats`` in the order of :data:`CASES`) and pagesfn's
    throughput against each peer's; ``target`` bounds the Starlette ratio."""
    group = f"{variant} {path}, {where}"
    rows += [Row(group, case, s) for case, s in zip(CASES, stats, strict=True)]
    ours, theirs, bare = stats
    # A throughput ratio is the inverse of the time ratio.
    label = f"{where}: {variant}: pagesfn req/s / "
    ratios.append(Ratio(label + "Starlette req/s", time_ratio(theirs, ours), target))
    ratios.append(Ratio(label + "bare ASGI req/s", time_ratio(bare, ours)))


def _in_process(pages: Pages, settings: Settings, rows: list[Row], ratios: list[Ratio]) -> None:
    apps: tuple[ASGIApp, ...] = (pages, starlette_app(), bare_app)
    for variant, path, body in VARIANTS:
        progress("handler", f"in-process: timing {variant} {path}")
        cases = [Case(name, app, path, body) for name, app in zip(CASES, apps, strict=True)]
        _add(variant, path, "in-process", measure(cases, settings), rows, ratios, TARGET)


def _over_http(
    root: Path, load: serving.Load, rows: list[Row], ratios: list[Ratio], notes: list[str]
) -> None:
    if serving.unavailable("handler", notes, "uvicorn"):
        return
    servers = [
        serving.uvicorn("uvicorn pagesfn", "pages_server:app", root),
        serving.uvicorn("uvicorn Starlette", "peer_server:starlette", root),
        serving.uvicorn("uvicorn bare ASGI", "peer_server:bare", root),
    ]
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
        per_variant = stats[len(CASES) * index : len(CASES) * (index + 1)]
        _add(variant, path, "HTTP uvicorn", per_variant, rows, ratios, None)
    serving.describe_servers("handler", notes, load, servers, root, no_gunicorn=False)
