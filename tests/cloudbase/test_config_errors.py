"""Start-up errors of a ``cloudbase-functions.json``: each one a
:class:`FunctionsConfigError` (a :class:`RouteDefinitionError`) naming what is wrong, raised
by ``Pages(...)`` before anything is served."""

from __future__ import annotations

import json
import re
import sys

import pytest

from pagesfn import Pages, RouteDefinitionError, RouteWarning
from pagesfn.routing.cloudbase import FunctionsConfigError, load_functions_config

MAIN = "def main(event, context):\n    return {}\n"

# The seed document's config, character for character: a `//` note, and a route to a
# function `echo` that `functions` does not define.
SEED_CONFIG = """{
"functionsRoot": ".",
"functions": [
{
"name": "default",
"directory": "."
},
{
"name": "user",
"directory": "user",
"triggerPath": "/api/user" // triggerPath 是 routes 的简化写法,可以直接在函数定义中指定触发路径
},
{
"name": "order",
"directory": "order",
"triggerPath": "/api/order"
}
],
"routes": [
{
"functionName": "echo",
"path": "/echo"
}
]
}
"""
SEED_FILES = {"index.py": MAIN, "user/index.py": MAIN, "order/index.py": MAIN}


def start_fails(config) -> FunctionsConfigError:
    """The error ``Pages`` raises for ``config``; no route module is left imported."""
    before = set(sys.modules)
    with pytest.raises(FunctionsConfigError) as raised:
        Pages(functions_config=config)
    leaked = [n for n in set(sys.modules) - before if n.startswith("_pagesfn_routes_")]
    assert not leaked
    return raised.value


def only_problem(error: FunctionsConfigError) -> str:
    assert len(error.problems) == 1, error.problems
    return str(error.problems[0])


def test_the_error_is_a_route_definition_error():
    assert issubclass(FunctionsConfigError, RouteDefinitionError)
    assert FunctionsConfigError.code == "functions-config"


# -- the seed's literal config ------------------------------------------------------------------


def test_the_seeds_literal_config_fails_on_its_comment(project):
    config = project(SEED_CONFIG, SEED_FILES)
    error = start_fails(config)
    problem = only_problem(error)
    assert "is not valid JSON" in problem
    assert "JSON has no comments" in problem
    assert str(config) in problem
    assert isinstance(error, RouteDefinitionError)


def test_the_seeds_config_without_its_comment_fails_naming_echo(project):
    text = re.sub(r" // .*", "", SEED_CONFIG)
    assert json.loads(text)["routes"] == [{"functionName": "echo", "path": "/echo"}]
    error = start_fails(project(text, SEED_FILES))
    problem = only_problem(error)
    # Led by the framework's own words for it, so that a search for them finds this.
    assert "Function echo not found: `routes[0]` calls it" in problem
    assert "`functions` does not define it" in problem
    assert "(defined: `default`, `user`, `order`)" in problem
    assert "the functions config has 1 problem" in str(error)


def test_defining_echo_makes_the_seeds_config_start(cloudbase, project):
    document = json.loads(re.sub(r" // .*", "", SEED_CONFIG))
    document["functions"].append({"name": "echo", "directory": "echo"})
    files = {
        **SEED_FILES,
        "echo/index.py": "def main(event, context):\n    return {'echo': event}\n",
    }
    client = cloudbase(project(document, files))
    assert client.get("/echo?a=1").json() == {"echo": {"a": "1"}}
    assert client.get("/api/user").json() == {}


# -- route conflicts ------------------------------------------------------------------------


def conflicting(project, routes, functions=None):
    functions = functions or [
        {"name": "userA", "directory": "a"},
        {"name": "userB", "directory": "b"},
    ]
    return project(
        {"functions": functions, "routes": routes}, {"a/index.py": MAIN, "b/index.py": MAIN}
    )


def test_two_functions_on_one_path_are_a_route_conflict(project):
    config = conflicting(
        project,
        [
            {"functionName": "userA", "path": "/api/user"},
            {"functionName": "userB", "path": "/api/user"},
        ],
    )
    problem = only_problem(start_fails(config))
    assert "Route conflict: " in problem
    assert "`/api/user`" in problem
    assert "`userA`" in problem and "`userB`" in problem


def test_a_trailing_slash_does_not_make_a_different_path(project):
    config = conflicting(
        project,
        [
            {"functionName": "userA", "path": "/api/user"},
            {"functionName": "userB", "path": "/api/user/"},
        ],
    )
    problem = only_problem(start_fails(config))
    assert "Route conflict: " in problem
    assert "`userA`" in problem and "`userB`" in problem


