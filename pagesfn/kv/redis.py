"""A KV backend on Redis, for namespaces shared by several machines.

Layout, for the namespace ``NAME`` (with ``%`` and ``:`` escaped in it, so no two names can
share a key):

- ``pagesfn:kv:NAME:v:KEY``, a string per key: the expiration in UNIX seconds (empty without
  one), a NUL byte, the metadata JSON (empty without metadata), a NUL byte, the value. JSON
  escapes every control character, so neither header field can hold a NUL; and the header
  is at most ``HEADER_BYTES`` long, so a listing reads it without the value.
- ``pagesfn:kv:NAME:index``, a sorted set of every key name, all with score 0.
- ``pagesfn:kv:NAME:expiries``, a sorted set of the keys put with an expiration, scored by
  it. An entry may outlive its key's expiration (a later put without one does not remove
  it, to spare that put a command); the sweep checks each entry against the key's header.

A put and a delete are each one Lua script, so they cost one round trip and other clients
never see half of one; a put without an expiration is two commands on the server, one with
an expiration three. Every ``SWEEP_EVERY`` puts of a process, the put also sweeps keys
whose expiration has passed, naming them from the namespace's prefix: a namespace lives on
one Redis server (or a primary and its replicas), not spread over a Redis Cluster.

Listing reads the index with ``ZRANGEBYLEX`` rather than walking keys with ``SCAN``: SCAN
returns keys in no particular order, its cursor may repeat or skip keys while others are
written, and it walks every key of the database, whereas a lexicographic range gives the
same ordered pages as the SQLite backend, and a cursor that is just the last key returned
stays valid however the keys change.

Expiration: Redis expires each key itself, ``expiration - now`` seconds after the put
(relative to the namespace's clock, so a clock other than the real one still works), and
every read also compares the stored expiration with ``now``, so an expired key is never
returned. Index entries whose key is gone are dropped when a listing or a sweep meets them.

Clients: the blocking calls share one ``redis.Redis`` and its connection pool between
threads; the awaited calls use ``redis.asyncio``, with one client and pool per event loop
(asyncio connections cannot cross loops). Each operation is written once, as a generator
that yields the commands of each round trip and receives their replies; a small driver per
client sends them.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from ..errors import redact_url
from .namespace import MAX_METADATA_BYTES, KVError, KVNamespace, StoredKey, StoredValue

if TYPE_CHECKING:
    import redis
    import redis.asyncio

T = TypeVar("T")
#: The arguments of one Redis command.
Command = tuple[Any, ...]
#: An operation: yields the commands of each round trip, receives their replies, returns.
Operation = Generator[list[Command], list[Any], T]

# How long to wait for a TCP connection before reporting Redis unreachable; a ``socket_*``
# option in the URL's query takes precedence.
CONNECT_TIMEOUT_SECONDS = 5.0
# How long close() waits for another thread's event loop to close its connections.
CLOSE_TIMEOUT_SECONDS = 5.0
# Puts of a process between two sweeps, and the expiries one sweep settles at most.
SWEEP_EVERY = 16
SWEEP_BATCH = 100
# Index entries read per round trip while filling a page that meets expired keys.
MIN_LIST_BATCH = 16
# The longest header: an expiration (a float's repr is at most 24 characters), the
# metadata, and their two NUL bytes.
HEADER_BYTES = 24 + MAX_METADATA_BYTES + 2

# settle(): what to do with a key whose expiries entry is due, or whose index entry a
# listing found stale, judged by the key's own header.
_SETTLE = """
local function settle(index, expiries, key, name, now)
    local head = redis.call('GETRANGE', key, 0, 31)
    if head == '' then
        -- Gone: Redis expired it, or it was deleted.
        redis.call('ZREM', index, name)
        redis.call('ZREM', expiries, name)
        return
    end
    local stop = string.find(head, '\0', 1, true)
    if not stop then
        return
    end
    local expiration = string.sub(head, 1, stop - 1)
    if expiration == '' then
        -- Put again without an expiration.
        redis.call('ZREM', expiries, name)
    elseif tonumber(expiration) <= now then
        redis.call('DEL', key)
        redis.call('ZREM', index, name)
        redis.call('ZREM', expiries, name)
    end
