"""The exceptions pagesfn raises, one hierarchy with stable codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

E = TypeVar("E", bound=BaseException)


class PagesError(Exception):
    """Base class of every error pagesfn raises on purpose.

    ``code`` is stable across releases: match on it rather than on the message.
    """

    code = "pagesfn"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a functions tree: the file, what is wrong, how to fix it."""

    file: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.message}"
        return f"{text}; {self.fix}" if self.fix else text


class ProblemsError(PagesError):
    """An error listing every problem found in ``problems``, so one run reports them all."""

    #: What has the problems, as the message names it.
    subject = "the input"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{self.subject} has {count} {noun}:\n{lines}")


class RouteDefinitionError(ProblemsError):
    """The functions tree cannot be turned into a route table."""

    code = "route-definition"
    subject = "the functions tree"


class HandlerLoadError(PagesError):
    """A route module failed to import, or does not export what its source promised."""

    code = "handler-load"

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


class LoadError(PagesError):
    """Eager loading found route modules that fail to import; ``errors`` lists each."""

    code = "load"

    def __init__(self, errors: Iterable[HandlerLoadError]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} route module(s) failed to load:\n{lines}")


class HandlerResultError(PagesError):
    """A handler returned something that cannot be turned into a response."""

    code = "handler-result"


class RequestRefused(PagesError):
    """A request answered with ``status`` and this message as plain text, never with a
    server error page: it is malformed, or past one of the app's limits."""

    code = "refused"

    def __init__(
        self, message: str, status: int, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.status = status
        #: Headers the answer carries (``Retry-After``, ``Connection: close``).
        self.headers = headers
        super().__init__(message)


class BadRequest(RequestRefused):
    """The request itself is malformed; answered with a 4xx status, never a 500."""

    code = "bad-request"

    def __init__(
        self, message: str, status: int = 400, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message, status, headers)


class BodyTooLarge(BadRequest):
    """The request body is larger than the app's ``max_body_size``: 413."""

    code = "body-too-large"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # The rest of the body is not read: the connection cannot carry another request.
        super().__init__(
            f"the request body is larger than the limit of {limit} bytes",
            413,
            (("Connection", "close"),),
        )


class BodyTimedOut(BadRequest):
    """The request timeout passed while the app waited for the rest of the request body
    (a client that sends less than its ``Content-Length`` says, or stalls): 408."""

    code = "body-timeout"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"the request body did not arrive within the limit of {timeout:g} s",
            408,
            (("Connection", "close"),),
        )


class RequestTimedOut(RequestRefused):
    """The request took longer than the app's ``request_timeout``: 504."""

    code = "timeout"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"the request took longer than the limit of {timeout:g} s", 504)


class Overloaded(RequestRefused):
    """Every thread of the pool is busy and its queue is full: 503, try again shortly."""

    code = "overloaded"

    def __init__(self, queued: int) -> None:
        super().__init__(
            f"the server is busy ({queued} calls wait for a thread); try again shortly",
            503,
            (("Retry-After", "1"),),
        )


class ClientDisconnected(BadRequest):
    """The client went away while its request body was being read."""

    code = "client-disconnected"

    def __init__(self, message: str = "the client disconnected before sending its body") -> None:
        super().__init__(message, 400)


class BodyAccessError(PagesError):
    """The request body was read synchronously on an event loop thread."""

    code = "body-access"


class RouteWarning(UserWarning):
    """A route file that is skipped but not fatal (for example, it exports no handler)."""


def kept(exc: E) -> tuple[E, TracebackType | None]:
    """A caught error to raise again for every later call (a module that failed to load):
    with its traceback less the frame that caught it, ``raise exc.with_traceback(tb)``
    from that frame gives the same traceback each time, where raising ``exc`` itself would
    add every raise's frames to it, and keep them alive."""
    tb = exc.__traceback__
    return exc, None if tb is None else tb.tb_next


def redact_url(url: str) -> str:
    """``url`` with its password masked, fit for error messages, responses and logs.

    >>> redact_url("http://admin:hunter2@origin.internal:8080/")
    'http://admin:***@origin.internal:8080/'
    """
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
