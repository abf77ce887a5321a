"""Apps that route on the path below their mount (Falcon's ASGI App, Sanic): recognised,
declarable, and handed the path they expect on both faces, URLs still under the prefix.
(Sanic mounted, on every server: test_sanic.py.)"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, unquote

import falcon.asgi
import pytest
from hypothesis import given
from hypothesis import strategies as st
from quart import Quart
from starlette.applications import Starlette

from pagesfn.adapters import PrefixStripped, as_asgi, detect
from pagesfn.adapters.detect import strips_prefix

FALCON_APP = """
import falcon
import drivers
import falcon.asgi
import httpx


class Where:
    async def on_get(self, req, resp, rest=""):
        resp.media = {"path": req.path, "root": req.root_path, "url": req.uri}


app = falcon.asgi.App()
app.add_route("/", Where())
app.add_route("/where/{rest}", Where())
"""

# The same app behind a plain ASGI middleware: nothing left to recognise it by.
WRAPPED = (
    FALCON_APP
    + """

class Middleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


app = Middleware(app)
"""
)


def test_falcon_asgi_apps_are_recognised():
    class Subclass(falcon.asgi.App):
        pass

    assert detect(falcon.asgi.App()).strip_prefix
    assert detect(Subclass()).strip_prefix
    for app in (Starlette(), Quart(__name__), falcon.App()):
        assert not strips_prefix(app)
    assert not detect(falcon.App()).strip_prefix  # a WSGI app's PATH_INFO is always relative


def test_the_declaration_decides():
    assert detect(as_asgi(falcon.asgi.App(), strip_prefix=False)).strip_prefix is False
    assert detect(as_asgi(Starlette(), strip_prefix=True)).strip_prefix is True
    assert detect(as_asgi(falcon.asgi.App())).strip_prefix is True  # not said: recognised


@pytest.mark.parametrize("folder", ["fw", "deep/fw", "café"])
def test_falcon_routes_under_its_prefix_on_both_faces(serve, folder):
    client = serve({f"{folder}/[[default]].py": FALCON_APP})
    for below in ("/where/x", "/where/caf%C3%A9", "/", ""):
        result = client.get(f"/{folder}{below}".replace("é", "%C3%A9"))
        assert result.status == 200, below
        seen = result.json()
        assert seen["root"] == f"/{folder}"
        assert seen["path"] == (below.replace("%C3%A9", "é") or "/")
        # Its URLs stay under the prefix (Falcon leaves them decoded).
        assert unquote(seen["url"]) == f"http://testserver/{folder}" + unquote(below or "/")


def test_an_app_it_cannot_see_is_declared(serve):
    hidden = serve({"fw/[[default]].py": WRAPPED})
    # Behind the middleware the app is not recognised: it gets the full path, as the
    # ASGI spec has it, and 404s what it does not know.
    assert hidden.get("/fw/where/x").status == 404
    declared = (
        WRAPPED + "\nfrom pagesfn.adapters import as_asgi\napp = as_asgi(app, strip_prefix=True)\n"
    )
    client = serve({"fw/[[default]].py": declared})
    result = client.get("/fw/where/x")
    assert result.status == 200
    assert result.json()["path"] == "/where/x"


def stripped(scope):
    """The scope an app wrapped in :class:`PrefixStripped` is called with."""
    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)

    asyncio.run(PrefixStripped(inner)(scope, None, None))
    return seen


def scope_for(kind, root_path, path, raw_path):
    return {"type": kind, "root_path": root_path, "path": path, "raw_path": raw_path}


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_the_prefix_comes_off_path_and_raw_path(kind):
    seen = stripped(scope_for(kind, "/café", "/café/a%2Fb/c", b"/caf%C3%A9/a%2Fb/c"))
    assert (seen["root_path"], seen["path"], seen["raw_path"]) == ("/café", "/a%2Fb/c", b"/a%2Fb/c")
    bare = stripped(scope_for(kind, "/x/y", "/x/y/", b"/x/y/"))
    assert (bare["path"], bare["raw_path"]) == ("/", b"/")


def test_what_is_not_under_the_prefix_is_left_alone():
    for scope in (
        scope_for("http", "", "/a", b"/a"),
        scope_for("http", "/fw", "/fwx/a", b"/fwx/a"),
        scope_for("lifespan", "/fw", "/fw/a", b"/fw/a"),
    ):
        assert stripped(scope) == scope


segment = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=6
)


@given(prefix=st.lists(segment, min_size=1, max_size=3), rest=st.lists(segment, max_size=3))
def test_stripping_agrees_on_path_and_raw_path(prefix, rest):
    root = "/" + "/".join(prefix)
    below = "/" + "/".join(rest)
    raw = (quote(root, safe="/") + quote(below, safe="/")).encode()
    full = root + (below if rest else "/")
    seen = stripped(scope_for("http", root, full, raw))
    assert seen["path"] == (below if rest else "/")
    assert unquote(seen["raw_path"].decode()) == seen["path"]
