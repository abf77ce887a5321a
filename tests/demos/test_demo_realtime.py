"""The realtime demo's functions, without a browser: the chat with two WebSocket clients,
the ticker's event stream over httpx, and the room's broadcast on its own; against a real
uvicorn serving the demo as ``pagesfn dev demo_realtime`` configures it.

``tests/browser/test_realtime_demo.py`` drives the same demo in Chromium.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from pagesfn import WebSocketDisconnect
from pagesfn.serving.config import load_config

DEMO = Path(__file__).parents[2] / "demo_realtime"
TIMEOUT = 10


@pytest.fixture
def demo(pages, uvicorn_server) -> Iterator[str]:
    """The demo project served by uvicorn, configured as the dev server does; its URL."""
    options = load_config(DEMO).pages_options()
    app = pages(options.pop("functions"), **options)
    with uvicorn_server(app) as url:
        yield url


@contextmanager
def member(url: str, name: str) -> Iterator[ClientConnection]:
    """A chat client that has joined (its history and its own join are read)."""
    ws_url = url.replace("http://", "ws://") + f"/chat?name={name}"
    with connect(ws_url, open_timeout=TIMEOUT, close_timeout=5) as client:
        assert recv(client)["type"] == "history"
        joined = recv(client)
        assert (joined["type"], joined["name"]) == ("join", name)
        yield client


def recv(client: ClientConnection) -> dict[str, Any]:
    message = client.recv(timeout=TIMEOUT)
    assert isinstance(message, str), "the chat sends JSON in text messages"
    data: dict[str, Any] = json.loads(message)
    return data


def say(client: ClientConnection, name: str, text: str) -> None:
    client.send(json.dumps({"name": name, "text": text}))


def notice(message: dict[str, Any]) -> tuple[str, str, int]:
    """A join or leave message as (type, name, online), its time checked."""
    server_time(message["time"])
    return message["type"], message["name"], message["online"]


def server_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.removesuffix("Z") + "+00:00")


def room(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(url + "/api/room", timeout=TIMEOUT).json()
    return data


def eventually(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


# -- the page ---------------------------------------------------------------------------


def test_the_page_and_its_assets_come_from_public(demo):
    page = httpx.get(demo + "/", timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    for ref in ('src="/app.js"', 'href="/style.css"', 'id="messages"', 'id="tick-count"'):
        assert ref in page.text
    script = httpx.get(demo + "/app.js", timeout=TIMEOUT)
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert 'new EventSource("/ticker")' in script.text
    style = httpx.get(demo + "/style.css", timeout=TIMEOUT)
    assert style.headers["Content-Type"].startswith("text/css")


# -- the chat ---------------------------------------------------------------------------


def test_two_clients_chat_and_see_each_other_come_and_go(demo):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    with member(demo, "Ann") as ann:
        with member(demo, "Bob") as bob:
            assert notice(recv(ann)) == ("join", "Bob", 2)
            assert room(demo) == {"online": 2, "names": ["Ann", "Bob"], "tickers": 0}

            say(ann, "Ann", "hello Bob")
            for client in (ann, bob):  # the sender gets its own message back too
                message = recv(client)
                assert (message["type"], message["name"], message["text"]) == (
                    "message",
                    "Ann",
                    "hello Bob",
                )
                sent_at = server_time(message["time"])
                assert before <= sent_at <= datetime.now(timezone.utc) + timedelta(seconds=1)

            say(bob, "Bobby", "  hi Ann  ")  # a new name; text is trimmed
            for client in (ann, bob):
                message = recv(client)
                assert (message["name"], message["text"]) == ("Bobby", "hi Ann")
        # Bob closed: Ann hears it, under the name Bob went by last.
        assert notice(recv(ann)) == ("leave", "Bobby", 1)
        eventually(lambda: room(demo)["online"] == 1, "the room shrinking to 1")

        # A newcomer is shown what was said.
        with member_history(demo, "Cy") as history:
            assert [(m["name"], m["text"]) for m in history] == [
                ("Ann", "hello Bob"),
                ("Bobby", "hi Ann"),
            ]


@contextmanager
def member_history(url: str, name: str) -> Iterator[list[dict[str, Any]]]:
    ws_url = url.replace("http://", "ws://") + f"/chat?name={name}"
    with connect(ws_url, open_timeout=TIMEOUT, close_timeout=5) as client:
        history = recv(client)
        assert history["type"] == "history"
        yield history["messages"]


def test_the_name_is_cleaned_and_defaults_to_guest(demo):
    ws_url = demo.replace("http://", "ws://") + "/chat"
    with connect(ws_url + "?name=%20%20Ann%0A%20%20Lee%20", open_timeout=TIMEOUT) as client:
        recv(client)
        assert recv(client)["name"] == "Ann Lee"
    with connect(ws_url, open_timeout=TIMEOUT) as client:
        recv(client)
        assert recv(client)["name"] == "guest"


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ("hello", "not JSON"),
        (b'{"name": "Ann", "text": "hi"}', "not binary"),
        ("[1, 2]", "not list"),
        ('{"text": "hi"}', '"name"'),
        ('{"name": "   ", "text": "hi"}', '"name"'),
        ('{"name": 7, "text": "hi"}', '"name"'),
        ('{"name": "Ann"}', '"text"'),
        ('{"name": "Ann", "text": "  "}', '"text"'),
        ('{"name": "Ann", "text": ["hi"]}', '"text"'),
        (json.dumps({"name": "Ann", "text": "x" * 501}), "limit is 500"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ],
    ids=[
        "not-json",
        "binary",
        "array",
        "no-name",
        "blank-name",
        "number-name",
        "no-text",
        "blank-text",
        "list-text",
        "long-text",
        "deep-json",
    ],
)
def test_a_bad_message_gets_an_error_back_and_the_chat_goes_on(demo, payload, complaint):
    with member(demo, "Ann") as ann, member(demo, "Bob") as bob:
        recv(ann)  # Bob's join
        ann.send(payload)
        error = recv(ann)
        assert error["type"] == "error"
        assert complaint in error["error"]
        # Nothing was broadcast, and the connection still works.
        say(ann, "Ann", "still here")
        for client in (bob, ann):
            message = recv(client)
            assert (message["type"], message["text"]) == ("message", "still here")


def test_a_client_that_drops_without_closing_does_not_stop_the_others(demo):
    with member(demo, "Ann") as ann, member(demo, "Bob") as bob:
        recv(ann)  # Bob's join
        with member(demo, "Cy") as cy:
            recv(ann), recv(bob)  # Cy's join
            # Cut Cy's TCP connection with no close frame, then talk at once.
            raw: socket.socket = cy.socket
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
            for n in range(5):
                say(ann, "Ann", f"message {n}")
        texts: list[str] = []
        left: list[str] = []
        while len(texts) < 5 or not left:
            message = recv(bob)
            if message["type"] == "message":
                texts.append(message["text"])
            elif message["type"] == "leave":
                left.append(message["name"])
        assert texts == [f"message {n}" for n in range(5)]
        assert left == ["Cy"]
        eventually(lambda: room(demo)["names"] == ["Ann", "Bob"], "Cy leaving the room")


# -- the room's broadcast, on its own ---------------------------------------------------


def load_live_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_demo_realtime_live", DEMO / "functions" / "_live.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeSocket:
    def __init__(self, fail: BaseException | None = None, hang: bool = False) -> None:
        self.fail = fail
        self.hang = hang
        self.got: list[Any] = []

    async def send_json(self, data: Any) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail is not None:
            raise self.fail
        self.got.append(data)


def test_broadcast_reaches_everyone_it_can(monkeypatch, caplog):
    live = load_live_module()
    monkeypatch.setattr(live, "SEND_TIMEOUT", 0.1)
    room = live.Room()
    first, second = FakeSocket(), FakeSocket()
    gone = FakeSocket(fail=WebSocketDisconnect(1006))
    broken = FakeSocket(fail=RuntimeError("boom"))
    stuck = FakeSocket(hang=True)
    for n, sock in enumerate((first, gone, broken, stuck, second)):
        room.join(sock, f"member {n}")

    sent = asyncio.run(asyncio.wait_for(room.broadcast({"type": "message"}), 5))

    assert sent == 2
    assert first.got == second.got == [{"type": "message"}]
    assert "sending to member 2 failed" in caplog.text
    assert len(room) == 5  # members leave when their own handler sees the disconnect


# -- the ticker -------------------------------------------------------------------------


def read_events(lines: Iterator[str], count: int) -> list[dict[str, str]]:
    """The next ``count`` events from the ``lines`` of an event stream, each as its fields.

    ``lines`` is one ``response.iter_lines()`` for the whole response: dropping that
    iterator closes the response.
    """
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if not line:
            if fields:
                events.append(fields)
                fields = {}
                if len(events) == count:
                    return events
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    pytest.fail(f"the stream ended after {len(events)} events")


def test_the_ticker_streams_ticks_and_stops_when_the_client_goes(demo):
    with httpx.Client(base_url=demo, timeout=TIMEOUT) as client:
        with client.stream("GET", "/ticker") as response:
            assert response.status_code == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            assert response.headers["Cache-Control"] == "no-cache"
            lines = response.iter_lines()
            events = read_events(lines, 3)
            assert room(demo)["tickers"] == 1
            events += read_events(lines, 1)

        assert [event["id"] for event in events] == ["1", "2", "3", "4"]
        assert {event["event"] for event in events} == {"tick"}
        assert events[0]["retry"] == "1000"
        assert "retry" not in events[1]
        ticks = [json.loads(event["data"]) for event in events]
        assert [tick["count"] for tick in ticks] == [1, 2, 3, 4]
        times = [server_time(tick["time"]) for tick in ticks]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert all(0.4 <= gap < 5 for gap in gaps), gaps

        # The response is closed: the generator must notice and end (its `finally` runs).
        eventually(lambda: room(demo)["tickers"] == 0, "the ticker stopping")


@pytest.mark.parametrize(
    ("last_event_id", "first"), [("41", 42), ("0", 1), ("abc", 1), ("-3", 1), ("1e3", 1)]
)
def test_a_reconnecting_ticker_resumes_after_its_last_event_id(demo, last_event_id, first):
    headers = {"Last-Event-ID": last_event_id}
    with httpx.stream("GET", demo + "/ticker", headers=headers, timeout=TIMEOUT) as response:
        (event,) = read_events(response.iter_lines(), 1)
    assert event["id"] == str(first)
    assert json.loads(event["data"])["count"] == first
