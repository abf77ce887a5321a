"""`_routes.json`: matching rules to paths, validating the file, generating it from a tree."""

from __future__ import annotations

import json
import os
import random
import re
import time
from urllib.parse import quote, unquote

import pytest

from pagesfn.errors import RouteDefinitionError
from pagesfn.routing import Matcher, NoMatch, SegmentKind, scan, split_path
from pagesfn.routing.rules import (
    RoutesRules,
    generate_routes_json,
    load_routes_json,
    parse_routes_json,
)

HANDLER = "def on_request(context):\n    return 'x'\n"
MIDDLEWARE = "def on_request(context):\n    return context.next()\n"
APP = "app = None\n"


def rules(*include, exclude=()):
    return RoutesRules(tuple(include), tuple(exclude))


# -- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "matching", "not_matching"),
    [
        ("/foo/*", ["/foo", "/foo/", "/foo/x", "/foo/x/y", "/foo/x/"], ["/foobar", "/fo", "/"]),
        ("/foo*", ["/foo", "/foobar", "/foo/", "/foo/x/y"], ["/fo", "/Foo", "/xfoo"]),
        ("/*", ["/", "/a", "/a/b/c", "/a/b/"], []),
        ("/a/*/c", ["/a/b/c", "/a/x/y/c", "/a//c"], ["/a/c", "/a/b/cd", "/a/b/c/d"]),
        ("/*.png", ["/x.png", "/img/deep/x.png", "/.png"], ["/x.png2", "/x.jpg", "/xpng"]),
        ("/about", ["/about", "/about/"], ["/about/x", "/aboutx", "/abou", "/About"]),
        ("/", ["/"], ["/x", ""]),
        ("/foo/", ["/foo", "/foo/"], ["/foo/x"]),
    ],
)
def test_rule_matching(rule, matching, not_matching):
    routes = rules(rule)
    assert [p for p in matching if not routes.invokes_functions(p)] == []
    assert [p for p in not_matching if routes.invokes_functions(p)] == []


def test_a_star_matches_across_slashes_and_the_empty_run():
    routes = rules("/api/*/items")
    assert routes.invokes_functions("/api/v1/items")
    assert routes.invokes_functions("/api/v1/beta/items")
    assert routes.invokes_functions("/api//items")
    assert not routes.invokes_functions("/api/items")


def test_matching_is_case_sensitive():
    routes = rules("/API/*")
    assert routes.invokes_functions("/API/users")
    assert not routes.invokes_functions("/api/users")
    assert not routes.invokes_functions("/Api")


@pytest.mark.parametrize(
    ("rule", "literal", "lookalikes"),
    [
        ("/robots.txt", "/robots.txt", ["/robotsXtxt", "/robots-txt"]),
        ("/a+b", "/a+b", ["/aab", "/aaab"]),
        ("/(x)?", "/(x)?", ["/x", "/", "/(x)"]),
        ("/[ab]", "/[ab]", ["/a", "/b"]),
        ("/^$|.{2}\\d", "/^$|.{2}\\d", ["/", "/xx1", "/^$"]),
    ],
)
def test_everything_but_the_star_is_literal(rule, literal, lookalikes):
    routes = rules(rule)
    assert routes.invokes_functions(literal)
    assert [p for p in lookalikes if routes.invokes_functions(p)] == []


def test_exclude_wins_over_include():
    routes = rules("/api/*", exclude=["/api/public/*", "/api/health"])
    assert routes.invokes_functions("/api/users")
    assert routes.invokes_functions("/api")
    assert not routes.invokes_functions("/api/public")
    assert not routes.invokes_functions("/api/public/logo.svg")
    assert not routes.invokes_functions("/api/health")
    assert not routes.invokes_functions("/api/health/")
    assert routes.invokes_functions("/api/healthz")
    assert not routes.invokes_functions("/index.html")


def test_exclude_of_everything_invokes_nothing():
    routes = rules("/*", exclude=["/*"])
    assert not routes.invokes_functions("/")
    assert not routes.invokes_functions("/anything")


def test_an_empty_include_invokes_nothing():
    assert not RoutesRules(()).invokes_functions("/")


