"""``_worker.py`` (advanced mode): fetch listeners answer every request; what they leave
unanswered goes on to the static assets and the origin."""

from __future__ import annotations

import logging
import time

import pytest

from pagesfn import RouteWarning
from pagesfn.engine.worker import add_event_listener

WORKER = """
    import asyncio

    from pagesfn import Response
    from pagesfn import add_event_listener


    def first(event):
        path = event.request.path
        event.context.data["seen_by"] = ["first"]
        if path.startswith("/assets/") or path in ("/async", "/later", "/broken"):
            return  # not answered here
        if path == "/coroutine":

            async def build():
                await asyncio.sleep(0)
                return Response("from a coroutine", 202)

            event.respond_with(build())
            return
        if path == "/wait":

            async def work():
                await asyncio.sleep(0.05)
                with open(event.context.env["MARK"], "w") as mark:
                    mark.write("done " + event.client_id)

            event.wait_until(work())
            event.respond_with(Response("waiting"))
            return
        event.respond_with(
            Response(
                f"worker {event.request.method} {path} {event.request.query_string.decode()}",
                headers={"X-Worker": "first"},
            )
        )


    async def second(event):
        event.context.data["seen_by"].append("second")
        path = event.request.path
        if path == "/async":
            await asyncio.sleep(0)
            event.respond_with({"listener": "second", "seen_by": event.context.data["seen_by"]})
        elif path == "/broken":
            event.pass_through_on_exception()
            raise RuntimeError("the worker broke")


    add_event_listener("fetch", first)
    add_event_listener("fetch", second)
"""

FILES = {"assets/app.js": "console.log(1)", "404.html": "static 404", "broken": "static broken"}


@pytest.fixture
def client(serve, public, tmp_path):
    mark = tmp_path / "mark.txt"
    client = serve({"_worker.py": WORKER}, public=str(public(FILES)), env={"MARK": str(mark)})
    client.mark = mark
    return client


def test_a_listener_answers_every_path_and_method(client):
    for method, path in [("GET", "/"), ("POST", "/x/y"), ("DELETE", "/anything/at/all")]:
        result = client.request(method, path + "?q=1")
        assert result.status == 200
        assert result.text == f"worker {method} {path} q=1"
        assert result.header("x-worker") == "first"


def test_unanswered_requests_go_to_the_static_assets(client):
    result = client.get("/assets/app.js")
    assert (result.status, result.text) == (200, "console.log(1)")
    assert result.header("x-worker") is None
    missing = client.get("/assets/missing.js")
    assert (missing.status, missing.text) == (404, "static 404")


def test_an_async_listener_answers_after_a_sync_one_passed(client):
    result = client.get("/async")
    assert result.status == 200
    assert result.json() == {"listener": "second", "seen_by": ["first", "second"]}


def test_respond_with_a_coroutine(client):
    result = client.get("/coroutine")
    assert (result.status, result.text) == (202, "from a coroutine")


def test_no_listener_answering_and_no_file_is_the_404_page(client):
    result = client.get("/later")
    assert (result.status, result.text) == (404, "static 404")


def test_pass_through_on_exception_answers_from_static(client, caplog):
    caplog.set_level(logging.ERROR, logger="pagesfn")
    result = client.get("/broken")
    assert (result.status, result.text) == (200, "static broken")
    logged = [r for r in caplog.records if r.name == "pagesfn" and r.exc_info]
    assert [str(r.exc_info[1]) for r in logged] == ["the worker broke"]


def test_wait_until_work_finishes_after_the_response(client):
    result = client.get("/wait", headers={"eo-log-uuid": "req-77"})
    assert (result.status, result.text) == (200, "waiting")
    deadline = time.monotonic() + 5
    while not client.mark.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.mark.read_text() == "done req-77"


def test_a_listener_error_without_pass_through_is_a_500(serve, caplog):
    worker = """
        from pagesfn import add_event_listener


        def fail(event):
            raise LookupError("listener failure")


        add_event_listener("fetch", fail)
    """
    caplog.set_level(logging.ERROR, logger="pagesfn")
    client = serve({"_worker.py": worker})
    result = client.get("/x")
    assert (result.status, result.text) == (500, "Internal Server Error")
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("_worker.py" in m and "LookupError" in m for m in messages), messages


def test_unanswered_requests_reach_the_origin(serve, public, long_lived_server):
    async def origin(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"origin " + scope["raw_path"]})

    url = long_lived_server(origin)
    client = serve({"_worker.py": WORKER}, public=str(public(FILES)), origin=url)
    assert client.get("/later").text == "origin /later"
    assert client.get("/assets/app.js").text == "console.log(1)"
    assert client.get("/hello").text == "worker GET /hello "


