"""Threads and event loops crossing each other: a loop in a thread for sync callers, and
what an exit raised by app code becomes so that it cannot stop a server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable
from typing import TypeVar

logger = logging.getLogger("pagesfn")

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread, for async code called from sync code."""

    def __init__(self, name: str = "pagesfn-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            with self._lock:
                if self._loop is None:
                    self._start()
                loop = self._loop
                assert loop is not None
        return loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            while True:
                try:
                    loop.run_forever()
                    return  # stopped by close()
                except (SystemExit, KeyboardInterrupt) as exc:
                    # asyncio lets these out of a task and out of the loop with them; no
                    # signal reaches this thread, so code raised it, and the loop serves
                    # every request: it runs on (the task has ended with the exception).
                    logger.error("%s raised in a task; the loop runs on", type(exc).__name__)

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started on first use (a callable for code that needs it later)."""
        return self.loop

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the loop and block until it is done."""
        return asyncio.run_coroutine_threadsafe(as_coroutine(awaitable), self.loop).result()

    def close(self, timeout: float | None = None) -> None:
        """Stop the loop. Tasks still on it (a mounted ASGI app finishing up after its
        response) get ``timeout`` seconds to end and are then cancelled, as ``asyncio.run``
        does, rather than destroyed while pending."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if threading.current_thread() is not thread:
            finishing = asyncio.run_coroutine_threadsafe(_finish_tasks(timeout), loop)
            try:
                finishing.result(None if timeout is None else timeout + 5)
            except concurrent.futures.TimeoutError:
                logger.error("the background loop is blocked; stopping it with tasks pending")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()


async def as_coroutine(awaitable: Awaitable[T]) -> T:
    """``awaitable`` as a coroutine, the form ``run_coroutine_threadsafe`` takes.

    ``SystemExit`` (``sys.exit()``, argparse and click exit with it) and a
    ``KeyboardInterrupt`` raised by code become a ``RuntimeError``: raised out of a task,
    asyncio would stop the loop with them, and so the server whose loop it is, for every
    request. (The server's own Ctrl-C arrives as a signal its handler takes, never as an
    exception inside a request.)
    """
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as exc:
        raise exit_error(exc) from exc


def from_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc``, raised in blocking code, may be the user's Ctrl-C: a
    ``KeyboardInterrupt`` in the main thread (where Python delivers SIGINT), which a
    single-threaded WSGI server must get to stop. Elsewhere code raised it."""
    return (
        isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread()
    )


def exit_error(exc: SystemExit | KeyboardInterrupt) -> RuntimeError:
    """What a ``SystemExit`` or ``KeyboardInterrupt`` raised by app code becomes: an error
    of that request alone."""
    if isinstance(exc, KeyboardInterrupt):
        return RuntimeError("KeyboardInterrupt raised by app code does not stop a server")
    return RuntimeError(f"SystemExit({exc.code!r}): sys.exit() does not stop a server")


async def _finish_tasks(timeout: float | None) -> None:
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)  # a task may ignore its cancellation
    await asyncio.get_running_loop().shutdown_asyncgens()