def test_matching_is_against_decoded_text():
    routes = rules("/hello world", "/café/*")
    assert routes.invokes_functions("/hello world")
    assert routes.invokes_functions("/café/menu")
    # An escape in the path is not decoded here: the caller passes the decoded path.
    assert not routes.invokes_functions("/hello%20world")
    assert not routes.invokes_functions("/caf%C3%A9/menu")


def test_a_star_matches_decoded_newlines():
    assert rules("/a*").invokes_functions("/a\nb")
    assert rules("/a/*").invokes_functions("/a/\n")


def _reference(rule, path):
    # The definition, written the slow way: one `.*` per star.
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    if len(rule) > 1 and rule.endswith("/"):
        rule = rule[:-1]
    regex = ".*".join(re.escape(piece) for piece in rule.split("*"))
    if rule.endswith("/*"):
        regex = regex[: -len("/.*")] + "(?:/.*)?"
    return re.fullmatch(regex, path, re.DOTALL) is not None


def test_rules_with_many_stars_agree_with_the_definition():
    chooser = random.Random(1234)
    alphabet = "ab/"
    for _ in range(3000):
        rule = "/" + "".join(chooser.choice(alphabet + "**") for _ in range(chooser.randint(0, 7)))
        path = "/" + "".join(chooser.choice(alphabet) for _ in range(chooser.randint(0, 9)))
        assert rules(rule).invokes_functions(path) is _reference(rule, path), (rule, path)


def test_rules_with_many_stars_match_long_paths_quickly():
    routes = rules("/*a*a*a*a*a*a*a*a*a*a*b", "/*/*/*/*/*/*/*/x", "/*a*a*a*c/*")
    start = time.perf_counter()
    assert not routes.invokes_functions("/" + "a" * 4000)
    assert not routes.invokes_functions("/a" * 2000)
    assert not routes.invokes_functions("/" + "a" * 4000 + "c" + "a" * 10)
    assert routes.invokes_functions("/" + "a" * 4000 + "b")
    assert routes.invokes_functions("/a" * 2000 + "/x")
    assert routes.invokes_functions("/" + "a" * 3000 + "c/" + "a" * 1000)
    assert time.perf_counter() - start < 2


def test_rules_are_tuples_and_compare_by_value():
    built = RoutesRules(["/api/*"], ["/api/x"])
    assert built.include == ("/api/*",)
    assert built.exclude == ("/api/x",)
    assert built == rules("/api/*", exclude=["/api/x"])
    assert hash(built) == hash(rules("/api/*", exclude=["/api/x"]))
    assert rules("/a").exclude == ()


# -- parsing and validation -----------------------------------------------------------------


def test_parse_a_valid_file():
    parsed = parse_routes_json(
        '{"version": 1, "description": "any text", "include": ["/api/*"], "exclude": ["/api/x"]}'
    )
    assert parsed == rules("/api/*", exclude=["/api/x"])
    assert parsed.invokes_functions("/api/y")
    assert not parsed.invokes_functions("/api/x")


def test_parse_bytes_with_or_without_a_byte_order_mark():
    text = '{"version": 1, "include": ["/café"]}'
    assert parse_routes_json(text.encode()) == rules("/café")
    assert parse_routes_json(b"\xef\xbb\xbf" + text.encode()) == rules("/café")


def test_exclude_is_optional():
    assert parse_routes_json('{"version": 1, "include": ["/*"]}').exclude == ()


def test_the_limits_themselves_are_allowed():
    rule = "/" + "x" * 99
    document = {"version": 1, "include": [rule] * 60, "exclude": ["/x"] * 40}
    parsed = parse_routes_json(json.dumps(document))
    assert len(parsed.include) + len(parsed.exclude) == 100
    assert parsed.invokes_functions(rule)


