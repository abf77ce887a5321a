"""The pages of debug mode: a traceback, or the routes that exist, as HTML for browsers and
as JSON for everything else (API clients, ``curl``, tests)."""

from __future__ import annotations

import html
import traceback
from collections.abc import Sequence

from ..errors import PagesError
from ..http.wrappers import Request, Response
from ..routing import Route

_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
    "pre{background:#f6f6f6;padding:1rem;overflow:auto;font-size:13px}"
    "h1{font-size:1.4rem;color:#b00020}td,th{text-align:left;padding:.2rem 1rem .2rem 0}"
    "code{background:#f3f3f3}"
)


def wants_html(request: Request | None) -> bool:
    """Whether the client is a browser (it asks for ``text/html``)."""
    return request is not None and "text/html" in request.headers.get("Accept", "")


def error_page(exc: BaseException, where: str, request: Request | None) -> Response:
    """A 500 that shows ``exc``: the file and handler (``where``), and the traceback when
    there is more to it than a load error's own message."""
    if isinstance(exc, PagesError) and exc.__cause__ is None:
        # pagesfn's own errors say what is wrong and where; their traceback would not.
        detail = where + str(exc)
        lines: list[str] = []
    else:
        detail = where + f"{type(exc).__name__}: {exc}"
        lines = traceback.format_exception(exc)
    if wants_html(request):
        body = (
            f"<!doctype html><meta charset=utf-8><title>500: {html.escape(type(exc).__name__)}"
            f"</title><style>{_STYLE}</style><h1>{html.escape(detail)}</h1>"
            + (f"<pre>{html.escape(''.join(lines))}</pre>" if lines else "")
            + "<p>This page shows because the app runs in debug mode.</p>"
        )
        return Response(body, 500, mimetype="text/html")
    return Response.json(
        {
            "error": "Internal Server Error",
            "detail": detail,
            "exception": type(exc).__name__,
            "traceback": lines,
        },
        500,
    )


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
