"""The context object handlers receive."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import webtest

TREE = {
    "ctx/[a]/[[rest]].py": """
        import os

        def on_request(context):
            context.data["seen"] = True
            return {
                "params": context.params,
                "data": context.data,
                "function_path": context.function_path,
                "uuid": context.uuid,
                "request_id": context.server.request_id,
                "region": context.server.region,
                "client_ip": context.client_ip,
                "geo": context.geo,
                "env_configured": context.env.get("GREETING"),
                "env_process": context.env.get("PAGESFN_TEST_PROCESS_VALUE"),
            }
    """,
    "eo.py": """
        def on_request(context):
            eo = context.request.eo
            return {
                "geo": eo.geo,
                "clientIp": eo.clientIp,
                "uuid": eo.uuid,
                "same": [eo.geo == context.geo, eo.clientIp == context.client_ip,
                         eo.uuid == context.uuid],
            }
    """,
    "_middleware.py": """
        async def on_request(context):
            # Middleware reads the same request.eo as the handler after it.
            response = await context.next()
            response.headers["X-Eo-Uuid"] = context.request.eo.uuid
            return response
    """,
    "args.py": """
        def on_request(context):
            request = context.request
            return {
                "args": request.args.getlist("tag"),
                "first": request.args.get("q"),
                "header": request.headers.get("X-Custom"),
                "cookie": request.cookies.get("session"),
                "path": request.path,
                "url": request.url,
                "method": request.method,
            }
    """,
    "later.py": """
        import asyncio, pathlib, time

        OUT = pathlib.Path(__file__).parent / "out"

        async def finish_async(name):
            await asyncio.sleep(0.05)
            (OUT / name).write_text("done")

        def finish_sync():
            time.sleep(0.05)
            (OUT / "sync").write_text("done")

        def on_request_get(context):
            OUT.mkdir(exist_ok=True)
            context.wait_until(finish_async("awaitable-from-sync"))
            context.wait_until(finish_sync)
            return "scheduled"

        async def on_request_post(context):
            OUT.mkdir(exist_ok=True)
            context.wait_until(finish_async("awaitable-from-async"))
            context.wait_until(lambda: (OUT / "lambda").write_text("done"))
            return "scheduled"
    """,
}


@pytest.fixture
def client(serve, monkeypatch):
    monkeypatch.setenv("PAGESFN_TEST_PROCESS_VALUE", "from-process")
    return serve(TREE, env={"GREETING": "hi"}, region="eu-test", geo_header="X-Geo")


def test_context_fields(client):
    body = client.get("/ctx/one/two/three").json()
    assert body["params"] == {"a": "one", "rest": ["two", "three"]}
    assert body["data"] == {"seen": True}
    assert body["function_path"] == "ctx/[a]/[[rest]].py"
    assert re.fullmatch(r"[0-9a-f]{32}", body["uuid"])
    assert body["request_id"] == body["uuid"]
    assert body["region"] == "eu-test"
    assert body["client_ip"] == "203.0.113.7"
    assert body["geo"] == {}
    assert body["env_configured"] == "hi"
    assert body["env_process"] == "from-process"


def test_uuids_are_fresh_per_request(client):
    assert client.get("/ctx/a").json()["uuid"] != client.get("/ctx/a").json()["uuid"]


def test_uuid_from_header(client):
    body = client.get("/ctx/a", headers={"eo-log-uuid": "abc-123"}).json()
    assert body["uuid"] == body["request_id"] == "abc-123"


def test_geo_from_trusted_header(client):
    geo = {"countryCodeAlpha2": "CN", "cityName": "Shenzhen"}
    assert client.get("/ctx/a", headers={"X-Geo": json.dumps(geo)}).json()["geo"] == geo
    assert client.get("/ctx/a", headers={"X-Geo": "not json"}).json()["geo"] == {}
    assert client.get("/ctx/a", headers={"X-Geo": "[1, 2]"}).json()["geo"] == {}


def test_client_ip_from_trusted_header(serve):
    client = serve(TREE, client_ip_header="X-Forwarded-For")
    body = client.get("/ctx/a", headers={"X-Forwarded-For": "198.51.100.1, 10.0.0.1"}).json()
    assert body["client_ip"] == "198.51.100.1"
    assert client.get("/ctx/a").json()["client_ip"] == "203.0.113.7"


def test_request_eo_is_edgeones_spelling_of_the_context(serve):
    client = serve(TREE, geo_header="X-Geo", client_ip_header="X-Forwarded-For")
    geo = {"countryCodeAlpha2": "CN", "cityName": "Shenzhen", "latitude": 22.5}
    headers = {
        "X-Geo": json.dumps(geo),
        "X-Forwarded-For": "198.51.100.1",
        "eo-log-uuid": "0123456789abcdef",
    }
    answer = client.get("/eo", headers=headers)
    assert answer.json() == {
        "geo": geo,
        "clientIp": "198.51.100.1",
        "uuid": "0123456789abcdef",
        "same": [True, True, True],
    }
    assert answer.header("X-Eo-Uuid") == "0123456789abcdef"
    # Without the trusted headers: no geo, the peer's address, a request id of pagesfn's.
    plain = client.get("/eo")
    assert plain.json()["geo"] == {} and plain.json()["clientIp"] == "203.0.113.7"
    assert plain.json()["uuid"] == plain.header("X-Eo-Uuid") and plain.json()["same"][2]


def test_geo_header_is_ignored_unless_configured(serve):
    client = serve(TREE)
    assert client.get("/ctx/a", headers={"X-Geo": '{"a": 1}'}).json()["geo"] == {}


def test_request_basics(client):
    body = client.get(
        "/args?tag=a&tag=b&q=caf%C3%A9",
        headers={"X-Custom": "yes", "Cookie": "session=s1; other=o"},
    ).json()
    assert body == {
        "args": ["a", "b"],
        "first": "café",
        "header": "yes",
        "cookie": "s1",
        "path": "/args",
        "url": "http://testserver/args?tag=a&tag=b&q=café",
        "method": "GET",
    }


def wait_for(path, names, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all((path / n).exists() for n in names):
            return True
        time.sleep(0.01)
    return False


def test_wait_until_runs_after_the_response(client):
    out = Path(client.app.functions) / "out"
    assert client.get("/later").text == "scheduled"
    assert client.request("POST", "/later").text == "scheduled"
    assert wait_for(out, ["awaitable-from-sync", "sync", "awaitable-from-async", "lambda"])


def test_close_finishes_wait_until_work(pages, tmp_path):
    app = pages(TREE)
    webtest.TestApp(app.wsgi).get("/later")
    app.close()
    out = tmp_path / "functions0" / "out"
    assert (out / "awaitable-from-sync").read_text() == "done"
    assert (out / "sync").read_text() == "done"
