"""The limits of one request: its body, its time, its head, and the wait for a thread.

Both faces check a request's head (URL length, header count and size, a declared
``Content-Length``) before anything else runs. A body of unknown length (chunked) is
counted as it is read, by :class:`LimitedReceive` on the ASGI face and
:class:`LimitedInput` on the WSGI face (both a :class:`BodyCounter`); once it passes the
limit nothing more is read and the answer is 413, whoever was reading it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import BadRequest, BodyTooLarge, Overloaded, RequestRefused
from ..http.wrappers import DEFAULT_FORM_MEMORY_SIZE, DEFAULT_FORM_PARTS

KIB = 1024
MIB = 1024 * KIB


#: What each limit counts, which says how it is written in a config file and on the
#: command line: a size in bytes (``6MB``), seconds, or a count.
Unit = Literal["bytes", "seconds", "count"]


def _limit(default: float | None, unit: Unit, help: str) -> Any:
    """A field of :class:`Limits`: its default, its unit, and one line of help (the
    command's ``--help`` and the docs say it)."""
    return field(default=default, metadata={"unit": unit, "help": help})


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may take; ``None`` (or 0) turns a limit off.

    ``Pages(limits=Limits(max_body_size=MIB))``, a ``[limits]`` table in
    ``pagesfn.toml`` and the ``--max-body-size``-style flags all set these fields, and only
    these: a limit added here is a keyword of :class:`~pagesfn.Pages`, a config key and a
    flag with nothing else to write. Each is enforced where its docstring says.
    """

    #: Bytes of request body: 413 past it (both faces; a chunked body is counted as read).
    max_body_size: int | None = _limit(6 * MIB, "bytes", "Request body bytes, 413 past it")
    #: Seconds until the response starts: 504 past it (a streamed body may go on).
    request_timeout: float | None = _limit(
        30.0, "seconds", "Seconds until the response starts, 504 past it"
    )
    #: Bytes of path and query string, as sent: 414 past it.
    max_url_length: int | None = _limit(8 * KIB, "count", "Bytes of path and query, 414 past it")
    #: Request headers: 431 past it.
    max_header_count: int | None = _limit(100, "count", "Request headers, 431 past it")
    #: Bytes of all header names and values together: 431 past it.
    max_header_size: int | None = _limit(
        32 * KIB, "bytes", "Bytes of all request headers, 431 past it"
    )
    #: Calls waiting for a thread of the pool (once every thread is busy): 503 past it.
    max_queue: int | None = _limit(
        1000, "count", "Calls waiting for a busy thread pool, 503 past it"
    )
    #: Parts of a ``multipart/form-data`` body parsed into ``request.form``/``files``: 413
    #: past it (Flask's default), so a body of tiny parts cannot cost seconds of CPU.
    max_form_parts: int | None = _limit(
        DEFAULT_FORM_PARTS, "count", "Parts of a multipart form body, 413 past it"
    )
    #: Bytes of one form field (not a file) kept in memory: 413 past it (Flask's default).
    max_form_memory_size: int | None = _limit(
        DEFAULT_FORM_MEMORY_SIZE, "bytes", "Bytes of one form field in memory, 413 past it"
    )
    #: ``(max_form_parts, max_form_memory_size)``, what a request's form parser takes
    #: (made once: every request is handed it).
    form: tuple[int | None, int | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for spec in LIMITS:
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{spec.name} must be a number, not {type(value).__name__}")
            if value < 0:
                raise ValueError(f"{spec.name} must not be negative (0 or None: no limit)")
            if value == 0:
                object.__setattr__(self, spec.name, None)  # 0, as config files say "none"
        object.__setattr__(self, "form", (self.max_form_parts, self.max_form_memory_size))

    def replace(self, **values: float | None) -> Limits:
        """These limits with ``values`` changed; an unknown name raises :class:`TypeError`
        naming the closest one."""
        unknown = [name for name in values if name not in _NAMES]
        if unknown:
            close = difflib.get_close_matches(unknown[0], _NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{unknown[0]!r} is not a limit{hint} (limits: {', '.join(_NAMES)})")
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]

    # -- the head of a request, as each face reads it in ----------------------------------

    # A face compares what it read with each limit itself (this runs for every request,
    # where a call per check would show); these make the answers.

    def url_refusal(self, size: int) -> RequestRefused:
        """The 414 for a request target of ``size`` bytes, past ``max_url_length``."""
        return BadRequest(
            f"the URL is {size} bytes long, more than the limit of {self.max_url_length}", 414
        )

    def header_count_refusal(self, count: int) -> RequestRefused:
        """The 431 for ``count`` request headers, past ``max_header_count``."""
        return BadRequest(
            f"the request has {count} headers, more than the limit of {self.max_header_count}",
            431,
        )

    def header_size_refusal(self, size: int) -> RequestRefused:
        """The 431 for request headers of ``size`` bytes together, past
        ``max_header_size``."""
        return BadRequest(
            f"the request headers take {size} bytes, more than the limit of {self.max_header_size}",
            431,
        )

    def declared_length(self, value: bytes) -> RequestRefused | bool:
        """What a ``Content-Length`` of ``value`` says: a refusal (not a number: 400; past
        the limit: 413), or ``False``: nothing to count, the server holds it to its length."""
        if not value.isdigit():
            return BadRequest("the request's Content-Length is not a number")
        if self.max_body_size is not None and int(value) > self.max_body_size:
            return BodyTooLarge(self.max_body_size)
        return False


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One field of :class:`Limits` as a config file and the command line show it."""

    name: str
    unit: Unit
    help: str
    default: float | None


#: Every limit, in the order of :class:`Limits`.
LIMITS: tuple[LimitSpec, ...] = tuple(
    LimitSpec(f.name, f.metadata["unit"], f.metadata["help"], f.default)  # type: ignore[arg-type]
    for f in dataclasses.fields(Limits)
    if f.init
)
_NAMES = [spec.name for spec in LIMITS]


def two_hosts() -> RequestRefused:
    """The 400 for a request with more than one ``Host`` header (RFC 9112 section 3.2)."""
    return BadRequest("the request has more than one Host header")


DEFAULT_LIMITS = Limits()


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
