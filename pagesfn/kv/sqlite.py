"""The embedded KV backend: SQLite files that many threads and processes share safely.

Layout: a table per namespace, ``"kv:NAME"``, keyed by the key's name, so a file may hold
one namespace or several without them seeing each other's keys. Expiration is UNIX seconds
(REAL), and metadata JSON text. The tables are ``WITHOUT ROWID``: a lookup is one B-tree
search instead of an index search and then a table search.

Durability: WAL with ``synchronous=NORMAL``. A committed put survives the process being
killed; only an OS crash or power loss may drop the last few commits.

Awaited calls: a thread hop costs far more than a point read or a small write, so the
awaited methods run on the event loop's own thread when they can finish without waiting:
through a connection whose busy timeout is zero, for values up to ``INLINE_BYTES``. A call
that would have to wait for another writer, or that moves a large value, is handed to a
thread that waits as long as the blocking methods do. The loop's connections never run a
WAL checkpoint (its ``fsync`` calls would stall the loop); a thread runs one after every
``CHECKPOINT_PAGES`` pages the loop has written.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

from .namespace import KVError, KVNamespace, StoredKey, StoredValue

# Long enough that "database is locked" never reaches a handler under contention from
# other processes; writes are single short statements, so real waits stay tiny.
BUSY_TIMEOUT_SECONDS = 30.0
SWEEP_EVERY = 256  # puts between two sweeps of expired rows
SWEEP_BATCH = 256  # expired rows one sweep removes at most
INLINE_BYTES = 64 * 1024  # the largest value an awaited call reads or writes on the loop
# Pages written to the WAL from the loop between two checkpoints: SQLite's own default for
# the connections that checkpoint themselves. The count is an estimate (SQLite does not tell
# Python): each commit writes a leaf, and now and then the pages above it that a split
# rewrites, besides the value's own pages.
CHECKPOINT_PAGES = 1000
_PAGES_PER_COMMIT = 2
_PAGE_BYTES = 4096  # SQLite's default page size

# Each statement for the table of one namespace, named by {table}; see _Statements.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, value BLOB NOT NULL,"
    " expiration REAL, metadata TEXT) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS {index} ON {table} (expiration) WHERE expiration IS NOT NULL",
)
# Expiration is compared here rather than in SQL: one bound parameter fewer is measurably
# faster for the point reads that KV traffic is mostly made of.
_GET = "SELECT value, metadata, expiration FROM {table} WHERE name = ?"
# The value only when it is small enough to read on the loop (NULL otherwise: stored values
# are never NULL); length() of a BLOB does not read it.
_GET_INLINE = (
    "SELECT CASE WHEN length(value) <= ? THEN value END, metadata, expiration FROM {table}"
    " WHERE name = ?"
)
# An upsert rather than INSERT OR REPLACE: it updates the row in place, where REPLACE deletes
# it and inserts it again, which costs about half again as much.
_PUT = (
    "INSERT INTO {table} (name, value, expiration, metadata) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
    " expiration = excluded.expiration, metadata = excluded.metadata"
)
_DELETE = "DELETE FROM {table} WHERE name = ?"
_SWEEP = (
    "DELETE FROM {table} WHERE name IN (SELECT name FROM {table} WHERE expiration <= ? LIMIT ?)"
)
_LIST = "SELECT name, expiration, metadata FROM {table} WHERE name >= ?"


class _Statements:
    """The SQL of one namespace's table, written once when the backend opens."""

    def __init__(self, namespace: str) -> None:
        if "\0" in namespace:
            raise KVError(f"a KV namespace name cannot hold a NUL character: {namespace!r}")
        names = {
            "table": _identifier(f"kv:{namespace}"),
            "index": _identifier(f"kv:{namespace}:expiration"),
        }
        self.schema = [statement.format(**names) for statement in _SCHEMA]
        self.get = _GET.format(**names)
        self.get_inline = _GET_INLINE.format(**names)
        self.put = _PUT.format(**names)
        self.delete = _DELETE.format(**names)
        self.sweep = _SWEEP.format(**names)
        self.list = _LIST.format(**names)


