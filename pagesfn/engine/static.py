"""A site's static files, served from its ``public/`` folder as the Pages platforms do.

Plain blocking code: the ASGI face calls it in a worker thread, the WSGI face directly.
"""

from __future__ import annotations

import email.utils
import functools
import mimetypes
import os
import re
import stat
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote

from werkzeug.datastructures import Headers
from werkzeug.http import parse_date

from ..errors import BadRequest
from ..http.wrappers import FileBody, Response
from ..routing.path import ends_with_slash, split_path

#: Files up to this size are read into the response; larger ones are sent from disk.
SMALL_FILE = 64 * 1024

_SEP = os.sep
_CACHE_CONTROL = "public, max-age=0, must-revalidate"
_TEXT_TYPE = "text/plain; charset=utf-8"
_INDEX = "index.html"
_NOT_FOUND_PAGE = "404.html"
# Platform configuration kept next to the site's files; it is read, never served.
_CONTROL_FILES = frozenset({"_routes.json", "_headers", "_redirects"})
_WELL_KNOWN = ".well-known"
_CONDITIONAL = {
    "if-none-match": "If-None-Match",
    "if-modified-since": "If-Modified-Since",
    "range": "Range",
    "if-range": "If-Range",
}
_UTF8_TYPES = frozenset({"application/javascript", "application/json"})
# A compressed file is served as the archive it is, not as what it unpacks to: without a
# ``Content-Encoding`` a browser would otherwise try to render the compressed bytes.
_ENCODED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
# Digits only in ASCII: ``\d`` would accept other scripts' digits, which ``int`` parses.
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)
# Longer numbers are beyond any file size; capping them keeps ``int`` away from huge input.
_MAX_DIGITS = 18
# Non-blocking so that a FIFO swapped in after the lookup cannot hang the open; the open
# file is checked to be a regular one before anything is read.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class _Unsatisfiable:
    pass


_UNSATISFIABLE = _Unsatisfiable()

_Found = tuple[str, os.stat_result]


class _HeaderGetter(Protocol):
    """Request headers looked up by name, case-insensitively (werkzeug's ``Headers``)."""

    def get(self, key: str, /) -> str | None: ...


