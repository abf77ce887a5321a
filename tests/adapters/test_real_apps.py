"""Real apps, driven as their users drive them, mounted beside plain handlers: on both
faces in-process, and over the wire under uvicorn (the ASGI face) and gunicorn (the WSGI
face)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from clients import FaceClient, Result
from servers import OUT_OF_PROCESS, app_module, serving
from test_matrix import HEALTH

from pagesfn import Pages

APPS = Path(__file__).parent.parent / "fixtures" / "apps"


class WireClient(FaceClient):
    """The client API of the in-process tests, over a socket to a real server."""

    def __init__(self, url: str, face: str) -> None:
        self.url = url
        self.face = face

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Result:
        answer = httpx.request(method, self.url + path, headers=headers, content=body, timeout=10)
        return Result(answer.status_code, list(answer.headers.multi_items()), answer.content)


def tree(app: str, prefix: str) -> dict[str, str]:
    return {f"{prefix}/[[default]].py": (APPS / app).read_text(), "health.py": HEALTH}


@pytest.fixture(params=["in-process", "uvicorn-h11", "gunicorn"])
def served(
    request: pytest.FixtureRequest, serve: Callable[..., FaceClient], face: str, tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], FaceClient]]:
    """``served(tree)``: a client for the tree on the current face, in-process or under the
    real server of that face."""
    where = request.param
    if where != "in-process" and (where == "gunicorn") != (face == "wsgi"):
        pytest.skip(f"{where} serves the other face")

    def start(files: dict[str, str]) -> FaceClient:
        if where == "in-process":
            return serve(files)
        functions = tmp_path / "functions"
        for name, text in files.items():
            (functions / name).parent.mkdir(parents=True, exist_ok=True)
            (functions / name).write_text(textwrap.dedent(text))
        if where in OUT_OF_PROCESS:
            served = serving(where, app_module(tmp_path, functions, {}), tmp_path)
        else:
            app = Pages(functions)
            stack.callback(app.close)
            stack.callback(app.loader.unload)
            served = serving(where, app)
        return WireClient(stack.enter_context(served), face)

    with ExitStack() as stack:
        yield start


def test_fastapi_docs_and_the_oauth2_password_flow(served) -> None:
    client = served(tree("fastapi_oauth.py", "api"))
    # The interactive docs load the schema from under the prefix...
    docs = client.get("/api/docs")
    assert docs.status == 200 and "url: '/api/openapi.json'" in docs.text
    redoc = client.get("/api/redoc")
    assert redoc.status == 200 and 'spec-url="/api/openapi.json"' in redoc.text
    schema = client.get("/api/openapi.json").json()
    assert {"/token", "/users/me", "/items/", "/items/{number}"} <= set(schema["paths"])
    # ... and "Authorize" posts to the token URL resolved against the docs page.
    flow = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
    token_url = urljoin("/api/docs", flow["tokenUrl"])
    assert token_url == "/api/token"
    # The password flow, as the docs page (or any client) runs it.
    refused = client.request("POST", token_url, data={"username": "ada", "password": "nope"})
    assert refused.status == 400
    assert client.get("/api/users/me").status == 401
    assert client.get("/api/users/me").header("WWW-Authenticate") == "Bearer"
    granted = client.request("POST", token_url, data={"username": "ada", "password": "analytical"})
    assert granted.status == 200 and granted.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    assert client.get("/api/users/me", headers=bearer).json() == {
        "username": "ada",
        "full_name": "Ada Lovelace",
    }
    made = client.request(
        "POST",
        "/api/items/",
        body='{"name": "Engine", "price": 9.5}',
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert made.status == 201
    assert client.get(f"/api/items/{made.json()['id']}").json() == {"name": "Engine", "price": 9.5}
    assert client.get("/api/items/999").status == 404
    assert client.get("/health").text == "healthy"
