"""Reading an ASGI request in: its head into a :class:`~pagesfn.http.wrappers.Request`,
its body from ``receive``, counted against the limit when its length is unknown."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import Headers

from ...adapters.wsgi_to_asgi import read_body
from ...engine.limits import BodyCounter, Limits, two_hosts
from ...errors import BadRequest, BodyAccessError, ClientDisconnected, RequestRefused
from ...http.wrappers import BodySource, Request
from ...types import Message, Receive, Scope

logger = logging.getLogger("pagesfn")


class ASGIBody:
    """The request body of one ASGI request, pulled from ``receive`` on demand.

    While a streamed response is sent, :meth:`disconnect` is the one reader of
    ``receive``; a body nobody had read by then is kept for a later read (up to
    ``_KEEP_LIMIT`` bytes), so a generator may still read it.
    """

    __slots__ = ("_complete", "_loop", "_receive", "_watch", "reading")

    # ``_complete`` (the whole body has arrived) and ``_watch`` are set only when used:
    # most requests never need them.
    _complete: bool
    _watch: _Watch

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        #: Whether a read is waiting for the client to send more of the body.
        self.reading = False

    async def aread(self) -> bytes:
        watch: _Watch | None = getattr(self, "_watch", None)
        if watch is not None:
            return await watch.body()
        self.reading = True
        try:
            body = await read_body(self._receive)
        except Exception:
            self.reading = False
            raise  # a cancellation leaves it set: the request timed out waiting here
        self.reading = False
        self._complete = True
        return body

    def read(self) -> bytes:
        # Called from a sync handler in the thread pool: hop to the server's loop.
        return asyncio.run_coroutine_threadsafe(self.aread(), self._loop).result()

    def disconnect(self) -> Awaitable[None]:
        """What ends once the client has gone (``http.disconnect``); from now on it is the
        one reader of ``receive``."""
        watch = self._watch = _Watch(getattr(self, "_complete", False))
        return self._watch_receive(watch)

    async def _watch_receive(self, watch: _Watch) -> None:
        try:
            while True:
                message = await self._receive()
                if message["type"] != "http.request":
                    return
                if not watch.complete:
                    watch.keep(message)
        finally:
            watch.settled.set()


#: How much of an unread request body is kept while a streamed response is sent.
_KEEP_LIMIT = 1024 * 1024


class _Watch:
    """The request body that arrives while a streamed response is being sent."""

    __slots__ = ("chunks", "complete", "settled", "size")

    def __init__(self, complete: bool) -> None:
        self.chunks: list[bytes] | None = []  # None: too big, dropped
        self.size = 0
        self.complete = complete
        #: Set once the body is complete or the watch is over.
        self.settled = asyncio.Event()
        if complete:
            self.settled.set()

    def keep(self, message: Message) -> None:
        chunk: bytes = message.get("body", b"")
        self.size += len(chunk)
        if self.chunks is not None:
            self.chunks.append(chunk)
            if self.size > _KEEP_LIMIT:
                self.chunks = None
        if not message.get("more_body", False):
            self.complete = True
            self.settled.set()

    async def body(self) -> bytes:
        await self.settled.wait()
        if not self.complete:
            raise ClientDisconnected("the client went away before sending its whole body")
        if self.chunks is None:
            raise BodyAccessError(
                f"the request body ({self.size} bytes) was dropped while the response "
                "streamed; read it before returning a streamed response"
            )
        return b"".join(self.chunks)


def scope_headers(scope: Scope) -> Callable[[], Headers]:
    """A function making the headers of ``scope``."""
    return functools.partial(decoded_headers, scope["headers"])


def decoded_headers(pairs: list[tuple[bytes, bytes]]) -> Headers:
    """ASGI's header pairs as :class:`Headers`."""
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in pairs])


_PERCENT = ord("%")  # an int: ``in`` on bytes is much quicker with one than with bytes


