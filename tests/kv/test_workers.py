"""The embedded KV store under ``pagesfn serve --workers 2``: two processes writing one
SQLite file at once lose nothing and never answer with an error."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

PUTS = 200

TREE = {
    "pagesfn.toml": "[kv]\nSTORE = {}\n",
    "functions/api/items/[key].py": """
        import os


        async def on_request_put(context):
            await context.env["STORE"].put(context.params["key"], await context.request.text())
            return "", 204, {"X-Worker": str(os.getpid())}


        async def on_request_get(context):
            value = await context.env["STORE"].get(context.params["key"])
            if value is None:
                return "missing", 404
            return value
    """,
    "functions/api/items/index.py": """
        async def on_request_get(context):
            store, names, cursor = context.env["STORE"], [], None
            while True:
                page = await store.list(cursor=cursor)
                names += [key.name for key in page.keys]
                if page.list_complete:
                    return {"count": len(names), "names": names}
                cursor = page.cursor
    """,
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _put_all(base: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        return await asyncio.gather(
            *(client.put(f"/api/items/key-{n:03d}", content=f"value {n}") for n in range(PUTS))
        )


def test_two_workers_write_one_store_concurrently(tmp_path: Path) -> None:
    project = tmp_path / "site"
    for rel, text in TREE.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pagesfn", "serve", str(project), "--port", str(port),
         "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/api/items", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("the server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.1)

        responses = asyncio.run(_put_all(base))
        assert [r.status_code for r in responses] == [204] * PUTS
        workers = {r.headers["X-Worker"] for r in responses}
        assert len(workers) == 2, f"one process served every put: {workers}"

        listed = httpx.get(base + "/api/items", timeout=10).json()
        assert listed["count"] == PUTS
        assert listed["names"] == [f"key-{n:03d}" for n in range(PUTS)]
        assert httpx.get(base + "/api/items/key-123", timeout=5).text == "value 123"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()
    output = (tmp_path / "server.log").read_text()
    assert "database is locked" not in output
    assert "Traceback" not in output
