"""httpbin mounted under ``/hb`` answers as httpbin served alone: over a few dozen of its
endpoints, the status, the headers and the body of each response are equal once the prefix
is accounted for (the URLs httpbin builds carry it; nothing else changes). On both faces, in
process and under real servers; the app alone is served the way its users serve it
(under gunicorn, werkzeug's server or the WSGI face's own server; with Flask's test client
in process).

httpbin is installed apart from the test extra (see the README's test command): its
metadata pins ``greenlet<3`` on Python < 3.12, which httpbin never imports and which the
browser tests' Playwright excludes.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import brotlicffi
import httpx
import pytest
import werkzeug.test
from clients import ASGIClient, FaceClient, Result, WireClient
from servers import (
    OUT_OF_PROCESS,
    gunicorn_serving,
    serving_tree,
    waitress_serving,
    werkzeug_serving,
    write_tree,
)

from pagesfn import Pages

httpbin = pytest.importorskip(
    "httpbin",
    reason="httpbin is not installed: python -m pip install --no-deps httpbin==0.10.4",
)

PREFIX = "/hb"
MOUNT = "from httpbin import app\n"
CLIENT_ADDRESS = "203.0.113.7"

DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": brotlicffi.decompress,
}

# Framing and server identity, which belong to the server and not to the app.
SERVER_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding"}


@dataclass(frozen=True)
class Case:
    """One request, sent alike to httpbin alone and mounted."""

    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    data: dict[str, str] | None = None
    #: The Location is what the request asked for, not a URL httpbin builds.
    literal_location: bool = False


def multipart(data: dict[str, str], files: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A form with files, encoded once (its boundary fixed): headers and body."""
    content_type = "multipart/form-data; boundary=a5e7c1b0d4"
    encoded = httpx.Request(
        "POST", "http://testserver/", data=data, files=files, headers={"Content-Type": content_type}
    )
    return {"Content-Type": content_type}, encoded.read()


UPLOAD = multipart({"kind": "notes"}, {"file": ("notes.txt", b"on the engine\n", "text/plain")})
BASIC = {"Authorization": "Basic YWRhOmVuZ2luZQ=="}  # ada:engine
CASES = [
    Case("get", "GET", "/get?x=1&name=%C3%A9mile"),
    Case("get-head", "HEAD", "/get"),
    Case("get-options", "OPTIONS", "/get"),
    Case("anything-slash", "GET", "/anything/a%2Fb/caf%C3%A9?q=%2F"),
    Case("headers", "GET", "/headers", headers={"X-Custom": "value"}),
    Case("ip", "GET", "/ip"),
    Case("user-agent", "GET", "/user-agent", headers={"User-Agent": "pagesfn-tests/1"}),
    Case("post-json", "POST", "/post", {"Content-Type": "application/json"}, b'{"a": [1, 2]}'),
    Case("post-form", "POST", "/post", data={"name": "Ada", "city": "Londres"}),
    Case("post-upload", "POST", "/post", *UPLOAD),
    Case("put", "PUT", "/put", {"Content-Type": "text/plain"}, b"replaced"),
    Case("patch", "PATCH", "/patch", {"Content-Type": "application/json"}, b'{"b": true}'),
    Case("delete", "DELETE", "/delete?id=3"),
    Case("status-418", "GET", "/status/418"),
    Case("status-201", "POST", "/status/201"),
    Case("status-204", "GET", "/status/204"),
    Case("status-503", "GET", "/status/503"),
    Case("redirect", "GET", "/redirect/2"),
    Case("relative-redirect", "GET", "/relative-redirect/2"),
    Case("absolute-redirect", "GET", "/absolute-redirect/2"),
    Case("redirect-to-path", "GET", "/redirect-to?url=/get", literal_location=True),
    Case(
        "redirect-to-url",
        "GET",
        "/redirect-to?url=http%3A%2F%2Fexample.com%2F&status_code=307",
        literal_location=True,
    ),
    Case("cookies-set", "GET", "/cookies/set?flavour=ginger&count=2"),
    Case("cookies", "GET", "/cookies"),
    Case("cookies-delete", "GET", "/cookies/delete?count"),
    Case("cookies-after", "GET", "/cookies"),
    Case("basic-auth-refused", "GET", "/basic-auth/ada/engine"),
    Case("basic-auth", "GET", "/basic-auth/ada/engine", headers=BASIC),
    Case("hidden-basic-auth", "GET", "/hidden-basic-auth/ada/nope", headers=BASIC),
    Case("bearer", "GET", "/bearer", headers={"Authorization": "Bearer engine"}),
    Case("gzip", "GET", "/gzip"),
    Case("deflate", "GET", "/deflate"),
    Case("brotli", "GET", "/brotli"),
    Case("utf8", "GET", "/encoding/utf8"),
    Case("html", "GET", "/html"),
    Case("json", "GET", "/json"),
    Case("xml", "GET", "/xml"),
    Case("robots", "GET", "/robots.txt"),
    Case("deny", "GET", "/deny"),
    Case("response-headers", "GET", "/response-headers?X-Kind=test&X-Kind=twice"),
    Case("cache-fresh", "GET", "/cache", {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}),
    Case("cache-max-age", "GET", "/cache/60"),
    Case("etag-match", "GET", "/etag/abc", headers={"If-None-Match": '"abc"'}),
    Case("etag-other", "GET", "/etag/abc", headers={"If-None-Match": '"xyz"'}),
    Case("bytes", "GET", "/bytes/64?seed=7"),
    Case("stream", "GET", "/stream/3"),
    Case("stream-bytes", "GET", "/stream-bytes/200?seed=3&chunk_size=50"),
    Case("range", "GET", "/range/64", headers={"Range": "bytes=10-19"}),
    Case("base64", "GET", "/base64/SFRUUEJJTiBpcyBhd2Vzb21l"),
    Case("links", "GET", "/links/4/1"),
    Case("image", "GET", "/image/png"),
    Case("forms", "GET", "/forms/post"),
    Case("delay", "GET", "/delay/0"),
    Case("drip", "GET", "/drip?duration=0&numbytes=4&delay=0"),
    Case("landing", "GET", "/"),
    Case("spec", "GET", "/spec.json"),
    Case("swagger-ui-css", "GET", "/flasgger_static/swagger-ui.css"),
    Case("favicon", "GET", "/static/favicon.ico"),
    Case("not-found", "GET", "/no/such/endpoint"),
    Case("method-not-allowed", "POST", "/get"),
]


