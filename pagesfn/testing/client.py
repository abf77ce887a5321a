"""Clients that drive a :class:`~pagesfn.Pages` app in process, one per face, with one API.

:func:`open_client` gives a :class:`PagesClient` for the ASGI face (httpx over
``ASGITransport``, the app's lifespan run while the client is open) or the WSGI face
(WebTest). Both encode a request the same way (httpx's encoder builds every body, so a form
or an upload is the same bytes on both faces), keep cookies in one ``http.cookiejar`` as a
browser does, follow redirects only when asked, and answer with the same
:class:`Response`. What only the underlying client does stays in reach: ``client.webtest``
(WebTest's forms, ``follow()``) on the WSGI face, ``client.httpx`` with ``client.run`` on
the ASGI face.
"""

from __future__ import annotations

import json as jsonlib
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from functools import cached_property
from http.cookiejar import Cookie, CookieJar
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header

if TYPE_CHECKING:
    import anyio.from_thread
    import webtest  # type: ignore[import-untyped]

    from ..app import Pages

T = TypeVar("T")

FACES = ("asgi", "wsgi")
BASE_URL = "http://testserver"
CLIENT_ADDRESS = "127.0.0.1"
# The statuses that send a browser elsewhere, and how many hops it takes before giving up.
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 20


class TooManyRedirects(Exception):
    """A request asked to follow redirects went round more than :data:`MAX_REDIRECTS`."""


