"""Handlers that raise, modules that fail to import, broken files: 500s that say why."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import pagesfn
from pagesfn import LoadError, Pages

TREE = {
    "ok.py": "def on_request(context):\n    return 'ok'\n",
    "boom.py": """
        def on_request(context):
            raise ValueError("kaboom detail")
    """,
    "aboom.py": """
        async def on_request(context):
            raise KeyError("async kaboom")
    """,
    "badimport.py": """
        import a_module_that_does_not_exist

        def on_request(context):
            return "never"
    """,
    "raises_at_import.py": """
        X = 1
        raise RuntimeError("import-time failure")

        def on_request(context):
            return "never"
    """,
    "syntax.py": """
        def on_request(context)
            return "never"
    """,
    "notcallable.py": """
        on_request = "a string"
    """,
    "conditional.py": """
        if False:
            def on_request_get(context):
                return "never"
    """,
    "exits.py": """
        import sys
        sys.exit(3)

        def on_request(context):
            return "never"
    """,
}


@pytest.fixture
def client(serve):
    return serve(TREE)


@pytest.fixture
def debug_client(serve):
    return serve(TREE, debug=True)


@pytest.mark.parametrize("path", ["/boom", "/aboom"])
def test_raising_handler_is_500_without_traceback(client, caplog, path):
    result = client.get(path)
    assert result.status == 500
    assert result.text == "Internal Server Error"
    assert "kaboom" not in result.text
    records = [r for r in caplog.records if r.name == "pagesfn" and r.levelno == logging.ERROR]
    assert records and records[-1].exc_info is not None
    message = records[-1].getMessage()
    assert path.lstrip("/") + ".py" in message and "request " in message


def test_log_carries_the_request_id(client, caplog):
    client.get("/boom", headers={"eo-log-uuid": "req-42"})
    assert any("req-42" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("path", "text"), [("/boom", "kaboom detail"), ("/aboom", "async kaboom")])
def test_debug_shows_the_traceback(debug_client, path, text):
    result = debug_client.get(path)
    assert result.status == 500
    assert "Traceback" in result.text and text in result.text


def test_one_crash_does_not_affect_other_routes(client):
    for _ in range(3):
        assert client.get("/boom").status == 500
        assert client.get("/ok").text == "ok"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/badimport", "ModuleNotFoundError"),
        ("/raises_at_import", "import-time failure"),
        ("/syntax", "syntax error at line 1"),
        ("/notcallable", "not a function"),
        ("/conditional", "not in the module after import"),
        ("/exits", "SystemExit"),
    ],
)
def test_broken_modules_answer_500_with_the_error_in_debug(
    client, debug_client, caplog, path, says
):
    plain = client.get(path)
    assert (plain.status, plain.text) == (500, "Internal Server Error")
    assert any(says in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]
    shown = debug_client.get(path)
    assert shown.status == 500
    assert path.lstrip("/") + ".py" in shown.text and says in shown.text
    assert client.get("/ok").text == "ok"


def test_import_error_names_the_line(debug_client):
    assert "(line 2)" in debug_client.get("/raises_at_import").text


def test_an_error_in_a_mounted_apps_own_package_names_its_file_and_line(serve, tmp_path):
    """The route file's import line, and where the error is: a module of the project's
    (here outside the tree: its absolute path), never a library's frame."""
    package = tmp_path / "outside" / "shopapp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .users import app\n")
    (package / "users.py").write_text("import json\n\napp = json.loads('{')\n")
    (package.parent / "broken_module.py").write_text("def f(:\n")
    debug = serve(
        {
            "shop/[[default]].py": f"""
                import sys
                sys.path.insert(0, {str(package.parent)!r})
                from shopapp import app
            """,
            "syntax/[[default]].py": f"""
                import sys
                sys.path.insert(0, {str(package.parent)!r})
                from broken_module import f as app
            """,
        },
        debug=True,
    )
    shop = debug.get("/shop/").text
    # json.loads raised inside the standard library; the project's frame is users.py's.
    assert f"(line 3, at {package / 'users.py'}, line 3)" in shop
    assert "JSONDecodeError" in shop
    broken = package.parent / "broken_module.py"
    assert f"(line 3, at {broken}, line 1)" in debug.get("/syntax/").text
    # The page shows the source around that line, for a browser and for an API client.
    page = debug.get("/shop/", headers={"Accept": "text/html"}).text
    assert f"<code>{package / 'users.py'}</code>, line 3" in page
    assert '<span class="at">app = json.loads(&#x27;{&#x27;)' in page
    source = debug.get("/shop/", headers={"Accept": "application/json"}).json()["source"]
    assert (source["file"], source["line"]) == (str(package / "users.py"), 3)
    assert source["excerpt"] == ["import json", "", "app = json.loads('{')"]
    syntax = debug.get("/syntax/", headers={"Accept": "application/json"}).json()["source"]
    assert (syntax["file"], syntax["line"], syntax["excerpt"]) == (str(broken), 1, ["def f(:"])


