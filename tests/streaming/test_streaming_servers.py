"""Streamed bodies over real servers: uvicorn serving the ASGI face, werkzeug's threaded
server the WSGI face, and httpx reading the response as it arrives."""

from __future__ import annotations

import logging

import httpx
import pytest
from stream_trees import HANDLERS, SERVERS, read_at_least

KINDS = ["sync", "async"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("server", SERVERS)
def test_chunks_arrive_as_they_are_produced(real_server, probes, server, kind):
    url = real_server(server, HANDLERS)
    with (
        httpx.Client(base_url=url, timeout=5) as client,
        client.stream("GET", f"/{kind}_gen") as response,
    ):
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        chunks = response.iter_raw()
        # The generator is blocked before its second chunk until the first has arrived.
        assert read_at_least(chunks, 6) == b"first;"
        probes.fire("release")
        assert b"".join(chunks) == b"second;last"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("server", SERVERS)
def test_the_client_closing_mid_stream_runs_the_generators_finally(
    real_server, probes, server, kind
):
    url = real_server(server, HANDLERS)
    with httpx.Client(base_url=url, timeout=5) as client:
        with client.stream("GET", f"/{kind}_endless") as response:
            assert read_at_least(response.iter_raw(), 6) == b"first;"
        # Closed with the body unread: httpx drops the connection.
        probes.fire("release")
        assert probes.wait("closed", 5), "the generator was not closed"
    assert "ran to the end" not in probes.notes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("server", SERVERS)
def test_a_generator_that_raises_cuts_the_response_short_and_is_logged(
    real_server, caplog, server, kind
):
    url = real_server(server, HANDLERS)
    with (
        caplog.at_level(logging.ERROR, logger="pagesfn"),
        httpx.Client(base_url=url, timeout=5) as client,
        client.stream("GET", f"/{kind}_boom") as response,
    ):
        assert response.status_code == 200
        # The server closes the connection without ending the chunked body.
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any(f"GET /{kind}_boom" in m and "cut short" in m for m in messages), messages


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("server", SERVERS)
def test_a_generator_reads_the_request_body_once_the_response_has_started(
    real_server, server, kind
):
    url = real_server(server, HANDLERS)
    with httpx.Client(base_url=url, timeout=5) as client:
        assert client.post(f"/{kind}_echo", content=b"x" * 100_000).content == (
            b"got:" + b"x" * 100_000
        )