class StaticFiles:
    """The files under ``root``, served as Cloudflare Pages and EdgeOne Pages serve them.

    ``/docs/`` serves ``docs/index.html``, ``/docs`` redirects there, ``/about`` serves
    ``about.html`` when there is no ``about`` file. Dotfiles (except ``.well-known``) and
    the platform's control files (``_routes.json``, ``_headers``, ``_redirects``) are never
    served, nor anything a symlink leads to outside ``root``. With ``spa=True`` a missing
    page without a file extension gets the root ``index.html`` instead of a 404.
    """

    def __init__(self, root: str | os.PathLike[str], *, spa: bool = False) -> None:
        self.root: str = os.path.realpath(os.fspath(root))
        self.spa = spa
        self._prefix = self.root if self.root.endswith(_SEP) else self.root + _SEP

    def serve(
        self,
        method: str,
        raw_path: bytes,
        headers: _HeaderGetter,
        *,
        percent_encoded: bool = True,
        root_path: str = "",
        segments: Sequence[str] | None = None,
    ) -> Response | None:
        """The response for the file at ``raw_path``, or ``None`` when there is none.

        Only ``GET`` and ``HEAD`` are served (``None`` for other methods). ``raw_path`` is
        the app-relative path as sent; a malformed one gets a 400 response. ``HEAD`` gets
        the full ``GET`` response: the faces drop its body. ``root_path`` prefixes the
        ``Location`` of the redirect from a folder to its trailing-slash form. ``segments``
        is the path as the request's one decision split it, when there was one.
        """
        if method != "GET" and method != "HEAD":
            return None
        try:
            segments = _decided(raw_path, percent_encoded, segments)
        except BadRequest as exc:
            return _bad_request(exc)
        found = self._locate(segments, ends_with_slash(raw_path, percent_encoded=percent_encoded))
        if found is None:
            return None
        if isinstance(found, str):
            return _redirect(root_path, found)
        return self._file(found, headers)

    def exists(
        self,
        raw_path: bytes,
        *,
        percent_encoded: bool = True,
        segments: Sequence[str] | None = None,
    ) -> bool:
        """Whether ``serve("GET", raw_path, ...)`` would answer (a file or a redirect)."""
        try:
            segments = _decided(raw_path, percent_encoded, segments)
        except BadRequest:
            return False
        slash = ends_with_slash(raw_path, percent_encoded=percent_encoded)
        return self._locate(segments, slash) is not None

    def not_found(
        self,
        method: str,
        raw_path: bytes,
        headers: _HeaderGetter,
        *,
        percent_encoded: bool = True,
        segments: Sequence[str] | None = None,
    ) -> Response:
        """The answer when nothing else served ``raw_path``.

        The root ``index.html`` (status 200) for an extensionless ``GET``/``HEAD`` path of
        a single-page app; otherwise the nearest ``404.html`` up the folders of the path,
        with status 404; otherwise a plain-text 404.
        """
        try:
            segments = _decided(raw_path, percent_encoded, segments)
        except BadRequest as exc:
            return _bad_request(exc)
        if self.spa and (method == "GET" or method == "HEAD"):
            response = self._app_page(segments, headers)
            if response is not None:
                return response
        slash = ends_with_slash(raw_path, percent_encoded=percent_encoded)
        folder = segments if slash else segments[:-1]
        page = self._nearest_404(folder)
        if page is not None:
            response = self._file(page, None, 404)
            if response is not None:
                return response
        return _text(404, "Not Found")

    def _app_page(self, segments: Sequence[str], headers: _HeaderGetter) -> Response | None:
        # A path with a file extension asks for an asset: a missing one stays a 404 rather
        # than getting HTML a script or stylesheet cannot use.
        if segments and "." in segments[-1]:
            return None
        index = self._regular(self._step(self.root, _INDEX))
        return None if index is None else self._file(index, headers)

    # -- finding the file ----------------------------------------------------------------

    def _locate(self, segments: Sequence[str], slash: bool) -> _Found | str | None:
        """The file for a path, the path of the folder to redirect to, or ``None``."""
        if not _allowed(segments):
            return None
        if not segments:
            return self._regular(self._step(self.root, _INDEX))
        folder = self.root
        if len(segments) > 1:
            parent = self._walk(segments[:-1])
            if parent is None:
                return None
            folder = parent[0]
        found = self._step(folder, segments[-1])
        if slash:
            if found is None or not stat.S_ISDIR(found[1].st_mode):
                return None
            return self._regular(self._step(found[0], _INDEX))
        if found is not None:
            mode = found[1].st_mode
            if stat.S_ISREG(mode):
                return found
            if stat.S_ISDIR(mode) and self._regular(self._step(found[0], _INDEX)):
                return "/" + "/".join(segments) + "/"
        # Pretty URLs: ``/about`` is ``about.html`` when there is no ``about`` file.
        return self._regular(self._step(folder, segments[-1] + ".html"))

    def _walk(self, segments: Sequence[str]) -> _Found | None:
        """Follow ``segments`` down from the root; ``segments`` must not be empty."""
        path = self.root
        found: _Found | None = None
        for name in segments:
            found = self._step(path, name)
            if found is None:
                return None
            path = found[0]
        return found

    def _step(self, folder: str, name: str) -> _Found | None:
        """The real path and status of ``name`` in ``folder``, a real folder under the root.

        One ``lstat`` per level: a symlink is the only way out of the root once the
        segments are checked, so only symlinks need resolving (and containing).
        """
        path = folder + name if folder.endswith(_SEP) else folder + _SEP + name
        try:
            info = os.lstat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISLNK(info.st_mode):
            return path, info
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self._prefix):
            return None
        try:
            return real, os.stat(real)
        except (OSError, ValueError):
            return None

    @staticmethod
    def _regular(found: _Found | None) -> _Found | None:
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None
        return found

    def _nearest_404(self, folder: Sequence[str]) -> _Found | None:
        # Only the part of the path that could be served is walked, so a dotfile folder in
        # a missing path never leads the search anywhere it should not go; each name is
        # looked at once, so the cost is linear in the path's depth.
        folders = [self.root]
        for index, name in enumerate(folder):
            if not _allowed_name(name) or (index == 0 and name in _CONTROL_FILES):
                break
            found = self._step(folders[-1], name)
            if found is None or not stat.S_ISDIR(found[1].st_mode):
                break
            folders.append(found[0])
        for path in reversed(folders):
            page = self._regular(self._step(path, _NOT_FOUND_PAGE))
            if page is not None:
                return page
        return None

    # -- answering -----------------------------------------------------------------------

    def _file(
        self, found: _Found, headers: _HeaderGetter | None, status: int = 200
    ) -> Response | None:
        """The response for a regular file; ``headers=None`` skips conditions and ranges."""
        path, info = found
        if info.st_size > SMALL_FILE:
            return _respond(path, info, headers, status, None)
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError:
            return None
        try:
            # The open file's own status: the file may have changed since it was looked up.
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            return _respond(path, info, headers, status, fd)
        finally:
            os.close(fd)


