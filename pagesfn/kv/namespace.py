"""KV namespaces: the handler-facing API, its limits, and the small interface a backend fills in."""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import PagesError

# Workers KV's documented limits, so code that fits here fits there.
MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MAX_LIST_LIMIT = 1000
VALUE_TYPES = ("text", "json", "bytes")


class KVError(PagesError):
    """A KV call was given a bad key, value, metadata or argument, or a stored value misread."""

    code = "kv"


@dataclass(frozen=True, slots=True)
class KVKey:
    """One key of a listing: its name, expiration (UNIX seconds) and metadata."""

    name: str
    expiration: int | None
    metadata: Any | None


@dataclass(frozen=True, slots=True)
class KVList:
    """One page of keys; pass ``cursor`` back to ``list`` for the next page."""

    keys: list[KVKey]
    list_complete: bool
    cursor: str | None


@dataclass(frozen=True, slots=True)
class KVValue:
    """A value together with the metadata it was put with."""

    value: Any | None
    metadata: Any | None


#: What a backend stores for a key: the value, and the metadata as JSON text (None when it
#: was put without any). A plain tuple: SQLite's rows are ones already.
StoredValue = tuple[bytes, "str | None"]


@dataclass(frozen=True, slots=True)
class StoredKey:
    name: str
    expiration: float | None
    metadata: str | None


