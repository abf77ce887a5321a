"""Telling WSGI apps from ASGI apps, the override, and the load errors naming the file."""

from __future__ import annotations

import asyncio

import a2wsgi
import django_site
import pytest
from asgiref.wsgi import WsgiToAsgi
from fastapi import FastAPI
from flask import Flask
from quart import Quart
from starlette.applications import Starlette

from pagesfn import LoadError, RouteDefinitionError
from pagesfn.adapters import AppKind, DetectionError, as_asgi, as_wsgi, detect

django_site.configure()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402


def wsgi_function(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi function"]


def wsgi_with_options(environ, start_response, greeting="hi"):
    return wsgi_function(environ, start_response)


class WSGIObject:
    def __call__(self, environ, start_response):
        return wsgi_function(environ, start_response)


async def asgi_function(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi function"})


class ASGIObject:
    async def __call__(self, scope, receive, send):
        await asgi_function(scope, receive, send)


def asgi_returning_awaitable(scope, receive, send):
    """ASGI 3 from a plain ``def``: it hands the call on and returns the awaitable."""
    return asgi_function(scope, receive, send)


class ASGIObjectReturningAwaitable:
    """A wrapper object whose sync ``__call__`` returns the wrapped app's coroutine."""

    def __init__(self, app):
        self.app = app

    def __call__(self, scope, receive, send):
        return self.app(scope, receive, send)


class ASGI2Class:
    """ASGI 2: instantiated with the scope, then called with receive and send."""

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2 " + self.scope["path"].encode()})


class ASGI2Object:
    def __call__(self, scope):
        return ASGI2Class(scope)


WSGI_APPS = {
    "flask": lambda: Flask("detect"),
    "django-wsgi": get_wsgi_application,
    "function": lambda: wsgi_function,
    "function with defaults": lambda: wsgi_with_options,
    "object": WSGIObject,
    "a2wsgi.ASGIMiddleware": lambda: a2wsgi.ASGIMiddleware(asgi_function),
}
ASGI3_APPS = {
    "fastapi": FastAPI,
    "starlette": Starlette,
    "quart": lambda: Quart("detect"),
    "django-asgi": get_asgi_application,
    "async function": lambda: asgi_function,
    "object": ASGIObject,
    "asgiref.WsgiToAsgi": lambda: WsgiToAsgi(wsgi_function),
    "a2wsgi.WSGIMiddleware": lambda: a2wsgi.WSGIMiddleware(wsgi_function),
    "def returning an awaitable": lambda: asgi_returning_awaitable,
    "object returning an awaitable": lambda: ASGIObjectReturningAwaitable(asgi_function),
}


@pytest.mark.parametrize("make", WSGI_APPS.values(), ids=WSGI_APPS.keys())
def test_wsgi_apps(make):
    app = make()
    detected = detect(app)
    assert detected.kind is AppKind.WSGI
    assert detected.app is app


@pytest.mark.parametrize("make", ASGI3_APPS.values(), ids=ASGI3_APPS.keys())
def test_asgi3_apps(make):
    app = make()
    detected = detect(app)
    assert detected.kind is AppKind.ASGI
    assert detected.app is app


def call_asgi(app, path="/x"):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path}, receive, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("app", [ASGI2Class, ASGI2Object()], ids=["class", "object"])
def test_asgi2_double_callables_become_single_callables(app):
    detected = detect(app)
    assert detected.kind is AppKind.ASGI
    assert call_asgi(detected.app, "/two") == b"asgi2 /two"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (42, "is a int, not a WSGI or ASGI application"),
        ("app", "is a str, not a WSGI or ASGI application"),
        (lambda *args: None, "signature cannot be read"),
        (lambda environ, start_response, extra, more: None, "takes 4 arguments"),
        (lambda: None, "takes 0 arguments"),
        (as_asgi(42), "declared a ASGI app, but what it wraps is a int"),
    ],
    ids=["int", "str", "*args", "four", "none", "declared int"],
)
def test_undecidable_objects(obj, message):
    with pytest.raises(DetectionError, match=message) as caught:
        detect(obj)
    if callable(obj):
        # A callable whose protocol cannot be read: the error says how to state it.
        assert "as_wsgi(obj)" in str(caught.value)
        assert "from pagesfn.adapters import as_wsgi, as_asgi" in str(caught.value)


class VarArgsASGI:
    """An ASGI app hidden behind ``*args`` (as decorators and proxies often are)."""

    def __call__(self, *args):
        return asgi_function(*args)


class WSGIClass:
    """PEP 3333 allows a class as the app: instantiating it is the call."""

    def __init__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        self.body = [b"wsgi class"]

    def __iter__(self):
        return iter(self.body)


def test_the_override_decides():
    assert detect(as_asgi(VarArgsASGI())).kind is AppKind.ASGI
    assert call_asgi(detect(as_asgi(VarArgsASGI())).app) == b"asgi function"
    # A class reads as ASGI 2 unless declared otherwise.
    assert detect(WSGIClass).kind is AppKind.ASGI
    assert detect(as_wsgi(WSGIClass)).kind is AppKind.WSGI
    assert detect(as_wsgi(WSGIClass)).app is WSGIClass
    assert call_asgi(detect(as_asgi(ASGI2Class)).app, "/y") == b"asgi2 /y"


