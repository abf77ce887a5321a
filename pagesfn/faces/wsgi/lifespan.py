"""Lifespans of mounted ASGI apps on the WSGI face, which has no lifespan of its own."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from ...adapters.lifespan import Lifespan, LifespanError, LifespanGroup
from ...concurrency import LoopThread
from ...errors import kept

logger = logging.getLogger("pagesfn")


class MountLifespans:
    """Lifespans of mounted ASGI apps served on the WSGI face: each started once, on the
    background loop, before its first request, and shut down when the app closes."""

    def __init__(self, loop_thread: LoopThread) -> None:
        self._loop_thread = loop_thread
        self._lock = threading.Lock()
        self._started: list[Lifespan] = []
        # Each failure as :func:`kept` keeps it, to raise again.
        self._failed: dict[int, tuple[LifespanError, TracebackType | None]] = {}

    def ensure_started(self, lifespan: Lifespan) -> None:
        """Start ``lifespan`` unless done; re-raises its startup failure every time."""
        if lifespan.started or not lifespan.supported:
            return
        with self._lock:
            failure = self._failed.get(id(lifespan))
            if failure is not None:
                raise failure[0].with_traceback(failure[1])
            if lifespan in self._started:
                return
            try:
                self._loop_thread.run(lifespan.startup())
            except LifespanError as exc:
                self._failed[id(lifespan)] = kept(exc)
                raise
            self._started.append(lifespan)

    def shutdown(self, timeout: float | None) -> None:
        with self._lock:
            started, self._started = self._started, []
        if started:
            self._loop_thread.run(LifespanGroup(started).shutdown(timeout))
