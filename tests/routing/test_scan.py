"""Scanning a tree into a route table: names, exports, skipped files, load-time errors."""

from __future__ import annotations

import pytest

from pagesfn.errors import RouteDefinitionError
from pagesfn.routing import ANY, RouteKind, scan

HANDLER = "def on_request(context):\n    return 'ok'\n"


def patterns(table):
    return {route.file: route.pattern for route in table}


def test_file_names_become_patterns(tree):
    root = tree(
        {
            "index.py": HANDLER,
            "hello-pages.py": HANDLER,
            "api/users/list.py": HANDLER,
            "api/visit/index.py": HANDLER,
            "users/[id]/posts.py": HANDLER,
            "files/[[path]].py": HANDLER,
            "robots.txt.py": HANDLER,
        }
    )
    assert patterns(scan(root)) == {
        "index.py": "/",
        "hello-pages.py": "/hello-pages",
        "api/users/list.py": "/api/users/list",
        "api/visit/index.py": "/api/visit",
        "users/[id]/posts.py": "/users/[id]/posts",
        "files/[[path]].py": "/files/[[path]]",
        "robots.txt.py": "/robots.txt",
    }


def test_private_hidden_cache_and_non_python_files_are_not_routes(tree):
    root = tree(
        {
            "index.py": HANDLER,
            "_helpers.py": HANDLER,
            "_lib/db.py": HANDLER,
            ".hidden.py": HANDLER,
            ".git/hook.py": HANDLER,
            "__pycache__/index.cpython-311.py": HANDLER,
            "_middleware.py": HANDLER,
            "notes.txt": "not python",
            "api/data.json": "{}",
        }
    )
    assert patterns(scan(root)) == {"index.py": "/"}


def test_exports_are_read_without_importing(tree):
    root = tree(
        {
            "a.py": """
                raise RuntimeError("importing this module is a bug")

                def on_request_get(context): ...
                async def on_request_post(context): ...
                on_request_delete = lambda context: "deleted"
            """,
        }
    )
    (route,) = scan(root)
    assert dict(route.handlers) == {
        "GET": "on_request_get",
        "POST": "on_request_post",
        "DELETE": "on_request_delete",
    }
    assert route.kind is RouteKind.HANDLER


def test_camel_case_aliases(tree):
    root = tree({"a.py": "def onRequestGet(c): ...\ndef onRequest(c): ...\n"})
    (route,) = scan(root)
    assert dict(route.handlers) == {"GET": "onRequestGet", ANY: "onRequest"}


def test_imported_and_conditional_handlers_count(tree):
    root = tree(
        {
            "_shared.py": "def handler(c): return 'x'\n",
            "a.py": """
                import sys
                from ._shared import handler as on_request_get
                if sys.platform:
                    def on_request_post(context): ...
                try:
                    import json
                except ImportError:
                    pass
                else:
                    on_request_put = on_request_get
            """,
        }
    )
    (route,) = scan(root)
    assert set(route.handlers) == {"GET", "POST", "PUT"}


def test_file_without_handler_is_a_warning_and_not_routed(tree):
    root = tree({"index.py": HANDLER, "helpers.py": "def helper():\n    return 1\n"})
    table = scan(root)
    assert patterns(table) == {"index.py": "/"}
    assert len(table.warnings) == 1
    assert "helpers.py" in table.warnings[0]
    assert "no handler" in table.warnings[0]


def test_star_import_is_warned(tree):
    root = tree({"a.py": "from os.path import *\ndef on_request(c): ...\n"})
    table = scan(root)
    assert len(table) == 1
    assert any("import *" in w for w in table.warnings)


def problems_of(root):
    with pytest.raises(RouteDefinitionError) as info:
        scan(root)
    return info.value


def test_param_must_be_an_identifier(tree):
    error = problems_of(tree({"users/[user-id].py": HANDLER}))
    assert error.code == "route-definition"
    (problem,) = error.problems
    assert problem.file == "users/[user-id].py"
    assert "`user-id` must be a Python identifier" in problem.message
    assert "rename it `[user_id]`" in problem.fix
    assert "users/[user-id].py" in str(error)


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("[1st].py", "[_1st]"),
        ("[class].py", "[_class]"),
        ("[[a.b]].py", "[[a_b]]"),
        ("[].py", "[param]"),
    ],
)
def test_param_fix_suggestions(tree, name, fix):
    (problem,) = problems_of(tree({name: HANDLER})).problems
    assert fix in problem.fix


def test_folder_params_are_checked_too(tree):
    (problem,) = problems_of(tree({"[user-id]/posts.py": HANDLER})).problems
    assert problem.file == "[user-id]"


@pytest.mark.parametrize(
    "files",
    [
        {"foo.py": HANDLER, "foo/index.py": HANDLER},
        {"[id].py": HANDLER, "[name].py": HANDLER},
        {"[id].py": HANDLER, "[name]/index.py": HANDLER},
        {"[[a]].py": HANDLER, "[[b]].py": HANDLER},
    ],
)
def test_two_files_claiming_one_route(tree, files):
    (problem,) = problems_of(tree(files)).problems
    for name in files:
        assert f"`{name}`" in problem.message
    assert "both claim" in problem.message


