"""Writing a response out to a WSGI server: the head checked, a body whole, streamed
(sync iterables handed to the server, async ones stepped on the background loop) or a
file (the server's ``wsgi.file_wrapper`` when it has one)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Iterator

from ...concurrency import LoopThread, exit_error, from_ctrl_c
from ...engine.failures import head_failed, log_stream_failure
from ...http.head import InvalidHead, wire_headers
from ...http.wrappers import FileBody, Response, carries_body
from ...types import Environ, StartResponse
from .body import CHUNK


def write_response(
    response: Response,
    method: str,
    environ: Environ,
    start_response: StartResponse,
    loop_thread: LoopThread,
    file: str | None = None,
) -> Iterable[bytes]:
    """Start ``response`` and hand back the iterable the server writes: the body whole, a
    file (through the server's ``wsgi.file_wrapper`` when it has one) or a stream, whose
    failures are logged naming ``file``. Async streams step on ``loop_thread``."""
    try:
        headers = pep3333_headers(response)
    except InvalidHead as exc:
        if response.stream is not None:
            close_stream(response.stream, loop_thread)
        response, headers = head_failed(exc, file, pep3333_headers)
    start_response(response.status, headers)
    stream = response.stream
    if stream is None:
        return [] if method == "HEAD" else [response.body]
    if method == "HEAD" or not carries_body(response.status_code):
        close_stream(stream, loop_thread)
        return []
    if isinstance(stream, FileBody):
        wrapper = environ.get("wsgi.file_wrapper")
        if stream.whole and wrapper is not None:
            # The server's own type, returned as is: gunicorn then uses sendfile().
            opened = open(stream.path, "rb")  # noqa: SIM115 - the server closes it
            return wrapper(opened, CHUNK)  # type: ignore[no-any-return]
        return stream.chunks(CHUNK)
    where = f"{method} {environ.get('PATH_INFO', '')}"
    if file:
        where = f"{file}: {where}"
    if isinstance(stream, AsyncIterable):
        return LoopChunks(stream, loop_thread, where)
    # The server writes each chunk as it comes, and its close() closes the stream.
    return ServerChunks(stream, where)


def close_stream(stream: object, loop_thread: LoopThread) -> None:
    """Close a streamed body that will not be sent, so its producer's cleanup runs (an
    async one's on ``loop_thread``)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        loop_thread.run(aclose())
        return
    close = getattr(stream, "close", None)
    if close is not None:
        close()


class ServerChunks:
    """A sync streamed body, handed to the server as the WSGI iterable: ``close()``
    closes it (a generator's ``finally`` runs); an error it raises is logged."""

    __slots__ = ("_iterator", "_stream", "_where")

    def __init__(self, stream: Iterable[bytes], where: str) -> None:
        self._stream = stream
        self._iterator = iter(stream)
        self._where = where

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except Exception as exc:
            log_stream_failure(exc, self._where)
            raise
        except (SystemExit, KeyboardInterrupt) as exc:
            if from_ctrl_c(exc):
                raise
            # Out of the iterable, it would end the server's worker with this response.
            error = exit_error(exc)
            log_stream_failure(error, self._where)
            raise error from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class LoopChunks:
    """An async streamed body on the WSGI face: each chunk is awaited on the app's
    background loop; ``close()`` (the server's) closes it there."""

    __slots__ = ("_iterator", "_loop_thread", "_where")

    def __init__(self, stream: AsyncIterable[bytes], loop_thread: LoopThread, where: str) -> None:
        self._iterator = aiter(stream)
        self._loop_thread = loop_thread
        self._where = where

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self._loop_thread.run(anext(self._iterator))
        except StopAsyncIteration:
            raise StopIteration from None
        except Exception as exc:
            log_stream_failure(exc, self._where)
            raise

    def close(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            self._loop_thread.run(aclose())


def pep3333_headers(response: Response) -> list[tuple[str, str]]:
    """:func:`wire_headers` as the WSGI face hands them to the server (no hop-by-hop)."""
    return wire_headers(response, to_wsgi=True)
