"""The pages of debug mode: a traceback, or the routes that exist, as HTML for browsers and
as JSON for everything else (API clients, ``curl``, tests)."""

from __future__ import annotations

import html
import linecache
import traceback
from collections.abc import Iterator, Sequence

from ..errors import PagesError
from ..http.wrappers import Request, Response
from ..routing import Route
from .loader import installed_roots, is_own_file, project_error_line

#: Lines shown either side of the line an error is at.
EXCERPT_CONTEXT = 3

_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
    "pre{background:#f6f6f6;padding:1rem;overflow:auto;font-size:13px}"
    "h1{font-size:1.4rem;color:#b00020}td,th{text-align:left;padding:.2rem 1rem .2rem 0}"
    "code{background:#f3f3f3}details{display:inline}summary{color:#777;cursor:pointer}"
    ".at{background:#ffe3e3;display:block}"
)


def wants_html(request: Request | None) -> bool:
    """Whether the client is a browser (it asks for ``text/html``)."""
    return request is not None and "text/html" in request.headers.get("Accept", "")


def error_page(exc: BaseException, where: str, request: Request | None) -> Response:
    """A 500 that shows ``exc``: the file and handler (``where``); the project's source
    around the line the error is at; and the traceback, pagesfn's own frames folded, when
    there is more to it than a load error's own message."""
    if isinstance(exc, PagesError) and exc.__cause__ is None:
        # pagesfn's own errors say what is wrong and where; their traceback would not.
        detail = where + str(exc)
        parts: list[tuple[int, str]] = []
    else:
        detail = where + f"{type(exc).__name__}: {exc}"
        parts = list(_folded_traceback(exc))
    source = source_excerpt(exc)
    if wants_html(request):
        excerpt = ""
        if source is not None:
            file, line, lines = source
            shown = "".join(
                f'<span class="at">{html.escape(text)}</span>'
                if number == line
                else html.escape(text)
                for number, text in lines
            )
            excerpt = f"<p><code>{html.escape(file)}</code>, line {line}</p><pre>{shown}</pre>"
        body = (
            f"<!doctype html><meta charset=utf-8><title>500: {html.escape(type(exc).__name__)}"
            f"</title><style>{_STYLE}</style><h1>{html.escape(detail)}</h1>{excerpt}"
            + (f"<pre>{_traceback_html(parts)}</pre>" if parts else "")
            + "<p>This page shows because the app runs in debug mode.</p>"
        )
        return Response(body, 500, mimetype="text/html")
    return Response.json(
        {
            "error": "Internal Server Error",
            "detail": detail,
            "exception": type(exc).__name__,
            "source": None
            if source is None
            else {
                "file": source[0],
                "line": source[1],
                "excerpt": [text.rstrip("\n") for _, text in source[2]],
            },
            "traceback": [_folded_line(count) if count else text for count, text in parts],
        },
        500,
    )


def _folded_traceback(exc: BaseException) -> Iterator[tuple[int, str]]:
    """The lines of ``exc``'s traceback, chained exceptions included; each run of frames
    in pagesfn's own code comes as one ``(count, text)`` (the frames joined), every other
    line as ``(0, line)``."""
    run: list[str] = []
    for part in traceback.TracebackException.from_exception(exc).format():
        if part.startswith('  File "') and is_own_file(part[8 : part.find('"', 8)]):
            run.append(part)
            continue
        if run:
            yield len(run), "".join(run)
            run = []
        yield 0, part
    if run:
        yield len(run), "".join(run)


def _folded_line(count: int) -> str:
    return f"  [{count} frame{'s' if count > 1 else ''} of pagesfn folded]\n"


def _traceback_html(parts: list[tuple[int, str]]) -> str:
    return "".join(
        f"<details><summary>{html.escape(_folded_line(count).strip())}</summary>"
        f"{html.escape(text)}</details>\n"
        if count
        else html.escape(text)
        for count, text in parts
    )


def source_excerpt(exc: BaseException) -> tuple[str, int, list[tuple[int, str]]] | None:
    """The project's file and line ``exc`` (or what caused it) is at, with the lines around
    it: where a syntax error is, else the innermost frame in the project's own code (not
    pagesfn's, the standard library's or an installed package's). ``None`` when there is
    no such line, or its source cannot be read."""
    installed = installed_roots()
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        place = project_error_line(error, installed)
        if place is not None:
            file, line = place
            first = max(1, line - EXCERPT_CONTEXT)
            lines = [
                (n, linecache.getline(file, n)) for n in range(first, line + EXCERPT_CONTEXT + 1)
            ]
            lines = [(n, text) for n, text in lines if text]
            if any(n == line for n, _ in lines):
                return file, line, lines
        error = error.__cause__ or error.__context__
    return None


def not_found_page(request: Request, routes: Sequence[Route]) -> Response:
    """A 404 that lists the routes the tree has."""
    if wants_html(request):
        rows = "".join(
            f"<tr><td><code>{html.escape(r.pattern)}</code></td>"
            f"<td>{html.escape(', '.join(r.allowed()))}</td><td>{html.escape(r.file)}</td></tr>"
            for r in routes
        )
        body = (
            f"<!doctype html><meta charset=utf-8><title>404: {html.escape(request.path)}"
            f"</title><style>{_STYLE}</style><h1>No route answers "
            f"<code>{html.escape(request.method)} {html.escape(request.path)}</code></h1>"
            f"<table><tr><th>route</th><th>methods</th><th>file</th></tr>{rows}</table>"
            "<p>This page shows because the app runs in debug mode.</p>"
        )
        return Response(body, 404, mimetype="text/html")
    return Response.json(
        {
            "error": "Not Found",
            "path": request.path,
            "routes": [
                {"pattern": r.pattern, "methods": list(r.allowed()), "file": r.file} for r in routes
            ],
        },
        404,
    )
