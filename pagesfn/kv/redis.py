"""A KV backend on Redis, for namespaces shared by several machines.

Layout, for the namespace ``NAME`` (with ``%`` and ``:`` escaped in it, so no two names can
share a key):

- ``pagesfn:kv:NAME:v:KEY``, a hash per key: ``v`` the value, ``m`` the metadata JSON
  (absent without metadata), ``e`` the expiration in UNIX seconds (empty without one).
- ``pagesfn:kv:NAME:index``, a sorted set of every key name, all with score 0.
- ``pagesfn:kv:NAME:expiries``, a sorted set of the keys that expire, scored by expiration.

Listing reads the index with ``ZRANGEBYLEX`` rather than walking keys with ``SCAN``: SCAN
returns keys in no particular order and its cursor may repeat or skip keys while others are
written, whereas a lexicographic range gives the same ordered pages as the SQLite backend,
and a cursor that is just the last key returned stays valid however the keys change.

Expiration: Redis expires each hash itself, ``expiration - now`` seconds after the put
(relative to the namespace's clock, so a clock other than the real one still works), and
every read also compares ``e`` with ``now``, so an expired key is never returned. Index
entries whose hash is gone are dropped when a listing meets them; each put also sweeps a
batch of keys whose expiration has passed, so the index does not grow with keys that expire
without ever being listed.

The client is the blocking ``redis.Redis`` with its connection pool, which is safe to share
between threads; :class:`~pagesfn.kv.KVNamespace` already runs backend calls in a thread,
so async handlers do not block the event loop on it.
"""

from __future__ import annotations

import builtins
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit, urlunsplit

from .namespace import KVError, KVNamespace, StoredKey, StoredValue

if TYPE_CHECKING:
    import redis
    from redis.typing import EncodableT, FieldT

# How long to wait for a TCP connection before reporting Redis unreachable; a ``socket_*``
# option in the URL's query takes precedence.
CONNECT_TIMEOUT_SECONDS = 5.0
# Keys past their expiration that one put removes from the index at most.
SWEEP_BATCH = 100
# Index entries read per round trip while filling a page that meets expired keys.
MIN_LIST_BATCH = 16

# Drops the index entries of keys that are gone, and removes keys expired by ``now``.
# KEYS: index, expiries, then one hash per entry; ARGV: now, then the entries' names.
# A script, so a put of the same key cannot land between the check and the removal.
_CLEAN_UP = """
local now = tonumber(ARGV[1])
for i = 3, #KEYS do
    local member = ARGV[i - 1]
    local expiration = redis.call('HGET', KEYS[i], 'e')
    if not expiration or (expiration ~= '' and tonumber(expiration) <= now) then
        redis.call('DEL', KEYS[i])
        redis.call('ZREM', KEYS[1], member)
        redis.call('ZREM', KEYS[2], member)
    end
end
return 0
"""


def redis_namespace(name: str, url: str, *, clock: Callable[[], float] = time.time) -> KVNamespace:
    """A KV namespace stored in the Redis server at ``url`` (``redis://host:port/db``).

    ``clock`` returns the current UNIX time; expiration is measured against it. The server
    is contacted once here, so a wrong URL fails at startup rather than in a request.
    """
    if not isinstance(name, str) or not name:
        raise KVError("a KV namespace needs a non-empty name")
    return KVNamespace(name, RedisBackend(name, url), clock=clock)


