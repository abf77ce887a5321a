"""Nothing leaks in production: no password from the origin's URL, no route file or
absolute path in a response when debug is off."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import uvicorn_serving
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from pagesfn import Pages
from pagesfn.errors import redact_url
from pagesfn.serving.server import OPTIONS_VARIABLE, app_from_environment


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:hunter2@origin.test:8080/", "http://admin:***@origin.test:8080/"),
        ("http://:hunter2@origin.test", "http://:***@origin.test"),
        ("redis://user:p%40ss@db:6379/0", "redis://user:***@db:6379/0"),
        ("http://origin.test/", "http://origin.test/"),
        ("http://user@origin.test/", "http://user@origin.test/"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_the_origin_password_is_in_no_response_or_log(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    origin = f"http://admin:hunter2@127.0.0.1:{dead_port()}"
    client = serve({"ok.py": "def on_request(c):\n    return 'ok'\n"}, origin=origin)
    with caplog.at_level(logging.DEBUG):
        result = client.get("/elsewhere")
    assert result.status == 502
    assert "hunter2" not in result.text and "admin:***@" in result.text
    assert "hunter2" not in caplog.text and "admin:***@" in caplog.text


BROKEN = {
    "a.py": "def on_request(c):\n    return 'a'\n",
    "a/index.py": "def on_request(c):\n    return 'also a'\n",
}


@pytest.mark.parametrize("mode", ["serve", "dev"])
def test_a_broken_tree_names_its_files_only_in_debug(
    tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """With hot reload a broken tree is answered until it is fixed: with the debug page
    under ``dev``, with a bare 500 under ``serve`` (debug off), which names no file."""
    project = tree({f"functions/{name}": source for name, source in BROKEN.items()}).parent
    options = {"project": str(project), "mode": mode, "config_file": None}
    monkeypatch.setenv(OPTIONS_VARIABLE, json.dumps({**options, "options": {"reload": True}}))
    with uvicorn_serving(app_from_environment()) as url:
        result = httpx.get(url + "/a")
    assert result.status_code == 500
    named = "a/index.py" in result.text or str(project) in result.text
    assert named is (mode == "dev"), result.text


def test_a_websocket_to_a_mounted_wsgi_app_names_no_file(
    pages: Callable[..., Pages], caplog: pytest.LogCaptureFixture
) -> None:
    flask = "from flask import Flask\n\napp = Flask(__name__)\n"
    app = pages({"flask/[[default]].py": flask})
    with (
        uvicorn_serving(app) as url,
        caplog.at_level(logging.WARNING, "pagesfn"),
        pytest.raises(InvalidStatus) as refused,
        connect(url.replace("http", "ws") + "/flask/ws", open_timeout=10),
    ):
        pass
    response = refused.value.response
    assert response.status_code == 403
    assert b".py" not in response.body and str(app.functions).encode() not in response.body
    assert "flask/[[default]].py" in caplog.text
