"""Long-lived machinery owned by the app: a background event loop and ``wait_until`` work."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

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