OVERRIDDEN_TREE = {
    "varargs/[[default]].py": """
        from pagesfn.adapters import as_asgi

        class App:
            def __call__(self, *args):
                return self.serve(*args)

            async def serve(self, scope, receive, send):
                body = f"asgi {scope['root_path']} {scope['path']}".encode()
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": body})

        app = as_asgi(App())
    """,
    "wsgiclass/[[default]].py": """
        from pagesfn.adapters import as_wsgi

        class App:
            def __init__(self, environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                text = f"wsgi {environ['SCRIPT_NAME']} {environ['PATH_INFO']}"
                self.body = [text.encode()]

            def __iter__(self):
                return iter(self.body)

        app = as_wsgi(App)
    """,
    "asgi2/[[default]].py": """
        class App:
            def __init__(self, scope):
                self.scope = scope

            async def __call__(self, receive, send):
                body = f"asgi2 {self.scope['root_path']} {self.scope['path']}".encode()
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": body})

        app = App
    """,
    "sync-asgi3/[[default]].py": """
        class App:
            def __call__(self, scope, receive, send):
                return self.serve(scope, receive, send)

            async def serve(self, scope, receive, send):
                body = f"sync asgi3 {scope['root_path']} {scope['path']}".encode()
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": body})

        app = App()
    """,
    "both/[[default]].py": """
        from flask import Flask

        app = Flask("app")
        application = Flask("application")
        app.add_url_rule("/", "index", lambda: "app")
        application.add_url_rule("/", "index", lambda: "application")
    """,
}


def test_overridden_asgi2_and_sync_asgi3_apps_serve_on_both_faces(serve):
    client = serve(OVERRIDDEN_TREE)
    assert client.get("/varargs/a").text == "asgi /varargs /varargs/a"
    assert client.get("/wsgiclass/a").text == "wsgi /wsgiclass /a"
    assert client.get("/asgi2/a").text == "asgi2 /asgi2 /asgi2/a"
    # A plain `def __call__(scope, receive, send)` returning a coroutine: ASGI 3, detected.
    assert client.get("/sync-asgi3/a").text == "sync asgi3 /sync-asgi3 /sync-asgi3/a"
    # `app` is preferred over `application` when a file has both.
    assert client.get("/both").text == "app"


BROKEN = {
    "int/[[default]].py": "app = 42\n",
    "varargs/[[default]].py": "def app(*args):\n    pass\n",
    "declared/[[default]].py": "from pagesfn.adapters import as_asgi\n\napp = as_asgi(42)\n",
    "fine.py": "def on_request(context):\n    return 'fine'\n",
}


def test_undecidable_apps_fail_eager_loading_naming_each_file(pages):
    with pytest.raises(LoadError) as caught:
        pages(BROKEN, eager=True)
    by_file = {error.file: str(error) for error in caught.value.errors}
    assert set(by_file) == {
        "int/[[default]].py",
        "varargs/[[default]].py",
        "declared/[[default]].py",
    }
    assert "`app` is a int, not a WSGI or ASGI application" in by_file["int/[[default]].py"]
    assert "app = as_asgi(obj)" in by_file["varargs/[[default]].py"]
    assert "cannot be called" in by_file["declared/[[default]].py"]


def test_an_undecidable_app_answers_500_and_the_rest_keeps_working(serve, caplog):
    client = serve(BROKEN, debug=True)
    result = client.get("/varargs/x")
    assert result.status == 500
    assert "varargs/[[default]].py" in result.text
    assert "as_wsgi(obj)" in result.text
    assert client.get("/fine").text == "fine"
    assert any("varargs/[[default]].py" in record.getMessage() for record in caplog.records)


FLASK = "from flask import Flask\n\napp = Flask(__name__)\n"


def test_a_catchall_exporting_an_app_and_handlers_is_refused(pages):
    source = FLASK + "\ndef on_request_get(context):\n    return 'handler'\n"
    with pytest.raises(RouteDefinitionError) as caught:
        pages({"flask/[[default]].py": source})
    assert "flask/[[default]].py: exports both an app (`app`) and handlers" in str(caught.value)


@pytest.mark.parametrize(
    ("file", "suggested"),
    [
        ("flask.py", "flask/[[default]].py"),
        ("flask/index.py", "flask/[[default]].py"),
        ("index.py", "[[default]].py"),
        ("api/[id].py", "api/[id]/[[default]].py"),
    ],
)
def test_an_app_outside_a_catchall_file_is_refused_with_the_rename(pages, file, suggested):
    with pytest.raises(RouteDefinitionError) as caught:
        pages({file: FLASK})
    message = str(caught.value)
    assert f"{file}: exports `app`, but only a catch-all file can mount an app" in message
    assert f"rename it `{suggested}`" in message


def test_an_app_variable_beside_handlers_is_just_a_variable(serve):
    # Outside a catch-all file, handlers win: `app` may be any helper the module keeps.
    client = serve({"users.py": FLASK + "\ndef on_request(context):\n    return 'handler'\n"})
    assert client.get("/users").text == "handler"