end
"""
# KEYS: key, index, expiries.
# ARGV: name, stored string, expiration or '', milliseconds to live, now, the prefix of
# keys, how many due expiries to settle (0: no sweep this time).
_PUT = (
    _SETTLE
    + """
local key, index, expiries = KEYS[1], KEYS[2], KEYS[3]
local name, expiration = ARGV[1], ARGV[3]
if expiration == '' then
    redis.call('SET', key, ARGV[2])
else
    redis.call('SET', key, ARGV[2], 'PX', ARGV[4])
    redis.call('ZADD', expiries, expiration, name)
end
redis.call('ZADD', index, 0, name)
local batch = tonumber(ARGV[7])
if batch > 0 then
    local now = tonumber(ARGV[5])
    local due = redis.call('ZRANGEBYSCORE', expiries, '-inf', now, 'LIMIT', 0, batch)
    for _, gone in ipairs(due) do
        settle(index, expiries, ARGV[6] .. gone, gone, now)
    end
end
return 0
"""
)
# KEYS: key, index, expiries. ARGV: name.
_DELETE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 0
"""
# Settles the index entries a listing found stale.
# KEYS: index, expiries, then one key per entry; ARGV: now, then the entries' names.
# A script, so a put of the same key cannot land between the check and the removal.
_CLEAN_UP = (
    _SETTLE
    + """
local now = tonumber(ARGV[1])
for i = 3, #KEYS do
    settle(KEYS[1], KEYS[2], KEYS[i], ARGV[i - 1], now)
end
return 0
"""
)


def _sha1(source: str) -> str:
    import hashlib

    return hashlib.sha1(source.encode()).hexdigest()


#: Each script by its SHA1, for loading it into a server that does not know it yet.
_SCRIPTS = {_sha1(source): source for source in (_PUT, _DELETE, _CLEAN_UP)}
_PUT_SHA, _DELETE_SHA, _CLEAN_UP_SHA = _SCRIPTS


def redis_namespace(name: str, url: str, *, clock: Callable[[], float] = time.time) -> KVNamespace:
    """A KV namespace stored in the Redis server at ``url`` (``redis://host:port/db``).

    ``clock`` returns the current UNIX time; expiration is measured against it. The server
    is contacted once here, so a wrong URL fails at startup rather than in a request.
    """
    if not isinstance(name, str) or not name:
        raise KVError("a KV namespace needs a non-empty name")
    return KVNamespace(name, RedisBackend(name, url), clock=clock)


