"""Static files from ``public/``: lookup, headers, validators, ranges and containment."""

from __future__ import annotations

import contextlib
import email.utils
import os
import threading
from pathlib import Path

import pytest
from werkzeug.datastructures import EnvironHeaders, Headers

from pagesfn.engine.static import SMALL_FILE, StaticFiles
from pagesfn.http.wrappers import FileBody, Response

SECRET = b"top secret, outside the site"
MTIME = 1_700_000_000
TEXT = b"0123456789abcdef"

FILES: dict[str, bytes] = {
    "index.html": b"<h1>home</h1>",
    "notes.txt": TEXT,
    "style.css": b"body{}",
    "app.js": b"console.log(1)",
    "data.json": b'{"a":1}',
    "logo.png": b"\x89PNG\r\n\x1a\n",
    "blob.zzqq": b"\x00\x01",
    "archive.tar.gz": b"\x1f\x8b",
    "about.html": b"<p>about</p>",
    "thing": b"the thing itself",
    "thing.html": b"<p>not this</p>",
    "404.html": b"<p>root 404</p>",
    "docs/index.html": b"<p>docs</p>",
    "docs/guide.txt": b"guide",
    "docs/_headers": b"nested control name",
    "blog/404.html": b"<p>blog 404</p>",
    "blog/2024/post.html": b"<p>post</p>",
    "empty/readme.md": b"no index here",
    "caf\u00e9/index.html": b"<p>cafe</p>",
    ".env": b"KEY=secret",
    ".git/config": b"[core]",
    "docs/.hidden": b"hidden",
    ".well-known/security.txt": b"Contact: me",
    "_routes.json": b'{"version":1}',
    "_headers": b"/*\n  X-A: b",
    "_redirects": b"/a /b",
}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))


@pytest.fixture
def public(tmp_path: Path) -> Path:
    root = tmp_path / "public"
    write_tree(root, FILES)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    # A 404 page outside the site must not be found by walking up past the root.
    (tmp_path / "404.html").write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "index.html").write_bytes(SECRET)
    return root


@pytest.fixture
def files(public: Path) -> StaticFiles:
    return StaticFiles(public)


def get(
    files: StaticFiles, path: str | bytes, method: str = "GET", **headers: str
) -> Response | None:
    raw = path.encode() if isinstance(path, str) else path
    wanted = Headers([(name.replace("_", "-"), value) for name, value in headers.items()])
    return files.serve(method, raw, wanted)


def ok(files: StaticFiles, path: str | bytes, method: str = "GET", **headers: str) -> Response:
    response = get(files, path, method, **headers)
    assert response is not None, f"{path!r} was not served"
    return response


def payload(response: Response) -> bytes:
    """The bytes a face would send, read from disk for a streamed file."""
    stream = response.stream
    if stream is None:
        return response.body
    assert isinstance(stream, FileBody)
    with open(stream.path, "rb") as file:
        file.seek(stream.offset)
        return file.read(stream.length)


def etag_of(path: Path) -> str:
    info = path.stat()
    return f'"{info.st_size:x}-{info.st_mtime_ns:x}"'


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


# -- plain files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("logo.png", "image/png"),
        ("blob.zzqq", "application/octet-stream"),
        ("archive.tar.gz", "application/gzip"),
    ],
)
def test_content_type(files: StaticFiles, name: str, content_type: str) -> None:
    response = ok(files, "/" + name)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.body == FILES[name]


def test_javascript_is_utf8(files: StaticFiles) -> None:
    # Python versions disagree on text/ or application/javascript; both get a charset.
    content_type = ok(files, "/app.js").headers["Content-Type"]
    assert content_type in (
        "text/javascript; charset=utf-8",
        "application/javascript; charset=utf-8",
    )


