"""The request timeout on the ASGI face: requests running past it are cancelled."""

from __future__ import annotations

import asyncio
import math
import sys
from typing import Any

#: Where a watched request stands: still running, ended (its response started), or
#: cancelled by the watchdog.
_RUNNING, _ENDED, _FIRED = 0, 1, 2

#: Epochs in one timeout, at least: a request is cancelled at most this fraction of the
#: timeout late.
_EPOCHS_PER_TIMEOUT = 8
#: The longest epoch, in seconds: the most a long timeout may run over.
_LONGEST_EPOCH = 1.0


class Watch:
    """One watched request: its task, the epoch it started in, where it stands."""

    __slots__ = ("epoch", "state", "task")

    def __init__(self, task: asyncio.Task[Any] | None, epoch: int) -> None:
        self.task = task
        self.epoch = epoch
        self.state = _RUNNING


class Watchdog:
    """Cancels the requests of one event loop that run past their deadline.

    Watching a request costs one small object and a list append, ending it two stores: no
    clock is read and nothing is removed per request. While requests are watched, a timer
    ticks once an epoch (an eighth of the timeout, at most a second); each tick drops the
    requests that ended from the list and cancels those that have run for the timeout
    whole epochs. A request is so cancelled between ``timeout`` and ``timeout`` plus two
    epochs after it started, never before.
    """

    __slots__ = ("_epoch", "_span", "_tick", "_timer", "_watched", "loop", "timeout")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        #: Seconds per epoch, and the whole epochs a request may run.
        self._tick = min(timeout / _EPOCHS_PER_TIMEOUT, _LONGEST_EPOCH)
        self._span = math.ceil(timeout / self._tick)
        self._epoch = 0
        self._watched: list[Watch] = []
        self._timer: asyncio.TimerHandle | None = None

    def watch(self) -> Watch:
        """Watch the running task from now until :meth:`end`."""
        task = asyncio.current_task(self.loop)
        if task is None:
            raise RuntimeError("a request is watched from inside its task")
        watched = Watch(task, self._epoch)
        self._watched.append(watched)
        if self._timer is None:
            self._timer = self.loop.call_later(self._tick, self._sweep)
        return watched

    def end(self, watched: Watch) -> bool:
        """Stop watching (again is harmless); whether the deadline had passed. Then the
        cancellation it caused is taken back, so the request can still be answered, unless
        the task was also cancelled otherwise (the server stopping)."""
        state = watched.state
        watched.state = _ENDED
        task = watched.task
        watched.task = None
        if state != _FIRED or task is None:
            return False
        if sys.version_info >= (3, 11):
            return task.uncancel() == 0
        return True

    def _sweep(self) -> None:
        self._timer = None
        self._epoch += 1
        # Started in this epoch or before it: a whole timeout's epochs have passed since.
        due = self._epoch - self._span - 1
        running = []
        for watched in self._watched:
            if watched.state != _RUNNING:
                continue
            if watched.epoch <= due and watched.task is not None:
                watched.state = _FIRED
                watched.task.cancel()
            else:
                running.append(watched)
        self._watched = running
        if running:
            self._timer = self.loop.call_later(self._tick, self._sweep)
