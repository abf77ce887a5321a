"""The Flask demo the README runs: plain route files, and a Flask app mounted at /flask.

WebTest drives the WSGI face like a browser (forms, links, cookies); the other checks run
through pagesfn's own pytest plugin, as a project's tests do: the module's ``pages``
fixture gives the demo's app, and ``pages_client`` runs each test on both faces, the ASGI
one with its lifespan.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import webtest

DEMO = Path(__file__).parents[2] / "demo_flask" / "functions"


PUBLIC = DEMO.parent / "public"


@pytest.fixture
def pages(pages, request):
    """The demo's app (with the options a test gives by indirect parametrization), for
    the plugin's ``pages_client``."""
    return pages(DEMO, **getattr(request, "param", {}))


@pytest.fixture
def browser(pages) -> webtest.TestApp:
    """The demo's WSGI face in WebTest, which keeps cookies between requests."""
    return webtest.TestApp(pages.wsgi)


# -- both faces ------------------------------------------------------------------------


@pytest.mark.parametrize("pages", [{"eager": True}], indirect=True)
def test_demo_loads_eagerly_and_serves(pages_client):
    client = pages_client
    assert "pagesfn demo" in client.get("/").text
    assert client.get("/hello-pages/").text == "Hello from pagesfn!"
    assert client.get("/api/users/1024").json()["id"] == "1024"
    updated = client.put("/api/users/7", json={"name": "Ada"})
    assert updated.json() == {"id": "7", "updated": {"name": "Ada"}}
    first = client.get("/api/visit").json()["visitCount"]
    assert client.get("/api/visit").json()["visitCount"] == first + 1
    missing = client.get("/api/books/list")
    assert (missing.status_code, missing.json()["rest"]) == (404, ["books", "list"])


def test_index_links_to_the_flask_app(pages_client):
    page = pages_client.get("/").text
    for link in ('href="/flask/"', 'href="/flask/about/"', 'href="/flask/health"'):
        assert link in page


@pytest.mark.parametrize("path", ["/flask", "/flask/"])
def test_the_bare_prefix_reaches_the_apps_root(pages_client, path):
    response = pages_client.get(path)
    assert response.status_code == 200
    assert response.headers.get("Content-Type") == "text/html; charset=utf-8"
    # Links built by url_for carry the mount prefix.
    assert '<link rel="stylesheet" href="/flask/static/style.css">' in response.text
    assert 'action="/flask/notes"' in response.text
    assert 'href="/flask/about/"' in response.text


def test_flask_serves_its_static_files_under_the_prefix(pages_client):
    response = pages_client.get("/flask/static/style.css")
    assert response.status_code == 200
    assert response.headers.get("Content-Type") == "text/css; charset=utf-8"
    assert "/flask/static/style.css" in response.text  # the file's own comment


def test_health_file_beside_the_mount_is_answered_by_pagesfn(pages_client):
    response = pages_client.get("/flask/health")
    assert response.json() == {"status": "ok", "served_by": "flask/health.py"}


def test_post_redirect_get_with_flash_and_session(pages_client):
    client = pages_client
    posted = client.post("/flask/notes", data={"title": "Buy milk", "author": "Ada"})
    assert posted.status_code == 303
    assert posted.headers.get("Location") == "/flask/"

    # The redirect target shows the note, the flash message and the remembered author.
    page = client.get("/flask/").text
    assert "Note “Buy milk” added." in page
    assert '<a href="/flask/notes/1">Buy milk</a>' in page
    assert '<input name="author" value="Ada"' in page

    # A flash message is shown once; the session outlives it.
    again = client.get("/flask/").text
    assert "added." not in again
    assert '<input name="author" value="Ada"' in again


def test_invalid_note_is_not_stored(pages_client):
    client = pages_client
    response = client.post("/flask/notes", data={"title": "  ", "body": "text"})
    assert response.status_code == 400
    assert "A title is required." in response.text
    assert "The note was not saved" in response.text
    assert ">text</textarea>" in response.text  # what was typed is kept
    assert "No notes yet" in client.get("/flask/").text


def test_flask_redirects_and_errors_stay_under_the_prefix(pages_client):
    client = pages_client
    redirected = client.get("/flask/about")  # Flask adds the trailing slash of /about/
    assert redirected.status_code == 308
    assert redirected.headers.get("Location").endswith("/flask/about/")
    about = client.get("/flask/about/").text
    assert "<td><code>/flask</code></td>" in about  # request.script_root
    assert "<td><code>/about/</code></td>" in about  # request.path, relative to the mount
    assert client.get("/flask/notes/99").status_code == 404


# -- the WSGI face, clicked through like a browser ---------------------------------------


def test_browse_add_show_and_delete_a_note(browser):
    home = browser.get("/flask/")
    assert home.html.title.string == "Notes · Flask on pagesfn"

    form = home.forms["note-form"]
    form["title"] = "Water the plants"
    form["body"] = "The fern too."
    form["author"] = "Grace"
    posted = form.submit()
    assert posted.status_int == 303
    assert posted.headers["Location"] == "/flask/"

    listing = posted.follow()
    assert listing.html.select_one(".flash.success").text == "Note “Water the plants” added."
    assert listing.forms["note-form"]["author"].value == "Grace"  # from the session

    note = listing.click("Water the plants")
    assert note.request.path == "/flask/notes/1"
    assert "The fern too." in note
    assert "by Grace" in note

    deleted = note.forms[0].submit().follow()
    assert deleted.html.select_one(".flash.success").text == "Note “Water the plants” deleted."
    assert "No notes yet" in deleted


def test_every_link_on_the_notes_page_resolves(browser):
    home = browser.get("/flask/")
    for link in home.html.select("a[href], link[href]"):
        href = link["href"]
        assert href.startswith("/"), href
        response = browser.get(href).maybe_follow()
        assert response.status_int == 200, href


def test_form_validation_keeps_the_input(browser):
    form = browser.get("/flask/").forms["note-form"]
    form["title"] = "x" * 81
    rejected = form.submit(status=400)
    assert rejected.html.select_one(".flash.error") is not None
    assert "Use at most 80 characters." in rejected
    assert rejected.forms["note-form"]["title"].value == "x" * 81


# -- the pipeline around the tree --------------------------------------------------------


@pytest.mark.parametrize("pages", [{"public": PUBLIC}], indirect=True)
def test_static_files_and_the_404_page_come_from_public(pages_client):
    client = pages_client
    css = client.get("/css/site.css")
    assert (css.status_code, css.headers.get("Content-Type")) == (200, "text/css; charset=utf-8")
    assert css.content == (PUBLIC / "css" / "site.css").read_bytes()
    assert (
        client.get("/css/site.css", headers={"If-None-Match": css.headers.get("ETag")}).status_code
        == 304
    )
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "Nothing here" in missing.text


@pytest.mark.parametrize("pages", [{"public": PUBLIC}], indirect=True)
@pytest.mark.parametrize("path", ["/", "/flask/", "/robots.txt", "/no/such/page"])
def test_the_root_middleware_wraps_routes_the_mount_and_static_files(pages_client, path):
    response = pages_client.get(path, headers={"eo-log-uuid": "demo-1"})
    assert response.headers.get("X-Request-Id") == "demo-1"
    assert (response.headers.get("Server-Timing") or "").startswith("app;dur=")


def test_the_demo_app_module_serves_public():
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_flask_app", DEMO.parent / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        response = webtest.TestApp(module.wsgi).get("/robots.txt")
        assert "Disallow: /flask/" in response.text
    finally:
        module.app.close()
        module.app.loader.unload()