def test_file_headers(files: StaticFiles, public: Path) -> None:
    response = ok(files, "/notes.txt")
    headers = response.headers
    assert response.body == TEXT
    assert response.stream is None
    assert headers["Content-Length"] == str(len(TEXT))
    assert headers["ETag"] == etag_of(public / "notes.txt")
    assert headers["Last-Modified"] == http_date(MTIME)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert "Content-Range" not in headers


def test_etag_changes_with_the_file(files: StaticFiles, public: Path) -> None:
    before = ok(files, "/notes.txt").headers["ETag"]
    (public / "notes.txt").write_bytes(b"changed")
    os.utime(public / "notes.txt", (MTIME + 5, MTIME + 5))
    after = ok(files, "/notes.txt")
    assert after.headers["ETag"] != before
    assert after.body == b"changed"


def test_root_is_real_path(public: Path, tmp_path: Path) -> None:
    link = tmp_path / "link-to-public"
    link.symlink_to(public, target_is_directory=True)
    files = StaticFiles(link)
    assert files.root == os.path.realpath(public)
    assert ok(files, "/notes.txt").body == TEXT


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_left_to_the_caller(files: StaticFiles, method: str) -> None:
    assert get(files, "/notes.txt", method) is None
    assert get(files, "/", method) is None


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/notes.txt", {}),
        ("/notes.txt", {"Range": "bytes=2-5"}),
        ("/big.bin", {}),
        ("/big.bin", {"Range": "bytes=100-"}),
    ],
)
def test_head_has_the_headers_of_get(
    files: StaticFiles, public: Path, path: str, headers: dict[str, str]
) -> None:
    (public / "big.bin").write_bytes(os.urandom(SMALL_FILE + 1))
    got = ok(files, path, **headers)
    head = ok(files, path, "HEAD", **headers)
    assert head.status_code == got.status_code
    assert list(head.headers) == list(got.headers)
    assert "Content-Length" in head.headers


# -- folders, pretty URLs --------------------------------------------------------------------


def test_root_serves_index(files: StaticFiles) -> None:
    response = ok(files, "/")
    assert response.body == FILES["index.html"]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_folder_with_slash_serves_its_index(files: StaticFiles) -> None:
    assert ok(files, "/docs/").body == FILES["docs/index.html"]
    assert ok(files, "/caf%C3%A9/").body == FILES["caf\u00e9/index.html"]


def test_folder_without_slash_redirects(files: StaticFiles) -> None:
    response = ok(files, "/docs")
    assert response.status_code == 307
    assert response.headers["Location"] == "/docs/"
    assert response.body == b""
    assert ok(files, "/docs", "HEAD").status_code == 307


def test_redirect_keeps_root_path_and_escapes(files: StaticFiles) -> None:
    response = files.serve("GET", b"/caf%C3%A9", Headers(), root_path="/site")
    assert response is not None
    assert response.status_code == 307
    assert response.headers["Location"] == "/site/caf%C3%A9/"
    response = files.serve("GET", b"/docs", Headers(), root_path="/site/")
    assert response is not None
    assert response.headers["Location"] == "/site/docs/"


def test_folder_without_index(files: StaticFiles) -> None:
    assert get(files, "/empty") is None
    assert get(files, "/empty/") is None
    assert ok(files, "/empty/readme.md").body == FILES["empty/readme.md"]


def test_file_with_trailing_slash_is_not_served(files: StaticFiles) -> None:
    assert get(files, "/notes.txt/") is None


def test_pretty_url(files: StaticFiles) -> None:
    response = ok(files, "/about")
    assert response.body == FILES["about.html"]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert ok(files, "/blog/2024/post").body == FILES["blog/2024/post.html"]
    assert get(files, "/about/") is None


def test_existing_file_wins_over_pretty_url(files: StaticFiles) -> None:
    assert ok(files, "/thing").body == FILES["thing"]


def test_missing_file(files: StaticFiles) -> None:
    assert get(files, "/nope.txt") is None
    assert get(files, "/nope/deeper/file.txt") is None
    assert get(files, "/notes.txt/child") is None