class RedisBackend:
    """One namespace in one Redis database: a blocking client for threads, and an asyncio
    client per event loop."""

    def __init__(self, namespace: str, url: str) -> None:
        try:
            import redis
        except ImportError:
            raise KVError(
                "a Redis KV namespace needs the redis package (pip install redis)"
            ) from None
        self.namespace = namespace
        self.url = redact_url(url)
        self._url = url
        self._redis = redis
        self._closed = False
        self._puts = 0
        escaped = namespace.replace("%", "%25").replace(":", "%3A")
        self._prefix = f"pagesfn:kv:{escaped}:".encode()
        self._values = self._prefix + b"v:"
        self._index = self._prefix + b"index"
        self._expiries = self._prefix + b"expiries"
        try:
            self._client: redis.Redis = redis.Redis.from_url(
                url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except ValueError as error:
            raise KVError(f"{self.url!r} is not a Redis URL: {error}") from None
        # Each loop's client, with the generator that closes it (see _owner).
        self._async_clients: dict[
            asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, AsyncGenerator[None]]
        ] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # Once now so an unreachable server fails at startup rather than in the first request.
        try:
            self._client.ping()
        except redis.RedisError as error:
            self._client.close()
            raise KVError(f"cannot reach Redis at {self.url}: {error}") from None

    # The operations, each written once

    def _get(self, key: str, now: float) -> Operation[StoredValue | None]:
        (stored,) = yield [("GET", self._values + key.encode())]
        if stored is None:
            return None
        expiration, metadata, value_at = _header(stored)
        if _expired(expiration, now):
            return None
        return stored[value_at:], metadata

    def _put(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> Operation[None]:
        name = key.encode()
        header = f"{_number(expiration)}\0{metadata or ''}\0".encode()
        ttl = "" if expiration is None else max(1, math.ceil((expiration - now) * 1000))
        self._puts += 1
        sweep = SWEEP_BATCH if self._puts % SWEEP_EVERY == 1 else 0
        yield [
            (
                "EVALSHA", _PUT_SHA, 3, self._values + name, self._index, self._expiries,
                name, header + value, _number(expiration), ttl, _number(now), self._values,
                sweep,
            )
        ]  # fmt: skip

    def _delete(self, key: str) -> Operation[None]:
        name = key.encode()
        yield [("EVALSHA", _DELETE_SHA, 3, self._values + name, self._index, self._expiries, name)]

    def _list(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> Operation[builtins.list[StoredKey]]:
        start = prefix.encode()
        lower = b"[" + start if start else b"-"
        if after is not None and after.encode() >= start:
            lower = b"(" + after.encode()
        # Redis orders members by their bytes, and UTF-8 bytes order text by code point, as
        # SQLite does. UTF-8 never uses the byte 0xFF, so the prefix's last byte can always
        # be raised by one to bound every key that starts with it.
        upper = b"(" + start[:-1] + bytes([start[-1] + 1]) if start else b"+"
        keys: builtins.list[StoredKey] = []
        while len(keys) < limit:
            batch = max(limit - len(keys), MIN_LIST_BATCH)
            (members,) = yield [("ZRANGEBYLEX", self._index, lower, upper, "LIMIT", 0, batch)]
            if not members:
                break
            heads = yield [
                ("GETRANGE", self._values + member, 0, HEADER_BYTES - 1) for member in members
            ]
            stale: builtins.list[bytes] = []
            for member, head in zip(members, heads, strict=True):
                if not head:  # the key is gone
                    stale.append(member)
                    continue
                expiration, metadata, _ = _header(head)
                if _expired(expiration, now):
                    stale.append(member)
                elif len(keys) < limit:
                    keys.append(
                        StoredKey(
                            member.decode(), float(expiration) if expiration else None, metadata
                        )
                    )
            if stale:
                names = [self._values + member for member in stale]
                yield [
                    ("EVALSHA", _CLEAN_UP_SHA, 2 + len(stale), self._index, self._expiries,
                     *names, _number(now), *stale)
                ]  # fmt: skip
            if len(members) < batch:
                break
            lower = b"(" + members[-1]
        return keys

    # Blocking calls

    def get(self, key: str, now: float) -> StoredValue | None:
        return self._run(self._get(key, now))

    def put(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None:
        self._run(self._put(key, value, expiration, metadata, now))

    def delete(self, key: str) -> None:
        self._run(self._delete(key))

    def list(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        return self._run(self._list(prefix, after, limit, now))

    def _run(self, operation: Operation[T]) -> T:
        self._check_open()
        client = self._client
        try:
            commands = next(operation)
            while True:
                if len(commands) == 1:
                    replies = [self._execute(client, commands[0])]
                else:
                    pipeline = client.pipeline(transaction=False)
                    _queue(pipeline, commands)
                    replies = pipeline.execute()
                commands = operation.send(replies)
        except StopIteration as done:
            return cast("T", done.value)
        except self._redis.RedisError as error:
            raise self._failure(error) from None

    def _execute(self, client: _Client, command: Command) -> Any:
        try:
            return client.execute_command(*command)
        except self._redis.exceptions.NoScriptError:
            # A server that has not seen the script yet, or that restarted since.
            client.execute_command("SCRIPT", "LOAD", _SCRIPTS[command[1]])
            return client.execute_command(*command)

    # Awaited calls

    async def aget(self, key: str, now: float) -> StoredValue | None:
        return await self._arun(self._get(key, now))

    async def aput(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None:
        await self._arun(self._put(key, value, expiration, metadata, now))

    async def adelete(self, key: str) -> None:
        await self._arun(self._delete(key))

    async def alist(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        return await self._arun(self._list(prefix, after, limit, now))

    async def _arun(self, operation: Operation[T]) -> T:
        self._check_open()
        client = await self._async_client()
        try:
            commands = next(operation)
            while True:
                if len(commands) == 1:
                    replies = [await self._aexecute(client, commands[0])]
                else:
                    pipeline = client.pipeline(transaction=False)
                    _queue(pipeline, commands)
                    replies = await pipeline.execute()
                commands = operation.send(replies)
        except StopIteration as done:
            return cast("T", done.value)
        except self._redis.RedisError as error:
            raise self._failure(error) from None

    async def _aexecute(self, client: _Client, command: Command) -> Any:
        try:
            return await client.execute_command(*command)
        except self._redis.exceptions.NoScriptError:
            await client.execute_command("SCRIPT", "LOAD", _SCRIPTS[command[1]])
            return await client.execute_command(*command)

    async def _async_client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        owned = self._async_clients.get(loop)
        if owned is None:
            import redis.asyncio

            # Forget the clients of loops that have ended.
            for ended in [other for other in self._async_clients if other.is_closed()]:
                del self._async_clients[ended]
            client = redis.asyncio.Redis.from_url(
                self._url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
            owner = _owner(client)
            await owner.__anext__()
            owned = self._async_clients[loop] = (client, owner)
        return owned[0]

    async def disconnect(self) -> None:
        owned = self._async_clients.pop(asyncio.get_running_loop(), None)
        if owned is not None:
            await owned[1].aclose()

    def close(self) -> None:
        self._closed = True
        self._client.close()
        clients, self._async_clients = self._async_clients, {}
        for loop, (_, owner) in clients.items():
            self._close_in(loop, owner)

    def _close_in(self, loop: asyncio.AbstractEventLoop, owner: AsyncGenerator[None]) -> None:
        """Close an asyncio client in its own loop, however that loop is doing."""
        if loop.is_closed():
            return  # it was closed as the loop shut down
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running:
            # Called from a sync function on that very loop: close once it gets control.
            task = loop.create_task(owner.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        elif loop.is_running():
            future = asyncio.run_coroutine_threadsafe(owner.aclose(), loop)
            try:
                future.result(CLOSE_TIMEOUT_SECONDS)
            except (concurrent.futures.TimeoutError, self._redis.RedisError, OSError):
                future.cancel()
        else:
            # An idle loop: run it just for this, in a thread of its own, since this thread
            # may be running another loop.
            closer = threading.Thread(
                target=loop.run_until_complete, args=(owner.aclose(),), name="pagesfn-kv-close"
            )
            closer.start()
            closer.join(CLOSE_TIMEOUT_SECONDS)

    def _check_open(self) -> None:
        if self._closed:
            raise KVError(f"the KV namespace {self.namespace!r} is closed")

    def _failure(self, error: Exception) -> KVError:
        return KVError(f"Redis at {self.url} failed: {error}")


class _Client(Protocol):
    """What the drivers call on redis-py's clients and pipelines, which leave it untyped."""

    def execute_command(self, *args: Any, **options: Any) -> Any: ...


def _queue(pipeline: _Client, commands: list[Command]) -> None:
    for command in commands:
        pipeline.execute_command(*command)


async def _owner(client: redis.asyncio.Redis) -> AsyncGenerator[None]:
    """Keeps ``client`` open while suspended, and closes it when closed.

    Started once in the client's loop, it is among the loop's open async generators, which
    ``asyncio.run`` (and every runner that follows its shutdown steps) closes before closing
    the loop: so a loop that ends closes its connections, with no call from its user.
    """
    try:
        yield
    finally:
        await client.aclose()


def _number(seconds: float | None) -> str:
    return "" if seconds is None else repr(float(seconds))


def _header(stored: bytes) -> tuple[bytes, str | None, int]:
    """A stored string's expiration (empty for none) and metadata, and where its value
    starts."""
    first = stored.index(b"\0")
    second = stored.index(b"\0", first + 1)
    metadata = stored[first + 1 : second].decode() if second > first + 1 else None
    return stored[:first], metadata, second + 1


def _expired(expiration: bytes, now: float) -> bool:
    return expiration != b"" and float(expiration) <= now
