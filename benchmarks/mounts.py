"""Apps mounted by a catch-all route file, against the usual way of serving each.

One functions tree exports two apps from catch-all route files, the Flask app of
:mod:`benchmarks.mounted_apps` at ``/flask`` and its FastAPI app at ``/api``; each peer
serves an instance of the same app:

* Flask on the ASGI face (pagesfn's ``WSGIBridge``) against Starlette's
  ``Mount("/flask", app=a2wsgi.WSGIMiddleware(flask_app))``: both run the WSGI app in a
  thread pool, so every request awaits a thread hop; and, without a target, against
  ``Mount("/flask", app=asgiref.wsgi.WsgiToAsgi(flask_app))``, which runs every request on
  asgiref's one thread-sensitive thread and sends each message back to the event loop
  from there (a hop per message, and one request at a time under a server);
* FastAPI mounted at ``/api`` against the same FastAPI app serving ``/hello`` by itself;
* Flask on the WSGI face (``Pages(tree).wsgi``, which calls it directly) against the
  Flask app by itself.

Each is measured in-process, with the timing loop of :mod:`benchmarks.timing`, and over
HTTP (in ``--quick`` one short run each, a smoke test): the ASGI apps under uvicorn, the
WSGI apps under gunicorn, the load from wrk in its own process (:mod:`benchmarks.serving`).
A missing wrk, uvicorn or gunicorn skips its part with a note instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from a2wsgi import WSGIMiddleware

from pagesfn import Pages
from pagesfn.types import WSGIApp

from . import serving
from .mounted_apps import (
    HELLO,
    HELLO_JSON,
    fastapi_app,
    flask_app,
    starlette_a2wsgi,
    starlette_asgiref,
    starlette_fastapi,
)
from .report import progress
from .results import IN_PROCESS, Ratio, Result, Row, paired
from .timing import Case, Settings, Stats, WSGICase, measure, measure_wsgi, time_ratio
from .trees import functions_tree, pages_app

FLASK_TARGET = 2.0  # pagesfn's Flask mount on the ASGI face, in req/s of Starlette + a2wsgi
FASTAPI_TARGET = 0.97  # pagesfn's FastAPI mount, in req/s of FastAPI by itself
WSGI_TARGET = 0.95  # the Flask mount on the WSGI face, in req/s of Flask by itself (HTTP)

LOAD = serving.Load()

FUNCTIONS = "functions"
_ROUTE = "from benchmarks.mounted_apps import {factory}\n\napp = {factory}()\n"
FILES = {
    f"{FUNCTIONS}/flask/[[default]].py": _ROUTE.format(factory="flask_app"),
    f"{FUNCTIONS}/api/[[default]].py": _ROUTE.format(factory="fastapi_app"),
    # What the servers import: the pagesfn app, its WSGI face and the peers.
    "pages_server.py": (
        "from pathlib import Path\n\n"
        "from pagesfn import Pages\n\n"
        f"app = Pages(Path(__file__).parent / {FUNCTIONS!r})\n"
        "wsgi = app.wsgi\n"
    ),
    "peer_server.py": (
        "from benchmarks.mounted_apps import (\n"
        "    fastapi_app,\n"
        "    flask_app,\n"
        "    starlette_a2wsgi,\n"
        "    starlette_asgiref,\n"
        ")\n\n"
        "flask = flask_app()\n"
        "fastapi = fastapi_app()\n"
        "starlette = starlette_a2wsgi()\n"
        "wsgitoasgi = starlette_asgiref()\n"
    ),
}

HELLO_BODY = HELLO.encode()
FLASK_PATH = "/flask/hello"
API_PATH = "/api/hello"
ALONE_PATH = "/hello"


@dataclass(frozen=True, slots=True)
class Pair:
    """pagesfn against its peer for one scenario; ``target`` bounds pagesfn's throughput
    relative to the peer's (``None``: reported only). A ``reference`` (who answers, ratio
    label) is a second peer measured beside them and reported without a target."""

    group: str
    ours: str
    theirs: str
    label: str
    target: float | None
    reference: tuple[str, str] | None = None


WSGITOASGI = "Starlette Mount + asgiref WsgiToAsgi"  # the reference of FLASK_ASGI
FLASK_ASGI = Pair(
    f"Flask {FLASK_PATH}, ASGI",
    "pagesfn mount (WSGIBridge)",
    "Starlette Mount + a2wsgi",
    "Flask on ASGI: pagesfn req/s / Starlette+a2wsgi req/s",
    FLASK_TARGET,
    (WSGITOASGI, "Flask on ASGI: pagesfn req/s / Starlette+WsgiToAsgi req/s"),
)
FASTAPI = Pair(
    f"FastAPI {API_PATH}",
    "pagesfn mount",
    f"FastAPI alone ({ALONE_PATH})",
    "FastAPI: pagesfn mount req/s / FastAPI alone req/s",
    FASTAPI_TARGET,
)
# Which of Granian's interfaces serves a tree of WSGI mounts best: pagesfn's ASGI face
# (what `pagesfn serve --server granian` runs) or its WSGI face; Flask alone on Granian's
# WSGI interface for reference.
FLASK_GRANIAN = Pair(
    f"Flask {FLASK_PATH}, Granian",
    "pagesfn on Granian's ASGI interface",
    "pagesfn.wsgi on Granian's WSGI interface",
    "Flask on Granian: ASGI face req/s / WSGI face req/s",
    None,
    (
        "Flask alone on Granian's WSGI interface",
        "Flask on Granian: ASGI face req/s / Flask alone req/s",
    ),
)
FLASK_WSGI = Pair(
    f"Flask {FLASK_PATH}, WSGI",
    "pagesfn.wsgi mount",
    f"Flask alone ({ALONE_PATH})",
    "Flask on WSGI: pagesfn.wsgi mount req/s / Flask alone req/s",
    WSGI_TARGET,
)


def run(settings: Settings) -> Result:
    rows: list[Row] = []
    ratios: list[Ratio] = []
    notes = [
        "in-process: the apps called directly, no server; over HTTP: pagesfn and its peer "
        "each served by its own server process on 127.0.0.1",
        "Starlette Mount + asgiref WsgiToAsgi: each request in a fresh context, around an "
        "asgiref bug (django/asgiref#491) that fails many keep-alive requests under uvicorn",
    ]
    with functions_tree(FILES) as root:
        with pages_app(root / FUNCTIONS) as (pages, _):
            _in_process(pages, settings, rows, ratios)
        _over_http(root, serving.load_for(settings, LOAD), rows, ratios, notes)
    return Result(
        "mounts",
        "Flask and FastAPI mounted in pagesfn vs served the usual way",
        tuple(rows),
        tuple(ratios),
        notes=tuple(notes),
    )


def _add(
    pair: Pair,
    where: str,
    stats: Sequence[Stats],
    rows: list[Row],
    ratios: list[Ratio],
    target: float | None,
    stacks: Sequence[str] = (IN_PROCESS,) * 3,
) -> None:
    """The rows and ratios of ``pair``; ``stats`` (and the ``stacks`` that served them)
    are pagesfn's, its peer's and, when the pair has one, its reference's."""
    group = f"{pair.group}, {where}"
    names = (pair.ours, pair.theirs)
    label = f"{where}: {pair.label}"
    added, ratio = paired(group, names, stats[:2], label, target, (stacks[0], stacks[1]))
    rows += added
    ratios.append(ratio)
    if pair.reference is not None:
        name, label = pair.reference
        ours, reference = stats[0], stats[2]
        rows.append(Row(group, name, reference, stacks[2]))
        ratios.append(Ratio(f"{where}: {label}", time_ratio(reference, ours)))


