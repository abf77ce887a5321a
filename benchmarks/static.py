"""Static files from ``public/``: pagesfn against Starlette's ``StaticFiles``, measured in
the same run, repetitions interleaved.

A temporary project holds a small functions tree (``index.py`` and ``api/hello.py``, so
every request goes through the real pipeline and misses its routes before the files are
looked at) and a ``public/`` folder with a small file, ``assets/app.css`` (about 2 KiB of
text), and a large one, ``assets/big.bin`` (1 MiB of random bytes). Each is requested
from:

* ``Pages(functions, public=public)`` on the ASGI face, against
  ``Starlette(routes=[Mount("/", app=StaticFiles(directory=public))])``, the way a
  Starlette user serves a folder. Neither is offered ``http.response.pathsend`` (the
  timing scope has no extensions, and uvicorn offers none), so both read the files:
  pagesfn the small one within its lookup's thread hop and the large one in 256 KiB
  chunks, Starlette each in 64 KiB chunks, every read a thread hop for both;
* ``Pages(...).wsgi`` against werkzeug's ``SharedDataMiddleware`` serving the same
  folder, a WSGI reference without a target (Starlette has no WSGI face). In-process the
  environ has no ``wsgi.file_wrapper``, so both bodies are iterated chunk by chunk
  (pagesfn's 64 KiB, werkzeug's 8 KiB); under gunicorn both return the server's file
  wrapper, which sends the file with ``sendfile()``.

Each is measured in-process, with the timing loop of :mod:`benchmarks.timing`, and over
HTTP (in ``--quick`` one short run each, a smoke test): the ASGI apps under uvicorn, the
WSGI apps under gunicorn, the load from wrk in its own process (:mod:`benchmarks.serving`).
A missing wrk, uvicorn or gunicorn skips its part with a note instead of failing.
In-process the ASGI apps get a server's ``receive`` (``measure(..., streamed=True)``):
Starlette's ``FileResponse`` listens for ``http.disconnect`` while it sends, as it does
under uvicorn's ASGI spec 2.3.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from werkzeug.middleware.shared_data import SharedDataMiddleware

from pagesfn import Pages, RouteWarning
from pagesfn.types import Environ, StartResponse, WSGIApp

from . import serving
from .report import progress
from .results import IN_PROCESS, Ratio, Result, Row, paired
from .timing import Case, Settings, Stats, WSGICase, measure, measure_wsgi
from .trees import functions_tree, route_source

TARGET = 0.8  # pagesfn must serve at least this many requests per Starlette request

LOAD = serving.Load()

FUNCTIONS = "functions"
PUBLIC = "public"


def _stylesheet(size: int) -> str:
    """Plain CSS rules, one per line, until the text is at least ``size`` bytes."""
    rules: list[str] = []
    length = 0
    while length < size:
        rule = f".c{len(rules)} {{ margin: {len(rules) % 7}px; color: #{len(rules):06x}; }}\n"
        rules.append(rule)
        length += len(rule)
    return "".join(rules)


SMALL_TEXT = _stylesheet(2 * 1024)
LARGE_SIZE = 1024 * 1024
# The same bytes on every run: a seeded generator, not os.urandom.
LARGE_SEED = 20240101

FILES = {
    f"{FUNCTIONS}/index.py": route_source(repr("home")),
    f"{FUNCTIONS}/api/hello.py": route_source(repr("Hello, world!")),
    f"{PUBLIC}/assets/app.css": SMALL_TEXT,
    # What the servers import: the pagesfn app, its WSGI face and the peers.
    "pages_server.py": (
        "from pathlib import Path\n\n"
        "from pagesfn import Pages\n\n"
        "root = Path(__file__).parent\n"
        f"app = Pages(root / {FUNCTIONS!r}, public=root / {PUBLIC!r})\n"
        "wsgi = app.wsgi\n"
    ),
    "peer_server.py": (
        "from pathlib import Path\n\n"
        "from benchmarks.static import starlette_app, werkzeug_app\n\n"
        f"public = Path(__file__).parent / {PUBLIC!r}\n"
        "starlette = starlette_app(public)\n"
        "werkzeug = werkzeug_app(public)\n"
    ),
}
LARGE_FILE = f"{PUBLIC}/assets/big.bin"  # written as bytes after the text files


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of ``public/``: the path requested and the body every app must answer."""

    name: str
    path: str
    body: bytes


def assets(large: bytes) -> tuple[Asset, ...]:
    small = SMALL_TEXT.encode()
    return (
        Asset(f"app.css ({_size(len(small))})", "/assets/app.css", small),
        Asset(f"big.bin ({_size(len(large))})", "/assets/big.bin", large),
    )


def starlette_app(public: str | os.PathLike[str]) -> Starlette:
    """``public`` served the usual Starlette way: ``StaticFiles`` mounted at the root."""
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=public))])


def werkzeug_app(public: str | os.PathLike[str]) -> WSGIApp:
    """``public`` served by werkzeug's ``SharedDataMiddleware`` in front of a 404."""
    # werkzeug annotates start_response with its own protocol, not pagesfn's.
    middleware = SharedDataMiddleware(_not_found, {"/": os.fspath(public)})  # type: ignore[arg-type]
    return cast(WSGIApp, middleware)


