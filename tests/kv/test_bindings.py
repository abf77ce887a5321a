"""KV bindings in a functions tree: ``Pages(kv=...)`` puts each namespace in ``context.env``,
for async handlers (awaited methods) and sync ones (``.sync``), on both faces."""

from __future__ import annotations

from pathlib import Path

import pytest

from pagesfn.serving.config import load_config

# The visit counter of the platforms' documentation, as a pagesfn function.
VISITS = {
    "api/visit/index.py": """
        async def on_request(context):
            visits = context.env["VISITS"]
            count = int(await visits.get("visitCount") or 0) + 1
            await visits.put("visitCount", str(count))
            return {"visitCount": count}
    """,
    "api/visit/sync.py": """
        def on_request(context):
            visits = context.env["VISITS"].sync
            count = int(visits.get("visitCount") or 0) + 1
            visits.put("visitCount", str(count))
            return {"visitCount": count}
    """,
    "api/notes/[key].py": """
        async def on_request_put(context):
            body = await context.request.json()
            await context.env["NOTES"].put(
                context.params["key"], body, metadata={"by": "test"}, expiration_ttl=3600
            )
            return "", 204

        async def on_request_get(context):
            found = await context.env["NOTES"].get_with_metadata(context.params["key"], "json")
            if found.value is None:
                return {"error": "no such note"}, 404
            return {"note": found.value, "metadata": found.metadata}

        def on_request_delete(context):
            context.env["NOTES"].sync.delete(context.params["key"])
            return "", 204
    """,
    "api/notes/index.py": """
        async def on_request_get(context):
            listed = await context.env["NOTES"].list(prefix=context.request.args.get("prefix", ""))
            return {"keys": [key.name for key in listed.keys], "complete": listed.list_complete}
    """,
}


def bindings(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "kv"
    return {"VISITS": folder / "visits.sqlite3", "NOTES": folder / "notes.sqlite3"}


@pytest.fixture(params=["sqlite", "redis"])
def kv_bindings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Path | str]:
    """The namespaces of the tree, in SQLite files or on a real Redis server."""
    if request.param == "sqlite":
        return dict(bindings(tmp_path))
    url = request.getfixturevalue("redis_url")
    return {"VISITS": url + "/0", "NOTES": url + "/1"}


def test_the_visit_counter_counts_across_async_and_sync_handlers(serve, kv_bindings):
    client = serve(VISITS, kv=kv_bindings)
    assert client.get("/api/visit").json() == {"visitCount": 1}
    assert client.get("/api/visit").json() == {"visitCount": 2}
    assert client.get("/api/visit/sync").json() == {"visitCount": 3}
    assert client.get("/api/visit").json() == {"visitCount": 4}


def test_values_outlive_the_app(pages, tmp_path):
    import webtest

    first = webtest.TestApp(pages(VISITS, kv=bindings(tmp_path)).wsgi)
    assert first.get("/api/visit").json == {"visitCount": 1}
    second = webtest.TestApp(pages(VISITS, kv=bindings(tmp_path)).wsgi)
    assert second.get("/api/visit").json == {"visitCount": 2}


def test_json_values_metadata_list_and_delete(serve, kv_bindings):
    client = serve(VISITS, kv=kv_bindings)
    for key in ("a1", "a2", "b1"):
        response = client.request(
            "PUT", f"/api/notes/{key}", body=f'{{"text": "{key}"}}',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status == 204
    assert client.get("/api/notes/a2").json() == {
        "note": {"text": "a2"},
        "metadata": {"by": "test"},
    }
    assert client.get("/api/notes?prefix=a").json() == {"keys": ["a1", "a2"], "complete": True}
    assert client.request("DELETE", "/api/notes/a1").status == 204
    assert client.get("/api/notes/a1").status == 404
    assert client.get("/api/notes").json()["keys"] == ["a2", "b1"]


def test_a_binding_is_in_context_env_beside_the_environment(serve, tmp_path):
    tree = {
        "index.py": """
            def on_request(context):
                return {
                    "kind": type(context.env["VISITS"]).__name__,
                    "greeting": context.env["GREETING"],
                }
        """
    }
    client = serve(tree, kv=bindings(tmp_path), env={"GREETING": "hi"})
    assert client.get("/").json() == {"kind": "KVNamespace", "greeting": "hi"}


def test_config_bindings_reach_the_app(tmp_path: Path) -> None:
    from pagesfn import Pages

    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "index.py").write_text("def on_request(c):\n    return 'x'\n")
    (tmp_path / "pagesfn.toml").write_text("[kv]\nVISITS = {}\n")
    app = Pages(**load_config(tmp_path).pages_options())
    try:
        app.kv["VISITS"].sync.put("k", "v")
        assert app.kv["VISITS"].sync.get("k") == "v"
        assert (tmp_path / ".pagesfn" / "kv" / "VISITS.sqlite3").is_file()
    finally:
        app.close()
        app.loader.unload()


@pytest.mark.parametrize("value", [42, None])
def test_a_binding_must_be_a_namespace_or_a_path(pages, value):
    with pytest.raises(TypeError):
        pages({"index.py": "def on_request(c):\n    return 'x'\n"}, kv={"VISITS": value})


def test_lifespan_shutdown_closes_the_loops_redis_connections(pages, redis_url):
    import asyncio

    import httpx
    import redis

    app = pages(VISITS, kv={"VISITS": redis_url + "/0", "NOTES": redis_url + "/1"})
    watcher = redis.Redis.from_url(redis_url + "/0")

    async def serve_then_shut_down() -> tuple[int, int]:
        events: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        sent: list[str] = []

        async def send(message: dict[str, str]) -> None:
            sent.append(message["type"])

        lifespan = asyncio.create_task(app({"type": "lifespan"}, events.get, send))
        await events.put({"type": "lifespan.startup"})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/api/visit")).json() == {"visitCount": 1}
        during = len(watcher.client_list())
        await events.put({"type": "lifespan.shutdown"})
        await lifespan
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        # Still in the server's loop: only the shutdown can have closed its connection.
        for _ in range(100):  # the server notices a closed connection a moment later
            if len(watcher.client_list()) < during:
                break
            await asyncio.sleep(0.02)
        return during, len(watcher.client_list())

    try:
        during, after = asyncio.run(serve_then_shut_down())
    finally:
        watcher.close()
    # The watcher and each namespace's blocking client, plus VISITS' asyncio client.
    assert (during, after) == (4, 3)
