"""What the demo's routes share: the chat room and the count of open tickers.

Not a route (leading `_`): `chat.py`, `ticker.py` and `api/room.py` import it relatively,
so all three see the same objects. It is module state, so it lives in one server process:
under `pagesfn serve --workers 2` each process has a room of its own (a real app would
put a broker such as Redis pub/sub between them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timezone
from typing import Any

from pagesfn import WebSocketDisconnect

logger = logging.getLogger("demo_realtime")

#: How long one member may take to accept a message before the broadcast moves on.
SEND_TIMEOUT = 5.0
#: How many recent messages a newcomer is shown.
HISTORY = 20


def now() -> str:
    """The server's time, ISO 8601 in UTC with milliseconds (what `Date.parse` reads)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Room:
    """The connected sockets of the chat, each with the name it goes by."""

    def __init__(self) -> None:
        self.members: dict[Any, str] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)

    def __len__(self) -> int:
        return len(self.members)

    def join(self, socket: Any, name: str) -> None:
        self.members[socket] = name

    def leave(self, socket: Any) -> str | None:
        """Remove ``socket``; the name it went by (``None`` if it was not a member)."""
        return self.members.pop(socket, None)

    def names(self) -> list[str]:
        return sorted(self.members.values(), key=str.casefold)

    async def broadcast(self, message: dict[str, Any]) -> int:
        """Send ``message`` to every member at once; how many got it.

        A member that has gone (or is too slow) is skipped, never an error for the others:
        its own handler sees the disconnect and leaves the room.
        """
        sent = await asyncio.gather(*(self._send(s, message) for s in list(self.members)))
        return sum(sent)

    async def _send(self, socket: Any, message: dict[str, Any]) -> bool:
        try:
            await asyncio.wait_for(socket.send_json(message), SEND_TIMEOUT)
        except (WebSocketDisconnect, asyncio.TimeoutError):
            return False
        except Exception:
            logger.exception("sending to %s failed; skipping it", self.members.get(socket))
            return False
        return True


class Gauge:
    """A count of things open right now (ticker streams)."""

    def __init__(self) -> None:
        self.open = 0


room = Room()
tickers = Gauge()
