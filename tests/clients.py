"""What the tests' clients answer with, whichever face (or server) they drive: one
:class:`Result` shape, and :class:`FaceClient`'s request methods."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from pagesfn import Pages


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