def test_a_trigger_path_conflicts_with_another_functions_route(project):
    functions = [
        {"name": "userA", "directory": "a", "triggerPath": "/api/user"},
        {"name": "userB", "directory": "b"},
    ]
    config = conflicting(project, [{"functionName": "userB", "path": "/api/user"}], functions)
    problem = only_problem(start_fails(config))
    assert "Route conflict: " in problem
    assert "triggerPath" in problem
    assert "`userA`" in problem and "`userB`" in problem


def test_two_trigger_paths_on_slash_conflict(project):
    functions = [
        {"name": "userA", "directory": "a", "triggerPath": "/"},
        {"name": "userB", "directory": "b", "triggerPath": "/"},
    ]
    problem = only_problem(start_fails(conflicting(project, [], functions)))
    assert "Route conflict: `/`" in problem


def test_one_function_on_one_path_twice_is_no_conflict(project):
    functions = [{"name": "userA", "directory": "a", "triggerPath": "/api/user"}]
    config = conflicting(
        project,
        [
            {"functionName": "userA", "path": "/api/user"},
            {"functionName": "userA", "path": "/api/user/"},
        ],
        functions,
    )
    table = load_functions_config(config)
    assert [r.function for r in table.routes] == ["userA"]


# -- functions that cannot be found ------------------------------------------------------------


def test_a_missing_directory_is_named(project):
    config = project(
        {"functions": [{"name": "user", "directory": "users", "triggerPath": "/api/user"}]},
        {"user/index.py": MAIN},
    )
    problem = only_problem(start_fails(config))
    assert 'Function user not found: the directory "users"' in problem
    assert "does not exist" in problem


def test_a_missing_source_file_is_named(project):
    config = project(
        {
            "functions": [
                {"name": "user", "directory": "user", "triggerPath": "/u"},
                {"name": "order", "directory": "order", "source": "app.py", "triggerPath": "/o"},
            ]
        },
        {"user/main.py": MAIN, "order/index.py": MAIN},
    )
    error = start_fails(config)
    messages = [str(p) for p in error.problems]
    assert len(messages) == 2
    assert "Function user not found: the source file user/index.py does not exist" in messages[0]
    assert "Function order not found: the source file order/app.py does not exist" in messages[1]


def test_a_missing_target_is_named(project):
    config = project(
        {
            "functions": [
                {"name": "user", "directory": "user", "triggerPath": "/u"},
                {"name": "order", "directory": "order", "target": "handler", "triggerPath": "/o"},
            ]
        },
        {"user/index.py": "def handler(event, context):\n    return 1\n", "order/index.py": MAIN},
    )
    error = start_fails(config)
    messages = [str(p) for p in error.problems]
    assert len(messages) == 2
    assert "Function user not found: user/index.py does not define its target `main`" in messages[0]
    assert (
        "Function order not found: order/index.py does not define its target `handler`"
        in messages[1]
    )


@pytest.mark.parametrize("source", ["index.js", "index", "main.ts"])
def test_a_source_that_is_not_python_is_an_error(project, source):
    config = project(
        {"functions": [{"name": "user", "directory": "user", "source": source}]},
        {f"user/{source}": "exports.main = () => ({})\n"},
    )
    problem = only_problem(start_fails(config))
    assert f"function `user`: the source user/{source} is not a Python file" in problem


def test_every_problem_is_listed_at_once(project):
    config = project(
        {
            "functions": [
                {"name": "user", "directory": "nowhere"},
                {"name": "order", "directory": "order", "source": "order.js"},
            ],
            "routes": [{"functionName": "echo", "path": "/echo"}, {"functionName": "user"}],
        },
        {"order/order.js": ""},
    )
    error = start_fails(config)
    text = str(error)
    assert "the functions config has 4 problems" in text
    assert "`nowhere`" in text or '"nowhere"' in text
    assert "order/order.js is not a Python file" in text
    assert "Function echo not found: " in text
    assert "`routes[1]`: the path null must start with `/`" in text


# -- the file itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ['{"functions": [],}', '{"functions": [', "", "functions: []", "{'functions': []}"],
)
def test_invalid_json_is_an_error_without_the_comment_hint(project, text):
    problem = only_problem(start_fails(project(text)))
    assert "is not valid JSON" in problem
    assert "comments" not in problem


