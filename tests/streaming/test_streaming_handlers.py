"""Streamed bodies from handlers, in process, on both faces: what ``Response(<iterable>)``
and a returned generator become, chunks handed on one by one, disconnects and failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from stream_trees import HANDLERS
from werkzeug.test import EnvironBuilder

from pagesfn import HandlerResultError, Response
from pagesfn.errors import BodyAccessError
from pagesfn.http.head import wire_headers
from pagesfn.http.results import to_response

KINDS = ["sync", "async"]


# -- Response and to_response ---------------------------------------------------------


def _gen() -> Iterator[str]:
    yield "a"


async def _agen() -> AsyncIterator[bytes]:
    yield b"a"


def test_a_generator_body_is_streamed_with_the_text_content_type():
    response = Response(_gen())
    assert response.stream is not None and response.body == b""
    assert wire_headers(response) == [("Content-Type", "text/plain; charset=utf-8")]


def test_an_async_generator_body_is_streamed_and_keeps_given_headers():
    response = Response(_agen(), 202, {"Content-Type": "text/csv", "X-A": "1"})
    assert response.status_code == 202 and response.stream is not None
    assert dict(wire_headers(response)) == {"Content-Type": "text/csv", "X-A": "1"}


def test_str_and_bytes_bodies_are_not_streamed():
    assert (Response("é").stream, Response("é").body) == (None, "é".encode())
    assert (Response(b"x").stream, Response(b"x").body) == (None, b"x")
    assert Response(bytearray(b"y")).body == b"y"


def test_str_chunks_are_sent_as_utf8_and_the_stream_closes_its_generator():
    closed = []

    def chunks():
        try:
            yield "é"
            yield b"\xff"
            yield "never read"
        finally:
            closed.append(True)

    stream = Response(chunks()).stream
    assert stream is not None
    iterator = iter(stream)  # type: ignore[arg-type]
    assert [next(iterator), next(iterator)] == ["é".encode(), b"\xff"]
    stream.close()  # type: ignore[union-attr]
    assert closed == [True]


def test_a_dict_body_is_refused_with_the_way_to_json():
    with pytest.raises(TypeError, match=r"Response\.json"):
        Response({"a": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [_gen, _agen])
def test_to_response_takes_generators_alone_or_in_a_tuple(make):
    assert to_response(make()).stream is not None
    response = to_response((make(), 201, {"X-A": "1"}))
    assert (response.status_code, response.headers["X-A"]) == (201, "1")
    assert response.stream is not None


def test_to_response_keeps_lists_json_and_refuses_other_iterables():
    assert to_response(["a"]).body == b'["a"]'
    with pytest.raises(HandlerResultError, match="returned set"):
        to_response({"a"})


# -- through the faces, whole (the `serve` fixture's clients) -------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_generator_streams_through_each_face(serve, probes, kind):
    client = serve(HANDLERS)
    probes.fire("release")
    result = client.get(f"/{kind}_gen")
    assert (result.status, result.body) == (200, b"first;second;last")
    assert result.header("content-type") == "text/plain; charset=utf-8"
    assert f"{kind} finally" in probes.notes


def test_a_tuple_of_a_generator_status_and_headers(serve):
    result = serve(HANDLERS).get("/tuple")
    assert (result.status, result.header("content-type")) == (201, "text/csv")
    assert result.body == b"a,b\n1,2\n"


def test_a_list_is_still_json(serve):
    result = serve(HANDLERS).get("/json_list")
    assert (result.header("content-type"), result.json()) == ("application/json", ["not", "chunks"])


@pytest.mark.parametrize("kind", KINDS)
def test_a_generator_may_read_the_request_body_after_the_response_started(serve, kind):
    client = serve(HANDLERS)
    assert client.request("POST", f"/{kind}_echo", body=b"payload").body == b"got:payload"
    chunked = client.chunked("POST", f"/{kind}_echo", [b"pay", b"load"])
    assert chunked.body == b"got:payload"


@pytest.mark.parametrize("kind", KINDS)
def test_head_sends_no_body_and_never_runs_the_generator(serve, probes, kind):
    result = serve(HANDLERS).request("HEAD", f"/{kind}_gen")
    assert (result.status, result.body) == (200, b"")
    assert result.header("content-length") is None
    assert probes.notes == []  # never started: nothing ran, and nothing waits


# -- ASGI, one message at a time ------------------------------------------------------


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


class ASGICall:
    """One request to an ASGI app, with the client's side in the test's hands: what the
    app sent so far, and when the client goes away."""

    def __init__(
        self, app: Any, path: str, method: str = "GET", body: tuple[bytes, ...] = (b"",)
    ) -> None:
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gone = asyncio.Event()
        self._body = list(body)
        self.task = asyncio.ensure_future(app(_scope(path, method), self.receive, self.send))

    async def receive(self) -> dict[str, Any]:
        if self._body:
            chunk = self._body.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self._body)}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        await self.sent.put(message)

    async def next_message(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), 5)

    def leftovers(self) -> list[dict[str, Any]]:
        messages = []
        while not self.sent.empty():
            messages.append(self.sent.get_nowait())
        return messages


@pytest.mark.parametrize("kind", KINDS)
def test_asgi_sends_each_chunk_as_it_is_produced(pages, probes, kind):
    app = pages(HANDLERS)

    async def go() -> None:
        call = ASGICall(app, f"/{kind}_gen")
        start = await call.next_message()
        assert start["type"] == "http.response.start"
        assert b"content-length" not in dict(start["headers"])
        first = await call.next_message()
        # The generator is still waiting to make its second chunk.
        assert (first["body"], first["more_body"]) == (b"first;", True)
        assert not probes.event("release").is_set()
        probes.fire("release")
        rest = []
        while True:
            message = await call.next_message()
            rest.append(message["body"])
            if not message.get("more_body", False):
                break
        assert b"".join(rest) == b"second;last"
        await asyncio.wait_for(call.task, 5)

    asyncio.run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_asgi_disconnect_stops_the_generator_and_runs_its_finally(pages, probes, kind):
    app = pages(HANDLERS)

    async def go() -> list[dict[str, Any]]:
        call = ASGICall(app, f"/{kind}_endless")
        await call.next_message()  # start
        assert (await call.next_message())["body"] == b"first;"
        call.gone.set()
        # The request ends at once, even while a sync generator is blocked in its thread.
        await asyncio.wait_for(call.task, 2)
        probes.fire("release")  # a blocked sync generator is closed once it yields again
        assert await asyncio.to_thread(probes.wait, "closed", 5), "the generator was not closed"
        return call.leftovers()

    leftovers = asyncio.run(go())
    assert "ran to the end" not in probes.notes
    # Nothing claims the response is complete after the client went.
    assert all(m.get("more_body", False) for m in leftovers)


@pytest.mark.parametrize("kind", KINDS)
def test_asgi_a_generator_that_raises_is_logged_and_the_error_reaches_the_server(
    pages, caplog, kind
):
    app = pages(HANDLERS)

    async def go() -> list[dict[str, Any]]:
        call = ASGICall(app, f"/{kind}_boom")
        with pytest.raises(RuntimeError, match="boom in the middle"):
            await asyncio.wait_for(call.task, 5)
        return call.leftovers()

    with caplog.at_level(logging.ERROR, logger="pagesfn"):
        messages = asyncio.run(go())
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
    assert messages[-1]["more_body"] is True  # never finished: the server cuts it short
    record = next(r for r in caplog.records if r.name == "pagesfn")
    assert f"GET /{kind}_boom" in record.getMessage() and "cut short" in record.getMessage()


def test_asgi_a_body_too_big_to_keep_while_streaming_is_an_error_saying_so(pages, caplog):
    app = pages(HANDLERS)
    mib = b"x" * (1024 * 1024)

    async def go() -> list[dict[str, Any]]:
        call = ASGICall(app, "/async_echo", "POST", (mib, mib))
        with pytest.raises(BodyAccessError, match="read it before returning a streamed"):
            await asyncio.wait_for(call.task, 5)
        return call.leftovers()

    with caplog.at_level(logging.ERROR, logger="pagesfn"):
        messages = asyncio.run(go())
    assert [m.get("body") for m in messages] == [None, b"got:"]
    assert any("cut short" in r.getMessage() for r in caplog.records if r.name == "pagesfn")


# -- WSGI, one chunk at a time --------------------------------------------------------


def _wsgi_call(app: Any, path: str) -> tuple[list[Any], Any]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None

    environ = EnvironBuilder(path=path).get_environ()
    return started, app.wsgi(environ, start_response)


@pytest.mark.parametrize("kind", KINDS)
def test_wsgi_hands_the_server_each_chunk_as_it_is_produced(pages, probes, kind):
    started, body = _wsgi_call(pages(HANDLERS), f"/{kind}_gen")
    try:
        assert started[0] == "200 OK"
        assert "content-length" not in {name.lower() for name, _ in started[1]}
        iterator = iter(body)
        assert next(iterator) == b"first;"
        assert not probes.event("release").is_set()
        probes.fire("release")
        assert b"".join(iterator) == b"second;last"
    finally:
        body.close()
    assert f"{kind} finally" in probes.notes


@pytest.mark.parametrize("kind", KINDS)
def test_wsgi_close_stops_the_generator_and_runs_its_finally(pages, probes, kind):
    _, body = _wsgi_call(pages(HANDLERS), f"/{kind}_endless")
    assert next(iter(body)) == b"first;"
    body.close()  # what the server does when the client has gone
    assert probes.event("closed").is_set()
    assert "ran to the end" not in probes.notes


@pytest.mark.parametrize("kind", KINDS)
def test_wsgi_a_generator_that_raises_is_logged(pages, caplog, kind):
    _, body = _wsgi_call(pages(HANDLERS), f"/{kind}_boom")
    iterator = iter(body)
    with caplog.at_level(logging.ERROR, logger="pagesfn"):
        assert next(iterator) == b"first;"
        with pytest.raises(RuntimeError, match="boom in the middle"):
            next(iterator)
    body.close()
    record = next(r for r in caplog.records if r.name == "pagesfn")
    assert f"GET /{kind}_boom" in record.getMessage() and "cut short" in record.getMessage()


def test_a_chunk_that_is_not_bytes_or_str_is_an_error_naming_it(pages, caplog):
    _, body = _wsgi_call(pages(HANDLERS), "/bad_chunk")
    iterator = iter(body)
    assert next(iterator) == b"fine;"
    with caplog.at_level(logging.ERROR, logger="pagesfn"), pytest.raises(TypeError) as caught:
        next(iterator)
    body.close()
    assert "yielded int 42; yield bytes or str" in str(caught.value)
