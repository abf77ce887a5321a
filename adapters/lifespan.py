"""Run the lifespan protocol of mounted ASGI apps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pagesfn.concurrency import as_coroutine
from pagesfn.errors import PagesError
from pagesfn.types import ASGIApp, Message

logger = logging.getLogger("pagesfn")


class LifespanError(PagesError):
    """A mounted app failed its startup."""

    code = "lifespan"

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: lifespan startup failed: {message}")


class Lifespan:
    """One app's lifespan: started once, shut down once. ``state`` is the dict the app
    fills at startup; it is copied into each of the app's request scopes."""

    def __init__(self, app: ASGIApp, file: str) -> None:
        self.app = app
        self.file = file
        self.state: dict[str, Any] = {}
        self.started = False
        self.supported = True
        self._inbox: asyncio.Queue[Message] | None = None
        self._outbox: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Raise :class:`LifespanError` if the app reports a failed startup.

        An app that does not speak the lifespan protocol (it raises or returns at once) is
        tolerated, as ASGI servers tolerate it.
        """
        self._inbox, self._outbox = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        self._task = asyncio.create_task(self._run(scope))
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._outbox.get()
        if reply["type"] == "lifespan.startup.complete":
            self.started = True
        elif reply["type"] == "lifespan.startup.failed":
            raise LifespanError(self.file, reply.get("message") or "no message given")
        else:
            self.supported = False
            logger.debug("%s: the app does not support lifespan; continuing", self.file)

    async def shutdown(self, timeout: float | None = None) -> None:
        if not self.started or self._inbox is None or self._outbox is None:
            return
        self.started = False
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            reply = await asyncio.wait_for(self._outbox.get(), timeout)
        except asyncio.TimeoutError:
            logger.error("%s: lifespan shutdown did not finish in %ss", self.file, timeout)
            if self._task is not None:
                self._task.cancel()
            return
        if reply["type"] == "lifespan.shutdown.failed":
            logger.error("%s: lifespan shutdown failed: %s", self.file, reply.get("message"))
        elif reply["type"] == "app.raised":
            logger.error("%s: lifespan shutdown raised", self.file, exc_info=reply["exc"])

    async def _run(self, scope: dict[str, Any]) -> None:
        assert self._inbox is not None and self._outbox is not None
        try:
            # as_coroutine: an exit raised by the app is its failure, not the server's.
            await as_coroutine(self.app(scope, self._inbox.get, self._outbox.put))
        except Exception as exc:
            await self._outbox.put({"type": "app.raised", "exc": exc})
        else:
            await self._outbox.put({"type": "app.returned"})


class LifespanGroup:
    """Start several lifespans in order; on a failure, stop those started, in reverse."""

    def __init__(self, lifespans: Sequence[Lifespan]) -> None:
        self.lifespans = list(lifespans)

    async def startup(self) -> None:
        started: list[Lifespan] = []
        for lifespan in self.lifespans:
            try:
                await lifespan.startup()
            except LifespanError:
                for done in reversed(started):
                    await done.shutdown()
                raise
            started.append(lifespan)

    async def shutdown(self, timeout: float | None = None) -> None:
        for lifespan in reversed(self.lifespans):
            await lifespan.shutdown(timeout)
