"""The demo tree the README starts: every module loads and its routes answer."""

from __future__ import annotations

from pathlib import Path

DEMO = Path(__file__).parent.parent / "demo_flask" / "functions"


def test_demo_loads_eagerly_and_serves(serve):
    client = serve(DEMO, eager=True)
    assert "pagesfn demo" in client.get("/").text
    assert client.get("/hello-pages/").text == "Hello from pagesfn!"
    assert client.get("/api/users/1024").json()["id"] == "1024"
    updated = client.request(
        "PUT", "/api/users/7", body='{"name": "Ada"}', headers={"Content-Type": "application/json"}
    )
    assert updated.json() == {"id": "7", "updated": {"name": "Ada"}}
    first = client.get("/api/visit").json()["visitCount"]
    assert client.get("/api/visit").json()["visitCount"] == first + 1
    missing = client.get("/api/books/list")
    assert (missing.status, missing.json()["rest"]) == (404, ["books", "list"])
