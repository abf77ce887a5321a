"""``pagesfn serve --max-body-size --request-timeout``: a real server process enforces the
limits its flags set."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from test_servers import running

PROJECT = {
    "functions/index.py": """
        def on_request_get(context):
            return "ready"
    """,
    "functions/echo.py": """
        async def on_request_post(context):
            return {"size": len(await context.request.body())}
    """,
    "functions/slow.py": """
        import asyncio


        async def on_request_get(context):
            await asyncio.sleep(10)
            return "too late"
    """,
}


def test_serve_enforces_the_limit_flags(
    project: Callable[[Mapping[str, str]], Path], tmp_path: Path
) -> None:
    """``--max-body-size 1KB`` is 1024 bytes (413 past it, declared or chunked) and
    ``--request-timeout 0.5`` answers a handler sleeping 10 s with 504 in about that."""
    root = project(PROJECT)
    args = ("serve", root, "--max-body-size", "1KB", "--request-timeout", "0.5")
    with running(*args, cwd=tmp_path) as server, httpx.Client(timeout=10) as http:
        at_limit = http.post(server.url + "/echo", content=b"x" * 1024)
        assert (at_limit.status_code, at_limit.json()) == (200, {"size": 1024})
        past = http.post(server.url + "/echo", content=b"x" * 1025)
        assert past.status_code == 413
        assert "limit of 1024 bytes" in past.text
        chunked = http.post(server.url + "/echo", content=iter([b"x" * 512] * 3))
        assert chunked.status_code == 413

        began = time.monotonic()
        slow = http.get(server.url + "/slow")
        took = time.monotonic() - began
        assert slow.status_code == 504
        assert "limit of 0.5 s" in slow.text
        assert took < 3.0
        assert server.get("/").text == "ready"
    assert "slow.py" in server.output()