class RawASGI(ASGIClient):
    """The ASGI face in process through httpx, as :class:`ASGIClient`, with raw bodies,
    sending only the headers asked for, as :class:`WerkzeugClient` does."""

    def __init__(self, app: Pages, stack: ExitStack) -> None:
        super().__init__(app, stack)
        for name in ("Accept", "Accept-Encoding", "Connection", "User-Agent"):
            del self._client.headers[name]

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        async def send() -> Result:
            request = self._client.build_request(method, path, headers=headers, content=body)
            answer = await self._client.send(request, stream=True)
            content = b"".join([chunk async for chunk in answer.aiter_raw()])
            await answer.aclose()
            return Result(answer.status_code, list(answer.headers.multi_items()), content)

        return self._portal.call(send)


class WerkzeugClient(FaceClient):
    """Flask's test client (werkzeug's), which httpbin's own tests use, on a WSGI app: it
    builds environs as PEP 3333 has them and hands bodies on undecoded. (WebTest decodes
    every body and knows no brotli; httpx over WSGI puts a non-ASCII path in PATH_INFO
    undecoded.)"""

    def __init__(self, app: Any) -> None:
        self.http = werkzeug.test.Client(app)

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        answer = self.http.open(
            path,
            base_url="http://testserver",
            method=method,
            headers=headers,
            data=body or None,
            environ_base={"REMOTE_ADDR": CLIENT_ADDRESS},
        )
        try:
            return Result(answer.status_code, answer.headers.to_wsgi_list(), answer.get_data())
        finally:
            answer.close()


@dataclass
class Pair:
    """httpbin alone and mounted at :data:`PREFIX`, each with its origin as its client
    sees it."""

    alone: FaceClient
    alone_origin: str
    mounted: FaceClient
    mounted_origin: str


SETUPS = [
    "asgi-in-process",
    "wsgi-in-process",
    "asgi-uvicorn-h11",
    "asgi-uvicorn-httptools",
    "asgi-hypercorn",
    "asgi-granian",
    "wsgi-gunicorn",
    "wsgi-waitress",
]