def _problems(text, file="_routes.json"):
    with pytest.raises(RouteDefinitionError) as caught:
        parse_routes_json(text, file)
    problems = caught.value.problems
    assert all(p.file == file and p.fix for p in problems)
    return [p.message for p in problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "is not valid JSON"),
        ('{"version": 1, "include": ["/*"],}', "is not valid JSON"),
        ('["/*"]', "holds a JSON array, not an object"),
        ('"/*"', "holds a JSON string, not an object"),
        ('{"include": ["/*"]}', "has no `version`"),
        ('{"version": 2, "include": ["/*"]}', "has `version` 2; only version 1 exists"),
        ('{"version": "1", "include": ["/*"]}', 'has `version` "1"; only version 1 exists'),
        ('{"version": true, "include": ["/*"]}', "has `version` true; only version 1 exists"),
        ('{"version": 1.5, "include": ["/*"]}', "has `version` 1.5; only version 1 exists"),
        ('{"version": 1}', "has no `include`: at least one rule is required"),
        ('{"version": 1, "include": "/*"}', "`include` is a JSON string, not a list"),
        ('{"version": 1, "include": []}', "`include` is empty: at least one rule is required"),
        ('{"version": 1, "include": ["/a", 3]}', "`include[1]` is a JSON number, not a string"),
        ('{"version": 1, "include": [null]}', "`include[0]` is a JSON null, not a string"),
        ('{"version": 1, "include": ["/*"], "exclude": {}}', "`exclude` is a JSON object"),
        ('{"version": 1, "include": ["/*"], "exclude": [[]]}', "`exclude[0]` is a JSON array"),
        ('{"version": 1, "include": ["api/*"]}', '`include[0]` "api/*" does not start with `/`'),
        ('{"version": 1, "include": [""]}', '`include[0]` "" does not start with `/`'),
        ('{"version": 1, "include": ["/*"], "exclude": ["*.png"]}', '`exclude[0]` "*.png"'),
        ('{"version": 1, "include": ["/*"], "routes": []}', "has an unknown key `routes`"),
    ],
)
def test_each_problem_is_named(text, expected):
    messages = _problems(text)
    assert len(messages) == 1, messages
    assert expected in messages[0]


def test_a_too_long_rule_is_named_with_its_length():
    rule = "/" + "x" * 100
    (message,) = _problems(json.dumps({"version": 1, "include": [rule]}))
    assert "`include[0]`" in message
    assert "is 101 characters long; at most 100 are allowed" in message
    # Quoted, but cut short.
    assert rule not in message
    assert '"/xxxx' in message


def test_too_many_rules_together():
    document = {"version": 1, "include": ["/a"] * 60, "exclude": ["/b"] * 41}
    (message,) = _problems(json.dumps(document))
    assert "has 101 rules in `include` and `exclude` together; at most 100 are allowed" in message


def test_not_utf8():
    assert _problems(b'{"version": 1, "include": ["/\xff"]}') == ["is not UTF-8 text"]


def test_every_problem_is_reported_at_once():
    text = json.dumps(
        {
            "version": 3,
            "include": ["api/*", 7, "/" + "y" * 120],
            "exclude": "nope",
            "routes": [],
            "comment": "",
        }
    )
    messages = _problems(text, "public/_routes.json")
    assert len(messages) == 7, messages
    expected = [
        "unknown key `routes`",
        "unknown key `comment`",
        "has `version` 3",
        '`include[0]` "api/*" does not start with `/`',
        "`include[1]` is a JSON number",
        "`include[2]`",
        "`exclude` is a JSON string, not a list",
    ]
    for fragment, message in zip(expected, messages, strict=True):
        assert fragment in message
    assert "121 characters long" in messages[5]


def test_the_error_text_names_the_file_and_the_fix():
    with pytest.raises(RouteDefinitionError) as caught:
        parse_routes_json('{"version": 1, "include": []}', "dist/_routes.json")
    text = str(caught.value)
    assert "dist/_routes.json: `include` is empty" in text
    assert '"/*"' in text  # the fix suggests a rule


# -- loading from the static folder ---------------------------------------------------------


def test_load_from_a_folder(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "_routes.json").write_text('{"version": 1, "include": ["/api/*"]}')
    loaded = load_routes_json(public)
    assert loaded == rules("/api/*")
    assert load_routes_json(str(public)) == loaded


def test_load_returns_none_without_the_file(tmp_path):
    (tmp_path / "public").mkdir()
    assert load_routes_json(tmp_path / "public") is None
    assert load_routes_json(tmp_path / "missing") is None


def test_load_names_the_file_in_errors(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "_routes.json").write_text('{"version": 1, "include": ["/*"], "extra": 1}')
    with pytest.raises(RouteDefinitionError) as caught:
        load_routes_json(public)
    (problem,) = caught.value.problems
    assert problem.file == os.path.join(str(public), "_routes.json")
    assert "unknown key `extra`" in problem.message