def _in_process(pages: Pages, settings: Settings, rows: list[Row], ratios: list[Ratio]) -> None:
    middleware = WSGIMiddleware(flask_app())  # type: ignore[arg-type]
    try:
        progress("mounts", f"in-process: timing {FLASK_ASGI.group}")
        cases = [
            Case(FLASK_ASGI.ours, pages, FLASK_PATH, HELLO_BODY),
            Case(FLASK_ASGI.theirs, starlette_a2wsgi(middleware), FLASK_PATH, HELLO_BODY),
            # Nothing of its own to shut down: see starlette_asgiref.
            Case(WSGITOASGI, starlette_asgiref(), FLASK_PATH, HELLO_BODY),
        ]
        _add(FLASK_ASGI, "in-process", measure(cases, settings), rows, ratios, FLASK_TARGET)
    finally:
        middleware.executor.shutdown(wait=False)

    progress("mounts", f"in-process: timing {FASTAPI.group}")
    cases = [
        Case(FASTAPI.ours, pages, API_PATH, HELLO_JSON),
        Case(FASTAPI.theirs, fastapi_app(), ALONE_PATH, HELLO_JSON),
        # A reference, not a target: the same app under Starlette's Mount("/api").
        Case("Starlette Mount", starlette_fastapi(), API_PATH, HELLO_JSON),
    ]
    ours, alone, mounted = measure(cases, settings)
    # The target is set for a server's view (uvicorn, below). In-process the app alone
    # skips the prefix work every mount makes Starlette do (root_path stripped for each of
    # its routes), so Starlette's own Mount is the fair reference; both are reported.
    _add(FASTAPI, "in-process", (ours, alone), rows, ratios, None)
    rows.append(Row(rows[-1].group, cases[2].name, mounted))
    label = "in-process: FastAPI: pagesfn mount req/s / Starlette Mount req/s"
    ratios.append(Ratio(label, time_ratio(mounted, ours)))

    progress("mounts", f"in-process: timing {FLASK_WSGI.group}")
    wsgi_cases = [
        WSGICase(FLASK_WSGI.ours, pages.wsgi, FLASK_PATH, HELLO_BODY),
        # Flask annotates start_response with werkzeug's protocol, not pagesfn's.
        WSGICase(FLASK_WSGI.theirs, cast(WSGIApp, flask_app()), ALONE_PATH, HELLO_BODY),
    ]
    # The WSGI target is set for a server's view (gunicorn, below); in-process, where a
    # Flask hello is all there is to time, the ratio is reported only.
    _add(FLASK_WSGI, "in-process", measure_wsgi(wsgi_cases, settings), rows, ratios, None)


