"""The compiled matcher: precedence, params, method fall-through, no-match answers."""

from __future__ import annotations

import pytest

from pagesfn.errors import RouteDefinitionError
from pagesfn.routing import (
    ANY,
    Match,
    Matcher,
    MiddlewareMatcher,
    NoMatch,
    Route,
    RouteKind,
    Segment,
    SegmentKind,
)


def route(pattern: str, *methods: str) -> Route:
    segments = []
    for part in pattern.strip("/").split("/") if pattern != "/" else []:
        if part.startswith("[["):
            segments.append(Segment(SegmentKind.CATCHALL, part[2:-2]))
        elif part.startswith("["):
            segments.append(Segment(SegmentKind.PARAM, part[1:-1]))
        else:
            segments.append(Segment(SegmentKind.STATIC, part))
    handlers = {
        m: f"on_request_{m.lower()}" if m != ANY else "on_request" for m in methods or (ANY,)
    }
    return Route(tuple(segments), pattern.strip("/") + ".py", handlers=handlers)


def segs(path: str) -> tuple[str, ...]:
    return tuple(path.strip("/").split("/")) if path.strip("/") else ()


def matched(matcher: Matcher, path: str, method: str = "GET") -> tuple[str, dict]:
    found = matcher.match(method, segs(path))
    assert isinstance(found, Match), (path, found)
    return found.route.pattern, found.params


def test_static_beats_param_beats_catchall():
    m = Matcher([route("/users/[[rest]]"), route("/users/[id]"), route("/users/special")])
    assert matched(m, "/users/special") == ("/users/special", {})
    assert matched(m, "/users/42") == ("/users/[id]", {"id": "42"})
    assert matched(m, "/users/42/x") == ("/users/[[rest]]", {"rest": ["42", "x"]})
    assert matched(m, "/users") == ("/users/[[rest]]", {"rest": []})


def test_precedence_is_segment_by_segment_with_backtracking():
    m = Matcher([route("/a/[x]/c"), route("/[y]/b/d")])
    assert matched(m, "/a/b/c") == ("/a/[x]/c", {"x": "b"})
    assert matched(m, "/a/b/d") == ("/[y]/b/d", {"y": "a"})
    assert isinstance(m.match("GET", segs("/a/b/e")), NoMatch)


def test_index_beats_catchall_matching_nothing():
    m = Matcher([route("/[[path]]"), route("/")])
    assert matched(m, "/") == ("/", {})
    assert matched(m, "/x/y") == ("/[[path]]", {"path": ["x", "y"]})


def test_param_needs_a_non_empty_segment():
    m = Matcher([route("/a/[id]"), route("/a/[id]/b")])
    assert isinstance(m.match("GET", ("a", "")), NoMatch)
    assert isinstance(m.match("GET", ("a", "", "b")), NoMatch)


def test_param_does_not_span_segments():
    m = Matcher([route("/api/users/[id]")])
    assert isinstance(m.match("GET", segs("/api/users/vip/1024")), NoMatch)
    assert isinstance(m.match("GET", segs("/api/vip/1024")), NoMatch)


def test_method_falls_through_to_less_specific_routes():
    m = Matcher([route("/users/me", "GET"), route("/users/[id]", "GET", "POST")])
    assert matched(m, "/users/me", "GET") == ("/users/me", {})
    assert matched(m, "/users/me", "POST") == ("/users/[id]", {"id": "me"})
    found = m.match("DELETE", segs("/users/me"))
    assert found == NoMatch(frozenset({"GET", "POST"}))


def test_head_uses_get():
    m = Matcher([route("/a", "GET")])
    assert matched(m, "/a", "HEAD")[0] == "/a"


def test_no_route_at_all_is_an_empty_no_match():
    assert Matcher([route("/a")]).match("GET", segs("/b")) == NoMatch(frozenset())


def test_any_method_route_takes_unknown_methods():
    m = Matcher([route("/a")])
    assert matched(m, "/a", "PROPFIND")[0] == "/a"


def test_duplicate_shapes_are_rejected_when_added():
    m = Matcher([route("/users/[id]")])
    with pytest.raises(RouteDefinitionError, match="both claim"):
        m.add(route("/users/[name]"))
    with pytest.raises(RouteDefinitionError):
        Matcher([route("/x/[[a]]"), route("/x/[[b]]")])


