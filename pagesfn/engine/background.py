"""``wait_until`` work: what runs past a response, finished before the app shuts down."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import iscoroutinefunction

from ..concurrency import as_coroutine

logger = logging.getLogger("pagesfn")


class BackgroundWork:
    """Work handed to ``context.wait_until``: it runs past the response and is finished
    (within a bound) before the app shuts down."""

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self._executor = executor
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()

    def schedule(self, work: Any, loop: asyncio.AbstractEventLoop) -> None:
        if inspect.isawaitable(work):
            future = asyncio.run_coroutine_threadsafe(as_coroutine(work), loop)
        elif iscoroutinefunction(work):
            coroutine: Coroutine[Any, Any, Any] = work()
            future = asyncio.run_coroutine_threadsafe(as_coroutine(coroutine), loop)
        elif callable(work):
            future = self._executor.submit(work)
        else:
            raise TypeError(
                f"wait_until takes an awaitable or a callable, not {type(work).__name__}"
            )
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("wait_until work failed", exc_info=future.exception())

    def _snapshot(self) -> list[concurrent.futures.Future[Any]]:
        with self._lock:
            return list(self._pending)

    def wait(self, timeout: float | None) -> bool:
        """Block until all work is done or ``timeout`` passes; True when all finished."""
        pending = self._snapshot()
        if pending:
            _, not_done = concurrent.futures.wait(pending, timeout)
            return not not_done
        return True

    async def drain(self, timeout: float | None) -> bool:
        """Like :meth:`wait`, without blocking the running loop."""
        pending = self._snapshot()
        if not pending:
            return True
        _, not_done = await asyncio.wait([asyncio.wrap_future(f) for f in pending], timeout=timeout)
        return not not_done
