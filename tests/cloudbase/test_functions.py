"""``main(event, context)``: the event parsed from the request, the context, and what the
function returns turned into a response; sync and async, on both faces."""

from __future__ import annotations

import json
import time

import pytest

# `echo` (a def main) and `asyncEcho` (an async def amain in the same file) answer with
# what they got.
ECHOES = pytest.mark.parametrize(("echo", "kind"), [("/echo", "sync"), ("/echo/async", "async")])
RESULTS = pytest.mark.parametrize("results", ["/results", "/results/async"])


def echoed(client, method, path, **options):
    response = client.request(method, path, **options)
    assert response.status == 200, response.text
    return response.json()


# -- the event -----------------------------------------------------------------------------


@ECHOES
def test_a_request_without_a_body_gets_its_query_as_the_event(client, echo, kind):
    body = echoed(client, "GET", echo + "?name=ann&tag=a&tag=b&empty=&n=1")
    assert body["kind"] == kind
    assert body["type"] == "dict"
    assert body["event"] == {"name": "ann", "tag": ["a", "b"], "empty": "", "n": "1"}


@ECHOES
def test_no_body_and_no_query_is_an_empty_dict(client, echo, kind):
    assert echoed(client, "GET", echo)["event"] == {}
    assert echoed(client, "POST", echo)["event"] == {}


@ECHOES
@pytest.mark.parametrize(
    "value", [{"a": 1, "b": [True, None]}, [1, "two"], "text", 3.5, 0, False, None]
)
def test_a_json_body_is_the_value_it_holds(client, echo, kind, value):
    body = echoed(
        client,
        "POST",
        echo + "?ignored=1",
        headers={"Content-Type": "application/json"},
        body=json.dumps(value),
    )
    assert body["event"] == value
    assert body["type"] == type(value).__name__


@ECHOES
def test_a_json_suffix_media_type_is_json_too(client, echo, kind):
    headers = {"Content-Type": "application/vnd.api+json; charset=utf-8"}
    body = echoed(client, "PUT", echo, headers=headers, body='{"data": {"id": "é"}}')
    assert body["event"] == {"data": {"id": "é"}}


@ECHOES
def test_invalid_json_is_a_400(client, echo, kind):
    response = client.request(
        "POST", echo, headers={"Content-Type": "application/json"}, body="{not json"
    )
    assert response.status == 400


@ECHOES
def test_a_urlencoded_form_is_a_dict(client, echo, kind):
    body = echoed(client, "POST", echo, data={"a": "1", "b": ["2", "3"], "c": "é"})
    assert body["type"] == "dict"
    assert body["event"] == {"a": "1", "b": ["2", "3"], "c": "é"}


@ECHOES
def test_a_multipart_form_holds_its_fields_and_files(client, echo, kind):
    body = echoed(
        client,
        "POST",
        echo,
        data={"field": "x"},
        files=[
            ("upload", ("a.txt", b"hello", "text/plain")),
            ("many", ("1.txt", b"one", "text/plain")),
            ("many", ("2.txt", b"two", "text/plain")),
        ],
    )
    assert body["event"] == {
        "field": "x",
        "upload": {"filename": "a.txt", "content_type": "text/plain", "content": "hello"},
        "many": [
            {"filename": "1.txt", "content_type": "text/plain", "content": "one"},
            {"filename": "2.txt", "content_type": "text/plain", "content": "two"},
        ],
    }


@ECHOES
@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain; charset=utf-8", "text/csv", "text/xml"]
)
def test_a_text_body_is_a_str(client, echo, kind, content_type):
    body = echoed(client, "POST", echo, headers={"Content-Type": content_type}, body="héllo,1")
    assert (body["type"], body["event"]) == ("str", "héllo,1")


@ECHOES
def test_a_text_body_is_decoded_by_its_charset(client, echo, kind):
    headers = {"Content-Type": "text/plain; charset=latin-1"}
    body = echoed(client, "POST", echo, headers=headers, body="héllo".encode("latin-1"))
    assert (body["type"], body["event"]) == ("str", "héllo")