def test_candidates_lists_every_match_in_order():
    m = Matcher([route("/[[all]]"), route("/a/[x]"), route("/a/b"), route("/[p]/b")])
    assert [r.pattern for r in m.candidates(("a", "b"))] == ["/a/b", "/a/[x]", "/[p]/b", "/[[all]]"]


def test_case_sensitive():
    m = Matcher([route("/helloworld")])
    assert isinstance(m.match("GET", ("HelloWorld",)), NoMatch)


def test_static_shortcut_on_the_raw_path():
    m = Matcher([route("/hello-pages", "GET"), route("/[x]", "POST")])
    assert m.match_static("GET", b"/hello-pages")[0].pattern == "/hello-pages"
    assert m.match_static("GET", b"/hello-pages/")[0].pattern == "/hello-pages"
    # Anything the shortcut cannot answer goes to the full match.
    assert m.match_static("POST", b"/hello-pages") is None
    assert m.match_static("GET", b"/hello%2Dpages") is None
    assert m.match_static("GET", b"/other") is None


def test_names_that_need_encoding_match_once_decoded():
    m = Matcher([route("/café"), route("/a b")])
    assert m.match_static("GET", "/café".encode()) is None
    assert matched(m, "/café")[0] == "/café"
    assert matched(m, "/a b")[0] == "/a b"


def mount(pattern: str) -> Route:
    base = route(pattern)
    return Route(base.segments, base.file, RouteKind.APP, {ANY: "app"})


def test_a_mount_owning_its_prefix_is_found_from_the_raw_path():
    m = Matcher([mount("/api/[[rest]]"), mount("/v1/deep/[[rest]]"), route("/other")])
    app = m.match_mount(b"/api/items/3")
    assert app is not None and app[0].pattern == "/api/[[rest]]" and app[1] == "/api"
    assert m.match_mount(b"/api")[1] == "/api"
    assert m.match_mount(b"/api/")[1] == "/api"
    assert m.match_mount(b"/v1/deep/x")[1] == "/v1/deep"
    for raw in (b"/apix", b"/ap", b"/other", b"/v1/deeper", b"/api/%7E", "/api/é".encode()):
        assert m.match_mount(raw) is None, raw


@pytest.mark.parametrize(
    "neighbour",
    ["/api/health", "/api/[id]", "/api", "/api/x/y"],
)
def test_no_shortcut_when_another_route_lives_under_the_prefix(neighbour):
    m = Matcher([mount("/api/[[rest]]"), route(neighbour)])
    assert m.match_mount(b"/api/health") is None
    # The full match still sends what the neighbour does not claim to the mount.
    assert matched(m, "/api/zzz/zzz")[0] == "/api/[[rest]]"


def test_handler_catchalls_and_param_prefixes_take_no_shortcut():
    m = Matcher([route("/api/[[rest]]"), mount("/[tenant]/app/[[rest]]")])
    assert m.match_mount(b"/api/x") is None
    assert m.match_mount(b"/acme/app/x") is None
    assert matched(m, "/acme/app/x") == (
        "/[tenant]/app/[[rest]]",
        {"tenant": "acme", "rest": ["x"]},
    )


def test_adding_a_route_revokes_the_shortcut():
    m = Matcher([mount("/api/[[rest]]")])
    assert m.match_mount(b"/api/health") is not None
    m.add(route("/api/health"))
    assert m.match_mount(b"/api/health") is None


def middleware(folder: str) -> Route:
    base = route(folder)
    return Route(
        base.segments,
        folder.strip("/") + "/_middleware.py",
        RouteKind.MIDDLEWARE,
        {ANY: "on_request"},
    )


def test_middleware_match_their_folder_on_segment_boundaries_outermost_first():
    matcher = MiddlewareMatcher(
        [middleware("/"), middleware("/api"), middleware("/api/[version]"), middleware("/users")]
    )
    found = lambda path: [(r.pattern, params) for r, params in matcher.match(segs(path))]  # noqa: E731
    assert found("/") == [("/", {})]
    assert found("/api") == [("/", {}), ("/api", {})]
    assert found("/api/v2/items") == [
        ("/", {}),
        ("/api", {}),
        ("/api/[version]", {"version": "v2"}),
    ]
    assert found("/apix") == [("/", {})]
    assert found("/users/1") == [("/", {}), ("/users", {})]


def test_a_param_folder_middleware_needs_a_non_empty_segment():
    matcher = MiddlewareMatcher([middleware("/api/[version]")])
    assert matcher.match(("api", "")) == []
    assert matcher.match(("api",)) == []
    assert bool(matcher) and not MiddlewareMatcher([])
