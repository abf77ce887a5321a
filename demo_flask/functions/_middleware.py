"""Wraps every request of the demo: route files, the mounted Flask app and static files."""

import time


def on_request(context):
    start = time.perf_counter()
    response = context.next()
    elapsed = (time.perf_counter() - start) * 1000
    response.headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
    response.headers["X-Request-Id"] = context.uuid
    return response