class Backend(Protocol):
    """Storage for one namespace. Values arrive validated and encoded; ``now`` is UNIX seconds.

    Expired entries must never be returned. The plain methods block and may be called from
    many threads at once; the ``a``-prefixed ones are their awaitable twins, which must not
    hold up the event loop.
    """

    def get(self, key: str, now: float) -> StoredValue | None: ...

    def put(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None: ...

    def delete(self, key: str) -> None: ...

    def list(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]:
        """At most ``limit`` live keys starting with ``prefix`` and after ``after``, in order."""
        ...

    async def aget(self, key: str, now: float) -> StoredValue | None: ...

    async def aput(
        self, key: str, value: bytes, expiration: float | None, metadata: str | None, now: float
    ) -> None: ...

    async def adelete(self, key: str) -> None: ...

    async def alist(
        self, prefix: str, after: str | None, limit: int, now: float
    ) -> builtins.list[StoredKey]: ...

    async def disconnect(self) -> None:
        """Close what the running event loop opened; later calls open it again."""
        ...

    def close(self) -> None: ...


class SyncKVNamespace:
    """The blocking twin of :class:`KVNamespace`, for ``def`` handlers."""

    def __init__(self, name: str, backend: Backend, clock: Callable[[], float]) -> None:
        self.name = name
        self._backend = backend
        self._clock = clock

    def __repr__(self) -> str:
        return f"<SyncKVNamespace {self.name!r}>"

    def get(self, key: str, type: str = "text") -> str | bytes | Any | None:
        """The value of ``key`` read as ``type`` ("text", "json" or "bytes"), or None."""
        _check_read(key, type)
        stored = self._backend.get(key, self._clock())
        return None if stored is None else _decode(key, stored[0], type)

    def get_with_metadata(self, key: str, type: str = "text") -> KVValue:
        """The value of ``key`` read as ``type`` with its metadata; both None when missing."""
        _check_read(key, type)
        return _with_metadata(key, type, self._backend.get(key, self._clock()))

    def put(
        self,
        key: str,
        value: str | bytes | Any,
        *,
        expiration_ttl: float | None = None,
        expiration: float | None = None,
        metadata: Any = None,
    ) -> None:
        """Store ``value`` under ``key``: str as UTF-8, bytes as is, anything else as JSON.

        ``expiration`` is absolute UNIX seconds, ``expiration_ttl`` seconds from now; give
        at most one.
        """
        self._backend.put(*_entry(key, value, expiration_ttl, expiration, metadata, self._clock()))

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        _check_key(key)
        self._backend.delete(key)

    def list(self, *, prefix: str = "", limit: int = 1000, cursor: str | None = None) -> KVList:
        """Up to ``limit`` keys starting with ``prefix``, in lexicographic order."""
        after = _list_start(prefix, limit, cursor)
        # One row more than asked tells whether another page exists.
        return _page(self._backend.list(prefix, after, limit + 1, self._clock()), limit)

    def close(self) -> None:
        """Release the backend's connections; the namespace is unusable afterwards."""
        self._backend.close()


class KVNamespace:
    """A KV binding for async handlers; ``sync`` offers the same calls, blocking."""

    def __init__(
        self, name: str, backend: Backend, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.name = name
        self._backend = backend
        self._clock = clock
        self.sync = SyncKVNamespace(name, backend, clock)

    def __repr__(self) -> str:
        return f"<KVNamespace {self.name!r}>"

    async def get(self, key: str, type: str = "text") -> str | bytes | Any | None:
        """The value of ``key`` read as ``type`` ("text", "json" or "bytes"), or None."""
        _check_read(key, type)
        stored = await self._backend.aget(key, self._clock())
        return None if stored is None else _decode(key, stored[0], type)

    async def get_with_metadata(self, key: str, type: str = "text") -> KVValue:
        """The value of ``key`` read as ``type`` with its metadata; both None when missing."""
        _check_read(key, type)
        return _with_metadata(key, type, await self._backend.aget(key, self._clock()))

    async def put(
        self,
        key: str,
        value: str | bytes | Any,
        *,
        expiration_ttl: float | None = None,
        expiration: float | None = None,
        metadata: Any = None,
    ) -> None:
        """Store ``value`` under ``key``: str as UTF-8, bytes as is, anything else as JSON.

        ``expiration`` is absolute UNIX seconds, ``expiration_ttl`` seconds from now; give
        at most one.
        """
        await self._backend.aput(
            *_entry(key, value, expiration_ttl, expiration, metadata, self._clock())
        )

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        _check_key(key)
        await self._backend.adelete(key)

    async def list(
        self, *, prefix: str = "", limit: int = 1000, cursor: str | None = None
    ) -> KVList:
        """Up to ``limit`` keys starting with ``prefix``, in lexicographic order."""
        after = _list_start(prefix, limit, cursor)
        return _page(await self._backend.alist(prefix, after, limit + 1, self._clock()), limit)

    async def disconnect(self) -> None:
        """Close the connections the running event loop opened; the namespace stays usable.

        An awaited call uses connections bound to its event loop (Redis keeps a pool per
        loop). Code that runs its own loops calls this before a loop ends; the ASGI face
        does at lifespan shutdown.
        """
        await self._backend.disconnect()

    def close(self) -> None:
        """Release the backend's connections; the namespace is unusable afterwards."""
        self._backend.close()

    async def aclose(self) -> None:
        """:meth:`close`, after closing the running loop's connections in the loop."""
        await self._backend.disconnect()
        await asyncio.to_thread(self._backend.close)


def _check_read(key: Any, type: str) -> None:
    if not _plain_key(key):
        _check_key(key)
    if type not in VALUE_TYPES:
        raise KVError(f"type must be one of {', '.join(VALUE_TYPES)}, not {type!r}")


def _with_metadata(key: str, type: str, stored: StoredValue | None) -> KVValue:
    if stored is None:
        return KVValue(None, None)
    value, metadata = stored
    return KVValue(_decode(key, value, type), None if metadata is None else json.loads(metadata))


def _entry(
    key: str,
    value: Any,
    expiration_ttl: float | None,
    expiration: float | None,
    metadata: Any,
    now: float,
) -> tuple[str, bytes, float | None, str | None, float]:
    """The arguments of a backend's ``put``, checked and encoded."""
    if not _plain_key(key):
        _check_key(key)
    if value.__class__ is str and value.isascii():  # the common case, without a call
        data = value.encode("ascii")
        if len(data) > MAX_VALUE_BYTES:
            data = _encode(value)  # raises, naming the limit
    else:
        data = _encode(value)
    if metadata is not None:
        metadata = _encode_metadata(metadata)
    if expiration_ttl is None and expiration is None:
        return key, data, None, metadata, now
    return key, data, _expiration(now, expiration_ttl, expiration), metadata, now


def _list_start(prefix: str, limit: int, cursor: str | None) -> str | None:
    """Check a listing's arguments; the key the page starts after."""
    if not isinstance(prefix, str):
        raise KVError(f"prefix must be a str, not {builtins.type(prefix).__name__}")
    _utf8(prefix, "prefix")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise KVError(f"limit must be an int, not {builtins.type(limit).__name__}")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise KVError(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")
    return None if cursor is None else _decode_cursor(cursor)


def _page(rows: builtins.list[StoredKey], limit: int) -> KVList:
    """A page of at most ``limit`` keys from ``rows``, which holds one more if there is one."""
    complete = len(rows) <= limit
    rows = rows[:limit]
    keys = [
        KVKey(
            row.name,
            None if row.expiration is None else math.ceil(row.expiration),
            None if row.metadata is None else json.loads(row.metadata),
        )
        for row in rows
    ]
    return KVList(keys, complete, None if complete else _encode_cursor(rows[-1].name))


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise KVError(f"{what} must be valid UTF-8 text (it holds a lone surrogate)") from None


def _plain_key(key: Any) -> bool:
    """Whether ``key`` is short ASCII text, which most keys are: then its byte count is its
    length, and no surrogate can hide in it."""
    return (
        key.__class__ is str
        and key.isascii()
        and 0 < len(key) <= MAX_KEY_BYTES
        and key != "."
        and key != ".."
    )


def _check_key(key: Any) -> None:
    if _plain_key(key):
        return
    if not isinstance(key, str):
        raise KVError(f"key must be a str, not {builtins.type(key).__name__}")
    if not key:
        raise KVError("key must not be empty")
    if key in (".", ".."):
        raise KVError(f"key must not be {key!r}")
    size = len(_utf8(key, "key"))
    if size > MAX_KEY_BYTES:
        raise KVError(f"key is {size} bytes of UTF-8; the limit is {MAX_KEY_BYTES} bytes")


def _dumps(value: Any, what: str) -> str:
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and other readers would choke on them.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise KVError(f"{what} must be JSON-serializable: {error}") from None


def _encode(value: Any) -> bytes:
    if isinstance(value, str):
        data = _utf8(value, "value")
    elif value.__class__ is bytes:
        data = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        data = _utf8(_dumps(value, "value"), "value")
    if len(data) > MAX_VALUE_BYTES:
        raise KVError(f"value is {len(data)} bytes; the limit is {MAX_VALUE_BYTES} bytes (25 MiB)")
    return data


def _encode_metadata(metadata: Any) -> str:
    text = _dumps(metadata, "metadata")
    size = len(_utf8(text, "metadata"))
    if size > MAX_METADATA_BYTES:
        raise KVError(
            f"metadata is {size} bytes serialized as JSON; the limit is {MAX_METADATA_BYTES} bytes"
        )
    return text


def _decode(key: str, data: bytes, type: str) -> str | bytes | Any:
    try:
        if type == "text":
            return data.decode("utf-8")
        if type == "bytes":
            return data
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KVError(
            f"the value of {key!r} is not UTF-8 text; read it with type='bytes'"
        ) from None
    try:
        return json.loads(text)
    except ValueError:
        raise KVError(f"the value of {key!r} is not JSON; read it with type='text'") from None


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KVError(f"{what} must be a number of seconds, not {builtins.type(value).__name__}")
    if not math.isfinite(value):
        raise KVError(f"{what} must be finite, not {value}")
    return float(value)


def _expiration(now: float, ttl: float | None, expiration: float | None) -> float | None:
    if ttl is not None and expiration is not None:
        raise KVError("give expiration or expiration_ttl, not both")
    if ttl is not None:
        seconds = _seconds(ttl, "expiration_ttl")
        if seconds <= 0:
            raise KVError(f"expiration_ttl must be more than 0 seconds, not {ttl}")
        return now + seconds
    if expiration is not None:
        at = _seconds(expiration, "expiration")
        if at <= now:
            raise KVError(f"expiration {expiration} is in the past (now is {now:.0f})")
        return at
    return None


def _encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode("utf-8")).decode("ascii")


def _decode_cursor(cursor: str) -> str:
    if not isinstance(cursor, str):
        raise KVError(f"cursor must be a str, not {builtins.type(cursor).__name__}")
    try:
        raw = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise KVError("cursor is not one a previous list() returned") from None
