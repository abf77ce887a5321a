"""The request timeout on the ASGI face: requests running past it are cancelled."""

from __future__ import annotations

import asyncio
import math
import sys
from typing import Any

#: Epochs in one timeout, at least: a request is cancelled at most two of them late.
_EPOCHS_PER_TIMEOUT = 8
#: The longest epoch, in seconds.
_LONGEST_EPOCH = 1.0
#: What a request the watchdog cancelled is marked with, in place of its epoch.
_FIRED = -1


class Watchdog:
    """Cancels the requests of one event loop that run past their deadline.

    Each watched request's task is a key of a dict, its value the epoch it started in:
    watching costs an insertion and ending a removal, and no clock is read. While
    requests are watched, a timer ticks once an epoch (an eighth of the timeout, at most
    a second) and cancels the requests that have run for the timeout's whole epochs: a
    request is cancelled between ``timeout`` and ``timeout`` plus two epochs after it
    started, never before.
    """

    __slots__ = ("_epoch", "_running", "_span", "_tick", "_timer", "loop", "timeout")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        #: Seconds per epoch, and the whole epochs a request may run.
        self._tick = min(timeout / _EPOCHS_PER_TIMEOUT, _LONGEST_EPOCH)
        self._span = math.ceil(timeout / self._tick)
        self._epoch = 0
        #: task -> the epoch it was watched from, or _FIRED once cancelled.
        self._running: dict[asyncio.Task[Any], int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def watch(self) -> asyncio.Task[Any]:
        """Watch the running task from now until :meth:`end`; returns it."""
        task = asyncio.current_task(self.loop)
        if task is None:
            raise RuntimeError("a request is watched from inside its task")
        self._running[task] = self._epoch
        if self._timer is None:
            self._timer = self.loop.call_later(self._tick, self._sweep)
        return task

    def end(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching ``task`` (again is harmless); whether its deadline had passed.
        Then the cancellation it caused is taken back, so the request can still be
        answered, unless the task was also cancelled otherwise (the server stopping)."""
        if self._running.pop(task, None) != _FIRED:
            return False
        if sys.version_info >= (3, 11):
            return task.uncancel() == 0
        return True

    def _sweep(self) -> None:
        self._timer = None
        self._epoch += 1
        running = self._running
        if not running:
            return
        # Watched in this epoch or before it: a whole timeout's epochs have passed since.
        due = self._epoch - self._span - 1
        for task, epoch in running.items():
            if epoch != _FIRED and epoch <= due:
                running[task] = _FIRED  # a value replaced: the dict's size is unchanged
                task.cancel()
        self._timer = self.loop.call_later(self._tick, self._sweep)
