"""KV namespaces over SQLite and Redis: values, metadata, expiration, listing, limits and
concurrency. Tests taking ``store`` or ``kv`` run once per backend."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pagesfn.errors import PagesError
from pagesfn.kv import KVError, KVKey, KVNamespace, KVValue, redis_namespace, sqlite_namespace
from pagesfn.kv.redis import SWEEP_EVERY

NOW = 1_700_000_000.0
BACKENDS = ["sqlite", "redis"]


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def open_at(
    kind: str, name: str, location: str, clock: Callable[[], float] = time.time
) -> KVNamespace:
    if kind == "sqlite":
        return sqlite_namespace(name, location, clock=clock)
    return redis_namespace(name, location, clock=clock)


@dataclass
class Store:
    """Where one backend keeps namespaces: SQLite files in a folder, or a Redis server."""

    kind: str
    base: str

    def location(self, place: str = "main") -> str:
        """A file, or a Redis database, named ``place``; different places share nothing."""
        if self.kind == "sqlite":
            return str(Path(self.base) / place / "kv.sqlite3")
        return f"{self.base}/{['main', 'other'].index(place)}"

    def open(
        self, name: str, clock: Callable[[], float] = time.time, place: str = "main"
    ) -> KVNamespace:
        return open_at(self.kind, name, self.location(place), clock)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "redis":
        return Store("redis", request.getfixturevalue("redis_url"))
    return Store("sqlite", str(tmp_path / "kv"))


@pytest.fixture
def kv(store: Store, clock: FakeClock) -> Iterator[KVNamespace]:
    namespace = store.open("TEST", clock)
    yield namespace
    namespace.close()


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


# Values and metadata


def test_text_round_trip(kv: KVNamespace) -> None:
    run(kv.put("greeting", "héllo"))
    assert run(kv.get("greeting")) == "héllo"
    assert run(kv.get("greeting", "bytes")) == "héllo".encode()


def test_bytes_round_trip(kv: KVNamespace) -> None:
    data = bytes(range(256))
    run(kv.put("blob", data))
    assert run(kv.get("blob", type="bytes")) == data


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True]}, [1, "two"], 7, 1.5, False, None])
def test_json_round_trip(kv: KVNamespace, value: Any) -> None:
    run(kv.put("doc", value))
    assert run(kv.get("doc", type="json")) == value


def test_str_reads_back_as_json_when_it_is_json(kv: KVNamespace) -> None:
    run(kv.put("count", "41"))
    assert run(kv.get("count", "json")) == 41


def test_get_missing_is_none(kv: KVNamespace) -> None:
    assert run(kv.get("nope")) is None
    assert run(kv.get_with_metadata("nope")) == KVValue(None, None)


def test_metadata_round_trip(kv: KVNamespace) -> None:
    run(kv.put("k", "v", metadata={"owner": "ada", "tags": ["x"]}))
    result = run(kv.get_with_metadata("k"))
    assert result == KVValue("v", {"owner": "ada", "tags": ["x"]})
    assert run(kv.get_with_metadata("k", "bytes")).value == b"v"


def test_overwrite_replaces_value_and_metadata(kv: KVNamespace) -> None:
    run(kv.put("k", "one", metadata={"n": 1}))
    run(kv.put("k", "two"))
    assert run(kv.get_with_metadata("k")) == KVValue("two", None)


def test_delete(kv: KVNamespace) -> None:
    run(kv.put("k", "v"))
    run(kv.delete("k"))
    assert run(kv.get("k")) is None
    run(kv.delete("k"))  # deleting a missing key is fine


def test_json_read_of_non_json_value(kv: KVNamespace) -> None:
    run(kv.put("k", "not json"))
    with pytest.raises(KVError, match="not JSON"):
        run(kv.get("k", "json"))


def test_text_read_of_non_utf8_value(kv: KVNamespace) -> None:
    run(kv.put("k", b"\xff\xfe"))
    with pytest.raises(KVError, match="not UTF-8"):
        run(kv.get("k"))


# Expiration


def test_expiration_ttl(kv: KVNamespace, clock: FakeClock) -> None:
    run(kv.put("k", "v", expiration_ttl=60))
    clock.now += 59.9
    assert run(kv.get("k")) == "v"
    clock.now += 0.1
    assert run(kv.get("k")) is None
    assert run(kv.get_with_metadata("k")) == KVValue(None, None)


def test_absolute_expiration(kv: KVNamespace, clock: FakeClock) -> None:
    run(kv.put("k", "v", expiration=NOW + 100))
    assert run(kv.list()).keys == [KVKey("k", int(NOW) + 100, None)]
    clock.now = NOW + 100
    assert run(kv.get("k")) is None


def test_expired_keys_are_swept_and_replaceable(kv: KVNamespace, clock: FakeClock) -> None:
    run(kv.put("old", "v", expiration_ttl=1))
    clock.now += 2
    run(kv.put("old", "new"))
    assert run(kv.get("old")) == "new"
    assert run(kv.list()).keys == [KVKey("old", None, None)]


def test_ttl_against_the_real_clock(store: Store) -> None:
    namespace = store.open("REAL")
    try:
        namespace.sync.put("k", "v", expiration_ttl=0.05)
        assert namespace.sync.get("k") == "v"
        threading.Event().wait(0.1)
        assert namespace.sync.get("k") is None
    finally:
        namespace.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expiration_ttl": 10, "expiration": NOW + 10}, "not both"),
        ({"expiration": NOW - 1}, "in the past"),
        ({"expiration": NOW}, "in the past"),
        ({"expiration_ttl": 0}, "more than 0"),
        ({"expiration_ttl": -5}, "more than 0"),
        ({"expiration_ttl": float("nan")}, "finite"),
        ({"expiration_ttl": "60"}, "number of seconds"),
        ({"expiration": True}, "number of seconds"),
    ],
)
def test_bad_expiration(kv: KVNamespace, options: dict[str, Any], message: str) -> None:
    with pytest.raises(KVError, match=message):
        kv.sync.put("k", "v", **options)
    assert kv.sync.get("k") is None


# Listing


def test_list_orders_and_filters_by_prefix(kv: KVNamespace) -> None:
    for key in ["b:2", "a:1", "b:1", "c", "b", "B:upper"]:
        run(kv.put(key, "v", metadata={"key": key}))
    page = run(kv.list(prefix="b:"))
    assert [k.name for k in page.keys] == ["b:1", "b:2"]
    assert page.keys[0] == KVKey("b:1", None, {"key": "b:1"})
    assert page.list_complete and page.cursor is None
    everything = run(kv.list())
    assert [k.name for k in everything.keys] == ["B:upper", "a:1", "b", "b:1", "b:2", "c"]


def test_list_prefix_wildcards_are_literal(kv: KVNamespace) -> None:
    for key in ["50%off", "50xoff", "5", "a_b", "axb", "a_c", "a\\b", "a\\_"]:
        run(kv.put(key, "v"))
    assert [k.name for k in run(kv.list(prefix="50%")).keys] == ["50%off"]
    assert [k.name for k in run(kv.list(prefix="a_")).keys] == ["a_b", "a_c"]
    assert [k.name for k in run(kv.list(prefix="a\\")).keys] == ["a\\_", "a\\b"]
    assert run(kv.list(prefix="%")).keys == []


def test_list_prefix_at_the_top_of_unicode(kv: KVNamespace) -> None:
    top = "\U0010ffff"
    keys = ["a" + top, "a" + top + "z", "b", top, top + top]
    for key in keys:
        run(kv.put(key, "v"))
    assert [k.name for k in run(kv.list(prefix="a" + top)).keys] == keys[:2]
    assert [k.name for k in run(kv.list(prefix=top)).keys] == [top, top + top]
    assert [k.name for k in run(kv.list(prefix="\ud7ff")).keys] == []


def test_list_pagination(kv: KVNamespace) -> None:
    keys = [f"key-{i:02d}" for i in range(25)]
    for key in reversed(keys):
        kv.sync.put(key, "v")
    kv.sync.put("other", "v")
    seen: list[str] = []
    pages = []
    cursor = None
    while True:
        page = run(kv.list(prefix="key-", limit=10, cursor=cursor))
        pages.append(page)
        seen += [k.name for k in page.keys]
        if page.list_complete:
            break
        cursor = page.cursor
        assert isinstance(cursor, str)
    assert [len(p.keys) for p in pages] == [10, 10, 5]
    assert [p.list_complete for p in pages] == [False, False, True]
    assert pages[-1].cursor is None
    assert seen == keys


def test_list_exact_page_is_complete(kv: KVNamespace) -> None:
    for i in range(10):
        kv.sync.put(f"k{i}", "v")
    page = kv.sync.list(limit=10)
    assert len(page.keys) == 10 and page.list_complete and page.cursor is None


def test_list_excludes_expired_keys(kv: KVNamespace, clock: FakeClock) -> None:
    kv.sync.put("a", "v", expiration_ttl=10)
    kv.sync.put("b", "v")
    kv.sync.put("c", "v", expiration_ttl=30)
    clock.now += 20
    page = kv.sync.list()
    assert [k.name for k in page.keys] == ["b", "c"]
    assert page.keys[1].expiration == int(NOW) + 30


# Limits


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        (".", "must not be '.'"),
        ("..", "must not be '..'"),
        ("x" * 513, r"513 bytes.*512"),
        ("é" * 257, r"514 bytes.*512"),
        ("\ud800", "UTF-8"),
        (5, "must be a str"),
    ],
)
def test_bad_keys(kv: KVNamespace, key: Any, message: str) -> None:
    for call in (
        lambda: kv.sync.get(key),
        lambda: kv.sync.get_with_metadata(key),
        lambda: kv.sync.put(key, "v"),
        lambda: kv.sync.delete(key),
        lambda: run(kv.put(key, "v")),
    ):
        with pytest.raises(KVError, match=message):
            call()


def test_key_limits_are_inclusive(kv: KVNamespace) -> None:
    kv.sync.put("x" * 512, "v")
    kv.sync.put("...", "v")
    assert kv.sync.get("x" * 512) == "v"


def test_value_size_limit(kv: KVNamespace) -> None:
    limit = 25 * 1024 * 1024
    kv.sync.put("big", b"\0" * limit)
    stored = kv.sync.get("big", "bytes")
    assert isinstance(stored, bytes) and len(stored) == limit
    with pytest.raises(KVError, match="25 MiB"):
        kv.sync.put("big", b"\0" * (limit + 1))
    with pytest.raises(KVError, match="25 MiB"):
        kv.sync.put("big", "x" * (limit + 1))


def test_value_must_be_json_serializable(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match="value must be JSON-serializable"):
        kv.sync.put("k", object())
    with pytest.raises(KVError, match="value must be JSON-serializable"):
        kv.sync.put("k", float("inf"))


def test_metadata_limits(kv: KVNamespace) -> None:
    kv.sync.put("k", "v", metadata="x" * 1022)  # 1024 bytes with its quotes
    with pytest.raises(KVError, match=r"1025 bytes.*1024"):
        kv.sync.put("k", "v", metadata="x" * 1023)
    with pytest.raises(KVError, match="metadata must be JSON-serializable"):
        kv.sync.put("k", "v", metadata={"when": object()})
    assert kv.sync.get_with_metadata("k").metadata == "x" * 1022


def test_largest_metadata_lists_whole(kv: KVNamespace) -> None:
    metadata = {"t": "é" * 508}  # 1024 bytes as JSON text: the limit
    kv.sync.put("k", "\0value\0", metadata=metadata, expiration=NOW + 0.123456789)
    [listed] = kv.sync.list().keys
    assert listed == KVKey("k", math.ceil(NOW + 0.123456789), metadata)
    assert kv.sync.get_with_metadata("k") == KVValue("\0value\0", metadata)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "between 1 and 1000"),
        ({"limit": 1001}, "between 1 and 1000"),
        ({"limit": True}, "must be an int"),
        ({"limit": 5.0}, "must be an int"),
        ({"prefix": None}, "prefix must be a str"),
        ({"cursor": "not base64!"}, "cursor"),
        ({"cursor": "//8="}, "cursor"),
    ],
)
def test_bad_list_arguments(kv: KVNamespace, options: dict[str, Any], message: str) -> None:
    with pytest.raises(KVError, match=message):
        kv.sync.list(**options)


def test_list_limit_bounds_are_inclusive(kv: KVNamespace) -> None:
    assert kv.sync.list(limit=1).list_complete
    assert kv.sync.list(limit=1000).list_complete


def test_bad_type(kv: KVNamespace) -> None:
    kv.sync.put("k", "v")
    with pytest.raises(KVError, match="text, json, bytes"):
        kv.sync.get("k", "arrayBuffer")
    with pytest.raises(KVError, match="text, json, bytes"):
        run(kv.get_with_metadata("k", "stream"))


def test_error_is_a_pages_error() -> None:
    assert issubclass(KVError, PagesError)
    assert KVError.code == "kv"


# Sync and async, lifetime, isolation


def test_sync_twin_matches_async(kv: KVNamespace) -> None:
    kv.sync.put("s", {"n": 1}, metadata={"m": True})
    run(kv.put("a", {"n": 1}, metadata={"m": True}))
    assert kv.sync.get("s", "json") == run(kv.get("a", "json")) == {"n": 1}
    assert kv.sync.get_with_metadata("a", "json") == run(kv.get_with_metadata("s", "json"))
    assert kv.sync.list() == run(kv.list())
    kv.sync.delete("a")
    run(kv.delete("s"))
    assert kv.sync.list() == run(kv.list())
    assert kv.sync.list().keys == []
    for name in ("get", "get_with_metadata", "put", "delete", "list"):
        assert hasattr(kv.sync, name) and asyncio.iscoroutinefunction(getattr(kv, name))


def test_data_persists_after_reopen(store: Store, clock: FakeClock) -> None:
    first = store.open("P", clock)
    first.sync.put("k", b"v", metadata={"m": 1})
    run(first.aclose())
    with pytest.raises(KVError, match="closed"):
        first.sync.get("k")
    second = store.open("P", clock)
    try:
        assert second.sync.get_with_metadata("k", "bytes") == KVValue(b"v", {"m": 1})
    finally:
        second.close()


def test_namespaces_are_isolated(store: Store) -> None:
    one = store.open("ONE")
    two = store.open("TWO")
    other = store.open("ONE", place="other")
    try:
        one.sync.put("k", "one")
        two.sync.put("k", "two")
        assert one.sync.get("k") == "one"
        assert two.sync.get("k") == "two"
        assert other.sync.get("k") is None
        two.sync.delete("k")
        assert one.sync.get("k") == "one"
        assert [k.name for k in one.sync.list().keys] == ["k"]
        assert two.sync.list().keys == []
    finally:
        for namespace in (one, two, other):
            namespace.close()


def test_namespace_names_are_data_not_code(store: Store) -> None:
    odd = store.open("we\"ird' ); DROP TABLE x; --")
    plain = store.open("plain")
    try:
        odd.sync.put("k", "odd")
        plain.sync.put("k", "plain")
        assert odd.sync.get("k") == "odd"
        assert [k.name for k in odd.sync.list().keys] == ["k"]
        assert plain.sync.get("k") == "plain"
    finally:
        odd.close()
        plain.close()


def test_sqlite_namespace_name_cannot_hold_nul(tmp_path: Path) -> None:
    with pytest.raises(KVError, match="NUL"):
        sqlite_namespace("a\0b", tmp_path / "kv.sqlite3")


def test_creates_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "kv.sqlite3"
    namespace = sqlite_namespace("N", path)
    namespace.close()
    assert path.is_file()


# Concurrency


def test_threads_write_concurrently(kv: KVNamespace) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(thread: int) -> None:
        try:
            start.wait()
            for i in range(50):
                kv.sync.put(f"t{thread}-{i:02d}", str(i))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = [k.name for k in kv.sync.list().keys]
    assert len(names) == 400
    assert kv.sync.get("t7-49") == "49"


def test_async_calls_run_concurrently(kv: KVNamespace) -> None:
    async def main() -> list[Any]:
        await asyncio.gather(*(kv.put(f"k{i:03d}", i) for i in range(100)))
        return list(await asyncio.gather(*(kv.get(f"k{i:03d}", "json") for i in range(100))))

    assert run(main()) == list(range(100))


def test_awaited_calls_move_large_values(kv: KVNamespace) -> None:
    # Beyond what the SQLite backend reads and writes on the event loop's thread.
    big = os.urandom(200 * 1024)

    async def main() -> KVValue:
        await kv.put("big", big, metadata={"m": 1})
        return await kv.get_with_metadata("big", "bytes")

    assert run(main()) == KVValue(big, {"m": 1})
    assert kv.sync.get("big", "bytes") == big


def test_sqlite_awaited_calls_wait_for_another_writer_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite3"
    namespace = sqlite_namespace("N", path)
    namespace.sync.put("before", "v")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock

    async def main() -> float:
        # The loop must stay free while the writes wait, or the lock is never released.
        asyncio.get_running_loop().call_later(0.3, holder.execute, "COMMIT")
        started = time.monotonic()
        assert await namespace.get("before") == "v"  # WAL: reads never wait for writers
        assert time.monotonic() - started < 0.3
        await asyncio.gather(namespace.put("k", "v"), namespace.delete("before"))
        return time.monotonic() - started

    try:
        assert run(main()) >= 0.3
        assert namespace.sync.get("k") == "v"
        assert namespace.sync.get("before") is None
    finally:
        holder.close()
        namespace.close()


def test_sqlite_writes_from_the_loop_are_checkpointed(tmp_path: Path) -> None:
    # The loop's connection leaves checkpoints to a thread; without them the WAL would grow
    # with every page written, here to some 100 MB.
    path = tmp_path / "kv.sqlite3"
    namespace = sqlite_namespace("N", path)
    value = "v" * 2000

    async def main() -> None:
        for i in range(6000):
            await namespace.put(f"k{i:05d}", value)

    try:
        run(main())
        frame = 4096 + 24  # a page and its header
        assert Path(f"{path}-wal").stat().st_size <= 3000 * frame
        assert namespace.sync.get("k05999") == value
    finally:
        namespace.close()


def write_from_process(kind: str, location: str, worker: int, start: Any) -> None:
    namespace = open_at(kind, "MP", location)
    try:
        start.wait(timeout=30)
        for i in range(200):
            namespace.sync.put(f"p{worker}-{i:03d}", str(i))
    finally:
        namespace.close()


def test_processes_write_the_same_store(store: Store) -> None:
    # For SQLite the children open a file that does not exist yet, so creating it races too.
    location = store.location()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    processes = [
        context.Process(target=write_from_process, args=(store.kind, location, worker, start))
        for worker in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0]
    namespace = store.open("MP")
    try:
        keys = [k.name for k in namespace.sync.list().keys]
        assert len(keys) == 400
        assert keys[0] == "p0-000" and keys[-1] == "p1-199"
    finally:
        namespace.close()


def put_then_die(path: str) -> None:
    namespace = sqlite_namespace("DIE", path)
    namespace.sync.put("k", "survived")
    # No close, no checkpoint, no interpreter cleanup: as near to being killed as is portable.
    os._exit(0)


def test_committed_put_survives_an_abrupt_exit(tmp_path: Path) -> None:
    path = str(tmp_path / "die.sqlite3")
    process = multiprocessing.get_context("spawn").Process(target=put_then_die, args=(path,))
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0
    namespace = sqlite_namespace("DIE", path)
    try:
        assert namespace.sync.get("k") == "survived"
    finally:
        namespace.close()


# Redis only


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(f"{redis_url}/0")
    yield client
    client.close()


def test_redis_unreachable_is_a_kv_error_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe is closed.
    with pytest.raises(KVError, match=rf"redis://127\.0\.0\.1:{port}/0"):
        redis_namespace("N", f"redis://127.0.0.1:{port}/0")
    with pytest.raises(KVError, match=r"redis://user:\*\*\*@127\.0\.0\.1") as raised:
        redis_namespace("N", f"redis://user:secret@127.0.0.1:{port}/0")
    assert "secret" not in str(raised.value)
    with pytest.raises(KVError, match="not a Redis URL"):
        redis_namespace("N", "http://127.0.0.1/")
    with pytest.raises(KVError, match="non-empty name"):
        redis_namespace("", f"redis://127.0.0.1:{port}/0")


def test_redis_expiry_follows_the_namespace_clock(
    redis_url: str, redis_client: Any, clock: FakeClock
) -> None:
    namespace = redis_namespace("EXP", f"{redis_url}/0", clock=clock)
    try:
        namespace.sync.put("k", "v", expiration_ttl=60)
        namespace.sync.put("forever", "v", expiration_ttl=60)
        namespace.sync.put("forever", "v")
        assert 59_000 < redis_client.pttl(b"pagesfn:kv:EXP:v:k") <= 60_000
        assert redis_client.pttl(b"pagesfn:kv:EXP:v:forever") == -1
    finally:
        namespace.close()


def test_redis_drops_index_entries_of_keys_it_expired(redis_url: str, redis_client: Any) -> None:
    namespace = redis_namespace("GONE", f"{redis_url}/0")
    try:
        for i in range(40):
            namespace.sync.put(f"a{i:02d}", "v", expiration_ttl=0.05)
        namespace.sync.put("b", "v")
        threading.Event().wait(0.1)
        # Redis removed the hashes itself; a page must still fill past the stale entries.
        page = namespace.sync.list(limit=1)
        assert [k.name for k in page.keys] == ["b"] and page.list_complete
        assert redis_client.zrange(b"pagesfn:kv:GONE:index", 0, -1) == [b"b"]
        assert redis_client.zcard(b"pagesfn:kv:GONE:expiries") == 0
    finally:
        namespace.close()


def test_redis_puts_sweep_expired_keys(redis_url: str, redis_client: Any, clock: FakeClock) -> None:
    namespace = redis_namespace("SWEEP", f"{redis_url}/0", clock=clock)
    try:
        for i in range(5):
            namespace.sync.put(f"old{i}", "v", expiration_ttl=10)
        namespace.sync.put("kept", "v", expiration_ttl=10)
        namespace.sync.put("kept", "v")  # again, without an expiration
        clock.now += 20
        # Redis still holds the old keys (its own clock has not moved); a sweep, which one
        # put in SWEEP_EVERY makes, removes them by the namespace's clock.
        new = [f"new{i:02d}" for i in range(SWEEP_EVERY)]
        for name in new:
            namespace.sync.put(name, "v")
        assert redis_client.zrange(b"pagesfn:kv:SWEEP:index", 0, -1) == [
            name.encode() for name in ["kept", *new]
        ]
        assert redis_client.exists(b"pagesfn:kv:SWEEP:v:old0") == 0
        assert redis_client.zcard(b"pagesfn:kv:SWEEP:expiries") == 0
        assert namespace.sync.get("kept") == "v"
    finally:
        namespace.close()


def test_redis_names_cannot_collide(redis_url: str) -> None:
    # Unescaped, "A" with key "B:v:k" and "A:v:B" with key "k" would share a Redis key.
    one = redis_namespace("A", f"{redis_url}/0")
    two = redis_namespace("A:v:B", f"{redis_url}/0")
    try:
        one.sync.put("B:v:k", "one")
        two.sync.put("k", "two")
        assert one.sync.get("B:v:k") == "one"
        assert [k.name for k in two.sync.list().keys] == ["k"]
    finally:
        one.close()
        two.close()


def server_connections(client: Any, expected: int) -> int:
    """How many connections the Redis server has, once it has seen ``expected`` (or 2 s)."""
    deadline = time.monotonic() + 2
    count = len(client.client_list())
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        count = len(client.client_list())
    return count


def test_redis_connections_end_with_their_event_loop(redis_url: str, redis_client: Any) -> None:
    namespace = redis_namespace("LOOPS", f"{redis_url}/0")
    try:
        # The test's client and the namespace's blocking one.
        assert server_connections(redis_client, 2) == 2
        for i in range(5):
            run(namespace.put(f"k{i}", str(i)))
        assert run(namespace.get("k4")) == "4"
        assert server_connections(redis_client, 2) == 2

        async def within_one_loop() -> tuple[int, int, str | None]:
            await namespace.put("a", "1")
            before = len(redis_client.client_list())
            await namespace.disconnect()
            after = server_connections(redis_client, 2)
            return before, after, await namespace.get("a")  # usable again

        assert run(within_one_loop()) == (3, 2, "1")
    finally:
        namespace.close()
    assert server_connections(redis_client, 1) == 1


def test_redis_scripts_are_loaded_again_into_a_server_that_lost_them(
    redis_url: str, redis_client: Any
) -> None:
    namespace = redis_namespace("FLUSHED", f"{redis_url}/0")
    try:
        namespace.sync.put("a", "1")
        redis_client.script_flush()
        namespace.sync.put("b", "2")
        redis_client.script_flush()
        run(namespace.delete("a"))
        assert [k.name for k in namespace.sync.list().keys] == ["b"]
    finally:
        namespace.close()


def test_redis_close_reaches_every_loops_connections(redis_url: str, redis_client: Any) -> None:
    namespace = redis_namespace("CLOSE", f"{redis_url}/0")
    idle = asyncio.new_event_loop()  # used, then left open but not running
    running = asyncio.new_event_loop()  # running in another thread when close() is called
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    try:
        idle.run_until_complete(namespace.put("a", "1"))
        asyncio.run_coroutine_threadsafe(namespace.put("b", "2"), running).result(10)

        async def close_from_a_sync_call_in_a_loop() -> None:
            await namespace.get("a")  # this loop's own client
            assert server_connections(redis_client, 5) == 5  # and three namespace clients
            namespace.close()  # closes in this loop once it gets control back
            await asyncio.sleep(0.1)

        asyncio.run(close_from_a_sync_call_in_a_loop())
        assert server_connections(redis_client, 1) == 1
        with pytest.raises(KVError, match="closed"):
            namespace.sync.get("a")
    finally:
        running.call_soon_threadsafe(running.stop)
        thread.join(5)
        running.close()
        idle.close()
