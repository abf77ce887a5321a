"""Shared by the streaming tests and the route files they write: named events to hold a
generator between chunks, and notes of what the generators did."""

from __future__ import annotations

import asyncio
import threading
import time

#: How long anything here waits before giving up: every wait is bounded.
BOUND = 5.0

_lock = threading.Lock()
_events: dict[str, threading.Event] = {}
notes: list[str] = []


def event(name: str) -> threading.Event:
    with _lock:
        return _events.setdefault(name, threading.Event())


def fire(name: str) -> None:
    event(name).set()


def wait(name: str, timeout: float = BOUND) -> bool:
    """Block until ``name`` fires; False when it did not within ``timeout``."""
    return event(name).wait(timeout)


async def await_(name: str, timeout: float = BOUND) -> bool:
    """:func:`wait` for async code: polls, so that it can be cancelled where it waits."""
    flag = event(name)
    deadline = time.monotonic() + timeout
    while not flag.is_set():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def note(text: str) -> None:
    notes.append(text)


def reset() -> None:
    with _lock:
        _events.clear()
    notes.clear()
