"""Route files the streaming tests serve. Every generator waits on a probe between chunks,
for at most ``stream_probes.BOUND`` seconds, then raises: a face that buffered the body
would make the test fail with that error rather than hang."""

from __future__ import annotations

from collections.abc import Iterator

#: The real servers each face is tried on: uvicorn (ASGI), werkzeug's threaded one (WSGI).
SERVERS = ["uvicorn", "werkzeug"]


def read_at_least(chunks: Iterator[bytes], size: int) -> bytes:
    """What arrives until ``size`` bytes are in (a read may hold less than a chunk)."""
    data = b""
    while len(data) < size:
        data += next(chunks)
    return data


HANDLERS = {
    "sync_gen.py": """
        import stream_probes as probes

        def on_request_get(context):
            def chunks():
                try:
                    yield "first;"
                    if not probes.wait("release"):
                        raise TimeoutError("the test never asked for the second chunk")
                    yield b"second;"
                    yield "last"
                finally:
                    probes.note("sync finally")
            return chunks()  # a generator, returned as is
    """,
    "async_gen.py": """
        import stream_probes as probes
        from pagesfn import Response

        async def on_request_get(context):
            async def chunks():
                try:
                    yield "first;"
                    if not await probes.await_("release"):
                        raise TimeoutError("the test never asked for the second chunk")
                    yield b"second;"
                    yield "last"
                finally:
                    probes.note("async finally")
            return Response(chunks(), headers={"X-Kind": "async"})
    """,
    "sync_endless.py": """
        import time
        import stream_probes as probes

        def on_request_get(context):
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
            return chunks()
    """,
    "async_endless.py": """
        import asyncio
        import stream_probes as probes

        async def on_request_get(context):
            async def chunks():
                try:
                    yield "first;"
                    await probes.await_("release")
                    for _ in range(500):  # 5 s at most
                        yield "tick;"
                        await asyncio.sleep(0.01)
                    probes.note("ran to the end")
                except (GeneratorExit, asyncio.CancelledError):
                    probes.fire("closed")
                    raise
            return chunks()
    """,
    "sync_boom.py": """
        def on_request_get(context):
            def chunks():
                yield "first;"
                raise RuntimeError("boom in the middle")
            return chunks()
    """,
    "async_boom.py": """
        async def on_request_get(context):
            async def chunks():
                yield "first;"
                raise RuntimeError("boom in the middle")
            return chunks()
    """,
    "sync_echo.py": """
        def on_request_post(context):
            request = context.request
            def chunks():
                yield "got:"
                yield request.get_data()  # read only once the response has started
            return chunks()
    """,
    "async_echo.py": """
        async def on_request_post(context):
            request = context.request
            async def chunks():
                yield "got:"
                yield await request.body()  # read only once the response has started
            return chunks()
    """,
    "tuple.py": """
        def on_request_get(context):
            def rows():
                yield "a,b\\n"
                yield "1,2\\n"
            return rows(), 201, {"Content-Type": "text/csv"}
    """,
    "json_list.py": """
        def on_request_get(context):
            return ["not", "chunks"]
    """,
    "bad_chunk.py": """
        def on_request_get(context):
            def chunks():
                yield "fine;"
                yield 42
            return chunks()
    """,
}
