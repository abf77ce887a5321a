"""Server-Sent Events: a ``text/event-stream`` response sending events as they come."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers

from ..concurrency import as_coroutine
from .wrappers import HeadersInit, Response, dump_json

# The line breaks of the event stream format: CRLF, lone CR, lone LF.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEEP_ALIVE = b": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event of an :class:`EventStream`.

    ``data`` is sent as is when it is a ``str`` (one ``data:`` line per line of it), as
    JSON otherwise; ``None`` sends no data (an event with only an ``id``, a ``retry`` or a
    ``comment``). ``event`` names the event type (``message`` when absent), ``id`` sets
    the client's last event id, ``retry`` its reconnection delay in milliseconds.
    """

    data: Any = None
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        if self.event is not None and _LINE_BREAK.search(self.event):
            raise ValueError(f"an event name cannot hold a line break: {self.event!r}")
        if self.id is not None:
            text = str(self.id)
            if _LINE_BREAK.search(text) or "\0" in text:
                # A client ignores an id with NUL in it, and a line break would end it.
                raise ValueError(f"an event id cannot hold a line break or NUL: {text!r}")
        if self.retry is not None and (
            not isinstance(self.retry, int) or isinstance(self.retry, bool) or self.retry < 0
        ):
            raise ValueError(f"retry is a number of milliseconds (an int >= 0), not {self.retry!r}")

    def encode(self) -> bytes:
        """The event in the event stream format, ending with its blank line."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + line for line in _LINE_BREAK.split(self.comment))
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        if self.data is not None:
            data = self.data if isinstance(self.data, str) else dump_json(self.data).decode()
            lines.extend("data: " + line for line in _LINE_BREAK.split(data))
        lines.append("\n")
        return "\n".join(lines).encode()


def encode_event(item: object) -> bytes:
    """``item`` (a :class:`ServerSentEvent`, a ``str`` of data, or a ``dict`` or ``list``
    sent as JSON data) in the event stream format."""
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, (str, dict, list)):
        return ServerSentEvent(item).encode()
    raise TypeError(
        f"an event stream's source yielded {type(item).__name__} {item!r:.80}; "
        "yield ServerSentEvent, str or dict"
    )


class EventStream(Response):
    """A ``text/event-stream`` response sending each event ``source`` yields as it comes.

    ``source`` is an iterable or async iterable (a generator) of :class:`ServerSentEvent`,
    ``str`` (data) or ``dict``/``list`` (JSON data). When an async source has produced
    nothing for ``keep_alive`` seconds a ``: keep-alive`` comment is sent (``None``: never);
    a sync source is iterated as is, in a thread, and gets none. ``Cache-Control:
    no-cache`` and ``X-Accel-Buffering: no`` keep proxies from holding events back;
    ``headers`` may add to or replace them.
    """

    def __init__(
        self,
        source: Iterable[Any] | AsyncIterable[Any],
        *,
        keep_alive: float | None = 15.0,
        status: int = 200,
        headers: HeadersInit = None,
    ) -> None:
        merged = Headers(headers)
        merged.setdefault("Content-Type", "text/event-stream")
        merged.setdefault("Cache-Control", "no-cache")
        merged.setdefault("X-Accel-Buffering", "no")
        chunks: Iterable[bytes] | AsyncIterable[bytes]
        if isinstance(source, AsyncIterable):
            chunks = _async_events(source, keep_alive)
        else:
            chunks = _sync_events(source)
        super().__init__(chunks, status, merged)


def _sync_events(source: Iterable[Any]) -> Iterator[bytes]:
    iterator = iter(source)
    try:
        for item in iterator:
            yield encode_event(item)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _async_events(
    source: AsyncIterable[Any], keep_alive: float | None
) -> AsyncIterator[bytes]:
    iterator = aiter(source)
    # The next item is awaited in a task of its own, so that waiting for it can time out
    # (for a keep-alive) without cancelling the source.
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                # as_coroutine: an exit raised by the source stays with this response.
                pending = asyncio.ensure_future(as_coroutine(anext(iterator)))
            done, _ = await asyncio.wait((pending,), timeout=keep_alive or None)
            if not done:
                yield _KEEP_ALIVE
                continue
            ready, pending = pending, None
            try:
                item = ready.result()
            except StopAsyncIteration:
                return
            yield encode_event(item)
    finally:
        if pending is not None:
            # The source is cancelled where it waits, so its own ``finally`` runs.
            pending.cancel()
            await asyncio.wait((pending,))
            if not pending.cancelled():
                pending.exception()  # it ended as it was cancelled: nobody wants it now
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
