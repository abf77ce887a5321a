"""Splitting and percent-decoding request paths."""

from __future__ import annotations

import pytest

from pagesfn.errors import BadRequest
from pagesfn.routing import split_path


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        (b"/", ()),
        (b"/hello", ("hello",)),
        (b"/hello/", ("hello",)),
        (b"/a/b/c", ("a", "b", "c")),
        (b"/users/a%2Fb", ("users", "a", "b")),
        (b"/users%2F", ("users",)),
        (b"/.well-known/x", (".well-known", "x")),
        (b"/a/.b/..c/...", ("a", ".b", "..c", "...")),
        (b"/users/caf%C3%A9", ("users", "café")),
        (b"/users/caf%c3%a9", ("users", "café")),
        (b"/%7Euser/x%20y", ("~user", "x y")),
        ("/raw/café".encode(), ("raw", "café")),
        (b"/plus+sign", ("plus+sign",)),
    ],
)
def test_split(raw, segments):
    assert split_path(raw) == segments


def test_already_decoded_paths_are_not_decoded_twice():
    assert split_path(b"/a%41/b", percent_encoded=False) == ("a%41", "b")
    assert split_path(b"/a%2", percent_encoded=False) == ("a%2",)


@pytest.mark.parametrize(
    "raw",
    [
        *(b"/%", b"/a%2", b"/%zz", b"/%FF", b"/%C3", b"/a%00b", b"/\xff", b"relative", b"", b"*"),
        *(b"//", b"/a//b", b"/a//", b"/a/%2F", b"/.", b"/..", b"/a/./b", b"/a/%2e%2E/b"),
        *(b"/a/.%2e", b"/a\\b", b"/a%5cb", b"/a%5C"),
    ],
)
def test_bad_paths_raise_bad_request(raw):
    with pytest.raises(BadRequest) as info:
        split_path(raw)
    assert info.value.status == 400