def _identifier(name: str) -> str:
    """``name`` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# SQLite's primary result codes for "another connection holds the lock".
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6

# Every open backend, so a forked child can drop the connections it inherited.
_backends: weakref.WeakSet[SQLiteBackend] = weakref.WeakSet()


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
    """One namespace in one SQLite file, with connections per thread."""

    def __init__(self, namespace: str, path: str | os.PathLike[str]) -> None:
        self.namespace = namespace
        self._sql = _Statements(namespace)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        self._schema_ready = False
        self._puts = 0
        self._pages_inline = 0  # written to the WAL from the loop since the last checkpoint
        self._reset()
        _backends.add(self)
        # Open once now so a bad path fails at startup rather than in the first request.
        self._cursor()

    def _reset(self) -> None:
        # Per thread: a cursor (reused, which saves making one per call) on a connection
        # that waits for other writers, and one on a connection that does not.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []

    def _cursor(self) -> sqlite3.Cursor:
        """This thread's cursor on a connection that waits for other writers."""
        if self._closed:
            raise KVError(f"the KV namespace {self.namespace!r} is closed")
        try:
            cursor: sqlite3.Cursor = self._local.waiting
        except AttributeError:
            cursor = self._local.waiting = self._open(waits=True).cursor()
        return cursor

    def _inline_cursor(self) -> sqlite3.Cursor:
        """This thread's cursor on a connection that answers "busy" at once."""
        if self._closed:
            raise KVError(f"the KV namespace {self.namespace!r} is closed")
        try:
            cursor: sqlite3.Cursor = self._local.inline
        except AttributeError:
            cursor = self._local.inline = self._open(waits=False).cursor()
        return cursor

    def _open(self, *, waits: bool) -> sqlite3.Connection:
        # isolation_level=None: every statement commits on its own, and a write takes the
        # lock when it starts, where the busy timeout applies. check_same_thread=False lets
        # close() reach every thread's connection.
        timeout = BUSY_TIMEOUT_SECONDS if waits else 0.0
        try:
            connection = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise KVError(f"cannot open the KV store {str(self.path)!r}: {error}") from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not self._schema_ready:
                # Switching a new file to WAL and creating the table take locks the busy
                # timeout cannot always wait out when several processes start at once
                # (SQLite answers "locked" at once where waiting could deadlock): the
                # processes take turns, through a lock file beside the database.
                with _interprocess_lock(f"{self.path}.lock"):
                    connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
                    connection.execute("PRAGMA journal_mode = WAL")
                    with _transaction(connection):
                        for statement in self._sql.schema:
                            connection.execute(statement)
                    connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                self._schema_ready = True
            connection.execute("PRAGMA synchronous = NORMAL")
            if not waits:
                connection.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            connection.close()
            raise
        with self._lock:
            self._connections.append(connection)
        return connection

    # Blocking calls

    def get(self, key: str, now: float) -> StoredValue | None:
        try:
            row = self._cursor().execute(self._sql.get, (key,)).fetchone()
        except sqlite3.Error as error:
            raise self._failure(error) from None
        if row is None:
            return None
        value, metadata, expiration = row
        if expiration is not None and expiration <= now:
            return None
        return value, metadata

    def put(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None:
        try:
            cursor = self._cursor()
            cursor.execute(self._sql.put, (key, value, expiration, metadata))
            self._puts += 1
            if self._puts % SWEEP_EVERY == 1:
                self._sweep(cursor, now)
        except sqlite3.Error as error:
            raise self._failure(error) from None

    def delete(self, key: str) -> None:
        try:
            self._cursor().execute(self._sql.delete, (key,))
        except sqlite3.Error as error:
            raise self._failure(error) from None

    def list(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        try:
            return self._list(self._cursor(), prefix, after, limit, now)
        except sqlite3.Error as error:
            raise self._failure(error) from None

    def _list(
        self,
        cursor: sqlite3.Cursor,
        prefix: str,
        after: str | None,
        limit: int,
        now: float,
    ) -> builtins.list[StoredKey]:
        # A range on the primary key rather than LIKE: no wildcards to escape, no ASCII case
        # folding, and the scan stops at the end of the prefix.
        sql = self._sql.list
        params: builtins.list[object] = [prefix]
        upper = _prefix_end(prefix)
        if upper is not None:
            sql += " AND name < ?"
            params.append(upper)
        if after is not None:
            sql += " AND name > ?"
            params.append(after)
        sql += " AND (expiration IS NULL OR expiration > ?) ORDER BY name LIMIT ?"
        params += [now, limit]
        rows = cursor.execute(sql, params).fetchall()
        return [StoredKey(name, expiration, metadata) for name, expiration, metadata in rows]

    def _sweep(self, cursor: sqlite3.Cursor, now: float) -> None:
        # Now and then, rows past their expiration go (reads skip them meanwhile); the
        # index on expiration makes it cheap, and the batch keeps it short.
        cursor.execute(self._sql.sweep, (now, SWEEP_BATCH))

    def _checkpoint(self) -> None:
        """Copy the WAL back into the database file (a passive checkpoint: it waits for no
        one, and skips what readers still use)."""
        try:
            self._cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:
            raise self._failure(error) from None

    # Awaited calls: on the loop when nothing has to wait, in a thread otherwise

    async def aget(self, key: str, now: float) -> StoredValue | None:
        try:
            row = (
                self._inline_cursor().execute(self._sql.get_inline, (INLINE_BYTES, key)).fetchone()
            )
        except sqlite3.Error as error:
            self._raise_unless_busy(error)
            return await asyncio.to_thread(self.get, key, now)
        if row is None:
            return None
        value, metadata, expiration = row
        if expiration is not None and expiration <= now:
            return None
        if value is None:  # too large to read on the loop
            return await asyncio.to_thread(self.get, key, now)
        return value, metadata

    async def aput(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None:
        if len(value) > INLINE_BYTES:
            await asyncio.to_thread(self.put, key, value, expiration, metadata, now)
            return
        try:
            cursor = self._inline_cursor()
            cursor.execute(self._sql.put, (key, value, expiration, metadata))
        except sqlite3.Error as error:
            self._raise_unless_busy(error)
            await asyncio.to_thread(self.put, key, value, expiration, metadata, now)
            return
        self._puts += 1
        if self._puts % SWEEP_EVERY == 1:
            try:
                self._sweep(cursor, now)
            except sqlite3.Error as error:
                self._raise_unless_busy(error)  # a busy sweep is skipped: the next one will do
        self._pages_inline += _PAGES_PER_COMMIT + (len(key) + len(value)) // _PAGE_BYTES
        if self._pages_inline >= CHECKPOINT_PAGES:
            # Awaited, so the loop writes nothing meanwhile: a WAL that is wholly copied back
            # is written from its start again, where one that writers keep adding to while
            # checkpoints run would grow without end.
            self._pages_inline = 0
            await asyncio.to_thread(self._checkpoint)

    async def adelete(self, key: str) -> None:
        try:
            self._inline_cursor().execute(self._sql.delete, (key,))
        except sqlite3.Error as error:
            self._raise_unless_busy(error)
            await asyncio.to_thread(self.delete, key)

    async def alist(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        try:
            return self._list(self._inline_cursor(), prefix, after, limit, now)
        except sqlite3.Error as error:
            self._raise_unless_busy(error)
            return await asyncio.to_thread(self.list, prefix, after, limit, now)

    async def disconnect(self) -> None:
        """Nothing to do: SQLite connections belong to threads, not to event loops."""

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def _raise_unless_busy(self, error: sqlite3.Error) -> None:
        """Let a call that met another writer's lock on the loop try again in a thread."""
        if not (isinstance(error, sqlite3.OperationalError) and _is_busy(error)):
            raise self._failure(error) from None

    def _failure(self, error: sqlite3.Error) -> Exception:
        """What to raise for an error of SQLite's: a KV error naming the file."""
        if isinstance(error, sqlite3.ProgrammingError) and self._closed:
            # Closed by another thread mid-call.
            return KVError(f"the KV namespace {self.namespace!r} is closed")
        if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
            return KVError(
                f"the KV store {str(self.path)!r} stayed locked by another writer for"
                f" {BUSY_TIMEOUT_SECONDS:.0f} s"
            )
        return KVError(f"the KV store {str(self.path)!r} failed: {error}")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    message = str(error)
    return message.startswith(("database is locked", "database table is locked"))


def _forget_connections() -> None:
    # A forked child must not use its parent's SQLite handles; it opens its own.
    for backend in list(_backends):
        backend._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections)


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
