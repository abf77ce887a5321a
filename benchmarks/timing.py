"""The one timing loop of the suite: apps called in-process, on one event loop.

Each ASGI request gets a fresh shallow copy of a prepared ``http`` scope, a ``receive``
that returns an empty body and a ``send`` that discards messages; each WSGI request a
fresh shallow copy of a prepared environ and a ``start_response`` that ignores its
arguments, its body iterated and closed. What is timed is the app plus a few hundred
nanoseconds of driver, the same for every app. The garbage collector stays enabled
(allocation is part of what an app costs) and runs before each repetition.

Apps that stream a body may listen for the client leaving meanwhile, calling ``receive``
again after the request (Starlette's ``FileResponse`` does, under ASGI spec 2.3 as uvicorn
reports it). ``measure(..., streamed=True)`` gives each request a ``receive`` and ``send``
of its own that behave as a server's do: after the request, ``receive`` waits until the
response is complete and then answers ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
import gc
import io
import math
import statistics
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from time import perf_counter_ns

from pagesfn.types import ASGIApp, Environ, ExcInfo, Message, Scope, WSGIApp

# Calls in the first warm-up round; rounds double until one lasts ``Settings.warmup``.
_FIRST_ROUND = 16
_MIN_CALLS = 100


class BenchmarkError(RuntimeError):
    """A benchmark cannot run as designed (an app answers the wrong thing, ...)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How long to measure."""

    repetitions: int  # timed repetitions of each case, interleaved across cases
    seconds: float  # target length of one repetition of one case
    warmup: float  # the last warm-up round of a case lasts at least this long
    quick: bool = False  # a smoke run: smaller inputs, no targets checked


FULL = Settings(repetitions=7, seconds=0.3, warmup=0.15)
QUICK = Settings(repetitions=3, seconds=0.02, warmup=0.005, quick=True)


@dataclass(frozen=True, slots=True)
class Case:
    """One app answering one path; ``expect`` is the body it must send back."""

    name: str
    app: ASGIApp
    path: str
    expect: bytes


@dataclass(frozen=True, slots=True)
class WSGICase:
    """One WSGI app answering one path; ``expect`` is the body it must send back."""

    name: str
    app: WSGIApp
    path: str
    expect: bytes


# Times a number of calls, in nanoseconds: the timing loop bound to one case.
Timer = Callable[[int], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Stats:
    """The timings of one case: nanoseconds per request, one value per repetition."""

    calls: int  # requests per repetition
    ns_per_request: tuple[float, ...]

    @property
    def median_us(self) -> float:
        return statistics.median(self.ns_per_request) / 1000

    @property
    def rps(self) -> float:
        return 1e6 / self.median_us

    @property
    def spread(self) -> float:
        """Range of the repetitions relative to their median (0.02 is 2%)."""
        values = self.ns_per_request
        return (max(values) - min(values)) / statistics.median(values)


def http_scope(path: str, method: str = "GET") -> Scope:
    """The scope a server such as uvicorn passes for a plain request to ``path``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"pagesfn-benchmarks"),
            (b"accept", b"*/*"),
        ],
    }


def wsgi_environ(path: str, method: str = "GET") -> Environ:
    """The environ a server such as gunicorn passes for a plain request to ``path``."""
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "RAW_URI": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "51000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "pagesfn-benchmarks",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def discard(message: Message) -> None:
    return None


class Exchange:
    """``receive`` and ``send`` for one request, as a server gives them: ``receive``
    answers the empty request body once, then waits until the response is complete and
    answers ``http.disconnect``; ``send`` discards messages (or keeps them in ``sent``)."""

    __slots__ = ("_complete", "_received", "_waiter", "sent")

    def __init__(self, sent: list[Message] | None = None) -> None:
        self._received = False
        self._complete = False
        self._waiter: asyncio.Future[None] | None = None
        self.sent = sent

    async def receive(self) -> Message:
        if not self._received:
            self._received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if not self._complete:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.sent is not None:
            self.sent.append(message)
        if message["type"] == "http.response.start" or message.get("more_body", False):
            return
        self._complete = True  # the last body message, or ``http.response.pathsend``
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _write(data: bytes) -> None:
    return None


def ignore_start(
    status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None, /
) -> Callable[[bytes], object]:
    return _write


