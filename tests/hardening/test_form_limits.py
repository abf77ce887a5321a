"""Bounded work per request: a form body of many tiny parts, or one huge field, is a 413
(as Flask bounds them), on both faces, for ``def`` and ``async def`` handlers alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

FORMS = {
    "count.py": """
        def on_request_post(context):
            return {"fields": len(context.request.form), "files": len(context.request.files)}
    """,
    "acount.py": """
        async def on_request_post(context):
            return {"fields": len(await context.request.form_data())}
    """,
}


def multipart(parts: int, size: int = 1, boundary: str = "B") -> tuple[bytes, dict[str, str]]:
    body = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n%s\r\n'
        % (boundary.encode(), i, b"v" * size)
        for i in range(parts)
    )
    body += b"--%s--\r\n" % boundary.encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("path", ["/count", "/acount"])
def test_many_parts_are_a_413(serve: Callable[..., Any], path: str) -> None:
    client = serve(FORMS)
    body, headers = multipart(5000)
    result = client.request("POST", path, body=body, headers=headers)
    assert result.status == 413, result.body[:200]
    body, headers = multipart(1000)
    assert client.request("POST", path, body=body, headers=headers).json()["fields"] == 1000


@pytest.mark.parametrize("path", ["/count", "/acount"])
def test_a_huge_field_is_a_413(serve: Callable[..., Any], path: str) -> None:
    client = serve(FORMS)
    body, headers = multipart(1, size=600_000)
    assert client.request("POST", path, body=body, headers=headers).status == 413


def test_the_form_limits_are_settable(serve: Callable[..., Any]) -> None:
    client = serve(FORMS, max_form_parts=10, max_form_memory_size=0)
    body, headers = multipart(11)
    assert client.request("POST", "/count", body=body, headers=headers).status == 413
    body, headers = multipart(1, size=600_000)
    assert client.request("POST", "/count", body=body, headers=headers).json()["fields"] == 1