def test_debug_tracebacks_fold_pagesfns_own_frames(debug_client):
    pagesfn_folder = str(Path(pagesfn.__file__).parent)
    api = debug_client.get("/boom", headers={"Accept": "application/json"}).json()
    lines = api["traceback"]
    assert not any(pagesfn_folder in line for line in lines)
    folded = [line for line in lines if "of pagesfn folded]" in line]
    assert folded and all(line.startswith("  [") for line in folded)
    # The handler's own frame stays, and the page points at its line.
    assert any('boom.py", line' in line for line in lines)
    assert api["source"]["file"].endswith("boom.py")
    page = debug_client.get("/boom", headers={"Accept": "text/html"}).text
    # In a browser the folded frames are one click away.
    assert "<details><summary>[" in page and pagesfn_folder in page


def test_eager_reports_every_broken_module(pages):
    with pytest.raises(LoadError) as info:
        pages(TREE, eager=True)
    files = sorted(error.file for error in info.value.errors)
    assert files == [
        "badimport.py",
        "conditional.py",
        "exits.py",
        "notcallable.py",
        "raises_at_import.py",
        "syntax.py",
    ]
    assert info.value.code == "load"


def test_eager_imports_everything_up_front(pages):
    app = pages(
        {"a.py": "def on_request(c):\n    return 'a'\n", "b/[x].py": "def on_request(c): ..."},
        eager=True,
    )
    assert len(app.loader._endpoints) == 2


def test_load_all_lists_failures_without_raising(pages):
    app = pages(TREE)
    assert {e.file for e in app.load_all()} >= {"badimport.py", "syntax.py"}


def test_pages_is_exported_as_an_asgi_callable():
    import inspect

    assert inspect.iscoroutinefunction(Pages.__call__)


def test_files_without_handlers_warn_at_load(tmp_path):
    from pagesfn import RouteWarning

    (tmp_path / "index.py").write_text("def on_request(c):\n    return 'ok'\n")
    (tmp_path / "helpers.py").write_text("def helper():\n    return 1\n")
    with pytest.warns(RouteWarning, match=r"helpers\.py: exports no handler"):
        app = Pages(tmp_path)
    try:
        assert [route.file for route in app.routes] == ["index.py"]
    finally:
        app.close()


BROKEN_MIDDLEWARE = {
    "index.py": "def on_request(c):\n    return 'ok'\n",
    "api/x.py": "def on_request(c):\n    return 'x'\n",
    "api/_middleware.py": "on_request = []\n",
    "b/_middleware.py": "on_request = [print, 3]\n",
    "c/_middleware.py": "import missing_module_xyz\ndef on_request(c):\n    return c.next()\n",
}


def test_eager_reports_broken_middleware_with_the_fix(pages):
    with pytest.raises(LoadError) as info:
        pages(BROKEN_MIDDLEWARE, eager=True)
    messages = {error.file: str(error) for error in info.value.errors}
    assert set(messages) == {"api/_middleware.py", "b/_middleware.py", "c/_middleware.py"}
    assert (
        "`on_request` is an empty list; list at least one handler" in messages["api/_middleware.py"]
    )
    assert "`on_request[1]` is an int, not a function" in messages["b/_middleware.py"]
    assert "ModuleNotFoundError" in messages["c/_middleware.py"]


def test_broken_middleware_answers_500_under_its_folder_only(serve):
    client = serve(BROKEN_MIDDLEWARE)
    assert client.get("/").text == "ok"
    assert client.get("/api/x").status == 500
    assert client.get("/c/anything").status == 500


def test_a_worker_without_listeners_names_the_call_to_add(pages):
    with pytest.raises(LoadError) as info:
        pages({"_worker.py": "x = 1\n"}, eager=True)
    (error,) = info.value.errors
    assert error.file == "_worker.py"
    assert 'add_event_listener("fetch", handler)' in str(error)


def test_debug_tracebacks_are_html_for_browsers_and_json_for_the_rest(debug_client):
    browser = debug_client.get("/boom", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status == 500
    assert browser.header("Content-Type") == "text/html; charset=utf-8"
    assert "<pre>Traceback" in browser.text and "kaboom detail" in browser.text
    api = debug_client.get("/boom", headers={"Accept": "application/json"})
    assert api.header("Content-Type") == "application/json"
    error = api.json()
    assert error["exception"] == "ValueError"
    assert error["detail"].startswith("boom.py: `on_request` ValueError: kaboom detail")
    assert error["traceback"][0].startswith("Traceback")


def test_a_debug_404_lists_the_routes(debug_client, client):
    api = debug_client.get("/no/such/route")
    assert api.status == 404
    listed = api.json()
    assert listed["path"] == "/no/such/route"
    ok = next(route for route in listed["routes"] if route["file"] == "ok.py")
    assert ok["pattern"] == "/ok" and "GET" in ok["methods"]
    page = debug_client.get("/no/such/route", headers={"Accept": "text/html"})
    assert "No route answers <code>GET /no/such/route</code>" in page.text
    assert "<code>/ok</code>" in page.text
    assert client.get("/no/such/route").text == "Not Found"  # never outside debug mode
