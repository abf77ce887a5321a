"""``Pages``: a functions tree served as one ASGI app, with ``.wsgi`` as its WSGI twin."""

from __future__ import annotations

import concurrent.futures
import os
import warnings
import weakref
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType

from .asgi import ASGIFace
from .background import BackgroundWork, LoopThread
from .context import ContextSettings
from .errors import HandlerLoadError, LoadError, RouteWarning
from .loader import ModuleLoader
from .pipeline import Pipeline
from .routing import Matcher, Route, RouteTable, scan
from .wsgi import MountLifespans, WSGIFace


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
    ) -> None:
        self.functions = os.path.abspath(os.fspath(functions))
        self.debug = debug
        self.shutdown_timeout = shutdown_timeout
        self.table: RouteTable = scan(self.functions)
        for message in self.table.warnings:
            warnings.warn(message, RouteWarning, stacklevel=2)
        self.matcher = Matcher(self.table.routes)
        self.loader = ModuleLoader(self.functions)
        settings = ContextSettings(
            env=MappingProxyType({**os.environ, **(env or {})}),
            region=region,
            geo_header=geo_header,
            client_ip_header=client_ip_header,
        )
        self.pipeline = Pipeline(
            self.table.routes, self.matcher, self.loader, settings, debug=debug
        )
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_threads, thread_name_prefix="pagesfn"
        )
        self.loop_thread = LoopThread()
        self.background = BackgroundWork(self.executor)
        self.mount_lifespans = MountLifespans(self.loop_thread)
        self._finalizer = weakref.finalize(
            self,
            _shutdown,
            self.background,
            self.mount_lifespans,
            self.loop_thread,
            self.executor,
            shutdown_timeout,
        )
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
        """Import every route module now; return the ones that failed."""
        return self.loader.load_all(self.table.routes)

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


def _shutdown(
    background: BackgroundWork,
    mount_lifespans: MountLifespans,
    loop_thread: LoopThread,
    executor: concurrent.futures.ThreadPoolExecutor,
    timeout: float,
) -> None:
    background.wait(timeout)
    mount_lifespans.shutdown(timeout)
    loop_thread.close(timeout)
    executor.shutdown(wait=False, cancel_futures=True)
