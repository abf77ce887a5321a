"""``Pages``: a functions tree served as one ASGI app, with ``.wsgi`` as its WSGI twin."""

from __future__ import annotations

import asyncio
import os
import warnings
import weakref
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .concurrency import LoopThread
from .engine.background import BackgroundWork
from .engine.context import ContextSettings
from .engine.failures import Failures
from .engine.lifecycle import Lifecycle
from .engine.limits import DEFAULT_LIMITS, Limits, Pool
from .engine.loader import ModuleLoader
from .engine.pipeline import Pipeline
from .engine.resources import Resources
from .engine.static import StaticFiles
from .errors import HandlerLoadError, LoadError, RouteWarning
from .faces.asgi.face import ASGIFace
from .faces.wsgi.face import WSGIFace
from .faces.wsgi.lifespan import MountLifespans
from .routing import Matcher, Route, RouteTable, scan
from .routing.cloudbase import EXTENDED_CONTEXT_HEADER, load_functions_config
from .routing.rules import generate_routes_json, load_routes_json

if TYPE_CHECKING:
    from .engine.proxy import Origin
    from .faces.asgi.websocket import Channel
    from .kv import KVNamespace


class Pages(ASGIFace):
    """Serve the functions tree at ``functions``.

    A ``Pages`` object is an ASGI 3 application; ``pages.wsgi`` is a PEP 3333 application
    serving the same tree with the same behaviour.

    :param functions: the folder of route files.
    :param env: values added to ``context.env`` on top of the process environment.
    :param debug: show tracebacks and load errors in responses (never in production).
    :param eager: import every route module now and raise :class:`LoadError` listing
        every module that fails, instead of importing each on its first request.
    :param max_threads: size of the thread pool running sync handlers on the ASGI face.
    :param region: the value of ``context.server.region``.
    :param geo_header: a trusted request header holding a JSON object for ``context.geo``
        (set it only behind a proxy that overwrites that header).
    :param client_ip_header: a trusted header (``X-Real-IP``, ``X-Forwarded-For``) whose
        first address becomes ``context.client_ip``.
    :param shutdown_timeout: how long shutdown waits for ``wait_until`` work, in seconds.
    :param public: the folder of static assets served when no function answers (its
        ``_routes.json``, if any, decides which paths invoke functions at all).
    :param spa: serve ``/index.html`` for GET requests of missing pages (a single-page app).
    :param origin: a server (``http://127.0.0.1:3000``) that answers what neither
        functions nor static assets do, proxied with bodies streamed both ways.
    :param kv: KV bindings, each a :class:`~pagesfn.kv.KVNamespace`, the path of the
        SQLite file to keep it in, or a ``redis://`` URL; each lands in ``context.env``
        under its name.
    :param functions_config: a ``cloudbase-functions.json`` routing functions (each a
        ``main(event, context)`` or an app) by path prefix; ``functions`` is then ignored
        and the file's ``functionsRoot`` is the tree.
    :param extended_context_header: the request header whose JSON a config function
        reads as ``context.extendedContext``.
    :param limits: what one request may take (:class:`~pagesfn.Limits`: body size,
        request timeout, URL and header sizes, the thread pool's queue, form parsing);
        the defaults otherwise. See docs/limits.md.
    :param limit_options: single limits by name (``max_body_size=1024``), over
        ``limits``; each is off when ``None`` (or 0).

    Example::

        pages = Pages("functions", limits=Limits(max_body_size=1024 * 1024, request_timeout=10))
    """

    def __init__(
        self,
        functions: str | os.PathLike[str] = "functions",
        *,
        env: Mapping[str, str] | None = None,
        debug: bool = False,
        eager: bool = False,
        max_threads: int = 40,
        region: str = "local",
        geo_header: str | None = None,
        client_ip_header: str | None = None,
        shutdown_timeout: float = 30.0,
        public: str | os.PathLike[str] | None = None,
        spa: bool = False,
        origin: str | None = None,
        kv: Mapping[str, KVNamespace | str | os.PathLike[str]] | None = None,
        functions_config: str | os.PathLike[str] | None = None,
        extended_context_header: str = EXTENDED_CONTEXT_HEADER,
        limits: Limits = DEFAULT_LIMITS,
        **limit_options: float | None,
    ) -> None:
        self.limits = limits.replace(**limit_options) if limit_options else limits
        self.functions_config = (
            None if functions_config is None else os.path.abspath(os.fspath(functions_config))
        )
        static = rules = None
        if public is not None:
            static = StaticFiles(public, spa=spa)
            rules = load_routes_json(public)
        elif spa:
            raise ValueError("spa=True needs a public folder to serve index.html from")
        self.origin: Origin | None = None
        if origin is not None:
            from .engine.proxy import Origin  # httpx is imported only by apps that proxy

            self.origin = Origin(origin)
        self.debug = debug
        self.shutdown_timeout = shutdown_timeout
        if self.functions_config is not None:
            self.table: RouteTable = load_functions_config(self.functions_config)
        else:
            self.table = scan(os.path.abspath(os.fspath(functions)))
        self.functions = self.table.root
        for message in self.table.warnings:
            warnings.warn(message, RouteWarning, stacklevel=2)
        self.matcher = Matcher(self.table.routes)
        # Before the loader: a bad binding then leaves nothing behind to clean up.
        self.kv: dict[str, KVNamespace] = _namespaces(kv or {})
        self.websockets: set[Channel] = set()
        self.streams: set[asyncio.Future[None]] = set()
        self.loader = ModuleLoader(self.functions)
        settings = ContextSettings(
            env=MappingProxyType({**os.environ, **(env or {}), **self.kv}),
            region=region,
            geo_header=geo_header,
            client_ip_header=client_ip_header,
            extended_context_header=extended_context_header,
        )
        self.failures = Failures(debug=debug)
        self.pipeline = Pipeline(
            self.table,
            self.matcher,
            self.loader,
            settings,
            failures=self.failures,
            debug=debug,
            static=static,
            origin=self.origin,
            rules=rules,
        )
        self.lifecycle = Lifecycle(self.pipeline, self.failures, self.limits)
        self.executor = Pool(max_threads, self.limits.max_queue, thread_name_prefix="pagesfn")
        self.loop_thread = LoopThread()
        self.background = BackgroundWork(self.executor)
        self.mount_lifespans = MountLifespans(self.loop_thread)
        self.resources = Resources(
            background=self.background,
            origin=self.origin,
            namespaces=list(self.kv.values()),
            lifespans=self.mount_lifespans,
            loop_thread=self.loop_thread,
            executor=self.executor,
            timeout=shutdown_timeout,
        )
        # The finaliser holds the resources, not the app: it runs once the app is gone.
        self._finalizer = weakref.finalize(self, self.resources.close)
        if eager:
            failures = self.load_all()
            if failures:
                # Nothing of a half-loaded tree should outlive the failed constructor.
                self.close()
                self.loader.unload()
                raise LoadError(failures)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The route table, in precedence order."""
        return self.table.routes

    def load_all(self) -> list[HandlerLoadError]:
        """Import every route, middleware and worker module now; return the ones that
        failed."""
        failures = self.loader.load_all(self.table.routes)
        for route in self.table.middleware:
            try:
                self.loader.middleware(route)
            except HandlerLoadError as exc:
                failures.append(exc)
        if self.table.worker is not None:
            try:
                self.loader.worker(self.table.worker)
            except HandlerLoadError as exc:
                failures.append(exc)
        return failures

    def openapi(self, *, title: str = "pagesfn", version: str = "1.0.0") -> dict[str, Any]:
        """One OpenAPI 3.1 document of the whole tree: every handler route, read from its
        source, and each mounted app that publishes a document of its own (FastAPI,
        Litestar) merged under its prefix. Mounted apps are imported to ask them for it;
        no handler runs. See :mod:`pagesfn.routing.openapi`."""
        from .adapters.openapi import published_openapi
        from .routing.openapi import merge_mounted, openapi_document

        document = openapi_document(self.table, title=title, version=version)
        by_file = {route.file: route for route in self.table.routes if route.mounts}
        for entry in document.get("x-pagesfn-mounts", []):
            try:
                endpoint = self.loader.endpoint(by_file[entry["file"]])
            except HandlerLoadError as exc:
                entry["error"] = str(exc)
                continue
            mounted = endpoint.mount
            schema = None if mounted is None else published_openapi(mounted.exported)
            entry["openapi"] = schema is not None
            if schema is not None:
                merge_mounted(document, entry["prefix"], schema)
        return document

    def routes_json(self) -> dict[str, object]:
        """A ``_routes.json`` for this tree, as Cloudflare's tooling writes one: each
        route's static prefix (``*`` from its first parameter on), ``/*`` under each
        middleware folder, rules covered by a wider one dropped."""
        return generate_routes_json(self.table)

    @cached_property
    def wsgi(self) -> WSGIFace:
        """The PEP 3333 application serving this tree."""
        return WSGIFace(self)

    def close(self) -> None:
        """Finish ``wait_until`` work (up to ``shutdown_timeout``) and release threads.

        Also runs when the app is garbage-collected or the interpreter exits.
        """
        self._finalizer()

    def __repr__(self) -> str:
        return f"<Pages {self.functions!r} routes={len(self.table)}>"


def _namespaces(
    kv: Mapping[str, KVNamespace | str | os.PathLike[str]],
) -> dict[str, KVNamespace]:
    if not kv:
        return {}
    from .kv import KVNamespace, redis_namespace, sqlite_namespace  # only apps with KV need it

    namespaces: dict[str, KVNamespace] = {}
    for name, value in kv.items():
        if isinstance(value, KVNamespace):
            namespaces[name] = value
        elif isinstance(value, str) and value.startswith(_REDIS_URLS):
            namespaces[name] = redis_namespace(name, value)
        else:
            namespaces[name] = sqlite_namespace(name, value)
    return namespaces


_REDIS_URLS = ("redis://", "rediss://", "unix://")
