"""The request pipeline, written once for both faces.

A face turns its protocol into a :class:`Request`, asks :meth:`Pipeline.prepare` what to do,
calls the handler the way that suits it (awaited, in a thread pool, on a background loop)
and hands the result to :meth:`Pipeline.complete` or the exception to :meth:`Pipeline.fail`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .adapters import MountedApp
from .context import Context, ContextSettings
from .errors import BadRequest, HandlerLoadError, HandlerResultError
from .loader import Handler, ModuleLoader
from .results import to_response
from .routing import Match, Matcher, NoMatch, Route, RouteKind, split_path
from .routing.table import allow_header_methods
from .wrappers import Request, Response, carries_body

logger = logging.getLogger("pagesfn")


@dataclass(slots=True)
class Invocation:
    """A handler about to be called with its context."""

    handler: Handler
    context: Context
    file: str


@dataclass(slots=True)
class MountCall:
    """A request for a mounted app; ``prefix`` (decoded) is the part of the path it sits at."""

    mount: MountedApp
    prefix: str
    method: str
    path: str


class Pipeline:
    def __init__(
        self,
        routes: Sequence[Route],
        matcher: Matcher,
        loader: ModuleLoader,
        settings: ContextSettings,
        *,
        debug: bool = False,
    ) -> None:
        self.routes = routes
        #: Whether any route mounts an app: lets the faces skip the mount shortcut at once.
        self.has_mounts = any(route.kind is RouteKind.APP for route in routes)
        self.matcher = matcher
        self.loader = loader
        self.settings = settings
        self.debug = debug

    def prepare(
        self,
        request: Request,
        raw_path: bytes,
        schedule: Callable[[Any], None],
        *,
        percent_encoded: bool = True,
    ) -> Response | Invocation | MountCall:
        """Route ``request``: a finished :class:`Response` (404, 405, 400...) or the
        handler to call."""
        method = request.method
        segments: tuple[str, ...] = ()
        found: Match | NoMatch | None = self.matcher.match_static(method, raw_path)
        if found is None:
            try:
                segments = split_path(raw_path, percent_encoded=percent_encoded)
            except BadRequest as exc:
                return self.finish(_plain(exc.status, str(exc)))
            found = self.matcher.match(method, segments)
        if isinstance(found, NoMatch):
            return self.finish(self._no_match(method, found))
        route = found.route
        try:
            endpoint = self.loader.endpoint(route)
        except HandlerLoadError as exc:
            logger.error("%s %s -> 500: %s", method, request.path, exc)
            return self.finish(self._server_error(exc))
        if endpoint.mount is not None:
            rest = found.params[route.segments[-1].value]
            assert isinstance(rest, list)
            mounted_at = segments[: len(segments) - len(rest)]
            prefix = "/" + "/".join(mounted_at) if mounted_at else ""
            return MountCall(endpoint.mount, prefix, method, request.path)
        context = Context(request, found.params, route.file, self.settings, schedule)
        return Invocation(endpoint.handler_for(method), context, route.file)

    def complete(self, invocation: Invocation, result: Any) -> Response:
        """Turn a handler's return value into the response to send."""
        invocation.context.request.close()
        try:
            response = to_response(result)
            _check_headers(response)
        except HandlerResultError as exc:
            handler = invocation.handler.name
            logger.error(
                "%s: handler `%s` %s (request %s)",
                invocation.file,
                handler,
                exc,
                invocation.context.uuid,
            )
            return self.finish(self._server_error(exc, f"{invocation.file}: `{handler}` "))
        return self.finish(response)

    def fail(self, invocation: Invocation, exc: BaseException) -> Response:
        """The response for a handler that raised ``exc``."""
        invocation.context.request.close()
        if isinstance(exc, BadRequest):
            return self.finish(_plain(exc.status, str(exc)))
        logger.error(
            "%s: handler `%s` raised %s (request %s)",
            invocation.file,
            invocation.handler.name,
            type(exc).__name__,
            invocation.context.uuid,
            exc_info=exc,
        )
        return self.finish(self._server_error(exc))

    def fast_mount(self, raw_path: bytes) -> tuple[MountedApp, str] | None:
        """The mounted app and prefix for ``raw_path`` (the app-relative path a face routes
        on) when one app alone owns its prefix, without building a request or matching
        segment by segment; ``None`` means "use :meth:`prepare`"."""
        if not self.has_mounts:
            return None
        found = self.matcher.match_mount(raw_path)
        if found is None:
            return None
        route, prefix = found
        try:
            mount = self.loader.endpoint(route).mount
        except HandlerLoadError:
            return None  # prepare() answers it, with the error
        return None if mount is None else (mount, prefix)

    def mounted_apps(self) -> list[MountedApp]:
        """Import every catch-all file that mounts an app; the ones that fail are logged
        (their routes answer 500) and left out."""
        mounts = []
        for route in self.routes:
            if route.kind is RouteKind.APP:
                try:
                    endpoint = self.loader.endpoint(route)
                except HandlerLoadError as exc:
                    logger.error("%s", exc)
                    continue
                if endpoint.mount is not None:
                    mounts.append(endpoint.mount)
        return mounts

    def mount_failed(self, call: MountCall, exc: BaseException) -> Response:
        """The response for a mounted app that raised before starting its response."""
        logger.error(
            "%s: mounted %s raised %s on %s %s",
            call.mount.file,
            call.mount.kind.label,
            type(exc).__name__,
            call.method,
            call.path,
            exc_info=exc,
        )
        return self.finish(self._server_error(exc))

    @staticmethod
    def finish(response: Response) -> Response:
        """Strip the body and its headers where the status allows none (1xx, 204, 304).

        ``Content-Length`` is added on the wire by :func:`wire_headers`; the face drops the
        body of a ``HEAD`` response itself, keeping its length.
        """
        if not carries_body(response.status_code):
            response.body = b""
            response.headers.pop("Content-Length", None)
            response.headers.pop("Content-Type", None)
        return response

    def _no_match(self, method: str, found: NoMatch) -> Response:
        if not found.allowed:
            return _plain(404, "Not Found")
        allow = ", ".join(allow_header_methods(found.allowed))
        if method == "OPTIONS":
            return Response(b"", 204, {"Allow": allow})
        response = _plain(405, "Method Not Allowed")
        response.headers["Allow"] = allow
        return response

    def _server_error(self, exc: BaseException, prefix: str = "") -> Response:
        if not self.debug:
            return _plain(500, "Internal Server Error")
        if isinstance(exc, (HandlerLoadError, HandlerResultError)) and exc.__cause__ is None:
            detail = prefix + str(exc)
        else:
            detail = prefix + "".join(traceback.format_exception(exc))
        return _plain(500, detail)


def wire_headers(response: Response) -> list[tuple[str, str]]:
    """The header pairs to send, with ``Content-Length`` added where it belongs."""
    items = response.header_items()
    if not carries_body(response.status_code):
        return items
    # A plain scan: werkzeug's ``in`` raises and catches a KeyError on a miss.
    for name, _ in items:
        if name.lower() == "content-length":
            return items
    items.append(("Content-Length", str(len(response.body))))
    return items


def _check_headers(response: Response) -> None:
    for name, value in response.header_items():
        if not (name.isascii() and value.isascii()):
            try:
                name.encode("latin-1")
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise HandlerResultError(
                    f"returned the header `{name}: {value}`, which HTTP cannot carry; "
                    "use ASCII (percent-encode the value)"
                ) from None


def _plain(status: int, text: str) -> Response:
    return Response(text, status)
