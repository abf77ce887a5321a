"""The origin: a server behind pagesfn that answers what functions and static assets do not.

A request is forwarded as it came (method, path, query, headers less the hop-by-hop ones,
body streamed), and the origin's answer is streamed back untouched (still compressed, if
it was). A front-end dev server is the usual origin.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from urllib.parse import urlsplit

import httpx

from ..errors import redact_url
from ..http.head import HOP_BY_HOP
from ..http.wrappers import Request, Response
from ..routing.path import encode_path, ends_with_slash

logger = logging.getLogger("pagesfn")

Body = bytes | Iterable[bytes] | AsyncIterable[bytes] | None


class Origin:
    """Forwards requests to the server at ``url`` (``http://host:port``, optionally with a
    base path the request paths are appended to)."""

    def __init__(
        self, url: str, *, connect_timeout: float = 5.0, read_timeout: float = 60.0
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the origin must be an http:// or https:// URL, not {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"the origin URL takes no query or fragment: {url!r}")
        #: The URL as messages and logs show it: its password masked.
        self.url = redact_url(url)
        self._base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client: httpx.Client | None = None
        # One async client per event loop: its connections belong to the loop that made them.
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"<Origin {self.url}>"

    # -- forwarding --------------------------------------------------------------------

    def fetch(self, request: Request, body: Body) -> Response:
        """Forward ``request`` with ``body`` (bytes or an iterable of chunks), blocking."""
        client = self._client
        if client is None:
            client = self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        outgoing = self._build(client, request, body)
        try:
            answer = client.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            return self._unreachable(request, exc)
        return Response.streamed(_Body(answer), answer.status_code, _incoming(answer))

    async def afetch(self, request: Request, body: Body) -> Response:
        """Forward ``request`` with ``body`` (bytes or an async iterable of chunks)."""
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
            self._async_clients[loop] = client
        outgoing = self._build(client, request, body)
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            return self._unreachable(request, exc)
        return Response.streamed(_AsyncBody(answer), answer.status_code, _incoming(answer))

    def close(self) -> None:
        """Close the connections of the sync client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the connections of the running loop's async client."""
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    # -- internals ---------------------------------------------------------------------

    def _build(
        self, client: httpx.Client | httpx.AsyncClient, request: Request, body: Body
    ) -> httpx.Request:
        # The path goes on as pagesfn decided it (routing.path), spelled one unambiguous way:
        # the origin cannot read it as a path other than the one middleware ran for.
        slash = ends_with_slash(request.raw_path, percent_encoded=request.percent_encoded)
        url = self._base + encode_path(request.segments, slash)
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        headers = _outgoing(request)
        if body and isinstance(body, bytes):
            # A body read whole: its length is known, whatever the client framed it with.
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        content = None if body == b"" else body
        return client.build_request(request.method, url, headers=headers, content=content)

    def _unreachable(self, request: Request, exc: httpx.TransportError) -> Response:
        timed_out = isinstance(exc, httpx.TimeoutException)
        status = 504 if timed_out and not isinstance(exc, httpx.ConnectTimeout) else 502
        what = "did not answer in time" if status == 504 else "is unreachable"
        reason = str(exc) or type(exc).__name__
        logger.error(
            "%s %s -> %d: the origin %s %s (%s)",
            request.method,
            request.path,
            status,
            self.url,
            what,
            reason,
        )
        return Response(f"Bad Gateway: the origin {self.url} {what} ({reason})\n", status)


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(","))
    return tokens


def _outgoing(request: Request) -> list[tuple[str, str]]:
    items = list(request.headers.items())
    drop = HOP_BY_HOP | _connection_tokens(items) | {"host"}
    headers = [(k, v) for k, v in items if k.lower() not in drop]
    host = request.headers.get("Host")
    client = request.remote_addr
    forwarded_for = request.headers.get("X-Forwarded-For")
    if client:
        forwarded_for = f"{forwarded_for}, {client}" if forwarded_for else client
    headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
    if forwarded_for:
        headers.append(("X-Forwarded-For", forwarded_for))
    if host and "x-forwarded-host" not in {k.lower() for k, _ in headers}:
        headers.append(("X-Forwarded-Host", host))
    if "x-forwarded-proto" not in {k.lower() for k, _ in headers}:
        headers.append(("X-Forwarded-Proto", request.scheme))
    return headers


def _incoming(answer: httpx.Response) -> list[tuple[str, str]]:
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers.raw]
    drop = HOP_BY_HOP | _connection_tokens(raw)
    return [(k, v) for k, v in raw if k.lower() not in drop]


class _Body:
    """The origin's body; closing it, read or not, releases the connection."""

    __slots__ = ("_answer",)

    def __init__(self, answer: httpx.Response) -> None:
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._answer.iter_raw()
        finally:
            self._answer.close()

    def close(self) -> None:
        self._answer.close()


class _AsyncBody:
    """The origin's body, read on the event loop."""

    __slots__ = ("_answer",)

    def __init__(self, answer: httpx.Response) -> None:
        self._answer = answer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._answer.aiter_raw():
                yield chunk
        finally:
            await self._answer.aclose()

    async def aclose(self) -> None:
        await self._answer.aclose()
