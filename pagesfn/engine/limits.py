"""The limits of one request: its body, its time, its head, and the wait for a thread.

Both faces check a request's head (URL length, header count and size, a declared
``Content-Length``) before anything else runs. A body of unknown length (chunked) is
counted as it is read, by :class:`LimitedReceive` on the ASGI face and
:class:`LimitedInput` on the WSGI face (both a :class:`BodyCounter`); once it passes the
limit nothing more is read and the answer is 413, whoever was reading it.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, BodyTooLarge, Overloaded, RequestRefused
from ..http.wrappers import DEFAULT_FORM_MEMORY_SIZE, DEFAULT_FORM_PARTS
from ..types import Environ, Scope

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may take; ``None`` turns a limit off."""

    #: Bytes of request body: 413 past it.
    max_body_size: int | None = 6 * MIB
    #: Seconds until the response starts: 504 past it (a streamed body may go on).
    request_timeout: float | None = 30.0
    #: Bytes of path and query string, as sent: 414 past it.
    max_url_length: int | None = 8 * KIB
    #: Request headers: 431 past it.
    max_header_count: int | None = 100
    #: Bytes of all header names and values together: 431 past it.
    max_header_size: int | None = 32 * KIB
    #: Calls waiting for a thread of the pool (once every thread is busy): 503 past it.
    max_queue: int | None = 1000
    #: Parts of a ``multipart/form-data`` body parsed into ``request.form``/``files``: 413
    #: past it (Flask's default), so a body of tiny parts cannot cost seconds of CPU.
    max_form_parts: int | None = DEFAULT_FORM_PARTS
    #: Bytes of one form field (not a file) kept in memory: 413 past it (Flask's default).
    max_form_memory_size: int | None = DEFAULT_FORM_MEMORY_SIZE
    #: ``(max_form_parts, max_form_memory_size)``, what a request's form parser takes
    #: (made once: every request is handed it).
    form: tuple[int | None, int | None] = field(init=False, repr=False, compare=False)

    @classmethod
    def of(
        cls,
        *,
        max_body_size: int | None,
        request_timeout: float | None,
        max_url_length: int | None,
        max_header_count: int | None,
        max_header_size: int | None,
        max_queue: int | None,
        max_form_parts: int | None = DEFAULT_FORM_PARTS,
        max_form_memory_size: int | None = DEFAULT_FORM_MEMORY_SIZE,
    ) -> Limits:
        """Limits where 0 (as config files spell "no limit") is ``None``."""
        for name, value in (
            ("max_body_size", max_body_size),
            ("request_timeout", request_timeout),
            ("max_url_length", max_url_length),
            ("max_header_count", max_header_count),
            ("max_header_size", max_header_size),
            ("max_queue", max_queue),
            ("max_form_parts", max_form_parts),
            ("max_form_memory_size", max_form_memory_size),
        ):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative (0 or None: no limit)")
        return cls(
            max_body_size or None,
            request_timeout or None,
            max_url_length or None,
            max_header_count or None,
            max_header_size or None,
            max_queue or None,
            max_form_parts or None,
            max_form_memory_size or None,
        )

    def __post_init__(self) -> None:
        object.__setattr__(self, "form", (self.max_form_parts, self.max_form_memory_size))

    # -- the head of a request ------------------------------------------------------------

    def check_scope(self, scope: Scope) -> RequestRefused | bool:
        """What the head of an ASGI request breaks (a :class:`RequestRefused` to answer
        with), or whether its body must be counted as it arrives (its length is unknown)."""
        size = len(scope.get("raw_path") or b"") or len(scope["path"].encode("utf-8"))
        query: bytes = scope.get("query_string", b"")
        refused = self._url(size + len(query) + 1 if query else size)  # "?" and the query
        if refused is not None:
            return refused
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if self.max_header_count is not None and len(headers) > self.max_header_count:
            return _too_many_headers(len(headers), self.max_header_count)
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
                    return _two_hosts()
                host = True
        if self.max_header_size is not None and total > self.max_header_size:
            return _headers_too_large(total, self.max_header_size)
        if declared is not None:
            length = self._declared(declared)
            # With Transfer-Encoding too, the chunks frame the body (RFC 9112 6.3): count.
            if length is not False or not chunked:
                return length
        # HTTP/1 requests with neither header carry no body; HTTP/2 and 3 ones may.
        return self.max_body_size is not None and (
            chunked or scope.get("http_version", "1.1") not in ("1.1", "1.0")
        )

    def check_environ(self, environ: Environ) -> RequestRefused | bool:
        """:meth:`check_scope` for a WSGI request."""
        target: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if target is None:
            target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            query: str = environ.get("QUERY_STRING", "")
            if query:
                target += "?" + query
        refused = self._url(len(target))
        if refused is not None:
            return refused
        count = total = 0
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                count += 1
                total += len(key) - 5 + len(value)
            elif key in _BARE_HEADERS:
                count += 1
                total += len(key) + len(value)
        if self.max_header_count is not None and count > self.max_header_count:
            return _too_many_headers(count, self.max_header_count)
        if self.max_header_size is not None and total > self.max_header_size:
            return _headers_too_large(total, self.max_header_size)
        if "," in environ.get("HTTP_HOST", ""):
            return _two_hosts()  # the server joined two Host headers into one
        declared: str = environ.get("CONTENT_LENGTH") or ""
        chunked = "HTTP_TRANSFER_ENCODING" in environ
        if declared:
            length = self._declared(declared.encode("latin-1"))
            if length is not False or not chunked:
                return length
        return self.max_body_size is not None and (
            chunked or bool(environ.get("wsgi.input_terminated"))
        )

    def _url(self, size: int) -> RequestRefused | None:
        if self.max_url_length is not None and size > self.max_url_length:
            return BadRequest(
                f"the URL is {size} bytes long, more than the limit of {self.max_url_length}",
                414,
            )
        return None

    def _declared(self, value: bytes) -> RequestRefused | bool:
        if not value.isdigit():
            return BadRequest("the request's Content-Length is not a number")
        if self.max_body_size is not None and int(value) > self.max_body_size:
            return BodyTooLarge(self.max_body_size)
        return False