@ECHOES
@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/png", None])
def test_any_other_body_is_bytes(client, echo, kind, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = echoed(client, "POST", echo, headers=headers, body=b"\x00\xff{raw")
    assert body["type"] == "bytes"
    assert body["event"] == {"bytes": "\x00\xff{raw"}


@ECHOES
def test_a_chunked_body_is_read_too(client, echo, kind):
    response = client.chunked(
        "POST", echo, [b'{"a": ', b"[1, 2]}"], headers={"Content-Type": "application/json"}
    )
    assert response.status == 200
    assert response.json()["event"] == {"a": [1, 2]}


# -- the context -------------------------------------------------------------------------------


@ECHOES
def test_the_http_context_has_the_url_as_sent_the_method_and_headers(client, echo, kind):
    path = echo + "/a%20b/%E4%BD%A0?q=%2F&x=1&x=2"
    body = echoed(
        client,
        "PATCH",
        path,
        headers={"X-Custom-Header": "Value", "Content-Type": "text/plain"},
        body="hi",
    )
    assert body["url"] == path
    assert body["method"] == "PATCH"
    headers = body["headers"]
    assert headers["x-custom-header"] == "Value"
    assert headers["content-type"] == "text/plain"
    assert headers["content-length"] == "2"
    assert all(name == name.lower() for name in headers)
    assert body["request_path"] == echo + "/a b/你"
    assert (body["context_type"], body["http_type"]) == ("FunctionContext", "HttpContext")


@ECHOES
def test_the_function_name_is_the_configs(client, echo, kind):
    expected = "echo" if kind == "sync" else "asyncEcho"
    assert echoed(client, "GET", echo)["function"] == expected


@ECHOES
def test_the_extended_context_is_the_json_of_its_header(client, echo, kind):
    extended = {"envId": "env-1", "uin": 42, "source": ["a"]}
    headers = {"X-Cloudbase-Context": json.dumps(extended)}
    assert echoed(client, "GET", echo, headers=headers)["extended"] == extended
    assert echoed(client, "GET", echo)["extended"] is None
    bad = {"X-Cloudbase-Context": "{not json"}
    assert echoed(client, "GET", echo, headers=bad)["extended"] is None


@ECHOES
def test_the_extended_context_header_is_configurable(cloudbase, echo, kind):
    client = cloudbase(extended_context_header="X-Other")
    headers = {"X-Other": '{"from": "other"}', "X-Cloudbase-Context": '{"from": "default"}'}
    assert echoed(client, "GET", echo, headers=headers)["extended"] == {"from": "other"}
    only_default = {"X-Cloudbase-Context": '{"from": "default"}'}
    assert echoed(client, "GET", echo, headers=only_default)["extended"] is None


@ECHOES
def test_the_event_id_is_the_request_id(client, echo, kind):
    sent = echoed(client, "GET", echo, headers={"eo-log-uuid": "abc-123"})
    assert sent["eventID"] == "abc-123"
    first, second = echoed(client, "GET", echo), echoed(client, "GET", echo)
    assert first["eventID"] and second["eventID"]
    assert first["eventID"] != second["eventID"]


@ECHOES
def test_context_env_and_no_websocket_on_http(client, echo, kind):
    body = echoed(client, "GET", echo)
    assert body["greeting"] == "hello"
    assert body["ws"] is False


def test_a_websocket_function_called_over_http_sees_no_socket(client):
    response = client.get("/ws?a=1")
    assert response.status == 200
    assert response.json() == {"ws": None, "event": {"a": "1"}}
    assert client.get("/ws-sync").json() == {"ws": None}


@RESULTS
def test_wait_until_runs_after_the_response(client, tmp_path, results):
    target = tmp_path / "waited.txt"
    response = client.get(f"{results}?kind=wait&file={target}")
    assert (response.status, response.text) == (200, "scheduled")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (target.exists() and target.read_text()):
        time.sleep(0.01)
    assert target.read_text() == "done"


# -- the result --------------------------------------------------------------------------------


@RESULTS
@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("dict", {"a": 1, "nested": {"b": [1, 2]}}),
        ("list", [1, "two", None]),
        ("int", 42),
        ("float", 1.5),
        ("true", True),
        ("false", False),
        ("zero", 0),
    ],
)
def test_json_values_are_sent_as_json(client, results, kind, value):
    response = client.get(f"{results}?kind={kind}")
    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.json() == value
    assert type(response.json()) is type(value)


@RESULTS
def test_a_str_is_text(client, results):
    response = client.get(f"{results}?kind=str")
    assert response.status == 200
    assert response.header("Content-Type") == "text/plain; charset=utf-8"
    assert response.text == "héllo"


@RESULTS
def test_bytes_are_sent_as_they_are(client, results):
    response = client.get(f"{results}?kind=bytes")
    assert response.status == 200
    assert response.header("Content-Type") == "application/octet-stream"
    assert response.body == b"\x00\xffraw"


@RESULTS
def test_a_response_is_sent_as_it_is(client, results):
    response = client.get(f"{results}?kind=response")
    assert response.status == 202
    assert response.header("Content-Type").startswith("text/csv")
    assert response.header("X-Made") == "yes"
    assert response.text == "made"


@RESULTS
def test_none_is_an_empty_204(client, results):
    response = client.get(f"{results}?kind=none")
    assert response.status == 204
    assert response.body == b""
    assert response.header("Content-Type") is None


@RESULTS
def test_tuples_set_the_status_and_headers(client, results):
    created = client.get(f"{results}?kind=tuple")
    assert (created.status, created.json()) == (201, {"created": True})
    teapot = client.get(f"{results}?kind=tuple3")
    assert (teapot.status, teapot.text, teapot.header("X-Tea")) == (418, "teapot", "earl grey")


@RESULTS
def test_a_generator_is_streamed(client, results):
    response = client.get(f"{results}?kind=generator")
    assert response.status == 200
    assert response.body == b"one;two;three"


@RESULTS
def test_an_event_stream_is_sent_as_events(client, results):
    response = client.get(f"{results}?kind=events")
    assert response.status == 200
    assert response.header("Content-Type").startswith("text/event-stream")
    assert response.header("Cache-Control") == "no-cache"
    assert response.text == 'data: {"n":1}\n\ndata: plain\n\n'


@RESULTS
@pytest.mark.parametrize("kind", ["raise", "object"])
def test_a_failing_function_or_unsendable_result_is_a_500(client, caplog, results, kind):
    response = client.get(f"{results}?kind={kind}")
    assert response.status == 500
    assert "the function failed" not in response.text  # no details outside debug
    assert any("results/index.py" in record.getMessage() for record in caplog.records)


def test_the_event_decides_by_body_not_by_method(client):
    # A GET with a JSON body: the body, not the query.
    body = echoed(
        client,
        "GET",
        "/results?kind=dict",
        headers={"Content-Type": "application/json"},
        body='{"kind": "list"}',
    )
    assert body == [1, "two", None]
