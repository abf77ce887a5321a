"""What an app holds beyond one request, and how it lets go of it: written once, in the
order it happens, in its two forms side by side."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..concurrency import LoopThread
from .background import BackgroundWork

if TYPE_CHECKING:
    from ..kv import KVNamespace
    from .proxy import Origin


class Lifespans(Protocol):
    """Lifespans an app started itself (the WSGI face's, of mounted ASGI apps)."""

    def shutdown(self, timeout: float | None) -> None:
        """Shut down every lifespan started, within ``timeout`` seconds."""


class Resources:
    """An app's long-lived resources, in the order they are released.

    :meth:`close` releases everything, from any thread: ``Pages.close()``, which also runs
    when the app is garbage-collected or the interpreter exits. :meth:`release_loop` runs
    on the server's loop as its lifespan shuts down and releases what that loop holds (its
    ``wait_until`` work, its connections to the origin and to Redis), which cannot outlive
    the loop; the app stays usable from another loop after it.
    """

    def __init__(
        self,
        *,
        background: BackgroundWork,
        origin: Origin | None,
        namespaces: Sequence[KVNamespace],
        lifespans: Lifespans,
        loop_thread: LoopThread,
        executor: concurrent.futures.ThreadPoolExecutor,
        timeout: float,
    ) -> None:
        self.background = background
        self.origin = origin
        self.namespaces = tuple(namespaces)
        self.lifespans = lifespans
        self.loop_thread = loop_thread
        self.executor = executor
        #: Seconds the work and the lifespans still running get to finish.
        self.timeout = timeout

    def close(self) -> None:
        """Finish ``wait_until`` work (up to the timeout), close the origin's and the KV
        namespaces' connections, shut down the lifespans the app started, stop its
        background loop and its thread pool."""
        self.background.wait(self.timeout)
        if self.origin is not None:
            self.origin.close()
        for namespace in self.namespaces:
            namespace.close()
        self.lifespans.shutdown(self.timeout)
        self.loop_thread.close(self.timeout)
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def release_loop(self) -> None:
        """:meth:`close`'s first steps for what the running loop holds: its ``wait_until``
        work (up to the timeout), and its connections to the origin and the KV servers."""
        await self.background.drain(self.timeout)
        if self.origin is not None:
            await self.origin.aclose()
        for namespace in self.namespaces:
            await namespace.disconnect()
