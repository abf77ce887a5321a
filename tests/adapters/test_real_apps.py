"""Real apps, driven as their users drive them, mounted beside plain handlers: on both
faces in-process, and over the wire under uvicorn (the ASGI face) and gunicorn (the WSGI
face)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from clients import FaceClient, WireClient
from servers import serving_tree, write_tree
from test_matrix import HEALTH

APPS = Path(__file__).parent.parent / "fixtures" / "apps"


def tree(app: str, prefix: str) -> dict[str, str]:
    return {f"{prefix}/[[default]].py": (APPS / app).read_text(), "health.py": HEALTH}


@pytest.fixture(params=["in-process", "uvicorn-h11", "gunicorn"])
def served(
    request: pytest.FixtureRequest, serve: Callable[..., FaceClient], face: str, tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], FaceClient]]:
    """``served(tree)``: a client for the tree on the current face, in-process or under the
    real server of that face."""
    where = request.param
    if where != "in-process" and (where == "gunicorn") != (face == "wsgi"):
        pytest.skip(f"{where} serves the other face")

    def start(files: dict[str, str]) -> FaceClient:
        if where == "in-process":
            return serve(files)
        functions = write_tree(tmp_path / "functions", files)
        url = stack.enter_context(serving_tree(where, functions, tmp_path))
        return WireClient(url, face, stack)

    with ExitStack() as stack:
        yield start


def test_fastapi_docs_and_the_oauth2_password_flow(served) -> None:
    client = served(tree("fastapi_oauth.py", "api"))
    # The interactive docs load the schema from under the prefix...
    docs = client.get("/api/docs")
    assert docs.status == 200 and "url: '/api/openapi.json'" in docs.text
    redoc = client.get("/api/redoc")
    assert redoc.status == 200 and 'spec-url="/api/openapi.json"' in redoc.text
    schema = client.get("/api/openapi.json").json()
    assert {"/token", "/users/me", "/items/", "/items/{number}"} <= set(schema["paths"])
    # ... and "Authorize" posts to the token URL resolved against the docs page.
    flow = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
    token_url = urljoin("/api/docs", flow["tokenUrl"])
    assert token_url == "/api/token"
    # The password flow, as the docs page (or any client) runs it.
    refused = client.request("POST", token_url, data={"username": "ada", "password": "nope"})
    assert refused.status == 400
    assert client.get("/api/users/me").status == 401
    assert client.get("/api/users/me").header("WWW-Authenticate") == "Bearer"
    granted = client.request("POST", token_url, data={"username": "ada", "password": "analytical"})
    assert granted.status == 200 and granted.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    assert client.get("/api/users/me", headers=bearer).json() == {
        "username": "ada",
        "full_name": "Ada Lovelace",
    }
    made = client.request(
        "POST",
        "/api/items/",
        body='{"name": "Engine", "price": 9.5}',
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert made.status == 201
    assert client.get(f"/api/items/{made.json()['id']}").json() == {"name": "Engine", "price": 9.5}
    assert client.get("/api/items/999").status == 404
    assert client.get("/health").text == "healthy"


FLASKR = f"""
import sys

sys.path.insert(0, {str(APPS)!r})
from flaskr import create_app

app = create_app()
"""


def test_a_flask_blog_with_blueprints_sessions_flashes_templates_and_static_files(served):
    client = served({"blog/[[default]].py": FLASKR, "health.py": HEALTH})
    home = client.get("/blog/")
    assert home.status == 200
    # Every URL the templates build is under the prefix: the nav, the stylesheet.
    for link in ('href="/blog/auth/register"', 'href="/blog/auth/login"', "/blog/static/style.css"):
        assert link in home.text
    css = client.get("/blog/static/style.css")
    assert css.status == 200 and css.header("Content-Type").startswith("text/css")
    assert client.get("/blog").status == 200  # the bare prefix, without a redirect

    def form(path: str, **fields: str):
        return client.request("POST", path, data=fields or None)

    registered = form("/blog/auth/register", username="ada", password="engine")
    assert (registered.status, registered.header("Location")) == (302, "/blog/auth/login")
    again = form("/blog/auth/register", username="ada", password="engine")
    assert "User ada is already registered." in again.text  # a flashed message
    wrong = form("/blog/auth/login", username="ada", password="nope")
    assert "Incorrect username or password." in wrong.text
    logged_in = form("/blog/auth/login", username="ada", password="engine")
    assert (logged_in.status, logged_in.header("Location")) == (302, "/blog/")
    cookie = logged_in.header("Set-Cookie")
    assert cookie.startswith("flaskr_session=") and "Path=/" in cookie
    assert 'href="/blog/auth/logout"' in client.get("/blog/").text  # the session holds

    made = form("/blog/create", title="Notes", body="on the engine")
    assert (made.status, made.header("Location")) == (302, "/blog/")
    listed = client.get("/blog/").text
    assert "Notes" in listed and 'href="/blog/1/update"' in listed
    edited = form("/blog/1/update", title="Notes, revised", body="on the engine")
    assert edited.status == 302
    assert "Notes, revised" in client.get("/blog/").text
    assert form("/blog/1/delete").status == 302
    assert "Notes" not in client.get("/blog/").text
    assert client.get("/blog/1/update").status == 404

    assert client.get("/blog/auth/logout").header("Location") == "/blog/"
    assert client.get("/blog/create").header("Location") == "/blog/auth/login"
    assert client.get("/health").text == "healthy"


DJANGO_HANDLER = """
import os
import sys

