"""The request timeout on the ASGI face: requests running past it are cancelled."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

logger = logging.getLogger("pagesfn")


class Watchdog:
    """Cancels the requests of one event loop that run past their deadline.

    Every request of an app has the same timeout, so deadlines come in the order requests
    start: a dict in insertion order, keyed by each request's task, is their queue, and
    one timer, set for the oldest, serves them all. Watching a request costs a dict
    insertion and deletion, not a timer of its own.
    """

    __slots__ = ("_deadlines", "_fired", "_timer", "loop", "timeout")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._fired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self) -> asyncio.Task[Any]:
        """Watch the running task from now until :meth:`end`; returns it."""
        task = asyncio.current_task(self.loop)
        if task is None:
            raise RuntimeError("a request is watched from inside its task")
        deadline = self.loop.time() + self.timeout
        self._deadlines[task] = deadline
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._check)
        return task

    def end(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching ``task`` (again is harmless); whether its deadline had passed.
        Then the cancellation it caused is taken back, so the request can still be
        answered, unless the task was also cancelled otherwise (the server stopping)."""
        self._deadlines.pop(task, None)
        if task not in self._fired:
            return False
        self._fired.discard(task)
        if sys.version_info >= (3, 11):
            return task.uncancel() == 0
        return True

    def _check(self) -> None:
        self._timer = None
        now = self.loop.time()
        expired = []
        for task, deadline in self._deadlines.items():
            if deadline > now:
                self._timer = self.loop.call_at(deadline, self._check)
                break
            expired.append(task)
        for task in expired:
            del self._deadlines[task]
            self._fired.add(task)
            task.cancel()