#: The two headers CGI names without the ``HTTP_`` prefix.
_BARE_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})

DEFAULT_LIMITS = Limits()


def _two_hosts() -> RequestRefused:
    return BadRequest("the request has more than one Host header")


def _too_many_headers(count: int, limit: int) -> RequestRefused:
    return BadRequest(f"the request has {count} headers, more than the limit of {limit}", 431)


def _headers_too_large(size: int, limit: int) -> RequestRefused:
    return BadRequest(f"the request headers take {size} bytes, more than the limit of {limit}", 431)


_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": KIB, "m": MIB, "g": 1024 * MIB}


def parse_size(value: int | str) -> int:
    """Bytes from ``6291456``, ``"6MB"``, ``"6 MiB"`` or ``"512k"`` (units are powers of
    1024, as nginx and Lambda count them); raises :class:`ValueError`."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value}")
        return value
    found = _SIZE.fullmatch(value)
    if found is None:
        raise ValueError(f"not a size: {value!r} (write 6291456, 6MB or 512KiB)")
    return int(found[1]) * _UNITS[found[2].lower()]


# -- bodies of unknown length ---------------------------------------------------------------


class BodyCounter:
    """What a body of unknown length has left under the limit. Once it is past, nothing
    more is read and :attr:`exceeded` tells the face to answer :meth:`refusal` (413)."""

    __slots__ = ("exceeded", "limit", "remaining")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit
        self.exceeded = False

    def count(self, size: int) -> bool:
        """Count ``size`` more bytes; whether the body is still within the limit."""
        self.remaining -= size
        if self.remaining < 0:
            self.exceeded = True
        return not self.exceeded

    def refusal(self) -> BodyTooLarge:
        return BodyTooLarge(self.limit)


# -- time -----------------------------------------------------------------------------------


# -- the thread pool ------------------------------------------------------------------------


class Pool(concurrent.futures.ThreadPoolExecutor):
    """The thread pool sync handlers (and mounted WSGI apps, static files) run in on the
    ASGI face, refusing work with :class:`Overloaded` once ``max_queue`` calls already wait
    for a thread.

    A thread is not killed when its request times out: it stays busy, and the slot
    counted, until the function returns, so a pool whose threads all hang fills its queue
    and then answers 503 at once instead of queueing without bound.
    """

    def __init__(
        self, max_workers: int, max_queue: int | None, thread_name_prefix: str = ""
    ) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.max_queue = max_queue

    @property
    def queued(self) -> int:
        """Calls submitted that no thread has taken yet."""
        return self._work_queue.qsize()

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        if self.max_queue is not None:
            queued = self.queued
            if queued >= self.max_queue:
                raise Overloaded(queued)
        return super().submit(fn, *args, **kwargs)