def test_exists(files: StaticFiles) -> None:
    assert files.exists(b"/notes.txt")
    assert files.exists(b"/")
    assert files.exists(b"/docs")
    assert files.exists(b"/docs/")
    assert files.exists(b"/about")
    assert files.exists(b"/caf\xc3\xa9/", percent_encoded=False)
    assert not files.exists(b"/nope")
    assert not files.exists(b"/.env")
    assert not files.exists(b"/_routes.json")
    assert not files.exists(b"/%zz")
    assert not files.exists(b"/a%00b")


# -- conditional requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "*",
        '"nope", {etag}',
        '"a",{etag} , "b"',
        "W/{etag}",
        '"other", W/{etag}',
    ],
)
def test_if_none_match(files: StaticFiles, public: Path, header: str) -> None:
    etag = etag_of(public / "notes.txt")
    response = ok(files, "/notes.txt", If_None_Match=header.format(etag=etag))
    assert response.status_code == 304
    assert response.body == b""
    assert response.stream is None
    assert response.headers["ETag"] == etag
    assert response.headers["Last-Modified"] == http_date(MTIME)
    assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize("header", ['"nope"', 'W/"nope"', '"1-2", "3-4"', ""])
def test_if_none_match_other_tags(files: StaticFiles, header: str) -> None:
    response = ok(files, "/notes.txt", If_None_Match=header)
    assert response.status_code == 200
    assert response.body == TEXT


def test_header_names_are_case_insensitive(files: StaticFiles, public: Path) -> None:
    etag = etag_of(public / "notes.txt")
    lower = Headers([("host", "x"), ("if-none-match", etag)])
    response = files.serve("GET", b"/notes.txt", lower)
    assert response is not None
    assert response.status_code == 304
    ranged = Headers([("RANGE", "bytes=0-1"), ("if-range", etag)])
    response = files.serve("GET", b"/notes.txt", ranged)
    assert response is not None
    assert response.body == TEXT[:2]


def test_headers_may_be_any_mapping(files: StaticFiles, public: Path) -> None:
    etag = etag_of(public / "notes.txt")
    response = files.serve("GET", b"/notes.txt", {"If-None-Match": etag})
    assert response is not None
    assert response.status_code == 304
    response = files.serve("GET", b"/notes.txt", {"Range": "bytes=-3"})
    assert response is not None
    assert response.body == TEXT[-3:]


def test_wsgi_environ_headers(files: StaticFiles, public: Path) -> None:
    environ = {"HTTP_IF_NONE_MATCH": etag_of(public / "notes.txt"), "HTTP_RANGE": "bytes=0-1"}
    response = files.serve("GET", b"/notes.txt", EnvironHeaders(environ))
    assert response is not None
    assert response.status_code == 304
    response = files.serve("GET", b"/notes.txt", EnvironHeaders({"HTTP_RANGE": "bytes=1-2"}))
    assert response is not None
    assert response.body == TEXT[1:3]


def test_repeated_if_none_match_is_one_list(files: StaticFiles, public: Path) -> None:
    etag = etag_of(public / "notes.txt")
    repeated = Headers([("If-None-Match", '"nope"'), ("if-none-match", etag)])
    response = files.serve("GET", b"/notes.txt", repeated)
    assert response is not None
    assert response.status_code == 304
    other = Headers([("If-None-Match", '"nope"'), ("If-None-Match", '"nah"')])
    response = files.serve("GET", b"/notes.txt", other)
    assert response is not None
    assert response.status_code == 200


def test_if_none_match_wins_over_if_modified_since(files: StaticFiles) -> None:
    response = ok(
        files, "/notes.txt", If_None_Match='"nope"', If_Modified_Since=http_date(MTIME + 60)
    )
    assert response.status_code == 200


