"""`echo` (main, at /echo) and `asyncEcho` (amain, at /echo/async): what the function got."""

from werkzeug.datastructures import FileStorage


def plain(value):
    """The event as JSON can carry it: bytes as latin-1 text, an upload as its parts."""
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, FileStorage):
        return {
            "filename": value.filename,
            "content_type": value.content_type,
            "content": value.read().decode(),
        }
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def described(event, context, kind):
    http = context.httpContext
    return {
        "kind": kind,
        "function": context.function_name,
        "type": type(event).__name__,
        "event": plain(event),
        "url": http.url,
        "method": http.httpMethod,
        "headers": dict(http.headers),
        "extended": context.extendedContext,
        "eventID": context.eventID,
        "ws": context.ws is not None,
        "request_path": context.request.path,
        "greeting": context.env.get("GREETING"),
        "context_type": type(context).__name__,
        "http_type": type(http).__name__,
    }


def main(event, context):
    return described(event, context, "sync")


async def amain(event, context):
    return described(event, context, "async")
