"""Turn what a handler returned into a :class:`Response`, the way Flask does."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterator, Mapping
from typing import Any

from werkzeug.datastructures import Headers

from ..errors import HandlerResultError
from .wrappers import BODILESS, Response, dump_json

_MAX_REPR = 200


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_REPR:
        text = text[:_MAX_REPR] + "..."
    return f"{type(value).__name__} {text}"


def _body(value: Any, status: int | None, headers: Any) -> Response:
    if isinstance(value, Response):
        if status is not None:
            value.status = status
        if headers:
            value.headers.update(Headers(headers))
        return value
    code = 200 if status is None else status
    if isinstance(value, str):
        return Response(value, code, headers)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Response(bytes(value), code, headers, mimetype="application/octet-stream")
    if isinstance(value, (dict, list)):
        return Response(dump_json(value), code, headers, mimetype="application/json")
    if isinstance(value, (Iterator, AsyncIterable)):
        # A generator (sync or async) of chunks: streamed. Other iterables (a list, a
        # set) are not taken for one.
        return Response(value, code, headers)
    raise HandlerResultError(f"returned {_describe(value)}")


def to_response(value: object) -> Response:
    """Accept a Response, ``str``, ``bytes``, ``dict``/``list`` (JSON), a generator or
    other iterator (sync or async) of ``bytes``/``str`` chunks (streamed), or a tuple
    ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)``.

    Raises :class:`HandlerResultError` saying what was returned otherwise.
    """
    if isinstance(value, Response):
        return value
    if isinstance(value, tuple):
        if len(value) == 3:
            body, status, headers = value
        elif len(value) == 2:
            body, second = value
            if isinstance(second, (Mapping, list, Headers)):
                status, headers = None, second
            else:
                status, headers = second, None
        else:
            raise HandlerResultError(
                f"returned a tuple of {len(value)} items ({_describe(value)}); "
                "return (body, status), (body, headers) or (body, status, headers)"
            )
        if status is not None and (
            not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
        ):
            raise HandlerResultError(f"returned the status {status!r}; use an int 100-599")
        return _body(body, status, headers)
    if value is None:
        raise HandlerResultError(
            "returned None; return a Response, str, bytes, dict, list or a generator"
        )
    return _body(value, None, None)


def finished(response: Response) -> Response:
    """``response`` without a body or its headers where the status allows none (1xx, 204,
    304).

    ``Content-Length`` is added on the wire (:func:`~pagesfn.http.head.wire_headers`); the
    face drops the body of a ``HEAD`` response itself, keeping its length.
    """
    if response.status_code in BODILESS:
        response.body = b""
        if response.stream is None:
            response.headers.pop("Content-Length", None)
            response.headers.pop("Content-Type", None)
    return response
