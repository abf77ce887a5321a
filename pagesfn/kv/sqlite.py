"""The embedded KV backend: SQLite files that many threads and processes share safely.

Layout: one table ``kv`` keyed by ``(namespace, name)``, so a file may hold one namespace
or several without them seeing each other's keys. Expiration is UNIX seconds (REAL), and
metadata JSON text.

Durability: WAL with ``synchronous=NORMAL``. A committed put survives the process being
killed; only an OS crash or power loss may drop the last few commits.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .namespace import KVError, KVNamespace, StoredKey, StoredValue

# Long enough that "database is locked" never reaches a handler under contention from
# other processes; writes are single short transactions, so real waits stay tiny.
SWEEP_EVERY = 64  # puts between two sweeps of expired rows
BUSY_TIMEOUT_SECONDS = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    expiration REAL,
    metadata TEXT,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX IF NOT EXISTS kv_expiration ON kv (namespace, expiration)
    WHERE expiration IS NOT NULL;
"""


def sqlite_namespace(
    name: str, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
) -> KVNamespace:
    """A KV namespace stored in the SQLite file at ``path``, creating folders as needed.

    ``clock`` returns the current UNIX time; expiration is measured against it.
    """
    if not isinstance(name, str) or not name:
        raise KVError("a KV namespace needs a non-empty name")
    return KVNamespace(name, SQLiteBackend(name, path), clock=clock)


class SQLiteBackend:
    """One namespace in one SQLite file, with a connection per thread."""

    def __init__(self, namespace: str, path: str | os.PathLike[str]) -> None:
        self.namespace = namespace
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        self._schema_ready = False
        self._puts = 0
        self._reset()
        # Open once now so a bad path fails at startup rather than in the first request.
        self._connection()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise KVError(f"the KV namespace {self.namespace!r} is closed")
        if self._pid != os.getpid():
            # A forked child must not share the parent's SQLite handles; it opens its own.
            with self._lock:
                if self._pid != os.getpid():
                    self._reset()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit, so writes can take the write lock
        # up front (BEGIN IMMEDIATE) where the busy timeout applies, instead of failing when
        # a read transaction tries to upgrade. check_same_thread=False lets close() reach
        # every thread's connection.
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            if self._schema_ready:
                connection.execute("PRAGMA journal_mode = WAL")
            else:
                # Switching a new file to WAL and creating the table take locks the busy
                # timeout cannot always wait out when several processes start at once
                # (SQLite answers "locked" at once where waiting could deadlock): the
                # processes take turns, through a lock file beside the database.
                with _interprocess_lock(f"{self.path}.lock"):
                    connection.execute("PRAGMA journal_mode = WAL")
                    with _transaction(connection):
                        for statement in _SCHEMA.split(";"):
                            if statement.strip():
                                connection.execute(statement)
                self._schema_ready = True
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def get(self, key: str, now: float) -> StoredValue | None:
        row = (
            self._connection()
            .execute(
                "SELECT value, metadata FROM kv WHERE namespace = ? AND name = ?"
                " AND (expiration IS NULL OR expiration > ?)",
                (self.namespace, key, now),
            )
            .fetchone()
        )
        return None if row is None else StoredValue(bytes(row[0]), row[1])

    def put(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None:
        connection = self._connection()
        # One statement, committed on its own: a write that takes the lock at once (where
        # the busy timeout applies) and is atomic without a transaction around it.
        connection.execute(
            "INSERT OR REPLACE INTO kv (namespace, name, value, expiration, metadata)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.namespace, key, value, expiration, metadata),
        )
        self._puts += 1
        if self._puts % SWEEP_EVERY == 1:
            # Now and then, rows past their expiration go (reads skip them meanwhile);
            # the index on expiration makes it cheap.
            connection.execute(
                "DELETE FROM kv WHERE namespace = ? AND expiration <= ?", (self.namespace, now)
            )

    def delete(self, key: str) -> None:
        connection = self._connection()
        with _transaction(connection):
            connection.execute(
                "DELETE FROM kv WHERE namespace = ? AND name = ?", (self.namespace, key)
            )

    def list(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        # A range on the primary key rather than LIKE: no wildcards to escape, no ASCII case
        # folding, and the scan stops at the end of the prefix.
        sql = "SELECT name, expiration, metadata FROM kv WHERE namespace = ? AND name >= ?"
        params: builtins.list[object] = [self.namespace, prefix]
        upper = _prefix_end(prefix)
        if upper is not None:
            sql += " AND name < ?"
            params.append(upper)
        if after is not None:
            sql += " AND name > ?"
            params.append(after)
        sql += " AND (expiration IS NULL OR expiration > ?) ORDER BY name LIMIT ?"
        params += [now, limit]
        rows = self._connection().execute(sql, params).fetchall()
        return [StoredKey(name, expiration, metadata) for name, expiration, metadata in rows]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on error."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._connection.execute("COMMIT" if kind is None else "ROLLBACK")


_MAX_CODE_POINT = 0x10FFFF


def _prefix_end(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix``, if there is one.

    SQLite compares TEXT as UTF-8 bytes, which orders strings by code point, as here.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _MAX_CODE_POINT:
            following = last + 1
            # Surrogates cannot be stored in UTF-8 text, so step over their block.
            if 0xD800 <= following <= 0xDFFF:
                following = 0xE000
            return "".join(chars) + chr(following)
    return None


@contextlib.contextmanager
def _interprocess_lock(path: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing); POSIX only,
    elsewhere a no-op (SQLite's own locking still applies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
