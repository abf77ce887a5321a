"""Importing route modules: lazily, as a package, with helpers beside them."""

from __future__ import annotations

import sys

import pytest

TREE = {
    "_lib/__init__.py": "",
    "_lib/db.py": "NAME = 'db helper'\n",
    "_shared.py": "GREETING = 'hello from _shared'\n",
    "top.py": """
        from ._shared import GREETING
        from ._lib.db import NAME

        def on_request(context):
            return GREETING + " / " + NAME
    """,
    "api/[id]/deep.py": """
        from ..._shared import GREETING
        from ._near import NEAR

        def on_request(context):
            return GREETING + " / " + NEAR + " / " + context.params["id"]
    """,
    "api/[id]/_near.py": "NEAR = 'near helper'\n",
    "a/item.py": "def on_request(c):\n    return 'a/item'\n",
    "b/item.py": "def on_request(c):\n    return 'b/item'\n",
    "x-y.py": "def on_request(c):\n    return 'dash'\n",
    "x_y.py": "def on_request(c):\n    return 'underscore'\n",
    "counter.py": """
        IMPORTS = []
        IMPORTS.append(1)

        def on_request(context):
            return str(len(IMPORTS))
    """,
}


def loaded(app):
    return {name for name in sys.modules if name.startswith(app.loader.package + ".")}


def test_relative_imports_of_helpers(serve):
    client = serve(TREE)
    assert client.get("/top").text == "hello from _shared / db helper"
    assert client.get("/api/7/deep").text == "hello from _shared / near helper / 7"


def test_same_names_in_different_folders_stay_apart(serve):
    client = serve(TREE)
    assert client.get("/a/item").text == "a/item"
    assert client.get("/b/item").text == "b/item"
    assert client.get("/x-y").text == "dash"
    assert client.get("/x_y").text == "underscore"


def test_modules_are_imported_on_first_request_only(serve):
    client = serve(TREE)
    assert not any(name.endswith(".counter") for name in loaded(client.app))
    assert client.get("/counter").text == "1"
    assert any(name.endswith(".counter") for name in loaded(client.app))
    assert client.get("/counter").text == "1"


def test_two_apps_on_one_tree_do_not_share_modules(pages):
    first, second = pages(TREE), pages(TREE)
    assert first.loader.package != second.loader.package


def test_unload_forgets_every_module(pages):
    import webtest

    app = pages(TREE)
    webtest.TestApp(app.wsgi).get("/top")
    assert loaded(app)
    app.loader.unload()
    assert not loaded(app)
    assert app.loader.package not in sys.modules


@pytest.mark.parametrize("name", ["top", "counter"])
def test_modules_know_their_file(pages, name):
    import webtest

    app = pages(TREE)
    webtest.TestApp(app.wsgi).get("/" + name)
    module = next(sys.modules[n] for n in loaded(app) if n.endswith("." + name))
    assert module.__file__.endswith(f"/{name}.py")
