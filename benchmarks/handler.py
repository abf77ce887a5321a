"""A plain async handler: pagesfn against the equivalent Starlette route and a bare ASGI
callable sending the same response, measured in the same run, repetitions interleaved.

Each app serves both routes, ``/hello`` and ``/users/{id}``, in that order, as a user of
each would write them.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pagesfn.types import Receive, Scope, Send

from .report import progress
from .results import Ratio, Result, Row
from .timing import Case, Settings, measure, time_ratio
from .trees import functions_tree, pages_app, route_source

TARGET = 1.0  # pagesfn must serve at least this many requests per Starlette request

HELLO = "Hello, world!"

TREE = {
    "hello.py": route_source(repr(HELLO)),
    "users/[id].py": route_source("f\"Hello, {context.params['id']}!\""),
}

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
    starlette = starlette_app()
    with functions_tree(TREE) as root, pages_app(root) as (pages, _):
        for variant, path, body in VARIANTS:
            group = f"{variant} {path}"
            cases = [
                Case("pagesfn", pages, path, body),
                Case("starlette", starlette, path, body),
                Case("bare ASGI", bare_app, path, body),
            ]
            progress("handler", f"timing {group}")
            stats = measure(cases, settings)
            rows += [Row(group, case.name, s) for case, s in zip(cases, stats, strict=True)]
            ours, theirs, bare = stats
            # A throughput ratio is the inverse of the time ratio.
            label = f"{variant}: pagesfn req/s / "
            ratios.append(Ratio(label + "Starlette req/s", time_ratio(theirs, ours), TARGET))
            ratios.append(Ratio(label + "bare ASGI req/s", time_ratio(bare, ours)))
    return Result(
        "handler",
        "plain async handler: pagesfn vs Starlette vs bare ASGI",
        tuple(rows),
        tuple(ratios),
    )
