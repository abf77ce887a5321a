"""The request log of ``pagesfn dev`` and ``pagesfn serve``: one line per request with its
method, path, status, time, the file that answered and the request id; coloured text on a
terminal, or JSON lines for log collectors."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..engine.context import usable_request_id
from ..errors import BadRequest
from ..routing import NoMatch, split_path
from ..types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from ..app import Pages

#: What a log folder (``--log-dir``) gets: the server's log and, when output is
#: intercepted, what functions print.
LOG_FILE = "pagesfn.log"
OUTPUT_FILE = "output.log"

_ID_HEADER = b"eo-log-uuid"
_FOLDER_HANDLER = "pagesfn-log-dir"
_COLOURS = {2: "green", 3: "cyan", 4: "yellow", 5: "red"}


class AccessLog:
    """Wraps the ASGI app ``pages`` and logs each HTTP request it answers to ``stream``.

    A request without an ``eo-log-uuid`` header is given one, so the id in the log is the
    one handlers see as ``context.uuid``.
    """

    def __init__(self, pages: Pages, *, json_lines: bool = False, stream: TextIO | None = None):
        self.pages = pages
        self.json_lines = json_lines
        self.stream = stream if stream is not None else sys.stderr
        self.colour = not json_lines and self.stream.isatty()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.pages(scope, receive, send)
            return
        request_id = _request_id(scope)
        if request_id is None:
            # The id handlers will see as ``context.uuid``: given to the request as its
            # header, in place of one that cannot serve.
            request_id = uuid.uuid4().hex
            scope = dict(scope)
            headers = [(k, v) for k, v in scope["headers"] if k != _ID_HEADER]
            scope["headers"] = [*headers, (_ID_HEADER, request_id.encode())]
        status = 500  # what the server answers if the app raises before responding
        start = time.perf_counter()

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.pages(scope, receive, logged_send)
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            self._write(scope, status, elapsed, request_id)

    def _write(self, scope: Scope, status: int, elapsed_ms: float, request_id: str) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        target = path + ("?" + query.decode("latin-1") if query else "")
        file = answering_file(self.pages, method, scope.get("raw_path") or path.encode())
        if self.json_lines:
            line = json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "method": method,
                    "path": target,
                    "status": status,
                    "duration_ms": round(elapsed_ms, 2),
                    "file": file,
                    "request_id": request_id,
                    "client": (scope.get("client") or [None])[0],
                }
            )
        else:
            code = f"{status}"
            if self.colour:
                import click

                code = click.style(code, fg=_COLOURS.get(status // 100, "white"), bold=True)
                method = click.style(method, bold=True)
            line = f"{method} {target} {code} {elapsed_ms:.1f} ms  {file}  {request_id}"
        print(line, file=self.stream, flush=True)


def answering_file(pages: Pages, method: str, raw_path: bytes) -> str:
    """The file that answers ``method raw_path``: a route file (relative to the functions
    folder), ``public/`` for static assets, or ``-``."""
    try:
        segments = split_path(raw_path)
    except BadRequest:
        return "-"
    found = pages.matcher.match(method, segments)
    if not isinstance(found, NoMatch):
        return found.route.file
    if pages.pipeline.static is not None and method in ("GET", "HEAD"):
        return "public/"
    return "-"


def _request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _ID_HEADER:
            text: str = value.decode("latin-1")
            return text if usable_request_id(text) else None
    return None


class Tee:
    """A text stream writing to several: the console and a log file."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        # Colour codes only when every stream is a terminal: never in a log file.
        return all(stream.isatty() for stream in self.streams)


def log_to_folder(folder: Path, *, intercept_output: bool = False) -> TextIO:
    """Write the log lines of pagesfn and uvicorn to ``folder/pagesfn.log`` as well as to
    the console, and return that file, for the request log to write to too.

    With ``intercept_output``, what the process prints to ``sys.stdout`` and
    ``sys.stderr`` (functions' ``print`` calls, tracebacks written by hand) goes to
    ``folder/output.log`` instead of the console.
    """
    folder.mkdir(parents=True, exist_ok=True)
    console = sys.__stderr__ or sys.stderr
    log = open(folder / LOG_FILE, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - kept open
    handler = logging.StreamHandler(log)
    handler.set_name(_FOLDER_HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("pagesfn", "uvicorn"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _FOLDER_HANDLER]:
            logger.removeHandler(old)
            old.close()
            if isinstance(old, logging.StreamHandler):
                # The file an earlier call opened: closing its handler leaves it open.
                old.stream.close()
        if name == "pagesfn" and not logger.handlers:
            # A handler of its own stops Python's last-resort one printing warnings and
            # errors on the console: print them there still.
            echo = logging.StreamHandler(console)
            echo.setLevel(logging.WARNING)
            logger.addHandler(echo)
        logger.addHandler(handler)
    if intercept_output:
        output = open(folder / OUTPUT_FILE, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        sys.stdout = sys.stderr = output
    return log
