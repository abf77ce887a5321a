"""Server-Sent Events: the format checked by a parser that follows the WHATWG
EventSource rules, over real servers on both faces, keep-alive comments and disconnects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pytest
from stream_trees import SERVERS

from pagesfn import EventStream, ServerSentEvent

EVENTS = (
    'ServerSentEvent("hello"), "two\\nlines\\r\\nand\\rthree", {"n": 1, "text": "é"}, '
    'ServerSentEvent(data="x", event="tick", id="7", retry=1500), '
    'ServerSentEvent(comment="only a comment"), ServerSentEvent(data=""), '
    'ServerSentEvent(" leading space and trailing newline\\n", id=8)'
)

TREE = {
    "events_async.py": f"""
        import asyncio
        from pagesfn import EventStream, ServerSentEvent

        async def on_request_get(context):
            async def source():
                for event in [{EVENTS}]:
                    yield event
                    await asyncio.sleep(0.01)
            return EventStream(source())
    """,
    "events_sync.py": f"""
        from pagesfn import EventStream, ServerSentEvent

        def on_request_get(context):
            return EventStream([{EVENTS}], headers={{"X-Stream": "sync"}})
    """,
    "quiet.py": """
        import asyncio
        import stream_probes as probes
        from pagesfn import EventStream

        async def on_request_get(context):
            async def source():
                yield "before"
                await probes.await_("more")  # quiet meanwhile: keep-alive comments go out
                yield "after"
            return EventStream(source(), keep_alive=0.02)
    """,
    "endless.py": """
        import asyncio
        import stream_probes as probes
        from pagesfn import EventStream

        async def on_request_get(context):
            async def source():
                try:
                    yield "first"
                    await asyncio.sleep(5)  # never speaks again: only keep-alives go out
                    probes.note("ran to the end")
                except (GeneratorExit, asyncio.CancelledError):
                    probes.fire("closed")
                    raise
            return EventStream(source(), keep_alive=0.02)
    """,
}


@dataclass
class Parsed:
    events: list[dict[str, str]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None


class EventStreamParser:
    """The WHATWG "interpreting an event stream" rules (html.spec.whatwg.org, 9.2.6)."""

    def __init__(self) -> None:
        self.parsed = Parsed()
        self._data = ""
        self._type = ""
        self._last_id = ""
        self._pending = ""

    def feed(self, text: str) -> None:
        buffer = self._pending + text
        # A CR at the very end may be half of a CRLF: it waits for the next feed.
        held = "\r" if buffer.endswith("\r") else ""
        lines = re.split(r"\r\n|\r|\n", buffer[: len(buffer) - len(held)])
        # The last piece is a line not ended yet ("" after a final line break).
        self._pending = lines.pop() + held
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            self.parsed.comments.append(line[1:])
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._type = value
        elif name == "data":
            self._data += value + "\n"
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.parsed.retry = int(value)
        # Other fields, an id with NUL and a retry that is not digits are ignored.

    def _dispatch(self) -> None:
        if self._data == "":
            self._type = ""
            return
        data = self._data[:-1] if self._data.endswith("\n") else self._data
        self.parsed.events.append(
            {"type": self._type or "message", "data": data, "lastEventId": self._last_id}
        )
        self._data = ""
        self._type = ""


EXPECTED = [
    {"type": "message", "data": "hello", "lastEventId": ""},
    {"type": "message", "data": "two\nlines\nand\nthree", "lastEventId": ""},
    {"type": "message", "data": '{"n":1,"text":"é"}', "lastEventId": ""},
    {"type": "tick", "data": "x", "lastEventId": "7"},
    {"type": "message", "data": "", "lastEventId": "7"},
    {"type": "message", "data": " leading space and trailing newline\n", "lastEventId": "8"},
]


def parse(payload: bytes) -> Parsed:
    parser = EventStreamParser()
    parser.feed(payload.decode("utf-8"))
    return parser.parsed


# -- the format -----------------------------------------------------------------------


def test_events_encode_to_what_the_spec_parser_reads_back():
    payload = b"".join(
        event.encode()
        for event in (
            ServerSentEvent("hello"),
            ServerSentEvent("two\nlines\r\nand\rthree"),
            ServerSentEvent({"n": 1, "text": "é"}),
            ServerSentEvent(data="x", event="tick", id="7", retry=1500),
            ServerSentEvent(comment="only a comment"),
            ServerSentEvent(data=""),
            ServerSentEvent(" leading space and trailing newline\n", id=8),
        )
    )
    parsed = parse(payload)
    assert parsed.events == EXPECTED
    assert (parsed.comments, parsed.retry) == ([" only a comment"], 1500)


def test_the_wire_format_of_one_event():
    event = ServerSentEvent("a\nb", event="up", id=3, retry=10, comment="c1\nc2")
    assert event.encode() == b": c1\n: c2\nid: 3\nevent: up\nretry: 10\ndata: a\ndata: b\n\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"event": "a\nb"}, "event name cannot hold a line break"),
        ({"id": "a\rb"}, "event id cannot hold"),
        ({"id": "a\0b"}, "event id cannot hold"),
        ({"retry": -1}, "retry is a number of milliseconds"),
        ({"retry": "10"}, "retry is a number of milliseconds"),
    ],
)
def test_fields_that_would_break_the_stream_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        ServerSentEvent("x", **fields)


def test_the_response_headers_and_what_a_source_may_not_yield():
    response = EventStream(iter(()), headers={"Cache-Control": "no-store", "X-A": "1"})
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"  # the given header wins
    assert (response.headers["X-Accel-Buffering"], response.headers["X-A"]) == ("no", "1")
    assert response.stream is not None
    bad = EventStream([b"bytes are not events"]).stream
    with pytest.raises(TypeError, match="yield ServerSentEvent, str or dict"):
        next(iter(bad))  # type: ignore[arg-type]


# -- in process, both faces -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_an_event_stream_through_each_face(serve, kind):
    result = serve(TREE).get(f"/events_{kind}")
    assert result.status == 200
    assert result.header("content-type") == "text/event-stream"
    assert result.header("cache-control") == "no-cache"
    assert parse(result.body).events == EXPECTED


# -- over real servers ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("server", SERVERS)
def test_real_event_streams_parse_as_the_spec_says(real_server, server, kind):
    url = real_server(server, TREE)
    with (
        httpx.Client(base_url=url, timeout=5) as client,
        client.stream("GET", f"/events_{kind}") as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert "content-length" not in response.headers
        parser = EventStreamParser()
        for text in response.iter_text():
            parser.feed(text)
    assert parser.parsed.events == EXPECTED
    assert parser.parsed.retry == 1500


@pytest.mark.parametrize("server", SERVERS)
def test_keep_alive_comments_go_out_while_the_source_is_quiet(real_server, probes, server):
    url = real_server(server, TREE)
    with (
        httpx.Client(base_url=url, timeout=5) as client,
        client.stream("GET", "/quiet") as response,
    ):
        parser = EventStreamParser()
        chunks = response.iter_text()
        while len(parser.parsed.comments) < 2:
            parser.feed(next(chunks))
        assert [e["data"] for e in parser.parsed.events] == ["before"]
        assert set(parser.parsed.comments) == {" keep-alive"}
        probes.fire("more")
        for text in chunks:
            parser.feed(text)
    assert [e["data"] for e in parser.parsed.events] == ["before", "after"]


@pytest.mark.parametrize("server", SERVERS)
def test_a_client_leaving_an_event_stream_stops_its_source(real_server, probes, server):
    # On the WSGI face the server only learns the client has gone when a write fails:
    # the keep-alive comments are what make it write.
    url = real_server(server, TREE)
    with httpx.Client(base_url=url, timeout=5) as client:
        with client.stream("GET", "/endless") as response:
            parser = EventStreamParser()
            chunks = response.iter_text()
            while not parser.parsed.events:
                parser.feed(next(chunks))
        assert probes.wait("closed", 5), "the event source was not stopped"
    assert "ran to the end" not in probes.notes
