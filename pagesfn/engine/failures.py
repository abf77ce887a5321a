"""Where exceptions become responses, and what the log says about them: one place.

Two families of errors answer with their own status: pagesfn's
:class:`~pagesfn.RequestRefused` (its status, message and headers: 400, 408, 413, 414,
431, 503, 504) and werkzeug's ``HTTPException`` (``abort(404)``, a missing
``request.form["x"]``), answered as Flask does. Every other exception is a 500, logged
with the route file and handler it left, shown as a debug page only with ``debug``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from werkzeug.exceptions import HTTPException

from ..errors import HandlerLoadError, HandlerResultError, RequestRefused, RequestTimedOut
from ..http.head import InvalidHead
from ..http.results import finished
from ..http.wrappers import Request, Response
from .debug import error_page
from .handler import MountCall

if TYPE_CHECKING:
    from .flow import Flow

logger = logging.getLogger("pagesfn")

#: The handler name the log gives a mounted app that raised.
MOUNTED_APP = "app"

_Headers = TypeVar("_Headers")


class Failures:
    """The answers to what went wrong, for one app (``debug`` shows tracebacks)."""

    def __init__(self, *, debug: bool = False) -> None:
        self.debug = debug

    def answer(
        self, exc: BaseException, request: Request | None = None, where: str = ""
    ) -> Response:
        """The response for ``exc``: its own status for the two families, else a 500 (a
        debug page naming ``where``, with ``debug``). Nothing is logged here."""
        if isinstance(exc, RequestRefused):
            response = plain(exc.status, str(exc))
            for name, value in exc.headers:
                response.headers[name] = value
            return finished(response)
        if isinstance(exc, HTTPException) and exc.code is not None:
            # As Flask answers it: its description as plain text, its headers (``Allow``).
            response = plain(exc.code, exc.description or exc.name)
            for name, value in exc.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
            return finished(response)
        if not self.debug:
            return internal_error()
        return error_page(exc, where, request)

    def refused(self, exc: RequestRefused) -> Response:
        """The answer to a request refused with ``exc``: its status, message and headers."""
        return self.answer(exc)

    def timed_out(self, where: Flow[Any] | MountCall, timeout: float) -> Response:
        """The 504 for a request whose response did not start within ``timeout``; logged
        with the route file that was running."""
        if isinstance(where, MountCall):  # a mounted app called as is
            file, method, path = str(where.mount.file), where.method, where.path
        else:
            file, method, path = where.file or "?", where.request.method, where.request.path
        logger.error(
            "%s: %s %s did not answer within the %g s request timeout; the client got 504",
            file,
            method,
            path,
            timeout,
        )
        return self.answer(RequestTimedOut(timeout))

    def mount_failed(self, call: MountCall, exc: BaseException) -> Response:
        """The response for a mounted app that raised before starting its response."""
        if not isinstance(exc, RequestRefused):
            logger.error(
                "%s: mounted %s raised %s on %s %s",
                call.mount.file,
                call.mount.kind.label,
                type(exc).__name__,
                call.method,
                call.path,
                exc_info=exc,
            )
        return self.answer(exc, None, f"{call.mount.file}: ")

    def load_failed(self, request: Request, exc: HandlerLoadError) -> Response:
        """The 500 for a route (or middleware, or worker) module that cannot be loaded."""
        logger.error("%s %s -> 500: %s", request.method, request.path, exc)
        return self.answer(exc, request)

    @overload
    def chain_failed(self, flow: Flow[Any], exc: Exception) -> Response | None: ...
    @overload
    def chain_failed(
        self, flow: Flow[Any], exc: Exception, *, passing: Literal[False]
    ) -> Response: ...
    def chain_failed(
        self, flow: Flow[Any], exc: Exception, *, passing: bool = True
    ) -> Response | None:
        """Log an exception that left the chain and give the response for it; ``None``
        when the request should pass through to the assets and origin instead."""
        if isinstance(exc, RequestTimedOut):
            return self.timed_out(flow, exc.timeout)
        if isinstance(exc, RequestRefused):
            return self.answer(exc)
        failed = flow.failed_in
        file, name = (failed[1], failed[2]) if failed and failed[0] is exc else ("?", "?")
        if isinstance(exc, HTTPException) and exc.code is not None:
            if exc.code >= 500:
                logger.error("%s: handler `%s` raised %s (request %s)", file, name, exc, flow.uuid)
            return self.answer(exc)
        request = flow.request
        if isinstance(exc, HandlerResultError):
            logger.error("%s: handler `%s` %s (request %s)", file, name, exc, flow.uuid)
        else:
            logger.error(
                "%s: %s raised %s on %s %s (request %s)",
                file,
                f"handler `{name}`" if name != MOUNTED_APP else "the mounted app",
                type(exc).__name__,
                request.method,
                request.path,
                flow.uuid,
                exc_info=exc,
            )
        if passing and flow.pass_through:
            logger.warning("%s %s: passing through after the error", request.method, request.path)
            return None
        return self.answer(exc, request, f"{file}: `{name}` ")


def response_head(
    response: Response, file: str | None, headers: Callable[[Response], _Headers]
) -> tuple[Response, _Headers]:
    """The response to send and its header pairs as a face's ``headers`` builds them
    (``raw_wire_headers`` on the ASGI face, ``pep3333_headers`` on the WSGI one):
    ``response``'s, or, when its head cannot be sent, :func:`head_failed`'s. The face
    closes the stream of a response replaced so."""
    try:
        return response, headers(response)
    except InvalidHead as exc:
        return head_failed(exc, file, headers)


def head_failed(
    exc: InvalidHead, file: str | None, headers: Callable[[Response], _Headers]
) -> tuple[Response, _Headers]:
    """What is sent instead of a response whose head no server can send (``exc``): a
    plain 500, logged naming ``file``."""
    logger.error("%s: %s; the client got 500", file or "the response", exc)
    error = internal_error()
    return error, headers(error)


def log_stream_failure(exc: Exception, where: str) -> None:
    """Log a streamed body that raised after its response started: nothing can answer
    it any more, and the server cuts the response short."""
    logger.error(
        "%s: the streamed response body raised %s; the response is cut short",
        where,
        type(exc).__name__,
        exc_info=exc,
    )


def plain(status: int, text: str) -> Response:
    """A plain-text response."""
    return Response(text, status)


def internal_error() -> Response:
    """The 500 production clients get: it names no file and shows no code."""
    return plain(500, "Internal Server Error")
