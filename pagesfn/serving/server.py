"""Serve a project with uvicorn: ``pagesfn.run(...)``, what ``pagesfn dev`` and ``pagesfn
serve`` call.

With hot reload or several workers uvicorn imports the app by name in each process it
starts, so the app is built by :func:`app_from_environment` from the options the parent
process put in an environment variable; its supervisor keeps the listening socket open
across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib.util
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PagesError
from ..routing import scan
from ..routing.cloudbase import functions_root, load_functions_config
from ..routing.rules import load_routes_json
from ..types import ASGIApp, Receive, Scope, Send
from . import granian_server
from .config import FUNCTIONS_CONFIG_LOG_DIR, Config, load_config
from .head_timeout import HeadTimeoutProtocol, set_timeout
from .watch import mounted_sources

if TYPE_CHECKING:
    from ..app import Pages
    from ..engine.limits import Limits

# The parent process only reads the tree: the app and the server are built in the
# processes uvicorn starts, which import what serving needs.

logger = logging.getLogger("pagesfn")

#: The environment variable carrying the options of :func:`run` to the server's processes.
OPTIONS_VARIABLE = "PAGESFN_SERVER_OPTIONS"

DEV_DEFAULTS = {"debug": True, "reload": True, "access_log": True}
SERVE_DEFAULTS = {"debug": False, "reload": False, "access_log": False}


def run(
    project: str | os.PathLike[str] = ".",
    *,
    mode: str = "dev",
    config_file: str | os.PathLike[str] | None = None,
    **options: Any,
) -> None:
    """Serve the project at ``project`` until interrupted.

    ``mode`` is ``"dev"`` (debug pages, hot reload and a request log unless turned off) or
    ``"serve"`` (none of them unless turned on); ``options`` are those of the config file
    (``port=8000``, ``workers=2``, ``origin=...``), and win over it.
    """
    config = resolve(project, mode, config_file, options)
    if config.server == "granian" and not granian_server.installed():
        raise ServerError(f"the granian server is not installed: {granian_server.INSTALL_HINT}")
    if config.debug and not config.allow_remote_debug and not _loopback(config.host):
        raise ServerError(
            f"debug pages show tracebacks, file paths and code: they are not served on "
            f"{config.host}; bind to 127.0.0.1, use `pagesfn serve`, or pass "
            "--allow-remote-debug if every client of that address may see them"
        )
    # A bad config or a port in use fails now, with its reason, rather than in every
    # process uvicorn would start; so does a broken tree, unless the server reloads: then
    # it answers with what is wrong until a change fixes it.
    reload = bool(config.reload)
    if not reload:
        if config.functions_config is not None:
            load_functions_config(config.functions_config)
        else:
            scan(config.functions)
        if config.public is not None:
            load_routes_json(config.public)
    _check_port(config.host, config.port)
    watched = _watched(config) if reload else None
    os.environ[OPTIONS_VARIABLE] = json.dumps(
        {
            "project": str(config.project),
            "mode": mode,
            "config_file": str(config_file) if config_file else None,
            "options": options,
        },
        # Paths of the command line, absolute: the server's processes may start elsewhere.
        default=lambda path: os.path.abspath(path),
    )
    if config.server == "granian":
        granian_server.serve_with_granian(
            config,
            _FACTORY,
            reload=reload,
            watched=watched,
            unwatched=_unwatched(config, watched) if watched else (),
            excluded=_EXCLUDED,
            head_room=_head_room(config.limits),
        )
        return
    serve_with_uvicorn(
        _FACTORY,
        factory=True,
        host=config.host,
        port=config.port,
        workers=None if reload else config.workers,
        reload=reload,
        reload_dirs=watched,
        # Every change counts (a folder moved in is one event for the folder alone), but
        # for the bytecode Python itself writes into the tree.
        reload_includes=["*"] if reload else None,
        reload_excludes=[*_EXCLUDED, *_unwatched(config, watched)] if watched else None,
        access_log=False,  # pagesfn writes its own (see pagesfn.serving.logs)
        # No `server: uvicorn` on every response: it names the software to any client and
        # costs each response a header. (Granian sends `server: granian`, with no switch.)
        server_header=False,
        ws="websockets-sansio",
        # uvicorn's HTTP protocol with a request head timeout (pagesfn.serving.head_timeout).
        http=HeadTimeoutProtocol if config.head_timeout else "auto",
        timeout_graceful_shutdown=int(config.shutdown_timeout) or None,
        # A head beyond this gets the server's own 400.
        h11_max_incomplete_event_size=_head_room(config.limits),
        log_level="info",
    )


#: What each server process imports and calls to build the app.
_FACTORY = "pagesfn.serving.server:app_from_environment"


def serve_with_uvicorn(app: str, **options: Any) -> None:
    """``uvicorn.run(app, **options)``, except that with ``reload`` only ``reload_dirs`` are
    watched: given ``reload_includes``, uvicorn would also watch every folder of the current
    one a pattern matches ("*": all of them, ``.git`` and virtualenvs included)."""
    import uvicorn

    if not options.get("reload"):
        if (options.get("workers") or 1) > 1:
            _serve_with_workers(app, options)
        else:
            uvicorn.run(app, **options)
        return
    from uvicorn.supervisors import ChangeReload

    includes = options.pop("reload_includes", None) or []
    options.pop("workers", None)
    config = uvicorn.Config(app, **options)
    config.reload_includes = list(includes)  # set after the fact: see above
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()


def _serve_with_workers(app: str, options: dict[str, Any]) -> None:
    """``uvicorn.run(app, **options)`` with several worker processes, under pagesfn's
    supervisor (:mod:`pagesfn.serving.supervisor`): a worker that dies while serving is replaced,
    and one failing to start (a mounted app's lifespan startup failed) ends the command
    with the start-up failure status."""
    import uvicorn

    from .supervisor import Supervisor

    config = uvicorn.Config(app, **options)
    status = Supervisor(config, config.workers).run()
    if status:
        sys.exit(status)


def _head_room(limits: Limits) -> int:
    """Bytes of request head uvicorn's h11 parser takes: room for a head a little past
    the app's limits, which then answers 431 or 414 itself."""
    url = limits.max_url_length or _HEAD_ROOM
    headers = limits.max_header_size or _HEAD_ROOM
    return _HEAD_ROOM + 2 * (url + headers)


def resolve(
    project: str | os.PathLike[str],
    mode: str,
    config_file: str | os.PathLike[str] | None,
    options: Mapping[str, Any],
) -> Config:
    """The project's configuration for ``mode``: ``options`` over the config file over the
    mode's defaults. ``dev`` and ``serve`` are the command's modes; ``lambda`` (AWS Lambda)
    takes ``serve``'s defaults, and writes no log folder of its own."""
    defaults = DEV_DEFAULTS if mode == "dev" else SERVE_DEFAULTS
    config = load_config(project, options, config_file=config_file)

    def chosen(name: str) -> bool:
        # What neither the flags nor the file set, the mode decides.
        value: bool | None = getattr(config, name)
        return defaults[name] if value is None else value

    log_dir = config.log_dir
    if log_dir is None and config.functions_config is not None and mode in ("dev", "serve"):
        # Served by the command, such a project logs where CloudBase's framework does.
        log_dir = FUNCTIONS_CONFIG_LOG_DIR
    return dataclasses.replace(
        config,
        debug=chosen("debug"),
        reload=chosen("reload"),
        access_log=chosen("access_log"),
        log_dir=log_dir,
    )


def app_from_environment() -> Any:
    """The app of the options :func:`run` left in the environment (the factory each
    server process calls, uvicorn's or Granian's)."""
    raw = os.environ.get(OPTIONS_VARIABLE)
    if raw is None:
        raise RuntimeError(
            f"{OPTIONS_VARIABLE} is not set: start the server with `pagesfn dev` or "
            "`pagesfn serve`, or build `pagesfn.Pages(...)` yourself"
        )
    given = json.loads(raw)
    config = resolve(given["project"], given["mode"], given["config_file"], given["options"])
    try:
        app = build_app(config)
    except PagesError as exc:
        if not config.reload:
            raise
        # While files are being edited the tree can be broken for a moment: answer with
        # what is wrong until the next change reloads it, rather than not at all.
        logger.error("%s", exc)
        set_timeout(config.head_timeout)
        return broken_tree_app(exc, debug=bool(config.debug))
    loop, parser = serving_stack(config.server)
    # Said where the server says its own start-up lines.
    logging.getLogger(_SERVER_LOGGERS[config.server]).info(
        "pagesfn %s: %s, %s event loop, %s HTTP parser",
        given["mode"],
        config.server,
        loop,
        parser,
    )
    pages = getattr(app, "pages", app)
    pages.on_server_start = functools.partial(
        _end_connections_on_exit, pages, config.server, config.shutdown_timeout
    )
    # The process ends right after the lifespan shutdown, on SIGTERM without running any
    # finalizer (uvicorn re-raises the signal): the app releases what it holds then (the
    # last connection to a SQLite KV file checkpoints its WAL back into it).
    pages.close_at_shutdown = True
    # uvicorn's connections are held to it by their protocol (Granian times heads itself).
    set_timeout(config.head_timeout)
    return app


#: The logger each server writes its own lines to.
_SERVER_LOGGERS = {"uvicorn": "uvicorn.error", "granian": "_granian"}


def serving_stack(server: str = "uvicorn") -> tuple[str, str]:
    """The event loop and the HTTP parser this process serves with. uvicorn's ``auto``
    choices: uvloop and httptools when they are installed, else asyncio and h11; Granian
    parses HTTP in Rust (hyper) and runs uvloop where it is installed."""
    if server == "granian":
        return granian_server.event_loop(), "hyper (Rust)"
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    try:
        running = type(asyncio.get_running_loop()).__module__
    except RuntimeError:  # not on a loop yet: the one uvicorn will start
        running = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    loop = "uvloop" if running.startswith("uvloop") else "asyncio"
    parser = "httptools" if AutoHTTPProtocol.__name__ == "HttpToolsProtocol" else "h11"
    return loop, parser


def _end_connections_on_exit(pages: Pages, server: str, shutdown_timeout: float) -> None:
    """When the server is asked to stop, end streamed responses and close WebSockets with
    1001 first: the server would wait for an endless stream until its shutdown timeout,
    and uvicorn close WebSockets with 1012.

    Called as the lifespan starts, on the server's loop in the main thread of its
    process, once the server's own signal handlers are in place (uvicorn's, or those
    Granian adds to its loop): they are chained after this one.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    closing: set[asyncio.Task[None]] = set()  # held until done, as asyncio asks

    def start_closing() -> None:
        task = loop.create_task(pages.close_connections())
        closing.add(task)
        task.add_done_callback(closing.discard)

    signals = [signal.SIGINT, signal.SIGTERM]
    if server == "granian" and _close_before_granian_stops(pages, loop, shutdown_timeout):
        signals.remove(signal.SIGTERM)
    for signum in signals:
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def stopping(number: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(start_closing)
            previous(number, frame)

        signal.signal(signum, stopping)


def _close_before_granian_stops(
    pages: Pages, loop: asyncio.AbstractEventLoop, shutdown_timeout: float
) -> bool:
    """Have a Granian worker close its connections before it stops on SIGTERM (what
    Granian's main process sends it, as it is asked to stop); whether it was done.

    A Granian worker stops on SIGINT or SIGTERM, handled on its loop, and drops its
    connections at once: a close frame sent as the same signal arrives would mostly be
    lost. So SIGTERM is taken from Granian: the connections are closed (within half the
    shutdown timeout), then the worker sends itself SIGINT, which Granian still handles.
    SIGINT alone (Ctrl-C in a terminal reaches every process) closes them as it stops.
    """
    if not loop.remove_signal_handler(signal.SIGTERM):
        return False  # not Granian's loop handler: chain the signal as for uvicorn
    bound = shutdown_timeout / 2 if shutdown_timeout > 0 else None
    asked: list[asyncio.Task[None]] = []  # once, and held until the process ends

    async def close_then_stop() -> None:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pages.close_connections(), bound)
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    def stopping() -> None:
        if not asked:
            asked.append(loop.create_task(close_then_stop()))

    loop.add_signal_handler(signal.SIGTERM, stopping)
    return True


def build_app(config: Config) -> Any:
    """``Pages`` for ``config``, wrapped in the request log when it is on (and logging to
    the log folder, when there is one)."""
    from ..app import Pages
    from .logs import AccessLog, Tee, log_to_folder

    stream: Any = sys.stderr
    if config.log_dir is not None:
        stream = Tee(
            stream, log_to_folder(config.log_dir, intercept_output=config.intercept_output)
        )
    pages = Pages(**config.pages_options())
    if not config.access_log:
        return pages
    return AccessLog(pages, json_lines=config.log_format == "json", stream=stream)


def broken_tree_app(exc: PagesError, *, debug: bool = True) -> ASGIApp:
    """An ASGI app answering every request with ``exc`` as a debug page, or without
    ``debug`` with a plain 500 (the log has what is wrong: the page names files)."""
    from ..engine.failures import Failures
    from ..faces.asgi.body import scope_headers
    from ..faces.asgi.send import send_response
    from ..http.wrappers import Request

    failures = Failures(debug=debug)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1011})
            return
        request = Request(
            scope["method"], "http", None, "", scope["path"], b"", scope_headers(scope), None
        )
        response = failures.answer(exc, request)
        await send_response(response, scope["method"], send, scope, None)

    return app


#: h11's default for the size of a request head, which pagesfn only ever raises.
_HEAD_ROOM = 16 * 1024


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def _check_port(host: str, port: int) -> None:
    # uvicorn reports a port in use from its own process, as a log line; finding out here
    # lets the command exit with its one-line reason instead.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class ServerError(PagesError):
    """The server cannot start (its address is taken, ...)."""

    code = "server"


#: File names whose changes never restart the dev server.
_EXCLUDED = (".*", "*.py[cod]", "__pycache__", "*~")
#: Folders in a watched one that hold no functions.
_UNWATCHED_NAMES = frozenset({"node_modules", "__pycache__"})


def _unwatched(config: Config, watched: list[str]) -> list[str]:
    """Folders inside the watched ones whose changes are not the code's: what the server
    itself writes (the log folder, SQLite KV files), the static files, and the project's
    dot-folders (``.git``, ``.venv``), virtualenvs and ``node_modules``.

    uvicorn skips a folder only when it exists as one when the server starts, so the ones
    the server writes to are created now.
    """
    written = [] if config.log_dir is None else [config.log_dir]
    written += [binding.parent for binding in config.kv.values() if isinstance(binding, Path)]
    for folder in written:
        folder.mkdir(parents=True, exist_ok=True)
    skipped = [*written] if config.public is None else [*written, config.public]
    for root in watched:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir() and (
                    entry.name.startswith(".")
                    or entry.name in _UNWATCHED_NAMES
                    or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
                ):
                    skipped.append(Path(entry.path))
    roots = [Path(root).resolve() for root in watched]
    inside = {folder.resolve() for folder in skipped}
    return sorted(str(f) for f in inside if any(f != r and f.is_relative_to(r) for r in roots))


def _watched(config: Config) -> list[str]:
    # The functions tree; while it does not exist yet, the nearest folder that does, so its
    # creation is seen. Not the static files (they are read per request, and a build
    # writing them would restart the server over and over), nor the whole project (it may
    # hold a virtualenv or node_modules, too big to watch). A config file's functions root
    # and the file's own folder. Then the folders named to watch too (`--watch`), and those
    # the mounted apps' source comes from (serving.watch), unless one kept holds them.
    if config.functions_config is None:
        trees = [config.functions, *mounted_sources(config.functions)]
    else:
        root = Path(functions_root(config.functions_config))
        trees = [config.functions_config.parent]
        if not root.is_relative_to(trees[0]):
            trees.append(root)
    watched: list[Path] = []
    for folder in [*trees, *config.watch]:
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        if not any(folder.resolve().is_relative_to(kept.resolve()) for kept in watched):
            watched.append(folder)
    return [str(folder) for folder in watched]
