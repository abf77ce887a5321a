"""``mount_scope`` and ``mount_environ``: a request rewritten for an app at a prefix."""

from __future__ import annotations

import pytest
from drivers import framework_source

from pagesfn.adapters import mount_environ, mount_scope


def scope(path: str, root_path: str = "", raw_path: bytes | None = None) -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "root_path": root_path,
        "query_string": b"a=1",
        "headers": [(b"host", b"testserver")],
    }


@pytest.mark.parametrize(
    ("path", "root_path", "prefix", "expected_root", "expected_path"),
    [
        # root_path grows by the prefix; path stays the full path (ASGI spec, Starlette).
        ("/flask/users/1", "", "/flask", "/flask", "/flask/users/1"),
        ("/flask/", "", "/flask", "/flask", "/flask/"),
        # The bare prefix becomes the app's "/".
        ("/flask", "", "/flask", "/flask", "/flask/"),
        ("/a/b/c/d", "", "/a/b", "/a/b", "/a/b/c/d"),
        # Under an outer mount: the outer root_path comes first.
        ("/outer/flask/x", "/outer", "/flask", "/outer/flask", "/outer/flask/x"),
        ("/outer/flask/x", "/outer/", "/flask", "/outer/flask", "/outer/flask/x"),
        ("/outer/flask", "/outer", "/flask", "/outer/flask", "/outer/flask/"),
        # A server of the older convention passes path relative to root_path.
        ("/flask/x", "/outer", "/flask", "/outer/flask", "/outer/flask/x"),
        # Mounted at the root: nothing moves.
        ("/users/1", "", "", "", "/users/1"),
        ("/", "", "", "", "/"),
        ("/outer/users/1", "/outer", "", "/outer", "/outer/users/1"),
        # Prefixes and paths are decoded text.
        ("/café/menu", "", "/café", "/café", "/café/menu"),
    ],
)
def test_mount_scope(path, root_path, prefix, expected_root, expected_path):
    original = scope(path, root_path)
    child = mount_scope(original, prefix)
    assert (child["root_path"], child["path"]) == (expected_root, expected_path)
    assert child["raw_path"] == path.encode()  # untouched
    assert child["query_string"] == b"a=1"
    assert child["headers"] == original["headers"]
    assert original == scope(path, root_path)  # the outer scope is not modified


def test_mount_scope_keeps_raw_path_with_its_escapes():
    child = mount_scope(scope("/flask/a/b", raw_path=b"/flask/a%2Fb"), "/flask")
    assert child["path"] == "/flask/a/b"
    assert child["raw_path"] == b"/flask/a%2Fb"


def test_mount_scope_gives_each_request_its_own_copy_of_the_state():
    state = {"db": object(), "name": "app"}
    first = mount_scope(scope("/x/1"), "/x", state)
    second = mount_scope(scope("/x/2"), "/x", state)
    assert first["state"] == state
    assert first["state"] is not state and first["state"] is not second["state"]
    first["state"]["name"] = "changed by a request"
    assert state["name"] == "app" and second["state"]["name"] == "app"
    assert first["state"]["db"] is state["db"]  # a shallow copy, as Starlette makes


def test_mount_scope_without_state_keeps_the_servers():
    outer = scope("/x/1")
    outer["state"] = {"server": True}
    assert mount_scope(outer, "/x")["state"] == {"server": True}


def environ(path_info: str, script_name: str = "") -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": "a=1",
        "HTTP_HOST": "testserver",
    }


def latin1(text: str) -> str:
    """PEP 3333's form of a path: its UTF-8 bytes, decoded as latin-1."""
    return text.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize(
    ("path_info", "script_name", "prefix", "expected_script", "expected_path_info"),
    [
        ("/flask/users/1", "", "/flask", "/flask", "/users/1"),
        ("/flask/", "", "/flask", "/flask", "/"),
        # The bare prefix becomes the app's "/".
        ("/flask", "", "/flask", "/flask", "/"),
        ("/a/b/c/d", "", "/a/b", "/a/b", "/c/d"),
        # Under an outer mount (SCRIPT_NAME already set by the server or a dispatcher).
        ("/flask/x", "/outer", "/flask", "/outer/flask", "/x"),
        ("/flask/x", "/outer/", "/flask", "/outer/flask", "/x"),
        # Mounted at the root: nothing moves.
        ("/users/1", "", "", "", "/users/1"),
        ("/users/1", "/outer", "", "/outer", "/users/1"),
        ("", "", "", "", "/"),
        # Non-ASCII paths stay in PEP 3333's latin-1 form on both sides.
        (latin1("/café/menu/thé"), "", "/café", latin1("/café"), latin1("/menu/thé")),
    ],
)
def test_mount_environ(path_info, script_name, prefix, expected_script, expected_path_info):
    original = environ(path_info, script_name)
    child = mount_environ(original, prefix)
    assert (child["SCRIPT_NAME"], child["PATH_INFO"]) == (expected_script, expected_path_info)
    assert child["QUERY_STRING"] == "a=1"
    assert original == environ(path_info, script_name)  # the outer environ is not modified


@pytest.mark.parametrize("framework", ["flask", "fastapi", "django_wsgi", "django_asgi"])
def test_a_stray_script_name_in_os_environ_does_not_move_the_mount(serve, monkeypatch, framework):
    # Some bridges (a2wsgi's) let the process's SCRIPT_NAME override the scope's root_path.
    monkeypatch.setenv("SCRIPT_NAME", "/bogus")
    client = serve({"mounted/[[default]].py": framework_source(framework)})
    index = client.get("/mounted/").json()
    assert index["root"] == "/mounted"
    assert index["self"].endswith("/mounted/")
    assert client.get("/mounted/items/1").json()["url"] == "http://testserver/mounted/items/1"


ECHO_PATH = """
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [(environ["SCRIPT_NAME"] + "|" + environ["PATH_INFO"]).encode("latin-1")]
"""


@pytest.mark.parametrize(
    ("target", "seen"),
    [
        ("/m/plain/path", "/m|/plain/path"),  # the shortcut: nothing to decode
        ("/m/caf%C3%A9", "/m|/café"),  # decoded on the full path
        ("/m/a%2Fb", "/m|/a/b"),
        ("/m", "/m|/"),
    ],
)
def test_the_mount_shortcut_and_the_full_match_agree(serve, target, seen):
    other = "def on_request(c):\n    return 'x'\n"
    client = serve({"m/[[default]].py": ECHO_PATH, "other.py": other})
    result = client.get(target)
    assert result.status == 200
    assert result.body.decode("utf-8") == seen
