"""A real headless Chromium for the browser tests, and a relay whose connections a test
can cut, as a dropped network would.

The browser is Debian's ``chromium`` package (``apt-get install chromium``), driven by
Playwright's Python package; Playwright's own browser downloads are not used. Without
either, the tests are skipped and say why; under CI (``CI`` set) they fail instead,
since ``.ci/run`` installs both.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so CI must run the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), one per test module."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: the browser tests need `apt-get install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the `playwright` package is missing: `pip install -e '.[test]'` installs it")
    args = ["--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run sandboxed as root
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=args, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


class Relay:
    """A TCP relay on a loopback port in front of ``target``; :meth:`cut` drops every
    connection through it at once, and new ones are relayed again right away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        # accept() polls, as closing a socket does not wake a thread blocked on it.
        self._listener.settimeout(0.05)
        self._closing = threading.Event()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        with self._listener:
            while not self._closing.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            client.close()
            return
        client.settimeout(None)
        upstream.settimeout(None)
        pair = (client, upstream)
        with self._lock:
            self._pairs.add(pair)
        # The pair is closed once both directions have ended.
        done = threading.Barrier(2, action=lambda: self._drop(pair))
        self._start(self._pump, client, upstream, done)
        self._start(self._pump, upstream, client, done)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, done: threading.Barrier) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)  # pass the end of the stream on
        with contextlib.suppress(threading.BrokenBarrierError):
            done.wait(timeout=30)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for sock in pair:
            sock.close()

    def cut(self) -> None:
        """Drop every open connection, both ways, as a network failure would."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the pumps; they close the pair

    def close(self) -> None:
        self._closing.set()
        self._threads[0].join(timeout=5)  # the accept loop: no new connections after this
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        for pair in pairs:
            for sock in pair:
                sock.close()


@pytest.fixture
def relay() -> Iterator[Any]:
    """``relay(url)`` puts a :class:`Relay` in front of the server at ``url``."""
    relays: list[Relay] = []

    def make(url: str) -> Relay:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        relays.append(Relay((host, int(port))))
        return relays[-1]

    yield make
    for each in relays:
        each.close()
