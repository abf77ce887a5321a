"""Serve a project with Granian: ``pagesfn serve --server granian`` (``server = "granian"``
in ``pagesfn.toml``; the ``granian`` extra installs it).

Granian calls the app through its ASGI interface, whatever the tree holds: its WSGI
interface serving ``pages.wsgi`` measured no faster on a tree of Flask mounts and several
times slower on handlers (``docs/deployment.md``), and only ASGI carries WebSockets and the
lifespans. Each worker builds the app with the factory uvicorn's workers call
(:func:`pagesfn.serving.server.app_from_environment`), so the app, its limits and its
request log are the same under both servers; what differs is how each server is told the
rest, which :func:`serve_with_granian` maps:

- the head timeout is Granian's own HTTP/1 header read timeout;
- graceful shutdown: a worker asked to stop ends its streams and WebSockets (the app's
  start-up hook, as under uvicorn), finishes its requests and runs the lifespan shutdown,
  and is killed once ``shutdown_timeout`` has passed;
- with several workers, one that dies is replaced (Granian's respawn, which gives up on a
  worker failing again within seconds, a lifespan start-up failure for one); a single
  worker's exit ends the command, as a single uvicorn process's does;
- hot reload watches the folders ``pagesfn dev`` watches, with the same exclusions.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

#: How to add this server (what the ``granian`` extra installs).
INSTALL_HINT = "pip install 'granian>=2.5'"

#: Granian's header read timeout when the project turns the head timeout off: a day.
_NO_HEAD_TIMEOUT_MS = 24 * 3600 * 1000


def installed() -> bool:
    return importlib.util.find_spec("granian") is not None


def event_loop() -> str:
    """The loop Granian's workers run: uvloop where it is installed, as under uvicorn."""
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def serve_with_granian(
    config: Config,
    target: str,
    *,
    reload: bool,
    watched: Sequence[str] | None,
    unwatched: Sequence[str],
    excluded: Sequence[str],
    head_room: int,
) -> None:
    """Serve ``target`` (a factory, ``module:name``) under Granian until interrupted.

    ``watched``, ``unwatched`` and ``excluded`` (file name patterns) are what hot reload
    watches and skips; ``head_room`` the bytes of request head the server must take in
    for the app to answer an oversized one itself.
    """
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    head_timeout = config.head_timeout
    http1 = HTTP1Settings(
        header_read_timeout=int(head_timeout * 1000) if head_timeout else _NO_HEAD_TIMEOUT_MS,
        max_buffer_size=max(HTTP1Settings.max_buffer_size, head_room),
    )
    workers = 1 if reload else config.workers
    server = Server(
        target,
        address=config.host,
        port=config.port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops(event_loop()),
        # HTTP/1.1 alone, as uvicorn serves: with HTTP/2 too, Granian reads a connection's
        # first bytes to tell them apart with no timeout, so a client sending nothing
        # would hold its connection for good.
        http=HTTPModes.http1,
        websockets=True,
        http1_settings=http1,
        log_level=LogLevels.info,
        log_access=False,  # pagesfn writes its own (see pagesfn.serving.logs)
        respawn_failed_workers=workers > 1,
        workers_kill_timeout=math.ceil(config.shutdown_timeout) or None,
        factory=True,
        reload=reload,
        reload_paths=[Path(folder) for folder in watched or ()],
        reload_ignore_paths=[Path(folder) for folder in unwatched],
        # watchfiles matches these against each file's name.
        reload_ignore_patterns=["^" + fnmatch.translate(pattern) for pattern in excluded],
    )
    server.serve()
