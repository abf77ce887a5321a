"""The one timing loop of the suite: ASGI apps called in-process, on one event loop.

Each request gets a fresh shallow copy of a prepared ``http`` scope, a ``receive`` that
returns an empty body and a ``send`` that discards messages, so what is timed is the app
plus a few hundred nanoseconds of driver, the same for every app. The garbage collector
stays enabled (allocation is part of what an app costs) and runs before each repetition.
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter_ns

from pagesfn.types import ASGIApp, Message, Scope

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


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def discard(message: Message) -> None:
    return None


def measure(cases: Sequence[Case], settings: Settings) -> list[Stats]:
    """Time ``cases`` on one event loop, interleaving repetitions (A, B, C, A, B, C, ...)
    so drift of the machine spreads evenly over them. Returns one :class:`Stats` each."""
    return asyncio.run(_measure(cases, settings))


def time_ratio(numerator: Stats, denominator: Stats) -> float:
    """``numerator`` time over ``denominator`` time: the median of the per-repetition
    ratios, which pairs repetitions run side by side."""
    pairs = zip(numerator.ns_per_request, denominator.ns_per_request, strict=True)
    return statistics.median(a / b for a, b in pairs)


async def _measure(cases: Sequence[Case], settings: Settings) -> list[Stats]:
    scopes = [http_scope(case.path) for case in cases]
    calls = []
    for case, scope in zip(cases, scopes, strict=True):
        await _check(case, scope)
        calls.append(await _calibrate(case.app, scope, settings))
    samples: list[list[float]] = [[] for _ in cases]
    for _ in range(settings.repetitions):
        for case, scope, n, sample in zip(cases, scopes, calls, samples, strict=True):
            gc.collect()
            sample.append(await _time(case.app, scope, n) / n)
    return [Stats(n, tuple(sample)) for n, sample in zip(calls, samples, strict=True)]


async def _time(app: ASGIApp, scope: Scope, calls: int) -> int:
    """Nanoseconds taken by ``calls`` requests: the timing loop."""
    start = perf_counter_ns()
    for _ in range(calls):
        await app(dict(scope), receive, discard)
    return perf_counter_ns() - start


async def _calibrate(app: ASGIApp, scope: Scope, settings: Settings) -> int:
    """Warm ``app`` up and return how many calls make one repetition."""
    calls = _FIRST_ROUND
    while True:
        elapsed = await _time(app, scope, calls)
        if elapsed >= settings.warmup * 1e9:
            break
        calls *= 2
    return max(_MIN_CALLS, math.ceil(settings.seconds * 1e9 * calls / elapsed))


async def _check(case: Case, scope: Scope) -> None:
    """Fail unless ``case`` answers 200 with the expected body."""
    sent: list[Message] = []

    async def capture(message: Message) -> None:
        sent.append(message)

    await case.app(dict(scope), receive, capture)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if status != 200 or body != case.expect:
        raise BenchmarkError(
            f"{case.name} answered GET {case.path} with {status} {body[:80]!r}; "
            f"expected 200 {case.expect!r}"
        )