class Response:
    """One response, the same on both faces.

    ``headers`` is a werkzeug :class:`~werkzeug.datastructures.Headers` (``getlist`` for a
    repeated header); ``cookies`` maps the name of each cookie this response sets to its
    value; ``history`` holds the redirects followed to get here; ``native`` is the
    underlying client's own response (an ``httpx.Response`` or a WebTest ``TestResponse``).
    """

    def __init__(
        self,
        status_code: int,
        headers: list[tuple[str, str]],
        content: bytes,
        *,
        url: str,
        native: Any,
        history: tuple[Response, ...] = (),
    ) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self.content = content
        self.url = url
        self.native = native
        self.history = history

    @property
    def text(self) -> str:
        """The body decoded with the charset its Content-Type names (UTF-8 otherwise)."""
        _, options = parse_options_header(self.headers.get("Content-Type", ""))
        return self.content.decode(options.get("charset", "utf-8"), errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @cached_property
    def cookies(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for header in self.headers.getlist("Set-Cookie"):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            found.update((name, morsel.value) for name, morsel in parsed.items())
        return found

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECTS and "Location" in self.headers

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {self.url}>"


class PagesClient:
    """Requests to one face of an app, as a browser makes them (see the module's notes).

    ``url`` is a path (``/api/users/7?x=1``) or an absolute URL on ``http://testserver``.
    ``params`` adds to its query; the body is ``json``, ``data`` (a form, or text or bytes
    sent as they are) with ``files`` (an upload: ``{"field": ("name.txt", b"...",
    "text/plain")}``), or ``content``; ``cookies`` go with this request only, beside the
    ones kept.
    """

    face: str

    def __init__(self, app: Pages) -> None:
        self.app = app

    # The jar both faces keep cookies in; each face says where it lives.
    @property
    def cookie_jar(self) -> CookieJar:
        raise NotImplementedError

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        files: Mapping[str, Any] | None = None,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> Response:
        if isinstance(data, (str, bytes)):
            content, data = data, None
        outgoing = httpx.Request(
            method.upper(),
            httpx.URL(BASE_URL).join(url),
            params=params,
            json=json,
            data=data,
            files=files,
            content=content,
            headers=headers,
        )
        history: list[Response] = []
        while True:
            response = self._send(outgoing, cookies or {})
            if not (follow_redirects and response.is_redirect):
                response.history = tuple(history)
                return response
            if len(history) == MAX_REDIRECTS:
                raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects from {url}")
            history.append(response)
            outgoing, cookies = _redirected(outgoing, response), None

    def get(self, url: str, **options: Any) -> Response:
        return self.request("GET", url, **options)

    def head(self, url: str, **options: Any) -> Response:
        return self.request("HEAD", url, **options)

    def options(self, url: str, **options: Any) -> Response:
        return self.request("OPTIONS", url, **options)

    def post(self, url: str, **options: Any) -> Response:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> Response:
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Any) -> Response:
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Any) -> Response:
        return self.request("DELETE", url, **options)

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies kept, by name (the most specific path's value first)."""
        kept: dict[str, str] = {}
        for cookie in sorted(self.cookie_jar, key=lambda c: len(c.path or "/"), reverse=True):
            if cookie.value is not None:
                kept.setdefault(cookie.name, cookie.value)
        return kept

    def set_cookie(self, name: str, value: str, *, path: str = "/") -> None:
        """Keep a cookie as if the site had set it, for every later request under ``path``."""
        host = httpx.URL(BASE_URL).host
        # As http.cookiejar names a host without a dot, for its domain matching.
        host = host if "." in host else host + ".local"
        cookie = Cookie(
            version=0,
            name=name,
            value=value,
            port=None,
            port_specified=False,
            domain=host,
            domain_specified=False,
            domain_initial_dot=False,
            path=path,
            path_specified=True,
            secure=False,
            expires=None,
            discard=True,
            comment=None,
            comment_url=None,
            rest={},
        )
        self.cookie_jar.set_cookie(cookie)

    def clear_cookies(self) -> None:
        self.cookie_jar.clear()

    def _send(self, request: httpx.Request, cookies: Mapping[str, str]) -> Response:
        raise NotImplementedError

    def _cookie_header(self, request: httpx.Request, extra: Mapping[str, str]) -> None:
        """Set ``Cookie`` on ``request``: the kept cookies that match it, then ``extra``."""
        httpx.Cookies(self.cookie_jar).set_cookie_header(request)
        if extra:
            pairs = "; ".join(f"{name}={value}" for name, value in extra.items())
            kept = request.headers.get("Cookie")
            request.headers["Cookie"] = f"{kept}; {pairs}" if kept else pairs


def _redirected(request: httpx.Request, response: Response) -> httpx.Request:
    """The request a browser makes on ``response``'s redirect: a 303 (or a 301 or 302 after
    a POST) becomes a bodiless GET; a 307 or 308 repeats the method and the body."""
    url = request.url.join(response.headers["Location"])
    method = request.method
    see_other = response.status_code == 303 and method != "HEAD"
    moved_post = response.status_code in (301, 302) and method == "POST"
    if see_other or moved_post:
        method = "GET"
    headers = httpx.Headers(request.headers)
    # The cookies are the jar's again, for the new URL; the Host is the new URL's.
    for name in ("Cookie", "Host", "Content-Length", "Transfer-Encoding"):
        headers.pop(name, None)
    if method == request.method:
        return httpx.Request(method, url, headers=headers, content=request.content)
    headers.pop("Content-Type", None)
    return httpx.Request(method, url, headers=headers)


class ASGIClient(PagesClient):
    """The ASGI face through httpx, from synchronous test code: the app runs on an event loop
    in a thread of its own, its lifespan run while the client is open (a failed start-up
    raises). An exception the app lets out is a 500, as a server sends it."""

    face = "asgi"

    def __init__(self, app: Pages, portal: anyio.from_thread.BlockingPortal) -> None:
        super().__init__(app)
        self.portal = portal
        self._jar = CookieJar()
        self._transport = httpx.ASGITransport(
            app, raise_app_exceptions=False, client=(CLIENT_ADDRESS, 50000)
        )
        #: An ``httpx.AsyncClient`` on the app, sharing the cookies kept: use it through
        #: :meth:`run`.
        self.httpx = httpx.AsyncClient(
            transport=self._transport, base_url=BASE_URL, cookies=self._jar
        )

    @property
    def cookie_jar(self) -> CookieJar:
        return self._jar

    def close(self) -> None:
        """Close :attr:`httpx` (the app's lifespan is the session's to end)."""
        self.portal.call(self.httpx.aclose)

    def run(self, call: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
        """Run ``call(client.httpx)`` on the app's event loop; returns what it returns."""

        async def go() -> T:
            return await call(self.httpx)

        return self.portal.call(go)

    def _send(self, request: httpx.Request, cookies: Mapping[str, str]) -> Response:
        self._cookie_header(request, cookies)

        async def send() -> tuple[httpx.Response, bytes]:
            answer = await self._transport.handle_async_request(request)
            try:
                return answer, await answer.aread()
            finally:
                await answer.aclose()

        answer, content = self.portal.call(send)
        answer.request = request
        httpx.Cookies(self._jar).extract_cookies(answer)
        return Response(
            answer.status_code,
            list(answer.headers.multi_items()),
            content,
            url=str(request.url),
            native=answer,
        )


class WSGIClient(PagesClient):
    """The WSGI face through WebTest, its lint checks on; the environ carries the request
    target as sent (``REQUEST_URI``), as real WSGI servers pass it."""

    face = "wsgi"

    def __init__(self, app: Pages) -> None:
        super().__init__(app)
        module = self._module = _import_webtest()
        host = httpx.URL(BASE_URL).host
        #: The ``webtest.TestApp`` on the app's WSGI face, sharing the cookies kept.
        self.webtest: webtest.TestApp = module.TestApp(
            app.wsgi, extra_environ={"HTTP_HOST": host, "REMOTE_ADDR": CLIENT_ADDRESS}
        )

    @property
    def cookie_jar(self) -> CookieJar:
        jar: CookieJar = self.webtest.cookiejar
        return jar

    def _send(self, request: httpx.Request, cookies: Mapping[str, str]) -> Response:
        # The kept cookies are set here, so that WebTest's own jar (the same one) adds none.
        self._cookie_header(request, cookies)
        target = request.url.raw_path.decode("ascii")
        skipped = {"host", "content-length"}
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in skipped]
        body = request.read()
        blank = self._module.TestRequest.blank(
            target,
            base_url=f"{request.url.scheme}://{request.url.netloc.decode('ascii')}",
            method=request.method,
            headers=headers,
        )
        if body or request.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            blank.body = body
        # The Host header as the client sends it (WebOb's blank adds the default port).
        blank.environ["HTTP_HOST"] = request.headers["Host"]
        blank.environ["REQUEST_URI"] = blank.environ["RAW_URI"] = target
        answer = self.webtest.do_request(blank, status=None, expect_errors=True)
        return Response(
            answer.status_int,
            [(name, value) for name, value in answer.headerlist],
            answer.body,
            url=str(request.url),
            native=answer,
        )


def _import_webtest() -> Any:
    """WebTest, imported without the DeprecationWarning of its use of ``cgi`` (Python 3.11
    and 3.12), which a run with ``-W error`` would turn into a failure of every test."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'cgi' is deprecated", DeprecationWarning)
            import webtest
    except ImportError:  # the message is the point
        raise RuntimeError(
            "the WSGI face is tested through WebTest, which is not installed: pip install webtest"
        ) from None
    return webtest


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run ``app``'s lifespan as a server does: start-up on entry (its failure raises),
    shut-down on exit."""
    import anyio

    inbox_send, inbox = anyio.create_memory_object_stream[dict[str, Any]](2)
    outbox_send, outbox = anyio.create_memory_object_stream[dict[str, Any]](2)
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    async with anyio.create_task_group() as tasks, inbox_send, inbox, outbox_send, outbox:
        tasks.start_soon(app, scope, inbox.receive, outbox_send.send)
        await inbox_send.send({"type": "lifespan.startup"})
        started = await outbox.receive()
        if started["type"] != "lifespan.startup.complete":
            tasks.cancel_scope.cancel()
            raise RuntimeError(f"the app failed to start: {started.get('message', '')}")
        try:
            yield
        finally:
            await inbox_send.send({"type": "lifespan.shutdown"})
            await outbox.receive()


@contextmanager
def open_client(app: Pages, face: str) -> Iterator[PagesClient]:
    """A client for ``face`` (``"asgi"`` or ``"wsgi"``) of ``app``, open for the block."""
    if face not in FACES:
        raise ValueError(f"face is one of {', '.join(FACES)}, not {face!r}")
    if face == "wsgi":
        yield WSGIClient(app)
        return
    with asgi_session(app) as portal:
        client = ASGIClient(app, portal)
        try:
            yield client
        finally:
            client.close()


@contextmanager
def asgi_session(app: Pages) -> Iterator[anyio.from_thread.BlockingPortal]:
    """An event loop in a thread, ``app``'s lifespan running on it for the block."""
    import anyio.from_thread

    with ExitStack() as stack:
        portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        stack.enter_context(portal.wrap_async_context_manager(lifespan(app)))
        yield portal
