"""Mounted apps stream through pagesfn unbuffered: a Starlette ``StreamingResponse`` and a
Flask generator, called straight or through middleware (``next()``), over uvicorn (the
ASGI face) and werkzeug's threaded server (the WSGI face)."""

from __future__ import annotations

import httpx
import pytest
from stream_trees import SERVERS, read_at_least

STARLETTE = """
    import asyncio
    import stream_probes as probes
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def two_chunks():
        yield b"first;"
        if not await probes.await_("release"):
            raise TimeoutError("the test never asked for the last chunk")
        yield b"last"

    async def endless():
        try:
            yield b"first;"
            await probes.await_("release")
            for _ in range(500):  # 5 s at most
                yield b"tick;"
                await asyncio.sleep(0.01)
            probes.note("ran to the end")
        except (GeneratorExit, asyncio.CancelledError):
            probes.fire("closed")
            raise

    async def stream(request):
        return StreamingResponse(two_chunks(), media_type="text/plain")

    async def forever(request):
        return StreamingResponse(endless(), media_type="text/plain")

    app = Starlette(routes=[Route("/stream", stream), Route("/endless", forever)])
"""

FLASK = """
    import time
    import stream_probes as probes
    from flask import Flask, Response, stream_with_context

    app = Flask(__name__)

    @app.get("/stream")
    def stream():
        def chunks():
            yield "first;"
            if not probes.wait("release"):
                raise TimeoutError("the test never asked for the last chunk")
            yield "last"
        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/endless")
    def endless():
        def chunks():
            try:
                yield "first;"
                probes.wait("release")
                for _ in range(500):  # 5 s at most
                    yield "tick;"
                    time.sleep(0.01)
                probes.note("ran to the end")
            except GeneratorExit:
                probes.fire("closed")
                raise
        return Response(chunks(), mimetype="text/plain")
"""

MIDDLEWARE = """
    def on_request(context):
        response = context.next()
        response.headers["X-Middleware"] = "seen"
        return response
"""


def tree(middleware: bool) -> dict[str, str]:
    files = {"starlette/[[path]].py": STARLETTE, "flask/[[path]].py": FLASK}
    if middleware:
        files["_middleware.py"] = MIDDLEWARE
    return files


APPS = ["starlette", "flask"]
WAYS = ["straight", "middleware"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("server", SERVERS)
def test_a_mounted_apps_first_chunk_arrives_before_its_last_is_made(
    real_server, probes, server, app, way
):
    url = real_server(server, tree(way == "middleware"))
    with (
        httpx.Client(base_url=url, timeout=5) as client,
        client.stream("GET", f"/{app}/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers.get("x-middleware") == ("seen" if way == "middleware" else None)
        chunks = response.iter_raw()
        assert read_at_least(chunks, 6) == b"first;"
        assert not probes.event("release").is_set()
        probes.fire("release")
        assert b"".join(chunks) == b"last"


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("server", SERVERS)
def test_a_client_leaving_a_mounted_apps_stream_stops_it(real_server, probes, server, app, way):
    url = real_server(server, tree(way == "middleware"))
    with httpx.Client(base_url=url, timeout=5) as client:
        with client.stream("GET", f"/{app}/endless") as response:
            assert read_at_least(response.iter_raw(), 6) == b"first;"
        probes.fire("release")
        assert probes.wait("closed", 5), "the mounted app's generator was not closed"
    assert "ran to the end" not in probes.notes