def test_every_problem_is_reported_at_once(tree):
    error = problems_of(
        tree(
            {
                "[a-b].py": HANDLER,
                "x.py": HANDLER,
                "x/index.py": HANDLER,
                "[[rest]]/deeper.py": HANDLER,
                "pre[id].py": HANDLER,
                "[id]/[id].py": HANDLER,
                "both.py": "def on_request(c): ...\ndef onRequest(c): ...\n",
            }
        )
    )
    messages = "\n".join(str(p) for p in error.problems)
    assert len(error.problems) == 6, messages
    assert "must be a file" in messages
    assert "mixes brackets" in messages
    assert "appears twice" in messages
    assert "exports both `on_request` and `onRequest`" in messages


def test_missing_folder(tmp_path):
    error = problems_of(tmp_path / "nope")
    assert "does not exist" in str(error)


def test_syntax_error_keeps_its_route_with_the_error(tree):
    root = tree({"index.py": HANDLER, "broken.py": "def on_request(context:\n    return 1\n"})
    table = scan(root)
    broken = next(r for r in table if r.file == "broken.py")
    assert broken.error is not None
    assert "line 1" in broken.error
    assert broken.accepts("GET") and broken.accepts("POST")


APP = "from flask import Flask\napp = Flask(__name__)\n"


def test_catchall_exporting_an_app_is_a_mount(tree):
    root = tree(
        {
            "flask/[[default]].py": APP,
            "flask/health.py": HANDLER,
            "[[root]].py": "application = object()\n",
        }
    )
    table = scan(root)
    kinds = {route.file: (route.kind, dict(route.handlers)) for route in table}
    assert kinds == {
        "flask/[[default]].py": (RouteKind.APP, {ANY: "app"}),
        "flask/health.py": (RouteKind.HANDLER, {ANY: "on_request"}),
        "[[root]].py": (RouteKind.APP, {ANY: "application"}),
    }
    # The sibling file is more specific than the mount, and the mounts come last.
    assert [route.file for route in table] == [
        "flask/health.py",
        "flask/[[default]].py",
        "[[root]].py",
    ]


def test_an_app_and_handlers_in_one_catchall_is_an_error(tree):
    (problem,) = problems_of(tree({"x/[[rest]].py": APP + HANDLER})).problems
    assert problem.file == "x/[[rest]].py"
    assert "both an app (`app`) and handlers (`on_request`)" in problem.message


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("flask.py", "flask/[[default]].py"),
        ("flask/index.py", "flask/[[default]].py"),
        ("index.py", "[[default]].py"),
        ("a/[id].py", "a/[id]/[[default]].py"),
    ],
)
def test_an_app_outside_a_catchall_names_the_file_to_use(tree, name, suggestion):
    (problem,) = problems_of(tree({name: APP})).problems
    assert problem.file == name
    assert "only a catch-all file can mount an app" in problem.message
    assert f"rename it `{suggestion}`" in problem.fix


def test_handlers_beside_an_app_variable_stay_handlers(tree):
    (route,) = scan(tree({"x.py": APP + HANDLER}))
    assert route.kind is RouteKind.HANDLER


MIDDLEWARE = "def on_request(context):\n    return context.next()\n"


def test_middleware_files_wrap_their_folder_outermost_first(tree):
    root = tree(
        {
            "index.py": HANDLER,
            "users/[id]/_middleware.py": MIDDLEWARE,
            "api/_middleware.py": "def on_request_post(context):\n    return context.next()\n",
            "_middleware.py": "onRequest = [1, 2]\n",
            "api/admin/_middleware.py": MIDDLEWARE,
        }
    )
    table = scan(root)
    assert patterns(table) == {"index.py": "/"}  # middleware are not routes
    assert [(m.file, m.pattern) for m in table.middleware] == [
        ("_middleware.py", "/"),
        ("api/_middleware.py", "/api"),
        ("api/admin/_middleware.py", "/api/admin"),
        ("users/[id]/_middleware.py", "/users/[id]"),
    ]
    assert all(m.kind is RouteKind.MIDDLEWARE for m in table.middleware)
    assert dict(table.middleware[0].handlers) == {ANY: "onRequest"}
    assert dict(table.middleware[1].handlers) == {"POST": "on_request_post"}


def test_middleware_without_handlers_is_a_warning(tree):
    table = scan(tree({"index.py": HANDLER, "api/_middleware.py": "x = 1\n"}))
    assert table.middleware == ()
    assert len(table.warnings) == 1
    assert "api/_middleware.py" in table.warnings[0]
    assert "wraps nothing" in table.warnings[0]


def test_middleware_with_a_syntax_error_keeps_its_place(tree):
    table = scan(tree({"index.py": HANDLER, "api/_middleware.py": "def on_request(:\n"}))
    (broken,) = table.middleware
    assert broken.file == "api/_middleware.py"
    assert broken.error is not None and "line 1" in broken.error


def test_middleware_with_both_spellings_is_a_problem(tree):
    source = MIDDLEWARE + "onRequest = on_request\n"
    with pytest.raises(RouteDefinitionError, match="exports both `on_request` and `onRequest`"):
        scan(tree({"_middleware.py": source}))


def test_a_worker_at_the_root_answers_everything_and_is_warned_about_other_files(tree):
    table = scan(tree({"_worker.py": "x = 1\n", "index.py": HANDLER}))
    assert table.worker == "_worker.py"
    (warning,) = table.warnings
    assert "_worker.py answers every request" in warning
    assert "`index.py`" in warning


def test_a_worker_below_the_root_is_not_routed(tree):
    table = scan(tree({"index.py": HANDLER, "api/_worker.py": "x = 1\n"}))
    assert table.worker is None
    (warning,) = table.warnings
    assert "api/_worker.py" in warning and "only takes effect at the root" in warning
