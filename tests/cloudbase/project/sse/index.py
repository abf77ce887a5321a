"""`sse` at /stream: Server-Sent Events, as an EventStream (async) or, with `?kind=gen`, a
plain generator sent as `text/event-stream`."""

import asyncio

from pagesfn import EventStream, ServerSentEvent


async def main(event, context):
    count = int(event.get("count", 3))
    if event.get("kind") == "gen":

        def lines():
            for n in range(count):
                yield f"data: line {n}\n\n"

        return lines(), {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}

    async def ticks():
        for n in range(count):
            await asyncio.sleep(0.01)
            yield ServerSentEvent({"n": n}, event="tick", id=n)
        yield "done"

    return EventStream(ticks())