@pytest.mark.parametrize(("offset", "status"), [(0, 304), (3600, 304), (-1, 200), (-3600, 200)])
def test_if_modified_since(files: StaticFiles, offset: int, status: int) -> None:
    response = ok(files, "/notes.txt", If_Modified_Since=http_date(MTIME + offset))
    assert response.status_code == status
    assert response.body == (b"" if status == 304 else TEXT)


def test_if_modified_since_garbage_is_ignored(files: StaticFiles) -> None:
    assert ok(files, "/notes.txt", If_Modified_Since="yesterday").status_code == 200


def test_conditional_on_large_file(files: StaticFiles, public: Path) -> None:
    (public / "big.bin").write_bytes(b"x" * (SMALL_FILE + 10))
    response = ok(files, "/big.bin", If_None_Match=etag_of(public / "big.bin"))
    assert response.status_code == 304
    assert response.stream is None


# -- ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=2-5", 2, 5),
        ("bytes=3-", 3, 15),
        ("bytes=-4", 12, 15),
        ("bytes=10-999", 10, 15),
        ("bytes=-100", 0, 15),
        ("bytes=0-0", 0, 0),
        ("BYTES=15-15", 15, 15),
        ("bytes=0-99999999999999999999999999", 0, 15),
    ],
)
def test_single_range(files: StaticFiles, header: str, start: int, end: int) -> None:
    response = ok(files, "/notes.txt", Range=header)
    assert response.status_code == 206
    assert response.body == TEXT[start : end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(TEXT)}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "header", ["bytes=16-", "bytes=20-30", "bytes=-0", "bytes=99999999999999999999999-"]
)
def test_unsatisfiable_range(files: StaticFiles, header: str) -> None:
    response = ok(files, "/notes.txt", Range=header)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(TEXT)}"
    assert TEXT not in response.body


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,4-5",
        "bytes=0-1, -3",
        "bytes=5-2",
        "bytes=-",
        "bytes=a-b",
        "items=0-1",
        "bytes 0-1",
        "bytes=\u0661-\u0662",
    ],
)
def test_several_or_malformed_ranges_get_the_whole_file(files: StaticFiles, header: str) -> None:
    response = ok(files, "/notes.txt", Range=header)
    assert response.status_code == 200
    assert response.body == TEXT
    assert "Content-Range" not in response.headers


def test_if_range(files: StaticFiles, public: Path) -> None:
    etag = etag_of(public / "notes.txt")
    cases = {
        etag: 206,
        http_date(MTIME): 206,
        '"stale"': 200,
        f"W/{etag}": 200,
        http_date(MTIME - 60): 200,
        "not a date": 200,
    }
    for if_range, status in cases.items():
        response = ok(files, "/notes.txt", Range="bytes=0-3", If_Range=if_range)
        assert response.status_code == status, if_range
        assert response.body == (TEXT[:4] if status == 206 else TEXT)


def test_empty_file(files: StaticFiles, public: Path) -> None:
    (public / "empty.txt").write_bytes(b"")
    response = ok(files, "/empty.txt")
    assert response.status_code == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "0"
    assert ok(files, "/empty.txt", Range="bytes=0-").status_code == 416


# -- small and large bodies -----------------------------------------------------------------


def test_small_file_is_read(files: StaticFiles, public: Path) -> None:
    data = os.urandom(SMALL_FILE)
    (public / "edge.bin").write_bytes(data)
    response = ok(files, "/edge.bin")
    assert response.stream is None
    assert response.body == data


def test_large_file_is_streamed(files: StaticFiles, public: Path) -> None:
    data = os.urandom(SMALL_FILE + 1)
    (public / "big.bin").write_bytes(data)
    response = ok(files, "/big.bin")
    assert response.status_code == 200
    assert response.body == b""
    expected = FileBody(os.path.realpath(public / "big.bin"), 0, len(data), True)
    assert response.stream == expected
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert payload(response) == data


