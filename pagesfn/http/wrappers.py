"""Request and Response on werkzeug's sans-IO classes, so they behave as Flask users expect."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import functools
import json as _json
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from io import BytesIO
from typing import Any, Protocol, TypeVar, overload
from urllib.parse import quote, unquote

from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.formparser import FormDataParser
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.sansio.request import Request as _SansIORequest
from werkzeug.sansio.response import Response as _SansIOResponse
from werkzeug.urls import iri_to_uri
from werkzeug.utils import get_content_type

from ..errors import BadRequest, BodyAccessError
from ..routing.path import split_path

HeadersInit = Headers | Mapping[str, str] | list[tuple[str, str]] | None

_T = TypeVar("_T")


class cached_property(functools.cached_property[_T]):
    """Computed on first read, then kept in the instance's ``__dict__``, where later reads
    find it as a plain attribute. Unlike werkzeug's (a data descriptor: every read calls
    it) and Python 3.11's (which takes a lock on the first), it costs one call, once;
    these are read on every request."""

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> cached_property[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> _T: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> cached_property[_T] | _T:
        if instance is None:
            return self
        value: _T = self.func(instance)
        instance.__dict__[self.attrname] = value  # type: ignore[index]
        return value


def _called(make: Callable[[], Headers]) -> Headers:
    return make()


def _kept(headers: Headers) -> Headers:
    return headers


class BodySource(Protocol):
    """Where a request body comes from; each face provides one."""

    def read(self) -> bytes:
        """Read the whole body, blocking. Never called on an event loop thread."""
        ...

    async def aread(self) -> bytes:
        """Read the whole body without blocking the event loop."""
        ...


class _NoBody:
    def read(self) -> bytes:
        return b""

    async def aread(self) -> bytes:
        return b""


NO_BODY: BodySource = _NoBody()


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


#: Flask's limits on ``multipart/form-data`` parsing: parts, and bytes of one field.
DEFAULT_FORM_PARTS = 1000
DEFAULT_FORM_MEMORY_SIZE = 500_000


class _EdgeOneSource(Protocol):
    """What ``request.eo`` reads: the handler's context."""

    @property
    def geo(self) -> dict[str, Any]: ...

    @property
    def client_ip(self) -> str | None: ...

    @property
    def uuid(self) -> str: ...


class EdgeOneView:
    """``request.eo``, spelled as EdgeOne's edge functions spell it: ``geo`` (the object of
    the trusted geo header, ``{}`` without one), ``clientIp`` and ``uuid`` (the request id).
    They are the values of ``context.geo``, ``context.client_ip`` and ``context.uuid``."""

    __slots__ = ("_source",)

    def __init__(self, source: _EdgeOneSource) -> None:
        self._source = source

    @property
    def geo(self) -> dict[str, Any]:
        return self._source.geo

    @property
    def clientIp(self) -> str | None:  # EdgeOne's spelling
        return self._source.client_ip

    @property
    def uuid(self) -> str:
        return self._source.uuid

    def __repr__(self) -> str:
        return f"EdgeOneView(geo={self.geo!r}, clientIp={self.clientIp!r}, uuid={self.uuid!r})"


