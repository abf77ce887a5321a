"""What fails in the compatibility matrix because of the framework: the same failure with
the framework served alone by a real server, without pagesfn (test_matrix.FRAMEWORK_LIMITS
names each one)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from drivers import FRAMEWORK_SOURCES
from servers import gunicorn_serving
from test_matrix import FRAMEWORK_LIMITS

CHUNKED = sorted(framework for cell, framework in FRAMEWORK_LIMITS if cell == "chunked")


def chunks():
    yield b"first,"
    yield b"second," * 1000
    yield b"third"


@pytest.mark.parametrize("framework", CHUNKED)
def test_a_chunked_body_reaches_the_framework_alone_empty(framework: str) -> None:
    # gunicorn de-chunks the body and says so with wsgi.input_terminated (PEP 3333 has no
    # word for it); these frameworks read CONTENT_LENGTH bytes, and there is none.
    django = framework.startswith("django")
    module = framework.replace("-", "_") + ("" if django else "_app")
    target = f"{module}:{'application' if django else 'app'}"
    body = b"".join(chunks())
    with gunicorn_serving(FRAMEWORK_SOURCES, target) as url:
        served = httpx.post(url + "/raw", content=chunks(), timeout=10)
        assert served.request.headers["transfer-encoding"] == "chunked"
        assert served.status_code == 200
        assert served.json() == {"size": 0, "sha256": hashlib.sha256(b"").hexdigest()}
        # The same body with its length is read whole.
        whole = httpx.post(url + "/raw", content=body, timeout=10)
        assert whole.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
