"""The request pipeline, written once for both faces.

A face turns its protocol into a :class:`Request`, asks :meth:`Pipeline.prepare` what to do,
calls the handler the way that suits it (awaited, in a thread pool, on a background loop)
and hands the result to :meth:`Pipeline.complete` or the exception to :meth:`Pipeline.fail`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..adapters.mounted import MountedApp
from ..errors import (
    BadRequest,
    HandlerLoadError,
)
from ..http.results import finished, to_response
from ..http.wrappers import Request, Response
from ..routing import WEBSOCKET, Matcher, MiddlewareMatcher, NoMatch, Route
from ..routing.matcher import Params
from ..routing.path import split_path
from ..routing.rules import RoutesRules
from ..routing.table import RouteTable, allow_header_methods
from .context import ContextSettings
from .debug import not_found_page
from .failures import Failures, plain
from .flow import IO, Face, Flow, Step
from .handler import Handler, MountCall
from .loader import ModuleLoader
from .static import StaticFiles
from .websocket import websocket_session

if TYPE_CHECKING:
    from .proxy import Origin

logger = logging.getLogger("pagesfn")


class Pipeline:
    def __init__(
        self,
        table: RouteTable,
        matcher: Matcher,
        loader: ModuleLoader,
        settings: ContextSettings,
        *,
        failures: Failures,
        debug: bool = False,
        static: StaticFiles | None = None,
        origin: Origin | None = None,
        rules: RoutesRules | None = None,
    ) -> None:
        self.routes = table.routes
        self.matcher = matcher
        self.middleware = MiddlewareMatcher(table.middleware)
        self._has_middleware = bool(table.middleware)
        self.worker = table.worker
        self.loader = loader
        # Whether a route is all a request runs through: no middleware, ``_routes.json``
        # or worker in front of it.
        routes_alone = not table.middleware and rules is None and table.worker is None
        #: A route's load key -> method -> the handler that answers it, for routes already
        #: resolved: a request whose route is known skips loading. Standard methods (and
        #: WebSocket sessions) only, so a client cannot grow it with made-up ones.
        self._handlers: dict[str, dict[str, Handler]] = {}
        loader.on_unload.append(self._handlers.clear)
        #: All-static routes by the path as sent, when routes are alone: a request for one
        #: whose handler is known is routed by one lookup, with no splitting or matching.
        #: ``None`` when something runs in front of the routes.
        self._exact = matcher.exact if routes_alone else None
        self.settings = settings
        self.debug = debug
        #: What exceptions become.
        self.failures = failures
        self.static = static
        self.origin = origin
        self.rules = rules
        #: Whether a request that no route answers has anywhere else to go.
        self._fallbacks = static is not None or origin is not None
        #: Whether a mounted app can be reached straight from the path, when routes are
        #: alone.
        self.mount_shortcut = routes_alone and any(route.mounts for route in self.routes)

    def prepare(
        self,
        request: Request,
        schedule: Callable[[Any], None],
        face: Face[IO],
        io: IO,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Response | MountCall | Flow[IO]:
        """Route ``request``: a finished :class:`Response` (404, 405, 400...), a mounted
        app to call as is, or the :class:`Flow` of handlers to run on ``face`` (with its
        per-request state ``io``, and the ``loop`` it runs on, if any)."""
        # The path is decided first, for every consumer (``_routes.json``, the worker,
        # middleware, routes, mounts, static files, the origin): a path not in canonical
        # form is refused here. A hit among the all-static routes is canonical already.
        method = request.method
        segments: tuple[str, ...] | None = None
        exact = self._exact
        if exact is not None:
            # Routes alone (no middleware, ``_routes.json`` or worker): the route decides.
            if not request.websocket:
                route = exact.get(request.raw_path)
                if route is not None:
                    by_method = self._handlers.get(route.load_key)
                    handler = None if by_method is None else by_method.get(method)
                    if handler is not None:
                        step = Step(handler, {}, route.file)
                        return Flow(self, request, (), step, schedule, face, io, loop)
            try:
                # What Request.segments does, kept where it keeps it, without its call:
                # a parameter route's request is about 1% quicker for it.
                segments = request._segments = split_path(
                    request.raw_path, percent_encoded=request.percent_encoded
                )
            except BadRequest as exc:
                return self.failures.refused(exc)
            target = self._route(request, method, None, segments)
            if type(target) is Step:
                return Flow(self, request, (), target, schedule, face, io, loop)
            return self._unrouted(request, (), target, schedule, face, io, loop)
        found: tuple[Route, Params] | frozenset[str] | None = self.matcher.match_static(
            WEBSOCKET if request.websocket else method, request.raw_path
        )
        if found is None or self._has_middleware:
            try:
                segments = request.segments
            except BadRequest as exc:
                return self.failures.refused(exc)
        if self.rules is not None and not self.rules.invokes_functions(request.path):
            # Straight to the assets.
            return Flow(self, request, (), _NOTHING, schedule, face, io, loop)
        if self.worker is not None:
            try:
                handler = self.loader.worker(self.worker)
            except HandlerLoadError as exc:
                return self.failures.load_failed(request, exc)
            fetch = (Step(handler, {}, self.worker),)
            return Flow(self, request, fetch, _NOTHING, schedule, face, io, loop)
        steps: list[Step] | tuple[()] = ()
        if self._has_middleware:
            assert segments is not None
            steps = []
            for route, params in self.middleware.match(segments):
                try:
                    handlers = self.loader.middleware(route).handlers_for(method)
                except HandlerLoadError as exc:
                    return self.failures.load_failed(request, exc)
                steps.extend(Step(handler, params, route.file) for handler in handlers)
        target = self._route(request, method, found, segments)
        return self._unrouted(request, steps, target, schedule, face, io, loop)

    def _unrouted(
        self,
        request: Request,
        steps: Sequence[Step],
        target: Step | MountCall | Response | NoMatch,
        schedule: Callable[[Any], None],
        face: Face[IO],
        io: IO,
        loop: asyncio.AbstractEventLoop | None,
    ) -> Response | MountCall | Flow[IO]:
        """What :meth:`prepare` answers for the ``steps`` in front and the route's
        ``target``, unless it is a handler's step alone."""
        if not steps and not isinstance(target, Step):
            if not isinstance(target, NoMatch):
                return target  # a mounted app to call as is, or a finished response
            if not self._fallbacks or request.websocket:
                return finished(self._no_match(request, target))
        return Flow(self, request, steps, target, schedule, face, io, loop)

    def resolve(self, request: Request) -> Step | MountCall | Response | NoMatch:
        """The route step for a request rewritten by ``context.next(...)``."""
        try:
            segments = request.segments
        except BadRequest as exc:
            return self.failures.refused(exc)
        return self._route(request, request.method, None, segments)

    def _route(
        self,
        request: Request,
        method: str,
        found: tuple[Route, Params] | frozenset[str] | None,
        segments: tuple[str, ...] | None,
    ) -> Step | MountCall | Response | NoMatch:
        if request.websocket:
            method = WEBSOCKET
        if found is None:
            assert segments is not None
            found = self.matcher.find(method, segments)
        if isinstance(found, frozenset):
            return NoMatch(found)
        route, params = found
        by_method = self._handlers.get(route.load_key)
        handler = None if by_method is None else by_method.get(method)
        if handler is not None:
            return Step(handler, params, route.file)
        try:
            endpoint = self.loader.endpoint(route)
        except HandlerLoadError as exc:
            return self.failures.load_failed(request, exc)
        if endpoint.mount is not None:
            assert segments is not None  # an app route is a catch-all: never all-static
            rest = params[route.segments[-1].value]
            assert isinstance(rest, list)
            mounted_at = segments[: len(segments) - len(rest)]
            prefix = "/" + "/".join(mounted_at) if mounted_at else ""
            return MountCall(endpoint.mount, prefix, request.method, request.path)
        handler = endpoint.handler_for(method)
        if method == WEBSOCKET:
            handler = websocket_session(handler)  # the step that runs its session
        if method in _CACHED_METHODS:
            self._handlers.setdefault(route.load_key, {})[method] = handler
        return Step(handler, params, route.file)

    def step_result(self, result: object) -> Response:
        """Turn what a step returned into a :class:`Response`; raises
        :class:`HandlerResultError` for a value that is none."""
        return finished(result if type(result) is Response else to_response(result))

    def assets(self, request: Request, found: NoMatch, final: bool) -> Response | None:
        """The answer for a request no route takes: a static file, else (when ``final``)
        405/``OPTIONS`` for methods other routes or files take, the SPA page or the
        nearest ``404.html``; ``None`` leaves it to the origin."""
        if request.websocket:
            # No file or origin answers a WebSocket.
            return finished(self._no_match(request, found))
        method = request.method
        static = self.static
        if static is not None and (method == "GET" or method == "HEAD"):
            response = static.serve(
                method,
                request.raw_path,
                request.headers,
                percent_encoded=request.percent_encoded,
                root_path=request.root_path,
                segments=request.segments,
            )
            if response is not None:
                return finished(response)
        if not final:
            return None
        allowed = found.allowed
        if (
            static is not None
            and method != "GET"
            and method != "HEAD"
            and static.exists(
                request.raw_path, percent_encoded=request.percent_encoded, segments=request.segments
            )
        ):
            allowed = allowed | _STATIC_METHODS
        if allowed or static is None:
            return finished(self._no_match(request, NoMatch(allowed)))
        return finished(
            static.not_found(
                method,
                request.raw_path,
                request.headers,
                percent_encoded=request.percent_encoded,
                segments=request.segments,
            )
        )

    def fast_mount(self, raw_path: bytes) -> tuple[MountedApp, str] | None:
        """The mounted app and prefix for ``raw_path`` (the app-relative path a face routes
        on) when one app alone owns its prefix, without building a request or matching
        segment by segment; ``None`` means "use :meth:`prepare`"."""
        if not self.mount_shortcut:
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
        """Import every catch-all file (and config function) that mounts an app, each app
        once; the ones that fail are logged (their routes answer 500) and left out."""
        mounts: list[MountedApp] = []
        for route in self.routes:
            if route.mounts:
                try:
                    endpoint = self.loader.endpoint(route)
                except HandlerLoadError as exc:
                    logger.error("%s", exc)
                    continue
                mount = endpoint.mount
                # A function with several routes mounts one app, started once.
                if mount is not None and all(mount is not other for other in mounts):
                    mounts.append(mount)
        return mounts

    def _no_match(self, request: Request, found: NoMatch) -> Response:
        method = request.method
        if not found.allowed:
            if self.debug:
                return not_found_page(request, self.routes)
            return plain(404, "Not Found")
        if request.websocket:
            return plain(403, "No WebSocket handler (on_websocket) answers this path")
        if found.allowed == _WEBSOCKET_ONLY:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                # A handshake that arrived as plain HTTP: the WSGI face, which cannot upgrade.
                return plain(403, "WebSocket connections need the ASGI face (e.g. uvicorn)")
            response = plain(426, "Upgrade Required: this path takes WebSocket connections")
            response.headers["Upgrade"] = "websocket"
            response.headers["Connection"] = "Upgrade"
            return response
        allow = ", ".join(allow_header_methods(found.allowed))
        if method == "OPTIONS":
            return Response(b"", 204, {"Allow": allow})
        response = plain(405, "Method Not Allowed")
        response.headers["Allow"] = allow
        return response


_NOTHING = NoMatch(frozenset())
_STATIC_METHODS = frozenset({"GET", "HEAD"})
#: The methods whose handlers are kept once resolved: a route taking any method must not
#: let a client grow the cache with made-up ones.
_CACHED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", WEBSOCKET})
_WEBSOCKET_ONLY = frozenset({WEBSOCKET})
