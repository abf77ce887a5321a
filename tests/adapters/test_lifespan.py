"""Lifespans of mounted ASGI apps: forwarded by the ASGI face, run by the WSGI face."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import webtest
from drivers import framework_source, lifespan
from probes import probe

from pagesfn.routing import RouteKind


def starlette_app(name: str, *, fail: bool = False) -> str:
    """A Starlette app whose lifespan records its events and gives the requests its name."""
    return f"""
        import contextlib

        from probes import probe
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        events = probe("lifespan").events


        @contextlib.asynccontextmanager
        async def lifespan(app):
            events.append("{name} startup")
            if {fail!r}:
                raise RuntimeError("{name}: database down")
            yield {{"name": "{name}"}}
            events.append("{name} shutdown")


        async def show(request):
            keys = sorted(request.scope["state"])
            return JSONResponse({{"name": request.state.name, "keys": keys}})


        async def rename(request):
            request.state.name = "renamed by a request"
            return JSONResponse({{"name": request.state.name}})


        app = Starlette(routes=[Route("/", show), Route("/rename", rename)], lifespan=lifespan)
    """


QUART = """
    from probes import probe
    from quart import Quart

    events = probe("lifespan").events
    app = Quart(__name__)


    @app.before_serving
    async def startup():
        events.append("quart startup")


    @app.after_serving
    async def shutdown():
        events.append("quart shutdown")


    @app.get("/")
    async def index():
        return {"name": "quart"}
"""

NO_LIFESPAN = """
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return  # does not speak the lifespan protocol
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain asgi"})
"""

TREE = {
    "alpha/[[default]].py": starlette_app("alpha"),
    "beta/[[default]].py": starlette_app("beta"),
    "quart/[[default]].py": QUART,
    "plain/[[default]].py": NO_LIFESPAN,
    "django/[[default]].py": framework_source("django_asgi"),  # raises on lifespan scopes
    "flask/[[default]].py": framework_source("flask"),  # WSGI: no lifespan at all
}


def mount_order(app) -> list[str]:
    """The mounted apps' folders, in the order their lifespans start (the route table's)."""
    return [route.file.split("/")[0] for route in app.routes if route.kind is RouteKind.APP]


def expected_events(app, names: set[str]) -> tuple[list[str], list[str]]:
    order = [name for name in mount_order(app) if name in names]
    return [f"{n} startup" for n in order], [f"{n} shutdown" for n in reversed(order)]


def test_the_asgi_face_forwards_lifespan_to_each_mounted_app(pages):
    app = pages(TREE)
    events = probe("lifespan").events
    startups, shutdowns = expected_events(app, {"alpha", "beta", "quart"})

    async def scenario():
        async with lifespan(app) as reply:
            assert reply == {"type": "lifespan.startup.complete"}
            assert events == startups
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                # Each app sees its own state, and only its own.
                assert (await client.get("/alpha/")).json() == {"name": "alpha", "keys": ["name"]}
                assert (await client.get("/beta/")).json() == {"name": "beta", "keys": ["name"]}
                # A request changing its state does not change the next request's.
                assert (await client.get("/alpha/rename")).json()["name"] != "alpha"
                assert (await client.get("/alpha/")).json()["name"] == "alpha"
                # Apps without lifespan support were tolerated and serve requests.
                assert (await client.get("/quart/")).json() == {"name": "quart"}
                assert (await client.get("/plain/")).text == "plain asgi"
                assert (await client.get("/django/items/1")).json()["id"] == "1"
                assert (await client.get("/flask/items/1")).json()["id"] == "1"
            assert events == startups

    asyncio.run(scenario())
    assert events == startups + shutdowns


FAILING = {
    "a/[[default]].py": starlette_app("a"),
    "b/[[default]].py": starlette_app("b"),
    "c/[[default]].py": starlette_app("c", fail=True),
    "d/[[default]].py": starlette_app("d"),
}


def test_a_failed_startup_stops_the_started_apps_and_names_the_file(pages):
    app = pages(FAILING)
    events = probe("lifespan").events
    order = mount_order(app)
    failing = order.index("c")

    async def scenario():
        async with lifespan(app) as reply:
            return reply

    reply = asyncio.run(scenario())
    assert reply["type"] == "lifespan.startup.failed"
    assert "c/[[default]].py: lifespan startup failed" in reply["message"]
    assert "database down" in reply["message"]
    started = order[:failing]
    assert events == [
        *(f"{n} startup" for n in started),
        "c startup",
        *(f"{n} shutdown" for n in reversed(started)),
    ]


def test_the_wsgi_face_starts_each_lifespan_before_its_first_request(pages):
    app = pages(TREE)
    events = probe("lifespan").events
    client = webtest.TestApp(app.wsgi)
    assert events == []  # nothing runs at construction
    assert client.get("/beta/").json == {"name": "beta", "keys": ["name"]}
    assert events == ["beta startup"]
    assert client.get("/beta/").json["name"] == "beta"
    assert client.get("/alpha/rename").json["name"] != "alpha"
    assert client.get("/alpha/").json == {"name": "alpha", "keys": ["name"]}
    assert client.get("/quart/").json == {"name": "quart"}
    assert client.get("/plain/").text == "plain asgi"
    assert client.get("/django/items/1").json["id"] == "1"
    assert events == ["beta startup", "alpha startup", "quart startup"]  # once each
    app.close()
    assert events[3:] == ["quart shutdown", "alpha shutdown", "beta shutdown"]


def test_the_wsgi_face_answers_500_for_an_app_whose_startup_failed(pages, caplog):
    caplog.set_level(logging.ERROR)
    app = pages(FAILING)
    events = probe("lifespan").events
    client = webtest.TestApp(app.wsgi)
    assert client.get("/c/", expect_errors=True).status_int == 500
    assert client.get("/c/", expect_errors=True).status_int == 500
    assert events.count("c startup") == 1  # the failure is kept, not retried per request
    messages = [record.getMessage() for record in caplog.records]
    assert any("c/[[default]].py" in m for m in messages)
    assert client.get("/a/").json["name"] == "a"
    app.close()
    assert events == ["c startup", "a startup", "a shutdown"]


BACKGROUND = """
    import asyncio

    from fastapi import BackgroundTasks, FastAPI
    from probes import probe

    events = probe("background").events
    app = FastAPI()


    async def later():
        await asyncio.sleep(0.2)
        events.append("background task finished")


    @app.get("/")
    async def index(tasks: BackgroundTasks):
        tasks.add_task(later)
        return {"ok": True}
"""


def test_closing_the_app_lets_a_mounted_app_finish_work_after_its_response(pages):
    # A FastAPI background task runs after the response, on the WSGI face's background
    # loop; pages.close() waits for it instead of destroying it mid-way.
    app = pages({"api/[[default]].py": BACKGROUND})
    assert webtest.TestApp(app.wsgi).get("/api/").json == {"ok": True}
    assert probe("background").events == []
    app.close()
    assert probe("background").events == ["background task finished"]


@pytest.mark.parametrize("framework", ["fastapi", "starlette"])
def test_state_reaches_requests_on_both_faces(serve, framework):
    client = serve({f"{framework}/[[default]].py": framework_source(framework)})
    assert client.get(f"/{framework}/state").json() == {
        "state": f"hello from the {framework} lifespan"
    }
