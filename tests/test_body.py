"""Reading request bodies from sync and async handlers."""

from __future__ import annotations

import pytest

TREE = {
    "sync.py": """
        def on_request_post(context):
            request = context.request
            kind = request.args.get("kind")
            if kind == "bytes":
                return request.get_data()
            if kind == "text":
                return request.get_data(as_text=True).upper()
            if kind == "json":
                return {"got": request.get_json()}
            if kind == "silent":
                return {"got": request.get_json(silent=True)}
            if kind == "force":
                return {"got": request.get_json(force=True)}
            if kind == "form":
                return {"form": request.form.to_dict(flat=False)}
            if kind == "files":
                upload = request.files["upload"]
                return {
                    "name": upload.filename,
                    "type": upload.content_type,
                    "content": upload.read().decode(),
                    "field": request.form.get("field"),
                }
    """,
    "async.py": """
        async def on_request_post(context):
            request = context.request
            kind = request.args.get("kind")
            if kind == "bytes":
                return await request.body()
            if kind == "text":
                return (await request.text()).upper()
            if kind == "json":
                return {"got": await request.json()}
            if kind == "form":
                data = await request.form_data()
                return {"form": data.to_dict(flat=False)}
            if kind == "files":
                data = await request.form_data()
                upload = data["upload"]
                return {
                    "name": upload.filename,
                    "content": upload.read().decode(),
                    "field": data["field"],
                    "sync_view": request.form.get("field"),
                }
            if kind == "twice":
                first = await request.body()
                return {"same": first == await request.body() == request.get_data()}
            if kind == "sync-in-async":
                return request.get_data()
    """,
}


@pytest.fixture
def client(serve):
    return serve(TREE, debug=True)


def post(client, path, **kwargs):
    return client.request("POST", path, **kwargs)


@pytest.mark.parametrize("handler", ["sync", "async"])
def test_bytes_and_text(client, handler):
    payload = "héllo wörld".encode()
    assert post(client, f"/{handler}?kind=bytes", body=payload).body == payload
    result = post(
        client,
        f"/{handler}?kind=text",
        body="añb".encode("latin-1"),
        headers={"Content-Type": "text/plain; charset=latin-1"},
    )
    assert result.text == "AÑB"


@pytest.mark.parametrize("handler", ["sync", "async"])
def test_json(client, handler):
    result = post(
        client,
        f"/{handler}?kind=json",
        body='{"a": [1, "ü"]}',
        headers={"Content-Type": "application/json"},
    )
    assert result.json() == {"got": {"a": [1, "ü"]}}


@pytest.mark.parametrize("handler", ["sync", "async"])
def test_invalid_json_is_400(client, handler):
    result = post(
        client, f"/{handler}?kind=json", body="{nope", headers={"Content-Type": "application/json"}
    )
    assert result.status == 400
    assert "not valid JSON" in result.text


def test_get_json_follows_flask(client):
    result = post(client, "/sync?kind=json", body="[1]", headers={"Content-Type": "text/plain"})
    assert result.status == 415
    silent = post(client, "/sync?kind=silent", body="[1]", headers={"Content-Type": "text/plain"})
    assert silent.json() == {"got": None}
    forced = post(client, "/sync?kind=force", body="[1]", headers={"Content-Type": "text/plain"})
    assert forced.json() == {"got": [1]}


@pytest.mark.parametrize("handler", ["sync", "async"])
def test_urlencoded_form(client, handler):
    result = post(client, f"/{handler}?kind=form", data={"a": "1", "b": "two words"})
    assert result.json() == {"form": {"a": ["1"], "b": ["two words"]}}


@pytest.mark.parametrize("handler", ["sync", "async"])
def test_multipart_files(client, handler):
    result = post(
        client,
        f"/{handler}?kind=files",
        data={"field": "value"},
        files={"upload": ("notes.txt", b"file content", "text/plain")},
    )
    body = result.json()
    assert body["name"] == "notes.txt"
    assert body["content"] == "file content"
    assert body["field"] == "value"
    if handler == "async":
        assert body["sync_view"] == "value"


def test_body_is_read_once_and_kept(client):
    assert post(client, "/async?kind=twice", body=b"abc").json() == {"same": True}


def test_sync_read_in_async_handler_names_the_fix(client):
    result = post(client, "/async?kind=sync-in-async", body=b"abc")
    assert result.status == 500
    assert "await request.body()" in result.text


def test_large_body(client):
    payload = bytes(range(256)) * 4096  # 1 MiB
    assert post(client, "/sync?kind=bytes", body=payload).body == payload
    assert post(client, "/async?kind=bytes", body=payload).body == payload
