"""The realtime demo in a real headless Chromium: two pages chat over the WebSocket, the
ticker advances over Server-Sent Events, and both come back after the network drops.

The demo is served by uvicorn as ``pagesfn dev demo_realtime`` configures it; the pages
reach it through a relay (see ``conftest.py``) so a test can cut their connections.
``tests/test_demo_realtime.py`` checks the same functions without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pagesfn.serving.config import load_config

DEMO = Path(__file__).parents[2] / "demo_realtime"
WAIT = 10_000  # milliseconds: the bound on every wait for the page

# Records every number the ticker shows from now on, in order; returns the one shown now
# (read in the same turn of the page's event loop, so no tick falls in between).
WATCH_TICKER = """() => {
    const count = document.getElementById("tick-count");
    window.seenTicks = [];
    new MutationObserver(() => window.seenTicks.push(Number(count.textContent)))
        .observe(count, {childList: true, characterData: true, subtree: true});
    return Number(count.textContent);
}"""


@pytest.fixture
def demo(chromium, pages, uvicorn_server, relay) -> Iterator[Any]:
    """The demo served by uvicorn behind a relay; the relay (``.url``, ``.cut()``)."""
    options = load_config(DEMO).pages_options()
    app = pages(options.pop("functions"), **options)
    with uvicorn_server(app) as url:
        yield relay(url)


@pytest.fixture
def open_page(chromium, demo) -> Iterator[Callable[[str], Any]]:
    """``open_page(name)``: the demo in a fresh browser context (its own storage), with
    ``name`` typed into the name field once the chat is connected."""
    from playwright.sync_api import expect

    contexts: list[Any] = []
    errors: list[str] = []

    def open_(name: str) -> Any:
        context = chromium.new_context()
        context.set_default_timeout(WAIT)
        contexts.append(context)
        page = context.new_page()
        # Uncaught exceptions in app.js (console errors are not: a dropped connection
        # logs some, on purpose here).
        page.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        page.goto(demo.url + "/")
        expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=WAIT)
        page.fill("#name", name)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"the page reported errors: {errors}"


def send(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")


def message(page: Any, text: str) -> Any:
    return page.locator("#messages .message", has_text=text)


def tick(page: Any) -> int:
    return int(page.text_content("#tick-count"))


def test_two_pages_chat(open_page):
    from playwright.sync_api import expect

    ann = open_page("Ann")
    bob = open_page("Bob")
    expect(ann.locator("#status")).to_have_text("connected · 2 online", timeout=WAIT)
    expect(ann.locator("#messages .notice", has_text="joined")).to_have_count(2, timeout=WAIT)

    send(ann, "Hello from Ann")
    on_bob = message(bob, "Hello from Ann")
    expect(on_bob).to_have_count(1, timeout=WAIT)
    expect(on_bob.locator(".who")).to_have_text("Ann")
    expect(on_bob.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-.*Z$"))
    expect(message(ann, "Hello from Ann")).to_have_class(re.compile(r"\bmine\b"), timeout=WAIT)
    expect(ann.locator("#text")).to_have_value("")  # the form was cleared

    send(bob, "Hi Ann, Bob here")
    on_ann = message(ann, "Hi Ann, Bob here")
    expect(on_ann).to_have_count(1, timeout=WAIT)
    expect(on_ann.locator(".who")).to_have_text("Bob")
    # Text is shown as text, never as markup.
    send(bob, "<b>bold?</b>")
    expect(message(ann, "<b>bold?</b>").locator(".text")).to_have_text("<b>bold?</b>")
    expect(ann.locator("#messages b")).to_have_count(0)

    bob.close()
    expect(ann.locator("#messages .notice", has_text="Bob left")).to_have_count(1, timeout=WAIT)
    expect(ann.locator("#status")).to_have_text("connected · 1 online", timeout=WAIT)


def test_the_ticker_advances(open_page):
    from playwright.sync_api import expect

    page = open_page("Ann")
    expect(page.locator("#ticker-status")).to_have_text("live", timeout=WAIT)
    expect(page.locator("#tick-count")).to_have_text(re.compile(r"^\d+$"), timeout=WAIT)
    expect(page.locator("#tick-time")).to_have_attribute("datetime", re.compile(r"Z$"))
    first = tick(page)
    # One tick every 0.5 s: three more take about 1.5 s.
    page.wait_for_function(
        "n => Number(document.getElementById('tick-count').textContent) >= n",
        arg=first + 3,
        timeout=WAIT,
    )


def test_both_come_back_after_the_network_drops(open_page, demo):
    from playwright.sync_api import expect

    page = open_page("Ann")
    send(page, "before the drop")
    expect(message(page, "before the drop")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#tick-count")).to_have_text(re.compile(r"^\d+$"), timeout=WAIT)
    before = page.evaluate(WATCH_TICKER)

    with page.expect_websocket(timeout=WAIT):  # the page opens a new one, after a backoff
        demo.cut()
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=WAIT)
    # The room's history comes back with the new connection, and the chat works again.
    expect(message(page, "before the drop")).to_have_count(1, timeout=WAIT)
    send(page, "after the drop")
    expect(message(page, "after the drop")).to_have_count(1, timeout=WAIT)

    # EventSource reconnects by itself with Last-Event-ID: the count goes on, no gaps,
    # no restart from 1.
    page.wait_for_function(
        "n => window.seenTicks.length && window.seenTicks.at(-1) >= n", arg=before + 4, timeout=WAIT
    )
    seen = page.evaluate("window.seenTicks")
    assert seen == list(range(before + 1, before + 1 + len(seen))), seen
