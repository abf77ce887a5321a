"""The functions of a ``cloudbase-functions.json``: ``main(event, context)`` as CloudBase's
functions framework calls it.

``event`` is the request's parsed body: a JSON body as what it holds, a form as a dict, a
``text/*`` body as text, any other body as bytes; a request without a body gets its query
as a dict. ``context`` is a :class:`FunctionContext`: ``httpContext`` (``url``,
``httpMethod``, ``headers``), ``extendedContext``, ``eventID``, and pagesfn's own
``request``, ``env``, ``wait_until`` and, on a WebSocket handshake, ``ws``.

What ``main`` returns is sent as a handler's result is (a dict or list as JSON, a ``str``
as text, a :class:`~pagesfn.Response` as it is, a generator or an
:class:`~pagesfn.EventStream` streamed); a number or a boolean is sent as JSON and ``None``
as an empty 204.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.datastructures import MultiDict

from ..http.wrappers import Response, dump_json
from ..routing import ANY, WEBSOCKET
from .handler import Handler, is_async_callable

if TYPE_CHECKING:
    from ..http.wrappers import Request
    from .context import Context
    from .websocket import SyncWebSocket, WebSocket

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class HttpContext:
    """The request as the function sees it: ``url`` (the path and query as sent),
    ``httpMethod``, and ``headers`` with lower-case names (repeated ones joined by ``, ``)."""

    url: str
    httpMethod: str
    headers: Mapping[str, str]


class FunctionContext:
    """The ``context`` a ``main(event, context)`` function gets."""

    __slots__ = ("_context", "_extended", "_http", "function_name", "ws")

    def __init__(
        self,
        context: Context,
        function_name: str,
        ws: WebSocket | SyncWebSocket | None = None,
    ) -> None:
        self._context = context
        self.function_name = function_name
        #: The connection, when the request is a WebSocket handshake (else ``None``).
        self.ws = ws
        self._http: HttpContext | None = None
        self._extended: Any = _UNREAD

    @property
    def httpContext(self) -> HttpContext:
        http = self._http
        if http is None:
            http = self._http = http_context(self._context.request)
        return http

    @property
    def extendedContext(self) -> Any:
        """The JSON of the extended-context request header (``X-Cloudbase-Context`` unless
        configured), or ``None`` when it is absent or not JSON."""
        value = self._extended
        if value is _UNREAD:
            name = self._context._settings.extended_context_header
            raw = self._context.request.headers.get(name)
            value = None
            if raw:
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = None
            self._extended = value
        return value

    @property
    def eventID(self) -> str:
        """The request's id (the ``eo-log-uuid`` header when sent, else a fresh one)."""
        return self._context.uuid

    @property
    def request(self) -> Request:
        return self._context.request

    @property
    def env(self) -> Mapping[str, Any]:
        return self._context.env

    def wait_until(self, work: Any) -> None:
        """Keep ``work`` running after the response is sent (see :meth:`Context.wait_until`)."""
        self._context.wait_until(work)

    def __repr__(self) -> str:
        request = self._context.request
        return f"<FunctionContext {self.function_name} {request.method} {request.path}>"


_UNREAD = object()


def http_context(request: Request) -> HttpContext:
    # The path as it was sent: percent-encoded, as Node's `req.url` has it.
    path = request.raw_path.decode("latin-1") if request.percent_encoded else request.path
    url = quote(request.root_path) + path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return HttpContext(url, request.method, headers)


# -- the event ----------------------------------------------------------------------------


def _plain(values: MultiDict[str, Any]) -> dict[str, Any]:
    # One value as itself, a repeated key as the list of its values (as Node's parsers).
    return {key: items[0] if len(items) == 1 else items for key, items in values.lists()}


def _event(request: Request, body: bytes) -> Any:
    if not body:
        return _plain(request.args)
    mimetype = request.mimetype
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return request._parse_json(body)
    if mimetype in _FORMS:
        fields: MultiDict[str, Any] = MultiDict(request.form)
        for key, file in request.files.items(multi=True):
            fields.add(key, file)
        return _plain(fields)
    if mimetype.startswith("text/"):
        return request._decode(body)
    return body


def read_event(request: Request) -> Any:
    """The event of ``request``, read blocking (a ``def`` function, in a thread)."""
    return _event(request, request.get_data())


async def aread_event(request: Request) -> Any:
    """The event of ``request``, read on the event loop (an ``async def`` function)."""
    body = await request.body()
    return _event(request, body)


# -- the result ---------------------------------------------------------------------------


def function_result(value: Any) -> Any:
    """What ``main`` returned, as a handler's result."""
    if value is None:
        return Response(b"", 204)
    if isinstance(value, (bool, int, float)):
        return Response(dump_json(value), mimetype="application/json")
    return value


# -- the handlers ---------------------------------------------------------------------------


def is_function(obj: Any) -> bool:
    """Whether a target is a ``main(event, context)`` function rather than an app to mount:
    a plain ``def`` or ``async def`` (or a method) that does not read as a WSGI
    ``(environ, start_response)`` or an ASGI ``(scope, receive, send)`` app."""
    if not (inspect.isfunction(obj) or inspect.ismethod(obj)):
        return False
    try:
        parameters = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return True
    return parameters[:2] != ["environ", "start_response"] and parameters[:3] != [
        "scope",
        "receive",
        "send",
    ]


def function_handlers(fn: Callable[..., Any], name: str, function: str) -> dict[str, Handler]:
    """The HTTP and WebSocket handlers (pagesfn's calling convention) that call
    ``fn(event, context)`` for the config function ``function``; ``name`` is its target."""
    if is_async_callable(fn):

        async def http(context: Context) -> Any:
            event = await aread_event(context.request)
            return function_result(await fn(event, FunctionContext(context, function)))

        async def websocket(socket: WebSocket) -> None:
            context = socket.context
            await fn(_plain(context.request.args), FunctionContext(context, function, socket))

        return {
            ANY: Handler(http, name, is_async=True),
            WEBSOCKET: Handler(websocket, name, is_async=True),
        }

    def sync_http(context: Context) -> Any:
        event = read_event(context.request)
        return function_result(fn(event, FunctionContext(context, function)))

    def sync_websocket(socket: SyncWebSocket) -> None:
        context = socket.context
        fn(_plain(context.request.args), FunctionContext(context, function, socket))

    return {
        ANY: Handler(sync_http, name, is_async=False),
        WEBSOCKET: Handler(sync_websocket, name, is_async=False),
    }
