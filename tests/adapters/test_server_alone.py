"""What fails in the matrix on the wire because of the server: the same failure with the
server serving a bare WSGI app, without pagesfn (test_matrix_servers.SERVER_LIMITS)."""

from __future__ import annotations

import json

import httpx
from servers import wsgiref_serving


def body_length(environ, start_response):
    """Answers with how many bytes of body it read, as far as the server lets it."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()
    else:
        body = b""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


def test_wsgiref_does_not_read_a_chunked_body():
    # wsgiref speaks HTTP/1.0: it neither de-chunks a body nor says where one ends.
    with wsgiref_serving(body_length) as url:
        chunked = httpx.post(url, content=iter([b"first,", b"second"]), timeout=10)
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert chunked.text == "0"
        assert httpx.post(url, content=b"first,second", timeout=10).text == "12"


def request_target(environ, start_response):
    """Answers with what the server passes of the request's path."""
    seen = {key: environ.get(key) for key in ("PATH_INFO", "RAW_URI", "REQUEST_URI")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


def test_wsgiref_does_not_pass_the_path_as_sent():
    # PATH_INFO is decoded, and no RAW_URI or REQUEST_URI keeps the path as sent: %2F and /
    # arrive alike, so an app routing on the raw path cannot tell them apart.
    with wsgiref_serving(request_target) as url:
        encoded = httpx.get(url + "/items/a%2Fb", timeout=10).json()
        plain = httpx.get(url + "/items/a/b", timeout=10).json()
    assert encoded == plain == {"PATH_INFO": "/items/a/b", "RAW_URI": None, "REQUEST_URI": None}