def _respond(
    path: str,
    info: os.stat_result,
    headers: _HeaderGetter | None,
    status: int,
    fd: int | None,
) -> Response:
    size = info.st_size
    etag = f'"{size:x}-{info.st_mtime_ns:x}"'
    mtime = int(info.st_mtime)
    last_modified = _http_date(mtime)
    start, length = 0, size
    content_range: str | None = None
    if headers is not None:
        asked = _conditions(headers)
        if _not_modified(asked, etag, mtime):
            validators = [
                ("ETag", etag),
                ("Last-Modified", last_modified),
                ("Cache-Control", _CACHE_CONTROL),
            ]
            response = Response(b"", 304, validators)
            # werkzeug gives every response a default type; a 304 describes no body.
            response.headers.remove("Content-Type")
            return response
        wanted = _requested_range(asked, etag, mtime, size)
        if wanted is _UNSATISFIABLE:
            response = _text(416, "Range Not Satisfiable")
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        if isinstance(wanted, tuple):
            start, end = wanted
            length = end - start
            status = 206
            content_range = f"bytes {start}-{end - 1}/{size}"
    if fd is not None and length <= SMALL_FILE:
        body = _read(fd, start, length)
        length = len(body)
    else:
        body = None
    pairs = [
        ("Content-Type", _content_type(os.path.basename(path))),
        ("Content-Length", str(length)),
        ("ETag", etag),
        ("Last-Modified", last_modified),
        ("Accept-Ranges", "bytes"),
        ("Cache-Control", _CACHE_CONTROL),
    ]
    if content_range is not None:
        pairs.append(("Content-Range", content_range))
    if body is None:
        whole = start == 0 and length == size
        return Response.streamed(FileBody(path, start, length, whole), status, pairs)
    return Response(body, status, pairs)


def _conditions(headers: _HeaderGetter) -> dict[str, str]:
    """The request's conditional and range headers, by lower-case name."""
    if isinstance(headers, Headers):
        # One pass over the pairs: each ``Headers.get`` that misses raises and catches a
        # ``KeyError``, and most requests carry none of these headers.
        found: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            if key not in _CONDITIONAL:
                continue
            if key not in found:
                found[key] = value
            elif key == "if-none-match":
                # Repeated list headers are one list (RFC 9110 section 5.3).
                found[key] += ", " + value
        return found
    pairs = ((key, headers.get(name)) for key, name in _CONDITIONAL.items())
    return {key: value for key, value in pairs if value is not None}


