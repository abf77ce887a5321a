"""Counters shared by the tests and the route modules they write (one process).

A route module does ``from probes import probe`` and reports what its app does (chunks
produced, ``close()`` called); the test reads the same :class:`Probe` by name.
"""

from __future__ import annotations

import threading

PROBES: dict[str, Probe] = {}
_lock = threading.Lock()


class Probe:
    def __init__(self) -> None:
        self.produced = 0
        self.consumed = 0
        self.max_ahead = 0
        self.closed = threading.Event()
        self.signal = threading.Event()  # for anything else the two sides wait on
        self.close_calls = 0
        self.events: list[str] = []

    def produce(self) -> None:
        self.produced += 1
        self.max_ahead = max(self.max_ahead, self.produced - self.consumed)

    def consume(self) -> None:
        self.consumed += 1

    def close(self) -> None:
        self.close_calls += 1
        self.closed.set()

    def wait_closed(self, timeout: float = 10) -> bool:
        return self.closed.wait(timeout)


def probe(name: str) -> Probe:
    with _lock:
        return PROBES.setdefault(name, Probe())


def reset() -> None:
    with _lock:
        PROBES.clear()
