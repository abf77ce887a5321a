"""Properties of path splitting and route matching over generated input: any request path
splits into segments or is a 400, decoded parameters come back as sent on both faces, and
the matcher follows the documented precedence for any tree and any path."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pagesfn.errors import BadRequest
from pagesfn.routing import (
    Match,
    Matcher,
    NoMatch,
    Route,
    RouteTable,
    SegmentKind,
    scan,
    split_path,
)
from pagesfn.routing.matcher import Params
from pagesfn.routing.path import plain

PURE = settings(max_examples=400, deadline=None)
TREES = settings(max_examples=150, deadline=None)
THROUGH_APP = settings(max_examples=60, deadline=None)

#: Text that can be a path segment once percent-encoded: no surrogates (not encodable as
#: UTF-8) and no NUL (refused by design).
segment_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
#: Text that is a segment of a canonical path: besides, not empty, not a dot segment and
#: without slashes and backslashes (an encoded slash is a slash; the rest is refused).
canonical_segment = segment_text.filter(
    lambda s: s not in ("", ".", "..") and "/" not in s and "\\" not in s
)

#: Pieces that make request paths interesting: escapes whole, cut short and malformed,
#: bytes that are not UTF-8, NUL in both spellings, dot segments.
_PIECES: tuple[bytes, ...] = (b"/", b"%", b"%2", b"%2F", b"%2f", b"%00", b"\x00", b"%e9")
_PIECES += (b"\xe9", b"%C3%A9", b"\xc3\xa9", b"%C3", b"%zz", b"\xff", b"a", b"..", b".")
_PIECES += (b"%ED%A0%80", b"?")
raw_paths = st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=40).map(lambda data: b"/" + data),
    st.lists(st.sampled_from(_PIECES), max_size=12).map(lambda parts: b"/" + b"".join(parts)),
    st.text(max_size=30).map(lambda text: ("/" + text).encode("utf-8", "surrogatepass")),
)


def encode(segments: Sequence[str]) -> bytes:
    """The request path a client sends for ``segments``, each percent-encoded whole."""
    return ("/" + "/".join(quote(segment, safe="") for segment in segments)).encode("ascii")


# -- split_path ---------------------------------------------------------------------------


@PURE
@given(raw_paths)
def test_split_path_gives_segments_or_a_bad_request(raw: bytes) -> None:
    """Any bytes split into canonical segments (no NUL, slash or backslash, not empty, not
    a dot segment) or raise ``BadRequest`` with a 4xx, never another exception; joined,
    the segments are the whole path decoded."""
    for percent_encoded in (True, False):
        try:
            segments = split_path(raw, percent_encoded=percent_encoded)
        except BadRequest as exc:
            assert 400 <= exc.status < 500
            continue
        assert isinstance(segments, tuple)
        for segment in segments:
            assert isinstance(segment, str) and segment not in ("", ".", "..")
            assert not {"\x00", "/", "\\"} & set(segment)
        decoded = unquote_to_bytes(raw) if percent_encoded else raw
        trimmed = decoded[:-1] if decoded.endswith(b"/") and len(decoded) > 1 else decoded
        assert ("/" + "/".join(segments)).encode() == trimmed


@PURE
@given(raw_paths)
def test_a_plain_path_is_split_as_it_is(raw: bytes) -> None:
    """What ``plain()`` calls plain (the mount shortcut's test, which ``split_path`` spells
    inline) is taken as sent on both faces: split on its slashes, nothing decoded or
    refused."""
    text = raw.decode("latin-1")
    if not (plain(text) and text.startswith("/")):
        return
    expected = tuple(text[1 : -1 if len(text) > 1 and text.endswith("/") else None].split("/"))
    expected = () if expected == ("",) else expected
    assert split_path(raw) == split_path(raw, percent_encoded=False) == expected


@PURE
@given(raw_paths)
def test_one_trailing_slash_is_optional(raw: bytes) -> None:
    """``/x/`` splits as ``/x`` (or both are refused), and only one slash is dropped."""
    if raw in (b"", b"/") or raw.endswith(b"/") or raw.upper().endswith(b"%2F"):
        return  # ends with its one optional slash already
    try:
        bare = split_path(raw)
    except BadRequest:
        with pytest.raises(BadRequest):
            split_path(raw + b"/")
        return
    assert split_path(raw + b"/") == bare
    with pytest.raises(BadRequest):
        split_path(raw + b"//")


@PURE
@given(st.lists(canonical_segment, max_size=6))
def test_percent_encoded_segments_round_trip(segments: list[str]) -> None:
    """Canonical segments percent-encoded whole and joined with ``/`` split back into
    themselves, percent signs and non-ASCII text included."""
    assert split_path(encode(segments)) == tuple(segments)


@PURE
@given(st.lists(segment_text, min_size=1, max_size=6))
def test_an_encoded_slash_splits_like_a_slash(segments: list[str]) -> None:
    """However a path is spelled, it splits as the decoded path does: ``%2F`` like ``/``,
    ``%2e%2e`` like ``..`` (both refused, or both the same segments)."""
    decoded = ("/" + "/".join(segments)).encode()
    try:
        expected = split_path(decoded, percent_encoded=False)
    except BadRequest:
        with pytest.raises(BadRequest):
            split_path(encode(segments))
        return
    assert split_path(encode(segments)) == expected


@PURE
@given(st.lists(canonical_segment, max_size=6))
def test_decoded_paths_split_on_slashes_only(segments: list[str]) -> None:
    """A path a server already decoded (WSGI's ``PATH_INFO``) is split, never decoded again."""
    raw = ("/" + "/".join(segments)).encode()
    assert split_path(raw, percent_encoded=False) == tuple(segments)


# -- the matcher over generated trees -----------------------------------------------------

_STATIC = ("a", "b", "users")
_SOURCES = {
    "any": "def on_request(context):\n    return 'any'\n",
    "get": "def on_request_get(context):\n    return 'get'\n",
    "post": "def on_request_post(context):\n    return 'post'\n",
    "app": "app = None\n",
}


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    """A functions tree of static, ``[param]`` and ``[[catchall]]`` files (catch-alls
    sometimes mounting an app), with no two files claiming one route."""
    shapes = draw(st.lists(_shapes(), min_size=1, max_size=8, unique=True))
    files: dict[str, str] = {}
    for shape in shapes:
        catchall = bool(shape) and shape[-1].startswith("[[")
        if catchall:
            rel = "/".join(shape) + ".py"
        elif not shape:
            rel = "index.py"
        else:
            rel = "/".join(shape) + draw(st.sampled_from((".py", "/index.py")))
        kinds = ("any", "get", "post", "app") if catchall else ("any", "get", "post")
        files[rel] = _SOURCES[draw(st.sampled_from(kinds))]
    return files


@st.composite
def _shapes(draw: st.DrawFn) -> tuple[str, ...]:
    depth = draw(st.integers(0, 3))
    shape = tuple(draw(st.sampled_from((*_STATIC, f"[p{i}]"))) for i in range(depth))
    return (*shape, "[[rest]]") if draw(st.booleans()) else shape


def path_segments(table: RouteTable) -> st.SearchStrategy[list[str]]:
    """Paths that hit routes of ``table`` and paths near them."""
    near = st.sampled_from((*_STATIC, "A", "c", "", "%", "a/b", "ü"))
    anything = st.lists(st.one_of(near, segment_text.filter(lambda s: len(s) < 5)), max_size=5)
    routes = [_instance(route) for route in table.routes]
    return st.one_of(anything, *routes) if routes else anything


def _instance(route: Route) -> st.SearchStrategy[list[str]]:
    parts: list[st.SearchStrategy[list[str]]] = []
    for segment in route.segments:
        if segment.kind is SegmentKind.STATIC:
            parts.append(st.just([segment.value]))
        elif segment.kind is SegmentKind.PARAM:
            parts.append(st.sampled_from(("x", "a", "users", "", "%2F")).map(lambda v: [v]))
        else:
            parts.append(st.lists(st.sampled_from(("x", "a", "", "b")), max_size=3))
    return st.tuples(*parts).map(lambda lists: [s for part in lists for s in part])


def _built(files: Mapping[str, str]) -> tuple[RouteTable, Matcher]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for rel, source in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(source)
        table = scan(root)
    return table, Matcher(table.routes)


def reference_params(route: Route, segments: Sequence[str]) -> Params | None:
    """The params ``route`` takes from ``segments``, or ``None`` when it does not match,
    read straight from the documented pattern rules."""
    fixed = route.segments[:-1] if route.is_catchall else route.segments
    if len(segments) < len(fixed) or (not route.is_catchall and len(segments) != len(fixed)):
        return None
    params: Params = {}
    for segment, value in zip(fixed, segments, strict=False):
        if segment.kind is SegmentKind.STATIC and segment.value != value:
            return None
        if segment.kind is SegmentKind.PARAM:
            if not value:
                return None
            params[segment.value] = value
    if route.is_catchall:
        params[route.segments[-1].value] = list(segments[len(fixed) :])
    return params


def reference_match(routes: Sequence[Route], method: str, segments: Sequence[str]) -> Any:
    """The documented answer: of the routes matching the path, ordered segment by segment
    from the left (static, then ``[param]``, then ``[[catchall]]``; a route ending where
    the path ends before a catch-all matching nothing), the first that takes the method;
    else no match, with the methods of the routes that match the path."""
    matching = [(r, p) for r in routes if (p := reference_params(r, segments)) is not None]
    matching.sort(key=lambda pair: tuple(int(s.kind) for s in pair[0].segments))
    for route, params in matching:
        if route.accepts(method):
            return route.file, params
    return frozenset(key for route, _ in matching for key in route.handlers)


def outcome(found: Match | NoMatch) -> Any:
    return (found.route.file, found.params) if isinstance(found, Match) else found.allowed


@TREES
@given(trees(), st.data())
def test_matcher_follows_the_documented_precedence(
    files: dict[str, str], data: st.DataObject
) -> None:
    """For a generated tree and paths on and near its routes, every method gets the route
    the precedence rules name, with its params, or the no-match carrying the methods the
    path takes; the raw-path shortcuts agree with the full match."""
    table, matcher = _built(files)
    assert {route.file for route in table.routes} == set(files)
    for segments in data.draw(st.lists(path_segments(table), min_size=1, max_size=8)):
        raw = encode(segments)
        try:
            decoded = split_path(raw)
        except BadRequest:
            # A refused path is refused by the shortcuts too: they never route it.
            assert matcher.match_mount(raw) is None
            assert all(matcher.match_static(method, raw) is None for method in ("GET", "POST"))
            continue
        for method in ("GET", "HEAD", "POST", "PUT"):
            found = matcher.match(method, decoded)
            assert outcome(found) == reference_match(table.routes, method, decoded), raw
            # What the pipeline takes is the same answer.
            assert matcher.find(method, decoded) == (
                found.allowed if isinstance(found, NoMatch) else (found.route, found.params)
            )
            shortcut = matcher.match_static(method, raw)
            if shortcut is not None:
                assert outcome(Match(*shortcut)) == outcome(found) and shortcut[1] == {}
            # A path as sent that names an all-static route is that route's, for the
            # methods it takes.
            exact = matcher.exact.get(raw)
            if exact is not None and exact.accepts(method):
                assert outcome(found) == (exact.file, {})
        mount = matcher.match_mount(raw)
        if mount is not None:
            route, prefix = mount
            assert outcome(matcher.match("GET", decoded))[0] == route.file
            assert prefix == "/" + "/".join(s.value for s in route.segments[:-1])


@TREES
@given(trees(), st.lists(st.text(max_size=6), max_size=6))
def test_matcher_takes_any_segments(files: dict[str, str], segments: list[str]) -> None:
    """Any sequence of texts (NUL, surrogates and slashes included) gives a match or a
    no-match, never an exception."""
    _, matcher = _built(files)
    for method in ("GET", "POST", "WEBSOCKET"):
        assert isinstance(matcher.match(method, segments), (Match, NoMatch))


file_name = st.text(st.sampled_from("abcXYZ019-~!$&'()*+,;=:@é"), min_size=1, max_size=8).filter(
    lambda name: name != "index"
)
prefixes = st.lists(file_name, max_size=2)


@TREES
@given(prefixes, file_name, segment_text.filter(bool), st.lists(segment_text, max_size=3))
def test_static_beats_param_beats_catchall(
    prefix: list[str], name: str, value: str, more: list[str]
) -> None:
    """At the same depth a static file wins over ``[param]``, which wins over
    ``[[catchall]]``; the catch-all takes the folder itself and deeper paths."""
    folder = "".join(part + "/" for part in prefix)
    source = _SOURCES["any"]
    files = {f"{folder}{name}.py": source, f"{folder}[p].py": source}
    files[f"{folder}[[rest]].py"] = source
    _, matcher = _built(files)

    def answer(*segments: str) -> Any:
        return outcome(matcher.match("GET", (*prefix, *segments)))

    assert answer(name) == (f"{folder}{name}.py", {})
    if value != name:
        assert answer(value) == (f"{folder}[p].py", {"p": value})
    assert answer(value, *more, "x") == (f"{folder}[[rest]].py", {"rest": [value, *more, "x"]})
    assert answer() == (f"{folder}[[rest]].py", {"rest": []})


@TREES
@given(prefixes, st.lists(segment_text, min_size=1, max_size=3))
def test_index_beats_a_catchall_matching_nothing(prefix: list[str], more: list[str]) -> None:
    """The folder's own route answers the folder, with or without a trailing slash; the
    catch-all beside it answers everything deeper."""
    folder = "".join(part + "/" for part in prefix)
    source = _SOURCES["any"]
    _, matcher = _built({f"{folder}index.py": source, f"{folder}[[rest]].py": source})
    for raw in (encode(prefix), encode(prefix) + b"/" if prefix else b"/"):
        assert outcome(matcher.match("GET", split_path(raw))) == (f"{folder}index.py", {})
    deeper = outcome(matcher.match("GET", (*prefix, *more)))
    assert deeper == (f"{folder}[[rest]].py", {"rest": more})


@TREES
@given(file_name.filter(lambda name: name.swapcase() != name))
def test_matching_is_case_sensitive(name: str) -> None:
    """A path differing from a static file's name only in case does not reach it."""
    _, matcher = _built({f"{name}.py": _SOURCES["any"]})
    assert isinstance(matcher.match("GET", (name,)), Match)
    assert matcher.match("GET", (name.swapcase(),)) == NoMatch(frozenset())
    assert matcher.match_static("GET", encode([name.swapcase()])) is None


# -- params through the real app, on both faces -------------------------------------------

ECHO = """
def on_request(context):
    return {"file": context.function_path, "params": context.params}
"""


def test_decoded_params_reach_handlers_unchanged(serve: Callable[..., Any]) -> None:
    """Arbitrary segment texts, percent-encoded by the client, reach ``[a]/[b].py`` or
    ``[[rest]].py`` as the same texts, on both faces."""
    client = serve({"[a]/[b].py": ECHO, "[[rest]].py": ECHO})

    @THROUGH_APP
    @given(st.lists(canonical_segment, max_size=4))
    def check(segments: list[str]) -> None:
        result = client.get(encode(segments).decode("ascii"))
        assert result.status == 200, (segments, result.body)
        if len(segments) == 2:
            expected = {"file": "[a]/[b].py", "params": {"a": segments[0], "b": segments[1]}}
        else:
            expected = {"file": "[[rest]].py", "params": {"rest": segments}}
        assert result.json() == expected

    check()
