"""The tests' clients: one :class:`Result` shape whichever face (or server) answers,
:class:`FaceClient`'s request methods, and a client for each face in process."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import webtest

from pagesfn import Pages
from pagesfn.testing.client import asgi_session


@dataclass
class Result:
    """One response, the same shape whichever face produced it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    #: What the app wrote to ``wsgi.errors``, where the client keeps it (WebTest does).
    errors: str = ""

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class FaceClient:
    """Sends requests to one face of an app and returns face-independent results."""

    face: str
    app: Pages

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        data: Mapping[str, str] | None = None,
        files: Any = None,
    ) -> Result:
        headers = dict(headers or {})
        if data is not None or files is not None:
            # Encode forms and uploads once, the way httpx does, for both faces.
            encoded = httpx.Request(method, "http://testserver" + path, data=data, files=files)
            body = encoded.read()
            headers["Content-Type"] = encoded.headers["Content-Type"]
        if isinstance(body, str):
            body = body.encode()
        return self._send(method, path, headers, body or b"")

    def get(self, path: str, **kwargs: Any) -> Result:
        return self.request("GET", path, **kwargs)

    def chunked(
        self,
        method: str,
        path: str,
        chunks: Iterable[bytes],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Result:
        """Send a body of unknown length (``Transfer-Encoding: chunked``, no Content-Length)."""
        return self._send_chunked(method, path, dict(headers or {}), list(chunks))

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        raise NotImplementedError

    def _send_chunked(
        self, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> Result:
        raise NotImplementedError


class ASGIClient(FaceClient):
    """Drives ``pages`` (the ASGI app) through httpx, from sync test code."""

    face = "asgi"

    def __init__(self, app: Pages, stack: ExitStack) -> None:
        self.app = app
        # The app's event loop, its lifespan run around the requests as ASGI servers do.
        self._portal = stack.enter_context(asgi_session(app))
        transport = httpx.ASGITransport(app, client=("203.0.113.7", 50000))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        stack.callback(self._portal.call, self._client.aclose)

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        async def send() -> httpx.Response:
            return await self._client.request(method, path, headers=headers, content=body)

        response = self._portal.call(send)
        return Result(response.status_code, list(response.headers.multi_items()), response.content)

    def _send_chunked(
        self, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> Result:
        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        async def send() -> httpx.Response:
            # httpx sends an async iterable without Content-Length, as chunked.
            return await self._client.request(method, path, headers=headers, content=body())

        response = self._portal.call(send)
        return Result(response.status_code, list(response.headers.multi_items()), response.content)


class WSGIClient(FaceClient):
    """Drives ``pages.wsgi`` through WebTest (with its WSGI lint checks on)."""

    face = "wsgi"

    def __init__(self, app: Pages, stack: ExitStack) -> None:
        self.app = app
        self._test = webtest.TestApp(app.wsgi, extra_environ={"REMOTE_ADDR": "203.0.113.7"})

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        # Real WSGI servers (gunicorn, uWSGI, werkzeug) pass the raw request target on.
        environ = {"REQUEST_URI": path, "HTTP_HOST": "testserver"}
        response = self._test.request(
            path, method=method, headers=headers, body=body, environ=environ, expect_errors=True
        )
        return Result(
            response.status_int, list(response.headerlist), response.body, response.errors
        )

    def _send_chunked(
        self, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> Result:
        request = webtest.TestRequest.blank(path, method=method, headers=headers)
        # What a server passes on for a chunked request: the de-chunked body, no
        # CONTENT_LENGTH, and ``wsgi.input_terminated`` to say the stream ends with the body.
        request.environ.pop("CONTENT_LENGTH", None)
        request.environ.update(
            {
                "wsgi.input": io.BytesIO(b"".join(chunks)),
                "wsgi.input_terminated": True,
                "HTTP_TRANSFER_ENCODING": "chunked",
                "REQUEST_URI": path,
                "HTTP_HOST": "testserver",
            }
        )
        response = self._test.do_request(request, expect_errors=True)
        return Result(response.status_int, list(response.headerlist), response.body)


class WireClient(FaceClient):
    """The same request API over a socket to a real server (httpx, cookies kept across
    requests as a browser keeps them). ``raw`` keeps bodies as sent, not decoded."""

    def __init__(self, url: str, face: str, stack: ExitStack, *, raw: bool = False) -> None:
        self.face = face
        self.raw = raw
        self.http = stack.enter_context(httpx.Client(base_url=url, timeout=10))

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        return self._answer(self.http.build_request(method, path, headers=headers, content=body))

    def _send_chunked(
        self, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> Result:
        # httpx sends an iterator without Content-Length, as chunked.
        request = self.http.build_request(method, path, headers=headers, content=iter(chunks))
        return self._answer(request)

    def _answer(self, request: httpx.Request) -> Result:
        answer = self.http.send(request, stream=True)
        try:
            body = b"".join(answer.iter_raw() if self.raw else answer.iter_bytes())
        finally:
            answer.close()
        return Result(answer.status_code, list(answer.headers.multi_items()), body)