def test_load_reports_an_unreadable_file(tmp_path):
    (tmp_path / "public" / "_routes.json").mkdir(parents=True)
    with pytest.raises(RouteDefinitionError) as caught:
        load_routes_json(tmp_path / "public")
    (problem,) = caught.value.problems
    assert "cannot be read" in problem.message


# -- generation from a tree -----------------------------------------------------------------


def generated(root):
    return generate_routes_json(scan(root))


def test_generated_rules_follow_the_tree(tree):
    root = tree(
        {
            "index.py": HANDLER,
            "hello.py": HANDLER,
            "api/_middleware.py": MIDDLEWARE,
            "api/users/list.py": HANDLER,
            "users/[id]/posts.py": HANDLER,
            "files/[[path]].py": HANDLER,
            "flask/[[default]].py": APP,
            "static.txt": "not a route",
        }
    )
    assert generated(root) == {
        "version": 1,
        "include": ["/", "/api/*", "/files/*", "/flask/*", "/hello", "/users/*"],
        "exclude": [],
    }


@pytest.mark.parametrize(
    ("files", "include"),
    [
        ({"index.py": HANDLER}, ["/"]),
        ({"[[default]].py": APP}, ["/*"]),
        ({"[[path]].py": HANDLER, "about.py": HANDLER}, ["/*"]),
        ({"[slug].py": HANDLER}, ["/*"]),
        ({"_middleware.py": MIDDLEWARE, "api/hello.py": HANDLER}, ["/*"]),
        ({"api/[version]/_middleware.py": MIDDLEWARE, "about.py": HANDLER}, ["/about", "/api/*"]),
        ({"docs/_middleware.py": MIDDLEWARE}, ["/docs/*"]),
        ({"a/b/[c]/d/[[e]].py": HANDLER}, ["/a/b/*"]),
        ({"_worker.py": HANDLER}, ["/*"]),
        ({"_worker.py": HANDLER, "about.py": HANDLER, "api/x.py": HANDLER}, ["/*"]),
    ],
)
def test_generated_rule_shapes(tree, files, include):
    assert generated(tree(files))["include"] == include


def test_consolidation_drops_duplicates_and_covered_rules(tree):
    root = tree(
        {
            "foo.py": HANDLER,
            "foo/_middleware.py": MIDDLEWARE,
            "foo/bar.py": HANDLER,
            "foo/bar/[x].py": HANDLER,
            "foo/[y]/baz.py": HANDLER,
            "foobar.py": HANDLER,
            "users/[id].py": HANDLER,
            "users/[id]/posts.py": HANDLER,
            "users/[[rest]].py": HANDLER,
            "users/index.py": HANDLER,
            "zeta/a.py": HANDLER,
            "zeta/b.py": HANDLER,
        }
    )
    assert generated(root)["include"] == ["/foo/*", "/foobar", "/users/*", "/zeta/a", "/zeta/b"]


def test_a_root_wildcard_covers_everything(tree):
    root = tree(
        {
            "index.py": HANDLER,
            "about.py": HANDLER,
            "api/_middleware.py": MIDDLEWARE,
            "[[default]].py": APP,
        }
    )
    assert generated(root)["include"] == ["/*"]


def test_more_than_100_rules_collapse_to_everything(tree):
    assert generated(tree({f"page{n:03}.py": HANDLER for n in range(101)}))["include"] == ["/*"]


def test_exactly_100_rules_are_kept(tree):
    include = generated(tree({f"page{n:03}.py": HANDLER for n in range(100)}))["include"]
    assert include == [f"/page{n:03}" for n in range(100)]


def test_over_long_rules_are_shortened_to_a_folder_wildcard(tree):
    folder, name = "f" * 60, "n" * 60
    include = generated(tree({f"{folder}/{name}.py": HANDLER, "ok.py": HANDLER}))["include"]
    assert include == [f"/{folder}/*", "/ok"]


def test_an_over_long_root_name_shortens_to_everything(tree):
    include = generated(tree({f"{'r' * 120}.py": HANDLER, "ok.py": HANDLER}))["include"]
    assert include == ["/*"]