def test_a_comment_gets_the_hint(project):
    text = '{\n  // the functions\n  "functions": []\n}\n'
    problem = only_problem(start_fails(project(text)))
    assert "is not valid JSON" in problem
    assert "line 2" in problem
    assert "JSON has no comments: remove the `//` note" in problem


@pytest.mark.parametrize("text", ["[]", '"functions"', "null"])
def test_the_document_must_be_an_object(project, text):
    assert "is not a JSON object" in only_problem(start_fails(project(text)))


def test_a_config_file_that_does_not_exist_is_an_error(tmp_path):
    problem = only_problem(start_fails(tmp_path / "cloudbase-functions.json"))
    assert "cannot be read" in problem


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"functionName": "user", "path": "api/user"}, 'the path "api/user" must start with `/`'),
        ({"functionName": "user", "path": "/api//user"}, "has an empty, `.` or `..` segment"),
        ({"functionName": "user", "path": "/api/../user"}, "has an empty, `.` or `..` segment"),
        ({"path": "/api/user"}, "`routes[0]` has no `functionName`"),
        ({"functionName": "user", "path": "/b?x=1"}, "has a query or a fragment"),
        ({"functionName": "user", "path": "/b#top"}, "has a query or a fragment"),
    ],
)
def test_bad_route_entries_are_errors(project, route, expected):
    config = project(
        {"functions": [{"name": "user", "directory": "user"}], "routes": [route]},
        {"user/index.py": MAIN},
    )
    assert expected in only_problem(start_fails(config))


def test_a_function_defined_twice_is_an_error(project):
    functions = [
        {"name": "user", "directory": "user", "triggerPath": "/a"},
        {"name": "user", "directory": "user", "triggerPath": "/b"},
    ]
    config = project({"functions": functions}, {"user/index.py": MAIN})
    assert "function `user` is defined twice" in only_problem(start_fails(config))


def test_a_source_outside_the_functions_root_is_an_error(project):
    config = project(
        {
            "functionsRoot": "functions",
            "functions": [{"name": "user", "directory": "..", "triggerPath": "/u"}],
        },
        {"functions/index.py": MAIN, "index.py": MAIN},
    )
    assert "is outside `functionsRoot`" in only_problem(start_fails(config))


def test_a_missing_functions_root_is_an_error(project):
    config = project({"functionsRoot": "src", "functions": []})
    assert '`functionsRoot` "src"' in only_problem(start_fails(config))


# -- warnings, not errors ------------------------------------------------------------------------


def test_a_function_without_a_route_is_a_warning(cloudbase, project):
    config = project(
        {
            "functions": [
                {"name": "user", "directory": "user", "triggerPath": "/api/user"},
                {"name": "lonely", "directory": "lonely"},
            ]
        },
        {"user/index.py": MAIN, "lonely/index.py": MAIN},
    )
    with pytest.warns(RouteWarning, match="function `lonely` has no route") as caught:
        client = cloudbase(config)
    assert len(caught) == 1
    assert client.get("/api/user").status == 200


def test_unknown_keys_are_warnings(project, cloudbase):
    config = project(
        {
            "$schema": "./node_modules/@cloudbase/functions-framework/functions-schema.json",
            "functions": [{"name": "default", "directory": ".", "runtime": "python"}],
            "extra": True,
        },
        {"index.py": MAIN},
    )
    with pytest.warns(RouteWarning) as caught:
        client = cloudbase(config)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert any("unknown key `extra`" in m for m in messages)
    assert any("`functions[0]` has an unknown key `runtime`" in m for m in messages)
    assert client.get("/").status == 200


def test_a_source_that_fails_to_import_answers_500_until_fixed(cloudbase, project):
    config = project(
        {"functions": [{"name": "broken", "directory": "broken", "triggerPath": "/b"}]},
        {"broken/index.py": "def main(event, context):\n    return (\n"},
    )
    client = cloudbase(config)  # a syntax error is not a start-up error
    response = client.get("/b")
    assert response.status == 500


def test_a_target_that_is_neither_a_function_nor_an_app_answers_500(cloudbase, project):
    config = project(
        {"functions": [{"name": "odd", "directory": "odd", "triggerPath": "/odd"}]},
        {"odd/index.py": "main = 3\n"},
    )
    client = cloudbase(config, debug=True)
    response = client.get("/odd")
    assert response.status == 500
    detail = response.json()["detail"]
    assert "odd/index.py (function `odd`)" in detail
    assert "`main` is an int" in detail
