"""The ASGI lifespan of the app: mounted apps' lifespans, then shutdown of what the app
opened on the server's loop."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ...adapters.lifespan import LifespanError, LifespanGroup
from ...types import Receive, Send

if TYPE_CHECKING:
    from .face import ASGIFace


async def serve_lifespan(face: ASGIFace, receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol for ``face``."""
    # Mounted ASGI apps get the server's lifespan events, each with its own state.
    group = LifespanGroup([])
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            mounts = face.pipeline.mounted_apps()
            group = LifespanGroup([m.lifespan for m in mounts if m.lifespan is not None])
            try:
                await group.startup()
            except LifespanError as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if face.on_server_start is not None:
                face.on_server_start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await group.shutdown(face.shutdown_timeout)
            await face.resources.release_loop()  # what this loop holds goes with it
            if face.close_at_shutdown:
                await asyncio.to_thread(face.close)
            await send({"type": "lifespan.shutdown.complete"})
            return