def _not_modified(headers: dict[str, str], etag: str, mtime: int) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_listed(if_none_match, etag)
    # Only consulted without ``If-None-Match``, as RFC 9110 section 13.2.2 orders.
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    date = parse_date(if_modified_since)
    return date is not None and int(date.timestamp()) >= mtime


def _etag_listed(header: str, etag: str) -> bool:
    """Weak comparison of ``etag`` against an ``If-None-Match`` list (or ``*``)."""
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _requested_range(
    headers: dict[str, str], etag: str, mtime: int, size: int
) -> tuple[int, int] | _Unsatisfiable | None:
    """The ``(start, end)`` byte span asked for, unsatisfiable, or ``None`` for all of it."""
    header = headers.get("range")
    if header is None:
        return None
    if_range = headers.get("if-range")
    if if_range is not None and not _if_range_holds(if_range.strip(), etag, mtime):
        return None
    return _parse_range(header, size)


def _if_range_holds(value: str, etag: str, mtime: int) -> bool:
    # If-Range needs a strong match: a weak tag never does, a date must be Last-Modified.
    if value.startswith(('"', "W/")):
        return value == etag
    date = parse_date(value)
    return date is not None and int(date.timestamp()) == mtime


def _parse_range(header: str, size: int) -> tuple[int, int] | _Unsatisfiable | None:
    # Several ranges, or one that is malformed, are answered with the whole file, which
    # RFC 9110 allows: a multipart/byteranges body is not worth its complexity here.
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = _number(last)
        if suffix == 0 or size == 0:
            return _UNSATISFIABLE
        return max(0, size - suffix), size
    start = _number(first)
    if last:
        end = _number(last)
        if end < start:
            return None
        if start >= size:
            return _UNSATISFIABLE
        return start, min(end + 1, size)
    if start >= size:
        return _UNSATISFIABLE
    return start, size


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _read(fd: int, offset: int, length: int) -> bytes:
    if offset:
        os.lseek(fd, offset, os.SEEK_SET)
    data = os.read(fd, length)
    if len(data) == length or not data:
        return data
    chunks = [data]
    remaining = length - len(data)
    while remaining > 0:
        chunk = os.read(fd, remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


@functools.lru_cache(maxsize=1024)
def _content_type(name: str) -> str:
    guessed, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        return _ENCODED_TYPES.get(encoding, "application/octet-stream")
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in _UTF8_TYPES:
        return guessed + "; charset=utf-8"
    return guessed


def _decided(
    raw_path: bytes, percent_encoded: bool, segments: Sequence[str] | None
) -> Sequence[str]:
    """The request path's segments: those given, else split here by the same decision."""
    if segments is not None:
        return segments
    return split_path(raw_path, percent_encoded=percent_encoded)


def _allowed(segments: Sequence[str]) -> bool:
    """Whether a path may name a served file at all, whatever is on disk."""
    if not all(_allowed_name(name) for name in segments):
        return False
    return not (segments and segments[0] in _CONTROL_FILES)


def _allowed_name(name: str) -> bool:
    """Whether one path segment may name a served file or folder."""
    if not name or (name[0] == "." and name != _WELL_KNOWN):
        return False
    return "/" not in name and "\\" not in name and "\x00" not in name


def _redirect(root_path: str, path: str) -> Response:
    # ``root_path`` may arrive decoded (ASGI, WSGI) or already escaped: ``%`` is kept so an
    # escaped one is not escaped twice.
    location = quote(root_path.rstrip("/"), safe="/%!$&'()*+,;=:@") + quote(path)
    return Response(b"", 307, [("Location", location), ("Content-Length", "0")])


def _bad_request(exc: BadRequest) -> Response:
    return _text(exc.status, f"Bad Request: {exc}")


def _text(status: int, text: str) -> Response:
    body = text.encode()
    return Response(
        body, status, [("Content-Type", _TEXT_TYPE), ("Content-Length", str(len(body)))]
    )