class RedisBackend:
    """One namespace in one Redis database, through one client and its connection pool."""

    def __init__(self, namespace: str, url: str) -> None:
        try:
            import redis
        except ImportError:
            raise KVError(
                "a Redis KV namespace needs the redis package (pip install redis)"
            ) from None
        self.namespace = namespace
        self.url = _redact(url)
        self._redis_error = redis.RedisError
        self._closed = False
        escaped = namespace.replace("%", "%25").replace(":", "%3A")
        self._prefix = f"pagesfn:kv:{escaped}:".encode()
        self._index = self._prefix + b"index"
        self._expiries = self._prefix + b"expiries"
        try:
            self._client: redis.Redis = redis.Redis.from_url(
                url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except ValueError as error:
            raise KVError(f"{self.url!r} is not a Redis URL: {error}") from None
        self._clean_up = self._client.register_script(_CLEAN_UP)
        # Once now so an unreachable server fails at startup rather than in the first request.
        try:
            self._client.ping()
        except redis.RedisError as error:
            self._client.close()
            raise KVError(f"cannot reach Redis at {self.url}: {error}") from None

    @contextmanager
    def _calling(self) -> Iterator[redis.Redis]:
        if self._closed:
            raise KVError(f"the KV namespace {self.namespace!r} is closed")
        try:
            yield self._client
        except self._redis_error as error:
            raise KVError(f"Redis at {self.url} failed: {error}") from None

    def _key(self, name: bytes) -> bytes:
        return self._prefix + b"v:" + name

    def get(self, key: str, now: float) -> StoredValue | None:
        with self._calling() as client:
            value, metadata, expiration = cast(
                "list[bytes | None]", client.hmget(self._key(key.encode()), ["v", "m", "e"])
            )
        if value is None or _expired(expiration, now):
            return None
        return StoredValue(value, None if metadata is None else metadata.decode())

    def put(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None:
        member = key.encode()
        stored = self._key(member)
        fields: dict[FieldT, EncodableT] = {"v": value, "e": _number(expiration)}
        if metadata is not None:
            fields["m"] = metadata
        with self._calling() as client:
            pipeline = client.pipeline(transaction=True)
            pipeline.delete(stored)
            pipeline.hset(stored, mapping=fields)
            if expiration is None:
                pipeline.zrem(self._expiries, member)
            else:
                pipeline.pexpire(stored, max(1, math.ceil((expiration - now) * 1000)))
                pipeline.zadd(self._expiries, {member: expiration})
            pipeline.zadd(self._index, {member: 0})
            pipeline.zrangebyscore(self._expiries, "-inf", now, start=0, num=SWEEP_BATCH)
            due = cast("list[bytes]", pipeline.execute()[-1])
            if due:
                self._clean(client, due, now)

    def delete(self, key: str) -> None:
        member = key.encode()
        with self._calling() as client:
            pipeline = client.pipeline(transaction=True)
            pipeline.delete(self._key(member))
            pipeline.zrem(self._index, member)
            pipeline.zrem(self._expiries, member)
            pipeline.execute()

    def list(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        start = prefix.encode()
        lower = b"[" + start if start else b"-"
        if after is not None and after.encode() >= start:
            lower = b"(" + after.encode()
        # Redis orders members by their bytes, and UTF-8 bytes order text by code point, as
        # SQLite does. UTF-8 never uses the byte 0xFF, so the prefix's last byte can always
        # be raised by one to bound every key that starts with it.
        upper = b"(" + start[:-1] + bytes([start[-1] + 1]) if start else b"+"
        keys: builtins.list[StoredKey] = []
        with self._calling() as client:
            while len(keys) < limit:
                batch = max(limit - len(keys), MIN_LIST_BATCH)
                members = cast(
                    "list[bytes]", client.zrangebylex(self._index, lower, upper, 0, batch)
                )
                if not members:
                    break
                pipeline = client.pipeline(transaction=False)
                for member in members:
                    pipeline.hmget(self._key(member), ["e", "m"])
                rows = cast("list[list[bytes | None]]", pipeline.execute())
                stale: builtins.list[bytes] = []
                for member, (expiration, metadata) in zip(members, rows, strict=True):
                    # Every stored hash has ``e``, so a missing one means the key is gone.
                    if expiration is None or _expired(expiration, now):
                        stale.append(member)
                    elif len(keys) < limit:
                        keys.append(
                            StoredKey(
                                member.decode(),
                                float(expiration) if expiration else None,
                                None if metadata is None else metadata.decode(),
                            )
                        )
                if stale:
                    self._clean(client, stale, now)
                if len(members) < batch:
                    break
                lower = b"(" + members[-1]
        return keys

    def _clean(self, client: redis.Redis, members: builtins.list[bytes], now: float) -> None:
        self._clean_up(
            keys=[self._index, self._expiries, *(self._key(member) for member in members)],
            args=[_number(now), *members],
            client=client,
        )

    def close(self) -> None:
        self._closed = True
        self._client.close()


def _number(seconds: float | None) -> str:
    return "" if seconds is None else repr(float(seconds))


def _expired(expiration: bytes | None, now: float) -> bool:
    return expiration is not None and expiration != b"" and float(expiration) <= now


def _redact(url: str) -> str:
    """``url`` with any password replaced, fit for error messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return url