def test_a_tree_without_routes_cannot_generate(tree):
    root = tree({"_lib/helpers.py": "X = 1\n"})
    with pytest.raises(RouteDefinitionError) as caught:
        generated(root)
    (problem,) = caught.value.problems
    assert problem.file == str(root)
    assert "routes no path" in problem.message


def test_generated_rules_are_decoded_text(tree):
    root = tree({"hello world.py": HANDLER, "café/[[rest]].py": HANDLER, "50%.py": HANDLER})
    include = generated(root)["include"]
    assert include == ["/50%", "/café/*", "/hello world"]
    routes = parse_routes_json(json.dumps(generated(root)))
    assert routes.invokes_functions("/hello world")
    assert routes.invokes_functions("/café/x")
    assert routes.invokes_functions("/50%")


def test_generated_rules_load_back(tree, tmp_path):
    root = tree({"index.py": HANDLER, "api/[[rest]].py": APP})
    public = tmp_path / "public"
    public.mkdir()
    (public / "_routes.json").write_text(json.dumps(generated(root)))
    loaded = load_routes_json(public)
    assert loaded == rules("/", "/api/*")


# -- the round trip: every path a route answers invokes functions ---------------------------

ROUND_TRIP_TREE = {
    "index.py": HANDLER,
    "about.py": HANDLER,
    "robots.txt.py": HANDLER,
    "hello world.py": HANDLER,
    "café/menu.py": HANDLER,
    "api/_middleware.py": MIDDLEWARE,
    "api/users/list.py": HANDLER,
    "users/[id].py": HANDLER,
    "users/[id]/posts.py": HANDLER,
    "users/[id]/posts/[post].py": HANDLER,
    "files/[[path]].py": HANDLER,
    "flask/[[default]].py": APP,
    "shop/[category]/_middleware.py": MIDDLEWARE,
    "shop/[category]/[item].py": HANDLER,
    "a+b/(x).py": HANDLER,
}

# Raw values standing in for each parameter: plain, escaped, and (in a catch-all) with an
# encoded slash, which is a slash.
PARAM_VALUES = ("x", "two%20words", "a%3Bb", "%C3%A9t%C3%A9")
CATCHALL_VALUES = ("", "a", "a/b/c", "x%20y/z", "deep%2F..x/")


def raw_paths(route):
    paths = [""]
    for segment in route.segments:
        if segment.kind is SegmentKind.STATIC:
            paths = [f"{p}/{quote(segment.value, safe='')}" for p in paths]
        elif segment.kind is SegmentKind.PARAM:
            paths = [f"{p}/{v}" for p in paths for v in PARAM_VALUES]
        else:
            paths = [f"{p}/{v}".rstrip("/") for p in paths for v in CATCHALL_VALUES]
    paths = [p or "/" for p in paths]
    return paths + [p + "/" for p in paths if p != "/"]


def test_every_path_a_route_answers_invokes_functions(tree):
    table = scan(tree(ROUND_TRIP_TREE))
    matcher = Matcher(table.routes)
    routes = parse_routes_json(json.dumps(generate_routes_json(table)))
    checked = 0
    for route in table.routes:
        for raw in raw_paths(route):
            segments = split_path(raw.encode())
            assert not isinstance(matcher.match("GET", segments), NoMatch), raw
            # Both decoded forms a caller may hold: the joined segments, and the raw path
            # decoded whole (which keeps a trailing slash).
            assert routes.invokes_functions("/" + "/".join(segments)), raw
            assert routes.invokes_functions(unquote(raw)), raw
            checked += 1
    assert checked > 100


def test_paths_under_middleware_invoke_functions(tree):
    table = scan(tree(ROUND_TRIP_TREE))
    routes = parse_routes_json(json.dumps(generate_routes_json(table)))
    assert routes.invokes_functions("/api")
    assert routes.invokes_functions("/api/no/route/here")
    assert routes.invokes_functions("/shop/books")


def test_paths_no_route_answers_go_to_assets(tree):
    table = scan(tree(ROUND_TRIP_TREE))
    matcher = Matcher(table.routes)
    routes = parse_routes_json(json.dumps(generate_routes_json(table)))
    for raw in ("/style.css", "/about/more", "/abouts", "/cafe/menu", "/a+b/x"):
        assert matcher.match("GET", split_path(raw.encode())) == NoMatch(frozenset()), raw
        assert not routes.invokes_functions(unquote(raw)), raw
