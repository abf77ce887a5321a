"""The one decision about a request's path: the segments every consumer routes on.

Middleware, routes, ``_routes.json``, static files, mounted apps and the origin must all
read a request as the same path, or a request could reach one of them as a path whose
``_middleware.py`` never ran (``/x/../admin`` at an origin that resolves dot segments,
``/admin%2Fsecret`` at a Flask app that sees the decoded ``/admin/secret``). So a path is
decoded once, whole, and split on ``/``:

- percent-escapes are decoded, ``%2F`` included: every server that hands an app a decoded
  path (WSGI's ``PATH_INFO``, ASGI's ``path``) reads an encoded slash as a slash, so a
  segment never holds one;
- dot segments (``.``, ``..``, ``%2e%2e``), empty segments (``//``), backslashes and NUL
  are refused with 400, since consumers resolve them differently (or not at all);
- one trailing slash is optional: ``/hello/`` splits as ``/hello``.

What is left is canonical: joined with ``/`` the segments are the decoded path a server
gives the app, and :func:`encode_path` spells them for an origin without ambiguity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote_to_bytes

from ..errors import BadRequest

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_SLASH = ord("/")
_PERCENT = ord("%")

#: What :func:`encode_path` leaves unescaped besides letters, digits and ``_.-~``: RFC 3986
#: ``pchar`` less ``;``, which some servers take as the start of path parameters
#: (``/admin;x/secret`` served as ``/admin/secret``).
_PCHAR_SAFE = "/!$&'()*+,=:@"


def split_path(raw: bytes, *, percent_encoded: bool = True) -> tuple[str, ...]:
    """Return the segments of ``raw``, decoded, or raise :class:`BadRequest` (400).

    >>> split_path(b"/users/caf%C3%A9/")
    ('users', 'café')

    Pass ``percent_encoded=False`` for a path a server has already decoded (WSGI's
    ``PATH_INFO`` as bytes): it is not decoded twice. Refused: paths that do not start with
    ``/``, malformed escapes, bytes that are not UTF-8, NUL, backslashes, and dot or empty
    segments, however they are spelled.
    """
    # Most paths are plain ASCII with nothing to decode or refuse: split at once. The test
    # is plain()'s, inline: a call here costs a request about 1% of its time.
    text = raw.decode("latin-1")
    if (
        text.isascii()
        and text[:1] == "/"
        and not ("%" in text or "//" in text or "/." in text or "\\" in text or "\x00" in text)
    ):
        end = len(text) - 1 if len(text) > 1 and text[-1] == "/" else len(text)
        return tuple(text[1:end].split("/")) if end > 1 else ()
    # Byte comparisons with ints are the cheap form of these tests.
    if not raw or raw[0] != _SLASH:
        raise BadRequest("the request path must start with '/'")
    if percent_encoded and _PERCENT in raw:
        if _BAD_ESCAPE.search(raw):
            raise BadRequest("the request path has a malformed percent-escape")
        raw = unquote_to_bytes(raw)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise BadRequest("the request path is not valid UTF-8") from None
    return split_decoded(text)


def plain(text: str) -> bool:
    """Whether a path (as bytes read as Latin-1) is one :func:`split_path` takes as it is:
    ASCII without escapes, NUL, backslashes, empty segments or (erring on the safe side)
    anything that could be a dot segment."""
    # As text: ``in`` on str is several times quicker than on bytes.
    return text.isascii() and not (
        "%" in text or "//" in text or "/." in text or "\\" in text or "\x00" in text
    )


def split_decoded(path: str) -> tuple[str, ...]:
    """The segments of an already decoded ``path`` (``/`` first), by the rules of
    :func:`split_path`."""
    if "\x00" in path:
        raise BadRequest("the request path contains a NUL character")
    if "\\" in path:
        raise BadRequest("the request path contains a backslash")
    if "//" in path:
        raise BadRequest("the request path has an empty segment ('//')")
    end = len(path) - 1 if len(path) > 1 and path[-1] == "/" else len(path)
    if end == 1:
        return ()
    segments = tuple(path[1:end].split("/"))
    if "/." in path and ("." in segments or ".." in segments):
        raise BadRequest("the request path has a dot segment ('.' or '..')")
    return segments


def encode_path(segments: Sequence[str], trailing_slash: bool = False) -> str:
    """The canonical percent-encoded spelling of ``segments``, for an origin server.

    >>> encode_path(("files", "a b;c"))
    '/files/a%20b%3Bc'
    """
    path = "/" + "/".join(segments)
    if trailing_slash and segments:
        path += "/"
    return quote(path, safe=_PCHAR_SAFE)


def ends_with_slash(raw: bytes, *, percent_encoded: bool = True) -> bool:
    """Whether the path ``raw`` (other than ``/``) ends with the optional slash, however
    it is spelled."""
    if len(raw) > 1 and raw[-1] == _SLASH:
        return True
    return percent_encoded and len(raw) > 3 and raw[-3:].upper() == b"%2F"