def _over_http(
    root: Path, load: serving.Load, rows: list[Row], ratios: list[Ratio], notes: list[str]
) -> None:
    if serving.unavailable("mounts", notes, "uvicorn"):
        return
    no_gunicorn = serving.missing_tools("gunicorn", wrk=False)

    pages_asgi = serving.uvicorn("uvicorn pagesfn", "pages_server:app", root)
    a2wsgi_asgi = serving.uvicorn("uvicorn Starlette+a2wsgi", "peer_server:starlette", root)
    asgiref_asgi = serving.uvicorn("uvicorn Starlette+WsgiToAsgi", "peer_server:wsgitoasgi", root)
    fastapi_asgi = serving.uvicorn("uvicorn FastAPI", "peer_server:fastapi", root)
    servers = [pages_asgi, a2wsgi_asgi, asgiref_asgi, fastapi_asgi]
    pages_wsgi = serving.gunicorn("gunicorn pagesfn.wsgi", "pages_server:wsgi", root)
    flask_wsgi = serving.gunicorn("gunicorn Flask", "peer_server:flask", root)
    if not no_gunicorn:
        servers += [pages_wsgi, flask_wsgi]
    granian: list[serving.Server] = []
    if serving.missing_tools("granian", wrk=False):
        notes.append("over HTTP (Granian): skipped: granian not installed")
    else:
        granian = [
            serving.granian("granian pagesfn", "pages_server:app", root),
            serving.granian("granian pagesfn.wsgi", "pages_server:wsgi", root, "wsgi"),
            serving.granian("granian Flask", "peer_server:flask", root, "wsgi"),
        ]
        servers += granian

    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for server in servers:
            progress("mounts", f"over HTTP: starting {server.name}")
            urls[server.name] = stack.enter_context(serving.serve(server, root))
        # (pair, server kind, (server, path) of each case in the pair's order, body)
        plan: list[tuple[Pair, str, list[tuple[serving.Server, str]], bytes]] = [
            (
                FLASK_ASGI,
                "uvicorn",
                [(pages_asgi, FLASK_PATH), (a2wsgi_asgi, FLASK_PATH), (asgiref_asgi, FLASK_PATH)],
                HELLO_BODY,
            ),
            (FASTAPI, "uvicorn", [(pages_asgi, API_PATH), (fastapi_asgi, ALONE_PATH)], HELLO_JSON),
        ]
        if not no_gunicorn:
            served = [(pages_wsgi, FLASK_PATH), (flask_wsgi, ALONE_PATH)]
            plan.append((FLASK_WSGI, "gunicorn", served, HELLO_BODY))
        if granian:
            asgi_face, wsgi_face, flask_alone = granian
            served = [(asgi_face, FLASK_PATH), (wsgi_face, FLASK_PATH), (flask_alone, ALONE_PATH)]
            plan.append((FLASK_GRANIAN, "granian", served, HELLO_BODY))
        targets = [
            serving.Target(server.name, urls[server.name] + path, expect)
            for _, _, served, expect in plan
            for server, path in served
        ]
        progress("mounts", f"over HTTP: {len(targets)} cases, {load.describe()}")
        stats = serving.measure_http(targets, load, "mounts")

    index = 0
    for pair, server_kind, served, _ in plan:
        cases = stats[index : index + len(served)]
        stacks = [server.stack for server, _ in served]
        _add(pair, f"HTTP {server_kind}", cases, rows, ratios, pair.target, stacks)
        index += len(served)
    serving.describe_servers("mounts", notes, load, servers, root, bool(no_gunicorn))
