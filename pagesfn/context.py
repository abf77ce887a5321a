"""The ``context`` every handler receives."""

from __future__ import annotations

import json
import uuid as _uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .wrappers import Request

_UUID_HEADER = "eo-log-uuid"


class Server(NamedTuple):
    region: str
    request_id: str


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Per-app values every context shares; built once when the app loads."""

    env: Mapping[str, str]
    region: str = "local"
    geo_header: str | None = None
    client_ip_header: str | None = None


class Context:
    """What a handler gets: ``request``, ``params``, ``env``, ``data`` and the rest.

    ``uuid``, ``client_ip``, ``geo`` and ``server`` are computed when first read.
    """

    __slots__ = (
        "__dict__",
        "_remote_addr",
        "_schedule",
        "_settings",
        "data",
        "function_path",
        "params",
        "request",
    )

    def __init__(
        self,
        request: Request,
        params: Mapping[str, Any],
        function_path: str,
        settings: ContextSettings,
        schedule: Callable[[Any], None],
    ) -> None:
        self.request = request
        self.params = params
        self.function_path = function_path
        self.data: dict[str, Any] = {}
        self._settings = settings
        self._schedule = schedule

    @property
    def env(self) -> Mapping[str, str]:
        return self._settings.env

    @property
    def uuid(self) -> str:
        """The ``eo-log-uuid`` request header when present, else a fresh unique id."""
        value: str | None = self.__dict__.get("uuid")
        if value is None:
            header = self.request.headers.get(_UUID_HEADER, "")
            if 0 < len(header) <= 128 and header.isprintable() and header.isascii():
                value = header
            else:
                value = _uuid.uuid4().hex
            self.__dict__["uuid"] = value
        return value

    @property
    def request_id(self) -> str:
        return self.uuid

    @property
    def client_ip(self) -> str | None:
        """The peer address, or the first address of the configured trusted header."""
        name = self._settings.client_ip_header
        if name:
            forwarded = self.request.headers.get(name)
            if forwarded:
                return forwarded.split(",", 1)[0].strip()
        return self.request.remote_addr

    @property
    def geo(self) -> dict[str, Any]:
        """The JSON object of the configured trusted geo header, or ``{}``."""
        value: dict[str, Any] | None = self.__dict__.get("geo")
        if value is None:
            value = {}
            name = self._settings.geo_header
            raw = self.request.headers.get(name) if name else None
            if raw:
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict):
                    value = parsed
            self.__dict__["geo"] = value
        return value

    @property
    def server(self) -> Server:
        return Server(self._settings.region, self.uuid)

    def wait_until(self, work: Any) -> None:
        """Keep ``work`` (an awaitable, or a callable, sync or async) running after the
        response is sent. The app finishes it before it shuts down."""
        self._schedule(work)

    def __repr__(self) -> str:
        return f"<Context {self.request.method} {self.request.path} params={self.params!r}>"