@pytest.fixture(scope="module", params=SETUPS)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    face, where = request.param.split("-", 1)
    root = tmp_path_factory.mktemp(request.param)
    functions = write_tree(root / "functions", {f"{PREFIX[1:]}/[[default]].py": MOUNT})
    with ExitStack() as stack:
        if where == "in-process":
            pages = Pages(functions)
            stack.callback(pages.loader.unload)
            stack.callback(pages.close)
            alone = WerkzeugClient(httpbin.app)
            mounted = RawASGI(pages, stack) if face == "asgi" else WerkzeugClient(pages.wsgi)
            yield Pair(alone, "http://testserver", mounted, "http://testserver")
            return
        # Alone, under the same server on the WSGI face (waitress sorts response headers, for
        # one); against the ASGI face, under gunicorn as its users run it, or under
        # werkzeug's server in this process when the mounted one runs here too: a process's
        # own state (CherryPy, imported by other tests, maps .ico to image/x-icon in the
        # process's mimetypes) then shows on both sides alike.
        if where == "waitress":
            alone_url = stack.enter_context(waitress_serving(root, "httpbin:app"))
        elif where in OUT_OF_PROCESS:
            alone_url = stack.enter_context(gunicorn_serving(root, "httpbin:app"))
        else:
            alone_url = stack.enter_context(werkzeug_serving(httpbin.app))
        mounted_url = stack.enter_context(serving_tree(where, functions, root))
        alone = WireClient(alone_url, face, stack, raw=True)
        mounted = WireClient(mounted_url, face, stack, raw=True)
        yield Pair(alone, alone_url, mounted, mounted_url)


def send(client: FaceClient, case: Case, path: str) -> Result:
    """``case`` sent to ``path``; the answer's body decoded (its Content-Encoding kept)."""
    headers = {"User-Agent": "pagesfn-tests/1", **case.headers}
    answer = client.request(case.method, path, headers=headers, body=case.body, data=case.data)
    length = answer.header("Content-Length")
    if length is not None and case.method != "HEAD" and answer.status not in (204, 304):
        assert int(length) == len(answer.body), "a Content-Length that is not the body's"
    decode = DECODERS.get(answer.header("Content-Encoding") or "", bytes)
    return Result(answer.status, answer.headers, decode(answer.body))


def expected_of(alone: Result, case: Case, pair: Pair) -> Result:
    """What the mounted httpbin should answer, from what httpbin alone answered: every URL
    httpbin built carries the prefix, and names the mounted server's origin."""

    def rebase(text: str) -> str:
        text = text.replace(pair.alone_origin + "/", pair.mounted_origin + PREFIX + "/")
        return text.replace(
            urlsplit(pair.alone_origin).netloc, urlsplit(pair.mounted_origin).netloc
        )

    headers = []
    for name, value in alone.headers:
        if name.lower() == "location" and not case.literal_location:
            value = rebase(value)
            if value.startswith("/"):
                value = PREFIX + value
        headers.append((name, value))
    body = alone.body
    content_type = alone.header("Content-Type") or ""
    if content_type.startswith(("application/json", "text/html")):
        text = rebase(body.decode())
        if content_type.startswith("text/html") and not case.literal_location:
            # Root-relative links and sources in the page.
            built = r"""((?:href|src|action)=["']|fetch\(["'])/(?!/)"""
            text = re.sub(built, rf"\1{PREFIX}/", text)
            text = re.sub(r"(?<=>)/(?=[^<]*</a>)", PREFIX + "/", text)
        body = text.encode()
    return Result(alone.status, headers, body)


def comparable(result: Result) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, the app's headers in order (not the server's framing, nor the length,
    which the prefix changes), and the body."""
    headers = []
    for name, value in result.headers:
        name = name.lower()
        if name == "allow":
            # A set, which werkzeug lists in its hash order: another process, another order.
            value = ", ".join(sorted(value.split(", ")))
        if name not in SERVER_HEADERS | {"content-length"}:
            headers.append((name, value))
    return result.status, headers, result.body


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_httpbin_mounted_answers_as_httpbin_alone(pair: Pair, case: Case) -> None:
    alone = send(pair.alone, case, case.path)
    mounted = send(pair.mounted, case, PREFIX + case.path)
    assert comparable(mounted) == comparable(expected_of(alone, case, pair))
