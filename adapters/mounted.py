"""A WSGI or ASGI app exported by a catch-all route file, ready for either face."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from pagesfn.types import ASGIApp, WSGIApp

from .asgi_to_wsgi import ASGIBridge
from .detect import AppKind, detect
from .lifespan import Lifespan
from .mount import PrefixStripped
from .wsgi_to_asgi import WSGIBridge


class MountedApp:
    """``app`` from ``file``, mounted at its folder's prefix.

    Each face asks for the callable native to it: the app itself when the protocols agree,
    a bridge (built once, on the pagesfn app's shared pool or loop) when they differ.
    """

    def __init__(self, obj: Any, file: str) -> None:
        #: What the route file exported, as it is (the OpenAPI document asks it its schema).
        self.exported = obj
        detected = detect(obj)
        self.kind: AppKind = detected.kind
        # An app routing on the path below its mount gets it so, from either face.
        self.app: Any = PrefixStripped(detected.app) if detected.strip_prefix else detected.app
        self.file = file
        self.lifespan: Lifespan | None = (
            Lifespan(self.app, file) if self.kind is AppKind.ASGI else None
        )
        self._lock = threading.Lock()
        self._asgi: ASGIApp | None = None
        self._wsgi: WSGIApp | None = None

    @property
    def state(self) -> dict[str, Any] | None:
        return self.lifespan.state if self.lifespan is not None else None

    def asgi(self, executor: concurrent.futures.Executor) -> ASGIApp:
        if self._asgi is None:
            with self._lock:
                if self._asgi is None:
                    self._asgi = (
                        self.app if self.kind is AppKind.ASGI else WSGIBridge(self.app, executor)
                    )
        return self._asgi

    def wsgi(
        self,
        loop: Callable[[], asyncio.AbstractEventLoop],
        executor: concurrent.futures.Executor,
    ) -> WSGIApp:
        if self._wsgi is None:
            with self._lock:
                if self._wsgi is None:
                    self._wsgi = (
                        self.app
                        if self.kind is AppKind.WSGI
                        else ASGIBridge(self.app, loop, executor, self.state, self.file)
                    )
        return self._wsgi

    def __repr__(self) -> str:
        return f"<MountedApp {self.kind.label} from {self.file!r}>"