def route_path(scope: Scope) -> tuple[str, bytes, bool]:
    """The app-relative path (decoded), the bytes to route on, and whether they are still
    percent-encoded.

    ``scope["path"]`` holds the full path and ``root_path`` the prefix an outer app mounted
    this one under (ASGI spec); the prefix is removed before routing. ``raw_path`` is routed
    on while it still says what ``path`` says, since only it tells bytes that are not UTF-8
    from a U+FFFD the server put in their place; an outer app that rewrote ``path`` alone
    has the last word, since ``path`` is what a mounted app will be given.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    raw: bytes | None = scope.get("raw_path")
    if root_path and (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
        path = path[len(root_path) :] or "/"
        if raw is not None:
            depth = root_path.rstrip("/").count("/")
            raw = b"/" + b"/".join(raw.split(b"/")[depth + 1 :])
    if raw is not None:
        if _PERCENT not in raw and raw.isascii():
            same = raw == path.encode("utf-8", "surrogatepass")  # the quick, common case
        else:
            same = unquote_to_bytes(raw).decode("utf-8", "replace") == path
        if same:
            return path, raw, True
    return path, path.encode("utf-8", "surrogatepass"), False


def scope_request(
    scope: Scope,
    method: str,
    path: str,
    raw: bytes,
    encoded: bool,
    body: BodySource,
    form_limits: tuple[int | None, int | None],
) -> Request:
    """The :class:`Request` of an ASGI request (``path``, ``raw`` and ``encoded`` from
    :func:`route_path`); its headers are decoded when first asked for."""
    client = scope.get("client")
    root_path: str = scope.get("root_path", "")
    return Request.canonical(
        method,
        scope.get("scheme", "http"),
        scope.get("server"),
        root_path.rstrip("/") if root_path else root_path,
        path,
        scope.get("query_string", b""),
        decoded_headers,
        scope["headers"],
        client[0] if client else None,
        body,
        raw,
        encoded,
        form_limits,
    )


class LimitedReceive(BodyCounter):
    """``receive`` counting the body: once it passes the limit the app is told the client
    has gone (``http.disconnect``)."""

    __slots__ = ("_receive",)

    def __init__(self, receive: Receive, limit: int) -> None:
        super().__init__(limit)
        self._receive = receive

    async def __call__(self) -> Message:
        if self.exceeded:
            return _DISCONNECT
        message = await self._receive()
        if message["type"] == "http.request" and not self.count(len(message.get("body", b""))):
            return _DISCONNECT
        return message


_DISCONNECT: Message = {"type": "http.disconnect"}


def check_request_head(limits: Limits, scope: Scope) -> RequestRefused | bool:
    """What the head of an ASGI request breaks (a :class:`RequestRefused` to answer with),
    or whether its body must be counted as it arrives (its length is unknown)."""
    size = len(scope.get("raw_path") or b"") or len(scope["path"].encode("utf-8"))
    query: bytes = scope.get("query_string", b"")
    if query:
        size += len(query) + 1  # "?" and the query
    limit = limits.max_url_length
    if limit is not None and size > limit:
        return limits.url_refusal(size)
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    limit = limits.max_header_count
    if limit is not None and len(headers) > limit:
        return limits.header_count_refusal(len(headers))
    total = 0
    declared: bytes | None = None
    chunked = host = False
    for name, value in headers:
        total += len(name) + len(value)
        if name == b"content-length":
            if declared is not None and value != declared:
                return BadRequest("the request has conflicting Content-Length headers")
            declared = value
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"host":
            # RFC 9112 3.2: more than one is a 400 (h11 refuses it, httptools does not).
            if host:
                return two_hosts()
            host = True
    limit = limits.max_header_size
    if limit is not None and total > limit:
        return limits.header_size_refusal(total)
    if declared is not None:
        length = limits.declared_length(declared)
        # With Transfer-Encoding too, the chunks frame the body (RFC 9112 6.3): count.
        if length is not False or not chunked:
            return length
    # HTTP/1 requests with neither header carry no body; HTTP/2 and 3 ones may.
    return limits.max_body_size is not None and (
        chunked or scope.get("http_version", "1.1") not in ("1.1", "1.0")
    )