def test_large_range_is_streamed(files: StaticFiles, public: Path) -> None:
    data = os.urandom(SMALL_FILE * 3)
    (public / "big.bin").write_bytes(data)
    response = ok(files, "/big.bin", Range=f"bytes=10-{SMALL_FILE * 2}")
    assert response.status_code == 206
    length = SMALL_FILE * 2 - 10 + 1
    expected = FileBody(os.path.realpath(public / "big.bin"), 10, length, False)
    assert response.stream == expected
    assert response.headers["Content-Length"] == str(length)
    assert response.headers["Content-Range"] == f"bytes 10-{SMALL_FILE * 2}/{len(data)}"
    assert payload(response) == data[10 : SMALL_FILE * 2 + 1]

    whole = ok(files, "/big.bin", Range="bytes=0-")
    assert whole.status_code == 206
    assert whole.stream == FileBody(expected.path, 0, len(data), True)

    tail = ok(files, "/big.bin", Range=f"bytes=-{SMALL_FILE + 5}")
    assert tail.stream == FileBody(expected.path, len(data) - SMALL_FILE - 5, SMALL_FILE + 5, False)


def test_small_range_of_large_file_is_streamed(files: StaticFiles, public: Path) -> None:
    data = os.urandom(SMALL_FILE * 2)
    (public / "big.bin").write_bytes(data)
    response = ok(files, "/big.bin", Range="bytes=70000-70099")
    assert response.status_code == 206
    assert response.stream == FileBody(os.path.realpath(public / "big.bin"), 70000, 100, False)
    assert payload(response) == data[70000:70100]


def test_range_of_small_file_is_read(files: StaticFiles, public: Path) -> None:
    data = os.urandom(SMALL_FILE)
    (public / "edge.bin").write_bytes(data)
    response = ok(files, "/edge.bin", Range="bytes=1000-")
    assert response.status_code == 206
    assert response.stream is None
    assert response.body == data[1000:]


# -- not found ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/nope", "404.html"),
        ("/nope/", "404.html"),
        ("/docs/missing.txt", "404.html"),
        ("/blog/missing", "blog/404.html"),
        ("/blog/", "blog/404.html"),
        ("/blog/2024/missing", "blog/404.html"),
        ("/blog/2024/deeper/and/deeper/", "blog/404.html"),
        ("/blog/nope/x", "blog/404.html"),
        ("/.git/x/y", "404.html"),
        ("/blog/%2E..x/y", "blog/404.html"),
    ],
)
def test_nearest_404_page(files: StaticFiles, path: str, page: str) -> None:
    response = files.not_found("GET", path.encode(), Headers())
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.body == FILES[page]
    assert response.headers["Content-Length"] == str(len(FILES[page]))


def test_404_page_ignores_validators(files: StaticFiles, public: Path) -> None:
    etag = etag_of(public / "404.html")
    response = files.not_found("GET", b"/nope", Headers({"If-None-Match": etag, "Range": "0-1"}))
    assert response.status_code == 404
    assert response.body == FILES["404.html"]


def test_plain_404(tmp_path: Path) -> None:
    write_tree(tmp_path / "site", {"a/b.txt": b"b"})
    files = StaticFiles(tmp_path / "site")
    response = files.not_found("GET", b"/a/missing", Headers())
    assert response.status_code == 404
    assert response.body == b"Not Found"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("path", [b"/%zz", b"/%ff", b"/a%00b", b"nope"])
def test_bad_path_is_400(files: StaticFiles, path: bytes) -> None:
    for response in (
        files.serve("GET", path, Headers()),
        files.not_found("GET", path, Headers()),
    ):
        assert response is not None
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.body.startswith(b"Bad Request")


def test_spa_fallback(public: Path) -> None:
    files = StaticFiles(public, spa=True)
    for path in (b"/dashboard", b"/dashboard/settings/", b"/", b"/v1.2/users"):
        response = files.not_found("GET", path, Headers())
        assert response.status_code == 200, path
        assert response.body == FILES["index.html"]
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "ETag" in response.headers
    head = files.not_found("HEAD", b"/dashboard", Headers())
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(FILES["index.html"]))


