"""`/ticker`: a live Server-Sent Events stream, one `tick` event every half second.

Each event's `id` is its count, so a browser's `EventSource` that reconnects sends
`Last-Event-ID` and the count goes on from there instead of starting over. When the client
goes away, pagesfn cancels the generator where it waits, and its `finally` runs.
"""

from __future__ import annotations

import asyncio
import itertools

from pagesfn import EventStream, ServerSentEvent

from ._live import now, tickers

INTERVAL = 0.5
#: How long a browser waits before reconnecting a dropped stream, in milliseconds.
RETRY_MS = 1000


async def on_request_get(context):
    first = resume_after(context.request.headers.get("Last-Event-ID")) + 1
    return EventStream(ticks(first))


async def ticks(first: int):
    tickers.open += 1
    try:
        for count in itertools.count(first):
            retry = RETRY_MS if count == first else None
            payload = {"count": count, "time": now()}
            yield ServerSentEvent(payload, event="tick", id=count, retry=retry)
            await asyncio.sleep(INTERVAL)
    finally:
        tickers.open -= 1


def resume_after(last_event_id: str | None) -> int:
    """The count a reconnecting client saw last (0 for a new client or an odd header)."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        return min(int(last_event_id), 10**12)
    return 0
