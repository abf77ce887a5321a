"""KV bindings against the raw clients they are built on, in the same run.

Each case is ``put`` or ``get`` of a small value under one of 1,000 keys, called in a loop
from one thread, through the binding and through the raw client doing the same work:

- blocking: the binding's sync twin (``namespace.sync``, what a ``def`` handler calls)
  against ``sqlite3`` and redis-py's ``redis.Redis``;
- awaited: the binding's async methods (what an ``async def`` handler awaits) against
  ``sqlite3`` called on the loop and redis-py's ``redis.asyncio.Redis``.

Raw SQLite keeps the same record as the binding (a value, its expiration and its metadata)
in the same kind of table (``WITHOUT ROWID``, keyed by name) and file (WAL,
``synchronous=NORMAL``), written with the same upsert, one committed statement per ``put``;
it skips what the binding adds: checking keys and values, encoding, expiry and sweeps. Raw
Redis is plain ``SET`` and ``GET``. The ``redis-server`` is pinned to one core when the
system allows it, which steadies the figures on small machines.

The two sides run in short blocks, in turn, so a burst of noise from the machine hits both;
the ratio is the median of the ratios of each pair of blocks. A missing ``redis-server``
skips the Redis part with a note.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pagesfn.kv import KVNamespace, sqlite_namespace

from . import serving
from .report import progress
from .results import Ratio, Result, Row
from .timing import Settings, Stats

TARGET = 0.8  # the binding's operations per second, in those of the raw client
BINDING = "pagesfn KV binding"
KEYS = 1_000
BLOCK = 50  # calls timed together
REPETITIONS = 8  # the runs of blocks a table row reports, for its median and spread
VALUE = "x" * 100
ENCODED = VALUE.encode()

#: One operation on one key: a plain call, or one that returns an awaitable.
Op = Callable[[str], Any]


@dataclass(frozen=True)
class Case:
    label: str  # e.g. "SQLite get, awaited"
    binding: Op
    raw: Op
    raw_name: str  # the raw client, e.g. "raw redis-py (asyncio)"
    awaited: bool
    #: Awaited after each repetition of an awaited case, in its loop: closes what the loop
    #: opened, as a server does at shutdown.
    finish: Callable[[], Awaitable[None]] | None = None


def run(settings: Settings) -> Result:
    blocks = 6 if settings.quick else 400
    notes = [
        f"{blocks} pairs of {BLOCK}-call blocks, binding and raw client in turn (ABBA);"
        " the median of each side, and the median of the pairs' ratios; one thread"
    ]
    cases: list[Case] = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pagesfn-kv-")))
        binding = sqlite_namespace("BENCH", folder / "binding.sqlite3")
        stack.callback(binding.close)
        raw = _raw_sqlite(folder / "raw.sqlite3")
        stack.callback(raw.close)
        names = ("raw sqlite3", "raw sqlite3 (on the loop)")
        cases += _cases("SQLite", binding, _sqlite_ops(raw), _sqlite_ops(raw, awaited=True), names)
        if shutil.which("redis-server") is None:
            notes.append("Redis: skipped: redis-server is not installed")
        else:
            url, pinned = stack.enter_context(_redis_server())
            if pinned:
                notes.append("redis-server pinned to one core")
            cases += _redis_cases(stack, url)
        rows: list[Row] = []
        ratios: list[Ratio] = []
        for case in cases:
            progress("kv", f"{case.label}: {blocks} pairs of blocks")
            if case.awaited:
                pairs = asyncio.run(_time_awaited(case, blocks))
            else:
                pairs = _time(case, blocks)
            ours, theirs = (_stats(pairs, side) for side in (0, 1))
            rows += [Row(case.label, BINDING, ours), Row(case.label, case.raw_name, theirs)]
            # The median of the pairs' ratios, which a burst of noise hitting one pair
            # cannot sway.
            ratio = statistics.median(pair[1] / pair[0] for pair in pairs)
            ratios.append(Ratio(f"{case.label}: binding ops/s / raw ops/s", ratio, TARGET))
    return Result(
        "kv",
        "KV bindings vs raw sqlite3 and redis-py",
        tuple(rows),
        tuple(ratios),
        notes=tuple(notes),
        unit="op",
    )


def _cases(
    backend: str,
    namespace: KVNamespace,
    raw: Mapping[str, Op],
    raw_async: Mapping[str, Op],
    raw_names: tuple[str, str],
    raw_finish: Callable[[], Awaitable[None]] | None = None,
) -> list[Case]:
    """The four cases of a backend; ``raw_names`` names its raw client, blocking and
    awaited."""
    for n in range(KEYS):  # every key exists before the first get
        namespace.sync.put(f"key-{n:04d}", VALUE)

    async def finish() -> None:
        await namespace.disconnect()
        if raw_finish is not None:
            await raw_finish()

    def put(key: str) -> None:
        namespace.sync.put(key, VALUE)

    async def aput(key: str) -> None:
        await namespace.put(key, VALUE)

    blocking, awaited = raw_names
    return [
        Case(f"{backend} put", put, raw["put"], blocking, False),
        Case(f"{backend} put, awaited", aput, raw_async["put"], awaited, True, finish),
        Case(f"{backend} get", namespace.sync.get, raw["get"], blocking, False),
        Case(f"{backend} get, awaited", namespace.get, raw_async["get"], awaited, True, finish),
    ]


def _redis_cases(stack: ExitStack, url: str) -> list[Case]:
    import redis
    import redis.asyncio

    from pagesfn.kv import redis_namespace

    client = redis.Redis.from_url(url)
    stack.callback(client.close)
    client.mset({f"key-{n:04d}": VALUE for n in range(KEYS)})
    # One asyncio client per loop, as the binding keeps one: each repetition of an
    # awaited case runs in a loop of its own.
    clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}

    def async_client() -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        if loop not in clients:
            clients[loop] = redis.asyncio.Redis.from_url(url)
        return clients[loop]

    async def close_async_client() -> None:
        opened = clients.pop(asyncio.get_running_loop(), None)
        if opened is not None:
            await opened.aclose()

    namespace = redis_namespace("BENCH", url)
    stack.callback(namespace.close)
    raw = {"put": lambda k: client.set(k, VALUE), "get": client.get}
    raw_async = {
        "put": lambda k: async_client().set(k, VALUE),
        "get": lambda k: async_client().get(k),
    }
    names = ("raw redis-py", "raw redis-py (asyncio)")
    return _cases("Redis", namespace, raw, raw_async, names, close_async_client)


def _time(case: Case, blocks: int) -> list[list[float]]:
    """The seconds each pair of blocks took through the binding and through the raw
    client, in that order."""
    pairs = []
    for first, second, keys in _schedule(case, blocks):
        times = []
        for op in (first, second):
            start = time.perf_counter()
            for key in keys:
                op(key)
            times.append(time.perf_counter() - start)
        pairs.append(times if first is case.binding else times[::-1])
    return pairs


async def _time_awaited(case: Case, blocks: int) -> list[list[float]]:
    """:func:`_time` for awaited calls, all in one event loop, as in a server."""
    await case.binding(_key(0))  # opens the loop's connections outside the timing
    await case.raw(_key(0))
    pairs = []
    for first, second, keys in _schedule(case, blocks):
        times = []
        for op in (first, second):
            start = time.perf_counter()
            for key in keys:
                await op(key)
            times.append(time.perf_counter() - start)
        pairs.append(times if first is case.binding else times[::-1])
    if case.finish is not None:
        await case.finish()
    return pairs


def _schedule(case: Case, count: int) -> Iterator[tuple[Op, Op, list[str]]]:
    """Each block's keys, after the two sides in the order they run it: binding first,
    then raw first twice, then binding first (ABBA), so neither always follows the other."""
    for block in range(count):
        keys = [_key(block * BLOCK + n) for n in range(BLOCK)]
        if block % 4 in (0, 3):
            yield case.binding, case.raw, keys
        else:
            yield case.raw, case.binding, keys


def _key(n: int) -> str:
    return f"key-{n % KEYS:04d}"


def _stats(pairs: Sequence[Sequence[float]], side: int) -> Stats:
    """One side's timings as :class:`Stats` of :data:`REPETITIONS` repetitions: the pairs
    of blocks taken in that many runs of consecutive blocks (the spread of single blocks
    of 50 calls is mostly the odd garbage collection or checkpoint that lands in one)."""
    size = max(1, len(pairs) // REPETITIONS)
    runs = [pairs[start : start + size] for start in range(0, len(pairs) - size + 1, size)]
    per_call = tuple(sum(pair[side] for pair in run) / (len(run) * BLOCK) * 1e9 for run in runs)
    return Stats(size * BLOCK, per_call)


def _raw_sqlite(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    # The record the binding keeps: a value, its expiration and its metadata.
    connection.execute(
        "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB NOT NULL, expiration REAL, metadata TEXT)"
        " WITHOUT ROWID"
    )
    connection.executemany(
        "INSERT INTO kv VALUES (?, ?, NULL, NULL)",
        [(f"key-{n:04d}", ENCODED) for n in range(KEYS)],
    )
    return connection


def _sqlite_ops(connection: sqlite3.Connection, *, awaited: bool = False) -> dict[str, Op]:
    def put(key: str) -> None:
        connection.execute(
            "INSERT INTO kv VALUES (?, ?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v,"
            " expiration = excluded.expiration, metadata = excluded.metadata",
            (key, ENCODED, None, None),
        )

    def get(key: str) -> Any:
        return connection.execute(
            "SELECT v, expiration, metadata FROM kv WHERE k = ?", (key,)
        ).fetchone()

    if not awaited:
        return {"put": put, "get": get}

    async def aput(key: str) -> None:
        put(key)

    async def aget(key: str) -> Any:
        return get(key)

    return {"put": aput, "get": aget}


@contextmanager
def _redis_server() -> Iterator[tuple[str, bool]]:
    """The URL of a throwaway redis-server, and whether it is pinned to one core."""
    port = serving.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pinned = False
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        try:
            os.sched_setaffinity(process.pid, {max(os.sched_getaffinity(0))})
            pinned = True
        except OSError:
            pass
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0", pinned
    finally:
        process.terminate()
        process.wait(10)