def test_spa_leaves_assets_and_other_methods_404(public: Path) -> None:
    files = StaticFiles(public, spa=True)
    for method, path in (("GET", b"/app.js"), ("GET", b"/img/logo.png"), ("POST", b"/dash")):
        response = files.not_found(method, path, Headers())
        assert response.status_code == 404, path
        assert response.body == FILES["404.html"]


def test_no_spa_fallback_by_default(files: StaticFiles) -> None:
    assert files.not_found("GET", b"/dashboard", Headers()).status_code == 404


def test_spa_without_index(tmp_path: Path) -> None:
    write_tree(tmp_path / "site", {"a.txt": b"a"})
    files = StaticFiles(tmp_path / "site", spa=True)
    response = files.not_found("GET", b"/dashboard", Headers())
    assert response.status_code == 404
    assert response.body == b"Not Found"


# -- what is never served -------------------------------------------------------------------

TRAVERSALS = [
    b"/../secret.txt",
    b"/docs/../../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/secret.txt",
    b"/%2E%2E%2Fsecret.txt",
    b"/docs/%2e%2e%2f%2e%2e%2fsecret.txt",
    b"/..%2fsecret.txt",
    b"/..%2Fsecret.txt",
    b"/..%5csecret.txt",
    b"/..\\secret.txt",
    b"/docs/..\\..\\secret.txt",
    b"/%2e%2e/outside/secret.txt",
    b"/%2e%2e/outside/",
    b"/%2e%2e/outside",
    b"/./../secret.txt",
    b"/%2e/%2e%2e/secret.txt",
    b"/docs/%2e%2e/%2e%2e/404.html",
    b"//secret.txt",
    b"/%2Fsecret.txt",
    b"/%2F..%2Fsecret.txt",
]


def refused(response: Response | None) -> bool:
    """Whether ``response`` is the 400 for a path not in canonical form."""
    return response is not None and response.status_code == 400 and response.stream is None


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_traversal_never_leaves_the_root(files: StaticFiles, path: bytes, method: str) -> None:
    assert refused(files.serve(method, path, Headers()))
    assert not files.exists(path)
    for spa in (False, True):
        fallback = StaticFiles(files.root, spa=spa).not_found(method, path, Headers())
        assert refused(fallback)
        assert SECRET not in fallback.body


@pytest.mark.parametrize("path", [b"/../secret.txt", b"/docs/../../secret.txt", b"/..\\secret.txt"])
def test_traversal_of_decoded_paths(files: StaticFiles, path: bytes) -> None:
    assert refused(files.serve("GET", path, Headers(), percent_encoded=False))
    assert not files.exists(path, percent_encoded=False)


def test_dot_segments_are_refused_even_inside(files: StaticFiles) -> None:
    for path in (b"/docs/../notes.txt", b"/./notes.txt", b"/docs/%2e%2e/notes.txt"):
        assert refused(files.serve("GET", path, Headers())), path


def test_an_encoded_slash_is_a_slash(files: StaticFiles) -> None:
    assert ok(files, "/docs%2Fguide.txt").body == FILES["docs/guide.txt"]
    assert ok(files, "/docs%2fguide.txt").body == FILES["docs/guide.txt"]
    assert ok(files, "/docs/guide.txt").body == FILES["docs/guide.txt"]


def test_nul_is_a_bad_request(files: StaticFiles) -> None:
    response = get(files, "/notes.txt%00.html")
    assert response is not None
    assert response.status_code == 400
    assert TEXT not in response.body


@pytest.mark.parametrize(
    "path",
    ["/.env", "/.git/config", "/.git/", "/.git", "/docs/.hidden", "/%2eenv", "/%2Eenv"],
)
def test_dotfiles_are_hidden(files: StaticFiles, path: str) -> None:
    assert get(files, path) is None


def test_well_known_is_served(files: StaticFiles) -> None:
    assert ok(files, "/.well-known/security.txt").body == FILES[".well-known/security.txt"]