class Request(_SansIORequest):
    """The incoming request.

    Everything werkzeug's sans-IO request offers (``args``, ``headers``, ``cookies``,
    ``url``, ``mimetype``, ...) plus the body, read two ways:

    * in ``async def`` handlers: ``await request.body()``, ``await request.text()``,
      ``await request.json()``, ``await request.form_data()``;
    * in ``def`` handlers, as in Flask: ``request.get_data()``, ``request.get_json()``,
      ``request.form``, ``request.files``.

    Once the body has been read either way, the other way works too.
    """

    #: Whether this is a WebSocket handshake (ASGI's ``websocket`` scope), a GET request
    #: that routes to ``on_websocket`` handlers.
    websocket = False
    #: ``(max_form_parts, max_form_memory_size)`` for the form parser: the app's limits.
    form_limits: tuple[int | None, int | None] = (DEFAULT_FORM_PARTS, DEFAULT_FORM_MEMORY_SIZE)

    def __init__(
        self,
        method: str,
        scheme: str,
        server: tuple[str, int | None] | None,
        root_path: str,
        path: str,
        query_string: bytes,
        headers: Headers | Callable[[], Headers],
        remote_addr: str | None,
        body: BodySource = NO_BODY,
        raw_path: bytes | None = None,
        percent_encoded: bool = True,
        form_limits: tuple[int | None, int | None] | None = None,
    ) -> None:
        # The base initialiser is skipped on purpose: building ``Headers`` is the costliest
        # part of a request and many handlers never look at them, so they are made lazily.
        path = path if path.startswith("/") else "/" + path
        if raw_path is None:
            raw_path, percent_encoded = _encode_path(path), True
        make_headers: Callable[[Any], Headers] = _kept if isinstance(headers, Headers) else _called
        self._fill(
            method.upper(),
            scheme,
            server,
            root_path.rstrip("/"),
            path,
            query_string,
            make_headers,
            headers,
            remote_addr,
            body,
            raw_path,
            percent_encoded,
            Request.form_limits if form_limits is None else form_limits,
        )

    @property
    def eo(self) -> EdgeOneView:
        """EdgeOne's ``request.eo``: ``request.eo.geo``, ``request.eo.clientIp``,
        ``request.eo.uuid`` (see :class:`EdgeOneView`), for handlers ported from EdgeOne."""
        if self._eo_source is None:
            raise AttributeError("request.eo is given to handlers, with their context")
        return EdgeOneView(self._eo_source)

    @classmethod
    def canonical(
        cls,
        method: str,
        scheme: str,
        server: tuple[str, int | None] | None,
        root_path: str,
        path: str,
        query_string: bytes,
        make_headers: Callable[[Any], Headers],
        header_source: Any,
        remote_addr: str | None,
        body: BodySource,
        raw_path: bytes,
        percent_encoded: bool,
        form_limits: tuple[int | None, int | None],
    ) -> Request:
        """The request of values a face has already put in canonical form: ``method``
        upper case, ``root_path`` without a trailing slash, ``path`` starting with one,
        ``raw_path`` its form as sent, the headers made when first asked for by
        ``make_headers(header_source)`` (no function made per request). The constructor's
        checks are skipped (a request is made for every request)."""
        request = cls.__new__(cls)
        request._fill(
            method,
            scheme,
            server,
            root_path,
            path,
            query_string,
            make_headers,
            header_source,
            remote_addr,
            body,
            raw_path,
            percent_encoded,
            form_limits,
        )
        return request

    def _fill(
        self,
        method: str,
        scheme: str,
        server: tuple[str, int | None] | None,
        root_path: str,
        path: str,
        query_string: bytes,
        make_headers: Callable[[Any], Headers],
        header_source: Any,
        remote_addr: str | None,
        body: BodySource,
        raw_path: bytes,
        percent_encoded: bool,
        form_limits: tuple[int | None, int | None],
    ) -> None:
        # Every attribute of a request, set here and always in this order: instances then
        # share their dict's keys, and none is added later (see below).
        self.method = method
        self.scheme = scheme
        self.server = server
        self.root_path = root_path
        self.path = path
        self.query_string = query_string
        self._headers: Headers | None = None
        self._make_headers = make_headers
        self._header_source = header_source
        # The pipeline sets it too, when it splits the path itself (Pipeline.prepare).
        self._segments: tuple[str, ...] | None = None
        self.remote_addr = remote_addr
        self._body_source = body
        self._body: bytes | None = None
        #: The app-relative path as sent, the form routing and static files work on.
        self.raw_path = raw_path
        self.percent_encoded = percent_encoded
        self.form_limits = form_limits
        # The context ``eo`` reads from: the first one made for this request.
        self._eo_source: _EdgeOneSource | None = None

    # What is made lazily has its attribute set (to None) by the constructors: an
    # attribute added to an instance later costs more than the value takes to compute
    # (the instance's dict is rebuilt).

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = self._make_headers(self._header_source)
        return headers

    @headers.setter
    def headers(self, headers: Headers) -> None:
        self._headers = headers

    @property
    def segments(self) -> tuple[str, ...]:
        """The path's segments, decoded: the one decision every consumer of the request
        routes on (:func:`~pagesfn.routing.split_path`), made once. Raises
        :class:`~pagesfn.errors.BadRequest` (400) for a path it refuses."""
        segments = self._segments
        if segments is None:
            segments = self._segments = split_path(
                self.raw_path, percent_encoded=self.percent_encoded
            )
        return segments

    def replace(
        self,
        path: str | None = None,
        *,
        method: str | None = None,
        headers: HeadersInit = None,
        query_string: str | bytes | None = None,
    ) -> Request:
        """A copy of this request with another path (URL form: percent-encoded, with an
        optional ``?query``), method or headers; the body is shared. For ``context.next``.
        """
        raw = self.raw_path
        encoded = self.percent_encoded
        query = self.query_string
        if path is not None:
            path, _, new_query = path.partition("?")
            if not path.startswith("/"):
                raise ValueError(f"a rewritten path must start with '/', not {path!r}")
            raw, encoded = _encode_path(path, safe="%"), True
            query = new_query.encode()
        if query_string is not None:
            query = query_string.encode() if isinstance(query_string, str) else query_string
        copy = Request(
            method or self.method,
            self.scheme,
            self.server,
            self.root_path,
            unquote(raw.decode("latin-1")) if encoded else raw.decode("utf-8", "replace"),
            query,
            Headers(headers if headers is not None else list(self.headers.items())),
            self.remote_addr,
            self._body_source,
            raw,
            encoded,
        )
        copy._body = self._body
        copy.form_limits = self.form_limits
        copy.rewritten = True
        copy.websocket = self.websocket
        return copy

    # -- async reading -----------------------------------------------------------------

    async def body(self) -> bytes:
        """The raw body, read once and kept."""
        if self._body is None:
            self._body = await self._body_source.aread()
        return self._body

    async def text(self) -> str:
        """The body decoded with the charset of ``Content-Type`` (UTF-8 by default)."""
        return self._decode(await self.body())

    async def json(self) -> Any:
        """The body parsed as JSON, whatever the ``Content-Type``; invalid JSON is a 400."""
        return self._parse_json(await self.body())

    async def form_data(self) -> MultiDict[str, str | FileStorage]:
        """Form fields and uploaded files together, like the Fetch API's ``formData()``.

        Afterwards ``request.form`` and ``request.files`` are available without blocking.
        """
        await self.body()
        merged: MultiDict[str, str | FileStorage] = MultiDict()
        for key, value in self.form.items(multi=True):
            merged.add(key, value)
        for key, file in self.files.items(multi=True):
            merged.add(key, file)
        return merged

    # -- streaming (to an origin) ---------------------------------------------------------

    #: Whether the body is being streamed on by :meth:`kept_chunks`.
    _streaming = False
    #: Whether this request was made by :meth:`replace` (the faces then rebuild the
    #: protocol's view of it for mounted apps).
    rewritten = False

    @property
    def received_body(self) -> bytes | None:
        """The whole body once something has read it (a handler, or the origin it was
        streamed to), else ``None``: what a mounted app is handed again."""
        return self._body

    def forwarded_body(self) -> bytes | None:
        """The body to pass on when it is already known (read, or none for GET and HEAD);
        ``None`` when it must be streamed from the client."""
        if self._body is not None:
            return self._body
        return b"" if self.method in ("GET", "HEAD") else None

    def kept_chunks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The body's ``chunks`` passed on as they arrive and kept, so it can be read (or
        sent) again once they have all gone by."""
        self._start_streaming()
        kept = []
        for chunk in chunks:
            kept.append(chunk)
            yield chunk
        self._body = b"".join(kept)

    async def akept_chunks(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """:meth:`kept_chunks` for chunks that arrive on the event loop."""
        self._start_streaming()
        kept = []
        async for chunk in chunks:
            kept.append(chunk)
            yield chunk
        self._body = b"".join(kept)

    def _start_streaming(self) -> None:
        if self._streaming:
            raise BodyAccessError(
                "the request body was already streamed on and not read to its end; read it "
                "whole first (`await request.body()` or `request.get_data()`) to send it twice"
            )
        self._streaming = True

    # -- sync reading (Flask's names) ----------------------------------------------------

    def get_data(self, as_text: bool = False) -> Any:
        """The raw body (``str`` with ``as_text=True``), as Flask's ``get_data``."""
        if self._body is None:
            if _on_event_loop():
                raise BodyAccessError(
                    "the request body was read synchronously inside an async handler; "
                    "use `await request.body()`, `await request.json()` or "
                    "`await request.form_data()` first"
                )
            self._body = self._body_source.read()
        return self._decode(self._body) if as_text else self._body

    @property
    def data(self) -> bytes:
        body: bytes = self.get_data()
        return body

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """The body parsed as JSON, as Flask's ``get_json``.

        Without ``force`` a ``Content-Type`` other than JSON is a 415; with ``silent``
        problems give ``None`` instead of an error.
        """
        if not (force or self.is_json):
            if silent:
                return None
            raise BadRequest("expected a JSON body (Content-Type: application/json)", 415)
        try:
            return self._parse_json(self.get_data())
        except BadRequest:
            if silent:
                return None
            raise

    @cached_property
    def form(self) -> MultiDict[str, str]:
        """Form fields of a urlencoded or multipart body."""
        self._parse_form()
        return self.form

    @cached_property
    def files(self) -> MultiDict[str, FileStorage]:
        """Uploaded files of a multipart body."""
        self._parse_form()
        return self.files

    def close(self) -> None:
        """Close uploaded files; the app calls this once the handler is done."""
        files = self.__dict__.get("files")
        if files:
            for _, upload in files.items(multi=True):
                upload.close()

    # -- helpers -------------------------------------------------------------------------

    def _decode(self, data: bytes) -> str:
        charset = self.mimetype_params.get("charset", "utf-8")
        try:
            return data.decode(charset, "replace")
        except LookupError:
            return data.decode("utf-8", "replace")

    @staticmethod
    def _parse_json(data: bytes) -> Any:
        try:
            return _json.loads(data)
        except ValueError as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("the request body's JSON is nested too deeply") from None

    def _parse_form(self) -> None:
        data = self.get_data()
        parts, memory = self.form_limits
        # Bounded as Flask bounds it: past either limit, werkzeug raises a 413.
        parser = FormDataParser(cls=MultiDict, max_form_memory_size=memory, max_form_parts=parts)
        _, form, files = parser.parse(BytesIO(data), self.mimetype, len(data), self.mimetype_params)
        self.__dict__["form"] = form
        self.__dict__["files"] = files


