"""The ``context`` every handler receives."""

from __future__ import annotations

import json
import uuid as _uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..http.wrappers import Request
from ..routing.cloudbase import EXTENDED_CONTEXT_HEADER

if TYPE_CHECKING:
    from .flow import Flow

_UUID_HEADER = "eo-log-uuid"


def request_id(request: Request) -> str:
    """The ``eo-log-uuid`` request header when it is sane, else a fresh unique id."""
    header = request.headers.get(_UUID_HEADER, "")
    return header if usable_request_id(header) else _uuid.uuid4().hex


def usable_request_id(value: str) -> bool:
    """Whether a client's ``eo-log-uuid`` header can serve as the request id."""
    return 0 < len(value) <= 128 and value.isprintable() and value.isascii()


class Server(NamedTuple):
    region: str
    request_id: str


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Per-app values every context shares; built once when the app loads."""

    #: The process environment, ``Pages(env=...)`` and the KV bindings.
    env: Mapping[str, Any]
    region: str = "local"
    geo_header: str | None = None
    client_ip_header: str | None = None
    #: The request header whose JSON is a config function's ``context.extendedContext``.
    extended_context_header: str = EXTENDED_CONTEXT_HEADER


class Context:
    """What a handler gets: ``request``, ``params``, ``env``, ``data`` and the rest.

    ``uuid``, ``client_ip``, ``geo`` and ``server`` are computed when first read.
    """

    __slots__ = (
        "__dict__",
        "_flow",
        "_is_async",
        "_schedule",
        "_settings",
        "_step",
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
        data: dict[str, Any] | None = None,
        flow: Flow[Any] | None = None,
        step: int = 0,
        is_async: bool = False,
    ) -> None:
        self.request = request
        if request._eo_source is None:
            request._eo_source = self  # what request.eo reads (EdgeOne's spelling)
        self.params = params
        self.function_path = function_path
        self.data = {} if data is None else data
        self._settings = settings
        self._schedule = schedule
        self._flow = flow
        self._step = step
        self._is_async = is_async

    @property
    def env(self) -> Mapping[str, Any]:
        return self._settings.env

    @property
    def uuid(self) -> str:
        """The ``eo-log-uuid`` request header when present, else a fresh unique id."""
        if self._flow is not None:
            return self._flow.uuid
        value: str | None = self.__dict__.get("uuid")
        if value is None:
            value = self.__dict__["uuid"] = request_id(self.request)
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

    def next(self, target: str | Request | None = None) -> Any:
        """Run the rest of the chain (inner middleware, the route, then static assets and
        the origin) and return its :class:`Response`.

        Awaitable in an ``async def`` handler, a plain call in a ``def`` one. ``target``
        continues with a rewritten request: a path (with an optional query string) or a
        :class:`Request` from ``context.request.replace(...)``.
        """
        flow = self._flow
        if flow is None:
            raise RuntimeError("next() is only available while the request is being handled")
        return flow.next(self._step + 1, target, self._is_async, self.request)

    def pass_through_on_exception(self) -> None:
        """If anything later in the chain raises, answer from static assets (or the
        origin) instead of with a 500; the error is still logged."""
        if self._flow is not None:
            self._flow.pass_through = True

    def __repr__(self) -> str:
        return f"<Context {self.request.method} {self.request.path} params={self.params!r}>"


def flow_of(context: Context) -> Flow[Any] | None:
    """The chain ``context``'s step runs in (``None`` for a context made by hand): for
    pagesfn's own steps, such as a WebSocket session, which need more of the request than
    a handler sees."""
    return context._flow