@pytest.mark.parametrize("name", ["_routes.json", "_headers", "_redirects"])
def test_control_files_are_hidden(files: StaticFiles, name: str) -> None:
    assert get(files, "/" + name) is None
    assert get(files, "/" + name, "HEAD") is None
    assert not files.exists(("/" + name).encode())


def test_control_names_below_the_root_are_plain_files(files: StaticFiles) -> None:
    assert ok(files, "/docs/_headers").body == FILES["docs/_headers"]


def test_symlink_to_file_outside_is_refused(files: StaticFiles, public: Path) -> None:
    (public / "leak.txt").symlink_to(public.parent / "secret.txt")
    (public / "leak-abs.txt").symlink_to(os.path.realpath(public.parent / "secret.txt"))
    assert get(files, "/leak.txt") is None
    assert get(files, "/leak-abs.txt") is None
    # Not by the pretty-URL form either.
    (public / "page.html").symlink_to(public.parent / "secret.txt")
    assert get(files, "/page") is None


def test_symlink_to_folder_outside_is_refused(files: StaticFiles, public: Path) -> None:
    (public / "out").symlink_to(public.parent / "outside", target_is_directory=True)
    assert get(files, "/out/secret.txt") is None
    assert get(files, "/out/") is None
    assert get(files, "/out") is None
    assert SECRET not in files.not_found("GET", b"/out/missing", Headers()).body


def test_symlink_inside_is_served(files: StaticFiles, public: Path) -> None:
    (public / "alias.txt").symlink_to("notes.txt")
    (public / "manual").symlink_to("docs", target_is_directory=True)
    response = ok(files, "/alias.txt")
    assert response.body == TEXT
    assert response.headers["ETag"] == etag_of(public / "notes.txt")
    assert ok(files, "/manual/guide.txt").body == FILES["docs/guide.txt"]
    assert ok(files, "/manual/").body == FILES["docs/index.html"]
    assert ok(files, "/manual").headers["Location"] == "/manual/"


def test_symlink_loop_is_missing(files: StaticFiles, public: Path) -> None:
    (public / "loop").symlink_to("loop")
    assert get(files, "/loop") is None
    assert get(files, "/loop/x") is None


def test_fifo_is_never_opened(files: StaticFiles, public: Path) -> None:
    mkfifo = getattr(os, "mkfifo", None)
    if mkfifo is None:
        pytest.skip("no FIFOs on this platform")
    mkfifo(public / "pipe")
    (public / "pipes").mkdir()
    mkfifo(public / "pipes" / "index.html")
    mkfifo(public / "pipes" / "404.html")
    results: list[object] = []

    def run() -> None:
        results.append(get(files, "/pipe"))
        results.append(get(files, "/pipes/"))
        results.append(files.exists(b"/pipes"))
        results.append(files.not_found("GET", b"/pipes/x", Headers()).body)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=5)
    if worker.is_alive():
        # Release the blocked open so the thread does not outlive the test.
        for name in ("pipe", "pipes/index.html", "pipes/404.html"):
            with contextlib.suppress(OSError):
                os.close(os.open(public / name, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("serving a FIFO blocked")
    assert results == [None, None, False, FILES["404.html"]]


def test_the_404_walk_is_linear_in_the_path_depth(
    files: StaticFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nearest-``404.html`` search looks at each name of a deep path a bounded number
    of times (it used to re-check the whole prefix at every level: quadratic)."""
    import pagesfn.engine.static as static

    looked = 0
    allowed_name = static._allowed_name

    def counting(name: str) -> bool:
        nonlocal looked
        looked += 1
        return allowed_name(name)

    monkeypatch.setattr(static, "_allowed_name", counting)
    for depth in (10, 1000, 4000):
        looked = 0
        response = files.not_found("GET", b"/blog" * depth, Headers())
        assert response.status_code == 404
        assert looked <= 3 * depth + 3, (depth, looked)