def _not_found(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = b"Not Found"
    start_response(
        "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]


@contextmanager
def pages_app(root: Path) -> Iterator[Pages]:
    """``Pages`` serving the project at ``root``, unloaded and closed on exit (as
    :func:`benchmarks.trees.pages_app`, with the ``public/`` folder)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RouteWarning)
        app = Pages(root / FUNCTIONS, public=root / PUBLIC)
    try:
        yield app
    finally:
        app.loader.unload()
        app.close()


def run(settings: Settings) -> Result:
    rows: list[Row] = []
    ratios: list[Ratio] = []
    notes = [
        "in-process: the apps called directly, no server; over HTTP: pagesfn and its peer "
        "each served by its own server process on 127.0.0.1",
        "ASGI peer: Starlette(routes=[Mount('/', app=StaticFiles(directory=public))])",
        "WSGI reference: werkzeug SharedDataMiddleware(not_found, {'/': public})",
    ]
    large = random.Random(LARGE_SEED).randbytes(LARGE_SIZE)
    files = assets(large)
    with functions_tree(FILES) as root:
        (root / LARGE_FILE).write_bytes(large)
        with pages_app(root) as pages:
            _in_process(pages, root / PUBLIC, files, settings, rows, ratios)
        _over_http(root, files, serving.load_for(settings, LOAD), rows, ratios, notes)
    return Result(
        "static",
        "static files from public/: pagesfn vs Starlette StaticFiles",
        tuple(rows),
        tuple(ratios),
        notes=tuple(notes),
    )


def _add(
    asset: Asset,
    where: str,
    cases: tuple[str, str],
    peer: str,
    stats: Sequence[Stats],
    rows: list[Row],
    ratios: list[Ratio],
    target: float | None,
    stacks: tuple[str, str] = (IN_PROCESS, IN_PROCESS),
) -> None:
    label = f"{where}: {asset.name}: pagesfn req/s / {peer} req/s"
    added, ratio = paired(f"{asset.name}, {where}", cases, stats, label, target, stacks)
    rows += added
    ratios.append(ratio)


ASGI_CASES = ("pagesfn", "Starlette Mount + StaticFiles")
WSGI_CASES = ("pagesfn.wsgi", "werkzeug SharedDataMiddleware")


def _in_process(
    pages: Pages,
    public: Path,
    files: Sequence[Asset],
    settings: Settings,
    rows: list[Row],
    ratios: list[Ratio],
) -> None:
    starlette = starlette_app(public)
    werkzeug = werkzeug_app(public)
    for asset in files:
        progress("static", f"in-process: timing {asset.name}, ASGI")
        cases = [
            Case(ASGI_CASES[0], pages, asset.path, asset.body),
            Case(ASGI_CASES[1], starlette, asset.path, asset.body),
        ]
        stats = measure(cases, settings, streamed=True)
        _add(asset, "in-process ASGI", ASGI_CASES, "Starlette", stats, rows, ratios, TARGET)

    for asset in files:
        progress("static", f"in-process: timing {asset.name}, WSGI")
        wsgi_cases = [
            WSGICase(WSGI_CASES[0], pages.wsgi, asset.path, asset.body),
            WSGICase(WSGI_CASES[1], werkzeug, asset.path, asset.body),
        ]
        stats = measure_wsgi(wsgi_cases, settings)
        _add(asset, "in-process WSGI", WSGI_CASES, "werkzeug", stats, rows, ratios, None)


def _over_http(
    root: Path,
    files: Sequence[Asset],
    load: serving.Load,
    rows: list[Row],
    ratios: list[Ratio],
    notes: list[str],
) -> None:
    if serving.unavailable("static", notes, "uvicorn"):
        return
    no_gunicorn = serving.missing_tools("gunicorn", wrk=False)

    pages_asgi = serving.uvicorn("uvicorn pagesfn", "pages_server:app", root)
    starlette_asgi = serving.uvicorn("uvicorn Starlette", "peer_server:starlette", root)
    servers = [pages_asgi, starlette_asgi]
    pages_wsgi = serving.gunicorn("gunicorn pagesfn.wsgi", "pages_server:wsgi", root)
    werkzeug_wsgi = serving.gunicorn("gunicorn werkzeug", "peer_server:werkzeug", root)
    if not no_gunicorn:
        servers += [pages_wsgi, werkzeug_wsgi]

    # (where, case names, peer, our server, their server, target)
    plan: list[tuple[str, tuple[str, str], str, serving.Server, serving.Server, float | None]]
    plan = [("HTTP uvicorn", ASGI_CASES, "Starlette", pages_asgi, starlette_asgi, TARGET)]
    if not no_gunicorn:
        plan.append(("HTTP gunicorn", WSGI_CASES, "werkzeug", pages_wsgi, werkzeug_wsgi, None))

    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for server in servers:
            progress("static", f"over HTTP: starting {server.name}")
            urls[server.name] = stack.enter_context(serving.serve(server, root))
        targets: list[serving.Target] = []
        for _, _, _, ours, theirs, _ in plan:
            for asset in files:
                for server in (ours, theirs):
                    url = urls[server.name] + asset.path
                    targets.append(serving.Target(f"{server.name} {asset.path}", url, asset.body))
        progress("static", f"over HTTP: {len(targets)} cases, {load.describe()}")
        stats = serving.measure_http(targets, load, "static")

    index = 0
    for where, cases, peer, ours, theirs, target in plan:
        for asset in files:
            pair = stats[index : index + 2]
            stacks = (ours.stack, theirs.stack)
            _add(asset, where, cases, peer, pair, rows, ratios, target, stacks)
            index += 2
    serving.describe_servers("static", notes, load, servers, root, bool(no_gunicorn))


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    return f"{size / 1024:.1f} KiB"