def measure(cases: Sequence[Case], settings: Settings, *, streamed: bool = False) -> list[Stats]:
    """Time ``cases`` on one event loop, interleaving repetitions (A, B, C, A, B, C, ...)
    so drift of the machine spreads evenly over them. Returns one :class:`Stats` each.

    With ``streamed``, every request gets an :class:`Exchange` of its own instead of the
    shared ``receive`` and ``discard`` (a few hundred nanoseconds more per request)."""
    return asyncio.run(_measure(cases, settings, streamed))


def measure_wsgi(cases: Sequence[WSGICase], settings: Settings) -> list[Stats]:
    """:func:`measure` for WSGI apps, called in the measuring thread."""
    timers: list[Timer] = []
    for case in cases:
        environ = wsgi_environ(case.path)
        _check_wsgi(case, environ)
        timers.append(_wsgi_timer(case.app, environ))
    return asyncio.run(_interleave(timers, settings))


def time_ratio(numerator: Stats, denominator: Stats) -> float:
    """``numerator`` time over ``denominator`` time: the median of the per-repetition
    ratios, which pairs repetitions run side by side."""
    pairs = zip(numerator.ns_per_request, denominator.ns_per_request, strict=True)
    return statistics.median(a / b for a, b in pairs)


async def _measure(cases: Sequence[Case], settings: Settings, streamed: bool) -> list[Stats]:
    timers: list[Timer] = []
    for case in cases:
        scope = http_scope(case.path)
        await _check(case, scope, streamed)
        timers.append(
            _exchange_timer(case.app, scope) if streamed else _asgi_timer(case.app, scope)
        )
    return await _interleave(timers, settings)


async def _interleave(timers: Sequence[Timer], settings: Settings) -> list[Stats]:
    calls = [await _calibrate(timer, settings) for timer in timers]
    samples: list[list[float]] = [[] for _ in timers]
    for _ in range(settings.repetitions):
        for timer, n, sample in zip(timers, calls, samples, strict=True):
            gc.collect()
            sample.append(await timer(n) / n)
    return [Stats(n, tuple(sample)) for n, sample in zip(calls, samples, strict=True)]


def _asgi_timer(app: ASGIApp, scope: Scope) -> Timer:
    async def time(calls: int) -> int:
        """Nanoseconds taken by ``calls`` requests: the timing loop."""
        start = perf_counter_ns()
        for _ in range(calls):
            await app(dict(scope), receive, discard)
        return perf_counter_ns() - start

    return time


def _exchange_timer(app: ASGIApp, scope: Scope) -> Timer:
    async def time(calls: int) -> int:
        """The timing loop with a server's ``receive`` and ``send`` for each request."""
        start = perf_counter_ns()
        for _ in range(calls):
            exchange = Exchange()
            await app(dict(scope), exchange.receive, exchange.send)
        return perf_counter_ns() - start

    return time


def _wsgi_timer(app: WSGIApp, environ: Environ) -> Timer:
    async def time(calls: int) -> int:
        """The timing loop for WSGI: no await, so nothing else runs meanwhile."""
        start = perf_counter_ns()
        for _ in range(calls):
            result: Iterable[bytes] = app(dict(environ), ignore_start)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return perf_counter_ns() - start

    return time


async def _calibrate(timer: Timer, settings: Settings) -> int:
    """Warm a case up and return how many calls make one repetition."""
    calls = _FIRST_ROUND
    while True:
        elapsed = await timer(calls)
        if elapsed >= settings.warmup * 1e9:
            break
        calls *= 2
    return max(_MIN_CALLS, math.ceil(settings.seconds * 1e9 * calls / elapsed))


async def _check(case: Case, scope: Scope, streamed: bool = False) -> None:
    """Fail unless ``case`` answers 200 with the expected body (its body messages
    concatenated, however many there are)."""
    sent: list[Message] = []

    async def capture(message: Message) -> None:
        sent.append(message)

    if streamed:
        exchange = Exchange(sent)
        await case.app(dict(scope), exchange.receive, exchange.send)
    else:
        await case.app(dict(scope), receive, capture)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if status != 200 or body != case.expect:
        raise BenchmarkError(
            f"{case.name} answered GET {case.path} with {status} {body[:80]!r}; "
            f"expected 200 {case.expect!r}"
        )


def _check_wsgi(case: WSGICase, environ: Environ) -> None:
    """Fail unless ``case`` answers 200 with the expected body."""
    started: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        started.append(status)
        return _write

    result = case.app(dict(environ), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = started[-1] if started else None
    if status is None or not status.startswith("200") or body != case.expect:
        raise BenchmarkError(
            f"{case.name} answered GET {case.path} with {status} {body[:80]!r}; "
            f"expected 200 {case.expect!r}"
        )
