"""KV bindings against the raw clients they are built on, in the same run.

Each case is ``put`` or ``get`` of a small value under one of 1,000 keys, called in a loop
from one thread: the binding's sync twin (``namespace.sync``, what a ``def`` handler calls)
and its async methods (what an ``async def`` handler awaits; they run the call in a thread),
against the raw client doing the same work. Raw SQLite is ``sqlite3`` with the same file
settings (WAL, ``synchronous=NORMAL``) and one committed statement per ``put``; raw Redis is
redis-py's ``SET`` and ``GET``. Repetitions are interleaved and the median reported; a
missing ``redis-server`` skips the Redis part with a note.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from pagesfn.kv import KVNamespace, sqlite_namespace

from . import serving
from .report import progress
from .results import Figure, Ratio, Result
from .timing import Settings

TARGET = 0.8  # the binding's operations per second, in those of the raw client
KEYS = 1_000
VALUE = "x" * 100


def run(settings: Settings) -> Result:
    calls = 300 if settings.quick else 3_000
    repetitions = 1 if settings.quick else 5
    ratios: list[Ratio] = []
    figures: list[Figure] = []
    notes = [f"{calls:,} calls per repetition, median of {repetitions}; one thread"]
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pagesfn-kv-")))
        binding = sqlite_namespace("BENCH", folder / "binding.sqlite3")
        stack.callback(binding.close)
        raw = _raw_sqlite(folder / "raw.sqlite3")
        stack.callback(raw.close)
        backends: list[tuple[str, KVNamespace, dict[str, Callable[[str], Any]]]] = [
            ("SQLite", binding, _sqlite_ops(raw))
        ]
        if shutil.which("redis-server") is None:
            notes.append("Redis: skipped: redis-server is not installed")
        else:
            url = stack.enter_context(_redis_server())
            import redis

            from pagesfn.kv import redis_namespace

            client = redis.Redis.from_url(url)
            stack.callback(client.close)
            client.mset({f"key-{n:04d}": VALUE for n in range(KEYS)})
            on_redis = redis_namespace("BENCH", url)
            stack.callback(on_redis.close)
            backends.append(("Redis", on_redis, {"put": lambda k: client.set(k, VALUE),
                                                 "get": client.get}))  # fmt: skip
        for name, namespace, raw_ops in backends:
            for op in ("put", "get"):
                progress("kv", f"{name} {op}: {repetitions} repetition(s)")
                ours, async_ours, theirs = _time(namespace, raw_ops[op], op, calls, repetitions)
                label = f"{name} {op}: binding ops/s / raw ops/s"
                ratios.append(Ratio(label, theirs / ours, TARGET))
                figures.append(Figure(f"{name} {op}, binding (.sync)", 1e6 / ours, "ops/s"))
                figures.append(Figure(f"{name} {op}, binding (awaited)", 1e6 / async_ours, "ops/s"))
                figures.append(Figure(f"{name} {op}, raw client", 1e6 / theirs, "ops/s"))
    return Result(
        "kv",
        "KV bindings vs raw sqlite3 and redis-py",
        (),
        tuple(ratios),
        tuple(figures),
        notes=tuple(notes),
    )


def _time(
    namespace: KVNamespace, raw: Callable[[str], Any], op: str, calls: int, repetitions: int
) -> tuple[float, float, float]:
    """Median microseconds per call: the sync twin, the awaited method, the raw client."""
    keys = [f"key-{n % KEYS:04d}" for n in range(calls)]
    sync_op = getattr(namespace.sync, op)
    async_op = getattr(namespace, op)

    def args(key: str) -> tuple[Any, ...]:
        return (key, VALUE) if op == "put" else (key,)

    for key in keys[:KEYS]:  # every key exists before the first get
        namespace.sync.put(key, VALUE)
    samples: list[list[float]] = [[], [], []]

    async def awaited() -> None:
        for key in keys:
            await async_op(*args(key))

    for _ in range(repetitions):
        start = time.perf_counter()
        for key in keys:
            sync_op(*args(key))
        samples[0].append(time.perf_counter() - start)
        start = time.perf_counter()
        asyncio.run(awaited())
        samples[1].append(time.perf_counter() - start)
        start = time.perf_counter()
        for key in keys:
            raw(key)
        samples[2].append(time.perf_counter() - start)
    medians = [statistics.median(sample) / calls * 1e6 for sample in samples]
    return medians[0], medians[1], medians[2]


def _raw_sqlite(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)")
    connection.executemany(
        "INSERT INTO kv VALUES (?, ?)", [(f"key-{n:04d}", VALUE.encode()) for n in range(KEYS)]
    )
    return connection


def _sqlite_ops(connection: sqlite3.Connection) -> dict[str, Callable[[str], Any]]:
    def put(key: str) -> None:
        connection.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, VALUE.encode()))

    def get(key: str) -> Any:
        return connection.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()

    return {"put": put, "get": get}


@contextmanager
def _redis_server() -> Iterator[str]:
    port = serving.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