def test_paths_excluded_by_routes_json_never_reach_the_worker(serve, public):
    rules = '{"version": 1, "include": ["/*"], "exclude": ["/hello/*"]}'
    files = {"_routes.json": rules, "hello/there.txt": "a file", "404.html": "static 404"}
    client = serve({"_worker.py": WORKER}, public=str(public(files)))
    assert client.get("/hello/there.txt").text == "a file"
    missing = client.get("/hello/missing")
    assert (missing.status, missing.text) == (404, "static 404")
    assert client.get("/elsewhere").text == "worker GET /elsewhere "


def test_routes_beside_the_worker_are_not_routed_and_warned_about(serve):
    tree = {
        "_worker.py": WORKER,
        "hello.py": "def on_request(context):\n    return 'route'\n",
        "_middleware.py": "def on_request(context):\n    return 'middleware'\n",
    }
    with pytest.warns(RouteWarning, match=r"_worker\.py answers every request") as warned:
        client = serve(tree)
    message = str(warned[0].message)
    assert "`hello.py`" in message
    assert "`_middleware.py`" in message
    result = client.get("/hello")
    assert (result.status, result.text) == (200, "worker GET /hello ")


def test_a_worker_in_a_subfolder_is_not_used_and_warned_about(serve):
    tree = {
        "sub/_worker.py": WORKER,
        "hello.py": "def on_request(context):\n    return 'route'\n",
    }
    with pytest.warns(RouteWarning, match=r"sub/_worker\.py: `_worker\.py` only takes effect"):
        client = serve(tree)
    assert client.get("/hello").text == "route"
    assert client.get("/sub/anything").status == 404


def test_a_worker_registering_nothing_is_a_500_naming_it(serve, caplog):
    caplog.set_level(logging.ERROR, logger="pagesfn")
    client = serve({"_worker.py": "from pagesfn import add_event_listener\n"})
    for path in ("/", "/x"):
        result = client.get(path)
        assert (result.status, result.text) == (500, "Internal Server Error")
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("_worker.py" in m and "registers no fetch listener" in m for m in messages), messages


def test_a_worker_that_fails_to_import_is_a_500_naming_it(serve, caplog):
    caplog.set_level(logging.ERROR, logger="pagesfn")
    client = serve({"_worker.py": "raise ImportError('no such dependency')\n"})
    assert client.get("/").status == 500
    messages = [r.getMessage() for r in caplog.records if r.name == "pagesfn"]
    assert any("_worker.py" in m and "no such dependency" in m for m in messages), messages


def test_add_event_listener_outside_the_worker_raises():
    with pytest.raises(RuntimeError, match=r"_worker\.py"):
        add_event_listener("fetch", lambda event: None)


def test_add_event_listener_from_a_route_module_fails_that_route(serve, caplog):
    tree = {
        "route.py": """
            from pagesfn import add_event_listener

            add_event_listener("fetch", print)


            def on_request(context):
                return "never"
        """,
        "other.py": "def on_request(context):\n    return 'other'\n",
    }
    caplog.set_level(logging.ERROR, logger="pagesfn")
    client = serve(tree)
    assert client.get("/route").status == 500
    assert any("RuntimeError" in r.getMessage() for r in caplog.records if r.name == "pagesfn")
    assert client.get("/other").text == "other"


def test_only_fetch_events_exist():
    with pytest.raises(ValueError, match="only 'fetch' events"):
        add_event_listener("scheduled", lambda event: None)


def test_respond_with_twice_or_none_is_an_error(serve, caplog):
    worker = """
        from pagesfn import Response
        from pagesfn import add_event_listener


        def listener(event):
            if event.request.path == "/none":
                try:
                    event.respond_with(None)
                except TypeError as exc:
                    event.respond_with(Response("TypeError: " + str(exc)))
                return
            event.respond_with(Response("first"))
            try:
                event.respond_with(Response("second"))
            except RuntimeError as exc:
                event.context.data["error"] = str(exc)


        def after(event):
            raise AssertionError("never reached: the first listener responded")


        add_event_listener("fetch", listener)
        add_event_listener("fetch", after)
    """
    client = serve({"_worker.py": worker})
    assert client.get("/twice").text == "first"
    assert client.get("/none").text == "TypeError: respond_with() takes a response, not None"
