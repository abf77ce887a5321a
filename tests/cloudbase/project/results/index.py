"""`results` (main, at /results) and `asyncResults` (amain, at /results/async): each
`?kind=` returns one kind of value."""

import pathlib

from pagesfn import EventStream, Response


def chunks():
    yield "one;"
    yield b"two;"
    yield "three"


def events():
    yield {"n": 1}
    yield "plain"


def result(event, context):
    kind = event.get("kind") if isinstance(event, dict) else None
    if kind == "dict":
        return {"a": 1, "nested": {"b": [1, 2]}}
    if kind == "list":
        return [1, "two", None]
    if kind == "str":
        return "héllo"
    if kind == "bytes":
        return b"\x00\xffraw"
    if kind == "response":
        return Response("made", 202, {"X-Made": "yes"}, mimetype="text/csv")
    if kind == "int":
        return 42
    if kind == "float":
        return 1.5
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "zero":
        return 0
    if kind == "none":
        return None
    if kind == "tuple":
        return {"created": True}, 201
    if kind == "tuple3":
        return "teapot", 418, {"X-Tea": "earl grey"}
    if kind == "generator":
        return chunks()
    if kind == "events":
        return EventStream(events())
    if kind == "wait":
        target = pathlib.Path(event["file"])
        context.wait_until(lambda: target.write_text("done"))
        return "scheduled"
    if kind == "raise":
        raise RuntimeError("the function failed")
    if kind == "object":
        return object()
    return {"kinds": "unknown", "event": event}


def main(event, context):
    return result(event, context)


async def amain(event, context):
    return result(event, context)
