"""Split a request path into decoded segments, the form the matcher works on."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from ..errors import BadRequest

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_SLASH = ord("/")
_PERCENT = ord("%")


def split_path(raw: bytes, *, percent_encoded: bool = True) -> tuple[str, ...]:
    """Return the segments of ``raw``, each percent-decoded on its own.

    Decoding per segment keeps ``a%2Fb`` one segment (``"a/b"``). One trailing slash is
    dropped, so ``/hello/`` and ``/hello`` give the same segments. Pass
    ``percent_encoded=False`` for a path a server has already decoded (WSGI's
    ``PATH_INFO``). Raises :class:`BadRequest` for malformed escapes, bytes that are not
    UTF-8, NUL characters and paths that do not start with ``/``.
    """
    # Byte comparisons with ints are the cheap form of these tests; this runs per request.
    if not raw or raw[0] != _SLASH:
        raise BadRequest("the request path must start with '/'")
    if raw[-1] == _SLASH and len(raw) > 1:
        raw = raw[:-1]
    if len(raw) == 1:
        return ()
    if percent_encoded and _PERCENT in raw:
        if _BAD_ESCAPE.search(raw):
            raise BadRequest("the request path has a malformed percent-escape")
        return tuple(_decode_segment(part) for part in raw[1:].split(b"/"))
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise BadRequest("the request path is not valid UTF-8") from None
    if "\x00" in text:
        raise BadRequest("the request path contains a NUL character")
    return tuple(text[1:].split("/"))


def _decode_segment(part: bytes) -> str:
    try:
        text = unquote_to_bytes(part).decode("utf-8") if b"%" in part else part.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request path does not decode to UTF-8") from None
    if "\x00" in text:
        raise BadRequest("the request path contains a NUL character")
    return text
