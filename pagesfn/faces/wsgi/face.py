"""The WSGI face's driver: a PEP 3333 request through the lifecycle, and what the chain
asks of this face.

Sync handlers run directly in the server's thread; async ones on the app's background loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...engine.flow import Flow
from ...engine.handler import MountCall
from ...http.wrappers import Request, Response
from ...types import Environ, StartResponse
from .body import (
    LimitedInput,
    check_request_head,
    environ_request,
    input_chunks,
    route_path,
)
from .mounted import (
    capture_wsgi,
    environ_for,
    mounted_environ,
    replayed_environ,
    serve_mounted,
)
from .send import close_stream, write_response

if TYPE_CHECKING:
    from ...app import Pages


class WSGIFace:
    """``pages.wsgi``: the same functions tree as a PEP 3333 application."""

    def __init__(self, app: Pages) -> None:
        self.pipeline = app.pipeline
        self.failures = app.failures
        self.lifecycle = app.lifecycle
        self.executor = app.executor
        self.limits = app.limits
        self.loop_thread = app.loop_thread
        self.background = app.background
        self.mount_lifespans = app.mount_lifespans

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method: str = environ["REQUEST_METHOD"]
        limits = self.limits
        lifecycle = self.lifecycle
        checked = check_request_head(limits, environ)
        counted: LimitedInput | None = None
        if checked is not False:
            refusal = lifecycle.refusal(checked)
            if refusal is not None:
                return write_response(refusal, method, environ, start_response, self.loop_thread)
            assert limits.max_body_size is not None
            environ["wsgi.input"] = counted = LimitedInput(
                environ["wsgi.input"], limits.max_body_size
            )
        raw, encoded = route_path(environ)
        shortcut = lifecycle.shortcut
        found = None if shortcut is None else shortcut(raw)
        if found is not None:
            return serve_mounted(self, found[0], found[1], environ, start_response, counted)
        request = environ_request(environ, method, raw, encoded, limits.form)
        step = lifecycle.prepare(request, self.schedule, self, environ)
        if not isinstance(step, Flow):
            if isinstance(step, MountCall):
                return serve_mounted(
                    self, step.mount, step.prefix, environ, start_response, counted
                )
            return write_response(step, method, environ, start_response, self.loop_thread)
        # Nothing can cancel a call in this thread: the chain's calls watch the deadline.
        if limits.request_timeout is not None:
            step.deadline = (time.monotonic() + limits.request_timeout, limits.request_timeout)
        try:
            response = step.run()
        except Exception as exc:
            response = step.recover(exc)
        response, abandoned = lifecycle.finish(step, response, counted)
        for stream in abandoned:
            close_stream(stream, self.loop_thread)
        return write_response(
            response, method, environ, start_response, self.loop_thread, step.file
        )

    # -- what the flow asks of this face ---------------------------------------------------

    native_async = False

    def call_mount(self, call: MountCall, request: Request, flow: Flow[Environ]) -> Response:
        """Call a mounted app for a middleware's ``next()``: its response comes back as a
        :class:`Response` streaming the app's iterable."""
        environ = flow.io
        mount = call.mount
        if mount.lifespan is not None:
            self.mount_lifespans.ensure_started(mount.lifespan)
        if request.rewritten:
            environ = environ_for(environ, request)
        environ = replayed_environ(environ, request)
        app = mount.wsgi(self.loop_thread.get_loop, self.executor)
        return capture_wsgi(app, mounted_environ(mount, environ, call.prefix))

    def call_origin(self, request: Request, flow: Flow[Environ]) -> Response:
        origin = self.pipeline.origin
        assert origin is not None
        body = request.forwarded_body()
        if body is None:
            return origin.fetch(request, request.kept_chunks(input_chunks(flow.io)))
        return origin.fetch(request, body)

    def background_loop(self) -> asyncio.AbstractEventLoop:
        return self.loop_thread.loop

    def schedule(self, work: Any) -> None:
        """Hand ``wait_until`` work to the background loop."""
        self.background.schedule(work, self.loop_thread.loop)
