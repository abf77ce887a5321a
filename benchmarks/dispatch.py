"""Routing cost against route count: the per-request cost of the full ASGI app for trees
of 10, 100, 1,000 and 10,000 route files, against Starlette apps with the same routes.

Each tree holds static routes ``g{i // 100}/r{i}.py``, a few ``g{k}/[id].py`` and a root
``[[rest]].py``; its Starlette peer holds one ``Route`` for each file, listed as a user
would write them (:func:`~benchmarks.trees.written_order`: sorted, static before param,
catch-all last), each endpoint answering what the route file answers. Each app's trees
are served side by side, their cases in one interleaved run, pagesfn's and then
Starlette's (the target compares pagesfn with itself, and Starlette's slowest cases, timed
among pagesfn's, would leave them cold caches). The probed static and param routes live
in the last folder, ``g99``, and sort last in the table, so a matcher scanning routes in
order shows up as a large ratio: Starlette's does, and its figures are its worst case (a
route halfway down its list costs about half the scan).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pagesfn.types import ASGIApp

from .report import progress
from .results import Curve, Line, Ratio, Result, Row
from .timing import BenchmarkError, Case, Settings, Stats, measure, time_ratio
from .trees import functions_tree, pages_app, route_source, starlette_path, written_order

SIZES = (10, 100, 1_000, 10_000)
QUICK_SIZES = (10, 100, 1_000)
TARGET = 1.2  # pagesfn with the most routes may cost at most this many times the fewest
REPETITIONS = 15  # of pagesfn's cases in a full run

APPS = ("pagesfn", "Starlette")

_LAST_GROUP = 99
_CATCHALL = "[[rest]].py"
_PROBE_PARAM = f"g{_LAST_GROUP}/[id].py"
_PROBE_STATIC = f"g{_LAST_GROUP}/r9999.py"

# (kind, path requested, the file that must answer it)
PROBES = (
    ("static", f"/g{_LAST_GROUP}/r9999", _PROBE_STATIC),
    ("param", f"/g{_LAST_GROUP}/12345", _PROBE_PARAM),
    ("catch-all", "/zz/a/b", _CATCHALL),
)


def layout(size: int) -> list[str]:
    """The ``size`` route files of a tree: the probes, up to 4 more param routes and
    static routes spread 100 to a folder."""
    if not 3 <= size <= 10_000:
        raise ValueError(f"a tree has 3 to 10,000 routes, not {size}")
    files = [_CATCHALL, _PROBE_PARAM]
    files += [f"g{k}/[id].py" for k in range(min(4, math.ceil(size / 100) - 1))]
    static = size - len(files) - 1
    files += [f"g{i // 100}/r{i}.py" for i in range(static)]
    files.append(_PROBE_STATIC)
    return files


def starlette_app(files: Sequence[str]) -> Starlette:
    """The Starlette app a user would write for the route files ``files``: a ``Route`` for
    each, in :func:`~benchmarks.trees.written_order`, answering the file's name as the
    route file does."""
    routes = [Route(starlette_path(file), _endpoint(file)) for file in written_order(files)]
    return Starlette(routes=routes)


def _endpoint(body: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(body)

    return endpoint


def run(settings: Settings) -> Result:
    sizes = QUICK_SIZES if settings.quick else SIZES
    apps: dict[tuple[str, int], ASGIApp] = {}  # (app, size) -> the app
    with ExitStack() as stack:
        for size in sizes:
            files = layout(size)
            progress("dispatch", f"writing and loading a tree of {size:,} routes")
            root = stack.enter_context(functions_tree({f: route_source(repr(f)) for f in files}))
            pages, _ = stack.enter_context(pages_app(root))
            starlette = starlette_app(files)
            counts = (("pagesfn", len(pages.routes)), ("Starlette", len(starlette.routes)))
            for app, count in counts:
                if count != size:
                    raise BenchmarkError(f"{size:,} route files gave {app} {count:,} routes")
            apps["pagesfn", size], apps["Starlette", size] = pages, starlette
        # Each app's cases are timed side by side, probe by probe, so that the sizes the
        # target compares run close together; the apps one after the other, since a
        # repetition of Starlette's largest app scans 10,000 routes for a second or more
        # and would leave every case timed after it a cold cache. pagesfn's cases get more
        # repetitions: its target is a ratio close to 1, which this machine's noise sways.
        stats: dict[tuple[str, int, str], Stats] = {}
        for app in APPS:
            keys = [(app, size, kind) for kind, _, _ in PROBES for size in sizes]
            cases = [
                Case(f"{kind} {path} / {app}, {size:,}", apps[app, size], path, file.encode())
                for kind, path, file in PROBES
                for size in sizes
            ]
            timing = settings
            if app == "pagesfn" and not settings.quick:
                timing = replace(settings, repetitions=max(settings.repetitions, REPETITIONS))
            progress("dispatch", f"timing {len(cases)} cases of {app}")
            stats.update(zip(keys, measure(cases, timing), strict=True))

    rows: list[Row] = []
    ratios: list[Ratio] = []
    small, large = sizes[0], sizes[-1]
    for kind, path, _ in PROBES:
        rows += [
            Row(f"{kind} {path}", f"{app}, {size:,} routes", stats[app, size, kind])
            for app in APPS
            for size in sizes
        ]
        of_small, of_large = stats["pagesfn", small, kind], stats["pagesfn", large, kind]
        label = f"{kind}: time with {large:,} routes / with {small:,}"
        ratios.append(Ratio(label, time_ratio(of_large, of_small), TARGET, at_least=False))
    for kind, _, _ in PROBES:
        # The apps were timed apart, so their medians are compared, not paired repetitions.
        ours, theirs = stats["pagesfn", large, kind], stats["Starlette", large, kind]
        label = f"{kind}, {large:,} routes: pagesfn req/s / Starlette req/s (medians)"
        ratios.append(Ratio(label, ours.rps / theirs.rps))
    return Result(
        "dispatch",
        "routing cost against route count: pagesfn vs Starlette (full ASGI app)",
        tuple(rows),
        tuple(ratios),
        curves=(
            Curve(
                "routing",
                "Routing cost against route count",
                "routes in the app",
                "µs per request",
                tuple(_line(app, kind, sizes, stats) for app in APPS for kind, _, _ in PROBES),
                log_x=True,
                log_y=True,
            ),
        ),
    )


def _line(
    app: str, kind: str, sizes: Sequence[int], stats: dict[tuple[str, int, str], Stats]
) -> Line:
    """The median microseconds per request of ``app`` answering probe ``kind``, by size."""
    return Line(f"{app} {kind}", tuple((size, stats[app, size, kind].median_us) for size in sizes))