def _encode_path(path: str, safe: str = "") -> bytes:
    return quote(path, safe="/!$&'()*+,;=:@~" + safe).encode("ascii")


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(obj: Any) -> bytes:
    text = _json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (which JSON may carry, escaped, from a client): escape it again.
        return _json.dumps(obj, separators=(",", ":"), default=_json_default).encode()


_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


#: The statuses whose responses carry no body: 1xx, 204 and 304 (and below 100, which
#: no response has). ``status in BODILESS`` is :func:`carries_body` without a call.
BODILESS = frozenset({*range(200), 204, 304})


def carries_body(status: int) -> bool:
    """Whether a response with ``status`` may have a body (not 1xx, 204 or 304)."""
    return status not in BODILESS


_DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"

# What werkzeug's status setter makes of each known code, worked out once.
STATUS_LINES: dict[int, tuple[str, int]] = {
    code: (f"{code} {phrase.upper()}", code) for code, phrase in HTTP_STATUS_CODES.items()
}


@dataclasses.dataclass(frozen=True, slots=True)
class FileBody:
    """A response body that is part of a file on disk, sent without reading it whole.

    Each face sends it its own way: ``http.response.pathsend`` or chunks read off the event
    loop on ASGI, ``wsgi.file_wrapper`` (the server's ``sendfile``) on WSGI.
    """

    path: str
    offset: int
    length: int
    #: Whether the body is the whole file, so a server may send the file by name.
    whole: bool

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body read off the disk ``size`` bytes at a time. The file is opened on the
        first step and closed when the generator ends or is closed, so each step (opening
        included) is one blocking call a face may run where it likes."""
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            remaining = self.length
            while remaining > 0:
                chunk = file.read(min(remaining, size))
                if not chunk:
                    return  # the file shrank since it was looked up
                remaining -= len(chunk)
                yield chunk


#: What a streamed response body can be: a file, or an iterable of byte chunks, sync or async.
Stream = FileBody | Iterable[bytes] | AsyncIterable[bytes]

#: What ``Response(body)`` takes: the whole body, or chunks (``str`` ones are UTF-8
#: encoded) that are sent as they are produced.
Body = str | bytes | Iterable[bytes | str] | AsyncIterable[bytes | str]


def _chunk_bytes(chunk: object) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(
        f"a streamed response body yielded {type(chunk).__name__} {chunk!r:.80}; yield bytes or str"
    )


class _Chunks:
    """The chunks of a ``Response(<iterable>)`` as bytes; ``close()`` closes the
    iterable (a generator's ``finally`` then runs), as a WSGI server's close would."""

    __slots__ = ("_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes | str]) -> None:
        self._iterable = iterable
        self._iterator = iter(iterable)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._iterator)
        return chunk if type(chunk) is bytes else _chunk_bytes(chunk)

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()
        if self._iterable is not self._iterator:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()


class _AsyncChunks:
    """:class:`_Chunks` for an async iterable; ``aclose()`` closes it."""

    __slots__ = ("_iterator",)

    def __init__(self, iterable: AsyncIterable[bytes | str]) -> None:
        self._iterator = aiter(iterable)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk = await anext(self._iterator)
        return chunk if type(chunk) is bytes else _chunk_bytes(chunk)

    async def aclose(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()


class Response(_SansIOResponse):
    """An outgoing response: ``Response(body="", status=200, headers=None)``.

    ``body`` is ``str`` or ``bytes``, or an iterable (a generator, sync or async) of
    ``bytes``/``str`` chunks, each sent as it is produced, with no ``Content-Length``.
    ``set_cookie``, ``delete_cookie``, ``headers``, ``mimetype``, ``cache_control`` and the
    rest of werkzeug's sans-IO response are all here. Repeated headers are kept.

    A streamed response (chunks, a static file, a mounted app's or the origin's answer)
    has its body in ``stream`` and ``body == b""``; its length, when known, is in
    ``Content-Length``.
    """

    #: The streamed body, when there is one (``body`` is then empty).
    stream: Stream | None = None

    def __init__(
        self,
        body: Body = b"",
        status: int = 200,
        headers: HeadersInit = None,
        *,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if headers is None:
            # The common case: the headers are only built if someone looks at them, from
            # the one header there is so far.
            cleaned = STATUS_LINES.get(status)
            if cleaned is None:
                self.status = status
            else:
                self._status, self._status_code = cleaned
            if content_type is not None:
                self._content_type = content_type
            elif mimetype is not None:
                self._content_type = get_content_type(mimetype, "utf-8")
        else:
            super().__init__(status, headers, mimetype, content_type)
        if isinstance(body, str):
            self.body = body.encode()
        elif type(body) is bytes:
            self.body = body
        else:
            self._set_stream(body)

    def _set_stream(self, body: object) -> None:
        # Off the fast path: other bytes-like bodies, and chunks to stream.
        if isinstance(body, (bytes, bytearray, memoryview)):
            self.body = bytes(body)
            return
        if isinstance(body, AsyncIterable):
            self.stream = _AsyncChunks(body)
        elif isinstance(body, Iterable) and not isinstance(body, Mapping):
            self.stream = _Chunks(body)
        else:
            hint = "; for JSON use Response.json(...)" if isinstance(body, Mapping) else ""
            raise TypeError(
                f"a Response body is str, bytes or an iterable of chunks, "
                f"not {type(body).__name__}{hint}"
            )
        self.body = b""

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: HeadersInit = None) -> Response:
        """A JSON response, like the Fetch API's ``Response.json()``."""
        return cls(dump_json(obj), status, headers, mimetype="application/json")

    @classmethod
    def redirect(cls, url: str, status: int = 302) -> Response:
        """A redirect to ``url`` with one of the redirect statuses (302 by default)."""
        if status not in _REDIRECT_STATUSES:
            raise ValueError(f"{status} is not a redirect status; use 301, 302, 303, 307 or 308")
        return cls(b"", status, {"Location": iri_to_uri(url)})

    #: The ``Content-Type`` of a response whose headers have not been built yet.
    _content_type = _DEFAULT_CONTENT_TYPE

    @cached_property
    def headers(self) -> Headers:
        return Headers([("Content-Type", self._content_type)])

    def header_items(self) -> list[tuple[str, str]]:
        """The headers as a list of pairs, repeated names kept."""
        headers = self.__dict__.get("headers")
        if headers is None:
            return [("Content-Type", self._content_type)]
        return list(headers)

    def untouched_content_type(self) -> str | None:
        """The one header of a response whose headers nobody has looked at (so faces can
        send it without building them), else ``None``."""
        return None if "headers" in self.__dict__ else self._content_type

    def get_data(self, as_text: bool = False) -> Any:
        return self.body.decode() if as_text else self.body

    @property
    def data(self) -> bytes:
        return self.body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @classmethod
    def streamed(cls, stream: Stream, status: int = 200, headers: HeadersInit = None) -> Response:
        """A response whose body is sent from ``stream`` as it is produced.

        ``headers`` are kept exactly as given: no default ``Content-Type`` is added.
        """
        response = cls(b"", status)
        if headers is not None:
            response.__dict__["headers"] = Headers(headers)
        response.stream = stream
        return response

    def __repr__(self) -> str:
        size = "streamed" if self.stream is not None else f"{len(self.body)} bytes"
        return f"<{type(self).__name__} {self.status} {size}>"