sys.path.insert(0, {apps!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djadmin.settings")

from django.core.{kind} import get_{kind}_application

app = get_{kind}_application()
"""


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None, page[:500]
    return found.group(1)


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_djangos_admin_under_a_prefix(
    kind: str, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django's admin through its WSGI or ASGI handler, on the WSGI face (gunicorn) or the
    ASGI face (Granian): its pages, links, redirects and static files under ``/site``;
    log in, add a book, delete it. (Django is configured once per process, and this test
    process already has it configured for the matrix: each server has its own.)"""
    pytest.importorskip("whitenoise")
    database = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "djadmin.settings",
        "DJADMIN_DATABASE": str(database),
        "PYTHONPATH": str(APPS),
    }
    setup = APPS / "djadmin" / "setup_database.py"
    subprocess.run([sys.executable, str(setup)], env=env, check=True)
    monkeypatch.setenv("DJADMIN_DATABASE", str(database))
    monkeypatch.setenv("DJADMIN_PREFIX", "/site")
    functions = tmp_path / "functions"
    (functions / "site").mkdir(parents=True)
    handler = DJANGO_HANDLER.format(apps=str(APPS), kind=kind)
    (functions / "site" / "[[default]].py").write_text(handler)
    with (
        serving_tree(server, functions, tmp_path) as url,
        httpx.Client(base_url=url, timeout=10) as browser,
    ):
        # Not logged in: the admin sends the browser to its login page, under the prefix.
        first = browser.get("/site/admin/")
        assert first.status_code == 302
        assert first.headers["location"] == "/site/admin/login/?next=/site/admin/"
        login = browser.get("/site/admin/login/?next=/site/admin/")
        assert login.status_code == 200
        assert 'action="/site/admin/login/?next=/site/admin/"' in login.text
        # Its stylesheets are under the prefix, and served (WhiteNoise, inside the app).
        css = re.search(r'href="(/site/static/admin/css/[^"]+\.css)"', login.text)
        assert css is not None, re.findall(r"<link[^>]+>", login.text)
        sheet = browser.get(css.group(1))
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
        fields = {"username": "admin", "password": "engine-room", "next": "/site/admin/"}
        fields["csrfmiddlewaretoken"] = csrf_token(login.text)
        logged_in = browser.post("/site/admin/login/?next=/site/admin/", data=fields)
        assert (logged_in.status_code, logged_in.headers["location"]) == (302, "/site/admin/")
        session = [c for c in logged_in.headers.get_list("set-cookie") if "sessionid=" in c]
        assert session and "Path=/" in session[0]
        index = browser.get("/site/admin/")
        assert 'href="/site/admin/shelf/book/"' in index.text
        # Add a book, see it listed, delete it.
        add = browser.get("/site/admin/shelf/book/add/")
        added = browser.post(
            "/site/admin/shelf/book/add/",
            data={
                "title": "Sketch of the Analytical Engine",
                "_save": "Save",
                "csrfmiddlewaretoken": csrf_token(add.text),
            },
        )
        assert (added.status_code, added.headers["location"]) == (302, "/site/admin/shelf/book/")
        listed = browser.get("/site/admin/shelf/book/")
        assert "Sketch of the Analytical Engine" in listed.text
        link = re.search(r'href="(/site/admin/shelf/book/(\d+)/change/)"', listed.text)
        assert link is not None
        confirm = browser.get(f"/site/admin/shelf/book/{link.group(2)}/delete/")
        deleted = browser.post(
            f"/site/admin/shelf/book/{link.group(2)}/delete/",
            data={"post": "yes", "csrfmiddlewaretoken": csrf_token(confirm.text)},
        )
        changelist = "/site/admin/shelf/book/"
        assert (deleted.status_code, deleted.headers["location"]) == (302, changelist)
        after = browser.get(changelist).text
        assert "“Sketch of the Analytical Engine” was deleted successfully" in after
        assert link.group(1) not in after
