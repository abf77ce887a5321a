"""The response head, checked once on its way out.

Every head pagesfn sends (a handler's :class:`~pagesfn.Response`, a mounted app's, either
bridge's) crosses :func:`check_head` or :func:`check_raw_head` before a server sees it, so
that no server drops the connection over it (uvicorn with h11, hypercorn) or passes an
injected header on (werkzeug's, wsgiref):

- the status is a number from 100 to 599, its reason phrase (WSGI) free of control
  characters;
- header names are RFC 9110 tokens; values carry no control character but tab (CR, LF and
  NUL included) and lose surrounding spaces and tabs (Django's ``Set-Cookie`` values start
  with one);
- a head that can carry no body (1xx, 204, 304) has no ``Content-Length`` or
  ``Transfer-Encoding``;
- toward a WSGI server (and from a WSGI app), hop-by-hop headers are dropped: PEP 3333
  keeps them from apps, and wsgiref and waitress answer 500 to an app that sends them.

What can be fixed is fixed; what cannot raises :class:`InvalidHead`, which the faces turn
into a logged 500 naming the route file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import AnyStr, Generic

from ..errors import PagesError
from .wrappers import STATUS_LINES, Response, carries_body

logger = logging.getLogger("pagesfn")

#: RFC 9110 section 7.6.1 (and ``proxy-connection``, which some clients still send):
#: headers about one connection, never to be passed on by an app or a proxy.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_RAW_HOP_BY_HOP = frozenset(name.encode() for name in HOP_BY_HOP)
#: Headers that describe a body, which a 1xx, 204 or 304 response does not have.
_BODY = frozenset({"content-length", "transfer-encoding"})
_RAW_BODY = frozenset(name.encode() for name in _BODY)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_RAW_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters but horizontal tab: CR, LF and NUL among them.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_SPACE = " \t"
_STATUS_LINE = re.compile(r"([1-5][0-9][0-9])(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
#: The status lines werkzeug makes of the codes it knows, valid as they are.
KNOWN_LINES = {line: code for line, code in STATUS_LINES.values()}
#: Header names, and short values, already found valid (str and bytes alike; bounded):
#: responses send the same few over and over, and a lookup is cheaper than a check.
_NAMES: set[str | bytes] = set()
_VALUES: set[str | bytes] = set()
ENCODED_VALUES: dict[str, bytes] = {}


def _remember(known: set[str | bytes], item: str | bytes) -> None:
    if len(item) <= 64 and len(known) < 1024:
        known.add(item)


class InvalidHead(PagesError):
    """A response head no HTTP server can send as it is."""

    code = "response-head"


def check_status(status: object) -> int:
    """``status`` as an ``int``, if it is an HTTP status (a number from 100 to 599)."""
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise InvalidHead(f"the status {status!r} is not a number from 100 to 599")
    return int(status)


def check_status_line(status: str) -> int:
    """The code of a WSGI status line (``"200 OK"``), if the line is valid."""
    code = KNOWN_LINES.get(status)
    if code is not None:
        return code
    found = _STATUS_LINE.fullmatch(status)
    if found is None:
        raise InvalidHead(f"the status line {status!r} is not a code from 100 to 599 and text")
    return int(found[1])


def check_value(name: str, value: str) -> str:
    """One header value, if it holds no control character but tab and HTTP can carry it
    (latin-1; percent-encode anything else)."""
    if value in _VALUES:
        return value
    if _CONTROL.search(value):
        raise InvalidHead(f"the value of the header `{name}` holds a control character")
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidHead(
                f"the header `{name}: {value}` is not latin-1, which HTTP cannot carry; "
                "use ASCII (percent-encode the value)"
            ) from None
    _remember(_VALUES, value)
    return value


def encoded_value(name: str, value: str) -> bytes:
    """``value`` checked (:func:`check_value`) and encoded for the wire; short values are
    remembered, content types mostly."""
    encoded = ENCODED_VALUES.get(value)
    if encoded is None:
        encoded = check_value(name, value).encode("latin-1")
        if len(value) <= 64 and len(ENCODED_VALUES) < 256:
            ENCODED_VALUES[value] = encoded
    return encoded


def check_head(
    status: int, headers: Iterable[tuple[str, str]], *, drop_hop_by_hop: bool = False
) -> list[tuple[str, str]]:
    """The header pairs of a response with ``status``, made valid, or :class:`InvalidHead`.

    >>> check_head(204, [("Set-Cookie", " a=1"), ("Content-Length", "0")])
    [('Set-Cookie', 'a=1')]
    """
    return _checked(check_status(status), headers, drop_hop_by_hop, _TEXT)


def check_wsgi_head(
    status: str, headers: Iterable[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]]]:
    """The code and the checked headers of what a WSGI app passes to ``start_response``;
    hop-by-hop headers, which PEP 3333 keeps from apps, are dropped."""
    code = check_status_line(status)
    return code, check_head(code, headers, drop_hop_by_hop=True)


def check_raw_head(
    status: object, headers: Iterable[tuple[bytes, bytes]], *, drop_hop_by_hop: bool = False
) -> list[tuple[bytes, bytes]]:
    """:func:`check_head` for the byte pairs of an ASGI ``http.response.start``."""
    return _checked(check_status(status), headers, drop_hop_by_hop, _BYTES)


@dataclass(frozen=True, slots=True)
class _Form(Generic[AnyStr]):
    """What the check needs of one form of headers: text (WSGI, pagesfn's own) or bytes
    (ASGI)."""

    token: re.Pattern[AnyStr]
    body: frozenset[AnyStr]
    hop_by_hop: frozenset[AnyStr]
    #: Space and tab, as ``strip`` takes them and as indexing a value gives them.
    space: AnyStr
    space_items: frozenset[str | int]


_TEXT = _Form(_TOKEN, _BODY, HOP_BY_HOP, _SPACE, frozenset(_SPACE))
_BYTES = _Form(_RAW_TOKEN, _RAW_BODY, _RAW_HOP_BY_HOP, b" \t", frozenset(b" \t"))


def _checked(
    status: int,
    headers: Iterable[tuple[AnyStr, AnyStr]],
    drop_hop_by_hop: bool,
    form: _Form[AnyStr],
) -> list[tuple[AnyStr, AnyStr]]:
    items = headers if isinstance(headers, list) else list(headers)
    # What only some heads need (dropping headers) is looked at only for them.
    bodied = carries_body(status)
    dropping = drop_hop_by_hop or not bodied
    names, values, space = _NAMES, _VALUES, form.space_items
    # The list as given when nothing needs fixing (most heads): a copy from the first fix.
    fixed: list[tuple[AnyStr, AnyStr]] | None = None
    for index, (name, value) in enumerate(items):
        if name not in names:
            if not form.token.fullmatch(name):
                raise InvalidHead(f"the header name {name!r} is not an HTTP token")
            _remember(names, name)
        if value not in values:
            if isinstance(value, str):
                check_value(str(name), value)  # and whether latin-1 can carry it
            elif _RAW_CONTROL.search(value):
                label = bytes(name).decode("latin-1")
                raise InvalidHead(f"the value of the header `{label}` holds a control character")
            else:
                _remember(values, value)
        # Set lookups of the first and last item (a str, or an int for bytes): quick.
        spaced = value and (value[0] in space or value[-1] in space)
        if not (dropping or spaced):
            if fixed is not None:
                fixed.append((name, value))
            continue
        if dropping:
            lowered = name.lower()
            if (not bodied and lowered in form.body) or (
                drop_hop_by_hop and lowered in form.hop_by_hop
            ):
                if fixed is None:
                    fixed = items[:index]
                continue
        if spaced:
            if fixed is None:
                fixed = items[:index]
            fixed.append((name, value.strip(form.space)))
        elif fixed is not None:
            fixed.append((name, value))
    return items if fixed is None else fixed


def wire_headers(response: Response, *, to_wsgi: bool = False) -> list[tuple[str, str]]:
    """The header pairs to send, checked, with ``Content-Length``
    added where it belongs; raises :class:`InvalidHead` for a head no server can send."""
    status = check_status(response.status_code)
    check_status_line(response.status)  # what a WSGI server sends: alike on both faces
    content_type = response.untouched_content_type()
    if content_type is not None and response.stream is None and carries_body(status):
        # The two headers pagesfn made itself; only the type came from the handler.
        check_value("Content-Type", content_type)
        return [("Content-Type", content_type), ("Content-Length", str(len(response.body)))]
    items = check_head(status, response.header_items(), drop_hop_by_hop=to_wsgi)
    if response.stream is not None or not carries_body(status):
        return items
    # A plain scan: werkzeug's ``in`` raises and catches a KeyError on a miss.
    for name, _ in items:
        if name.lower() == "content-length":
            return items
    items.append(("Content-Length", str(len(response.body))))
    return items
