"""Serve a project from AWS Lambda: ``handler = lambda_handler()`` in the function's module.

Mangum turns each event (API Gateway REST and HTTP APIs, Application Load Balancers,
function URLs) into one ASGI request and the response back into what Lambda returns. This
module builds the app once per execution environment, and runs its lifespan once too: Mangum
runs the startup *and the shutdown* around every event, which would restart every mounted
FastAPI app (and close its clients) each time. Here the lifespan starts when the handler is
built, in Lambda's init phase, and lasts as long as the environment; one event loop serves
every invocation, so what the lifespan opened on it stays usable.

Lambda freezes the environment as soon as the handler returns: ``wait_until`` work would stop
mid-way and resume, or never run, on a later invocation. So the handler finishes it before
returning the response, for up to the app's ``shutdown_timeout`` seconds (less when the
invocation would otherwise run out of time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pagesfn.errors import PagesError
from pagesfn.types import ASGIApp, Message, Receive, Scope, Send

from ..adapters.lifespan import Lifespan, LifespanError

if TYPE_CHECKING:
    from mangum import Mangum

    from pagesfn.app import Pages

logger = logging.getLogger("pagesfn")

LifespanMode = Literal["auto", "on", "off"]

#: What the handler keeps of an invocation's remaining time when it finishes ``wait_until``
#: work, to return the response before Lambda ends the invocation as timed out.
RESPONSE_MARGIN = 1.0


class LambdaError(PagesError):
    """The Lambda handler cannot serve: the app's lifespan startup failed, the event is not
    an HTTP request, or the handler is called from inside a running event loop."""

    code = "lambda"


def lambda_handler(
    project: str | os.PathLike[str] = ".",
    *,
    app: ASGIApp | None = None,
    config_file: str | os.PathLike[str] | None = None,
    api_gateway_base_path: str = "/",
    lifespan: LifespanMode = "auto",
    text_mime_types: Sequence[str] | None = None,
    exclude_headers: Sequence[str] | None = None,
    **options: Any,
) -> LambdaHandler:
    """A Lambda handler, ``handler(event, context)``, serving the project at ``project``.

    The app is built as ``pagesfn serve`` builds it: from ``pagesfn.toml`` (or
    ``config_file``) and ``options`` over it, such as ``kv={...}`` or ``region="eu-west-1"``;
    no debug pages unless asked. Or it is ``app``, built already: a :class:`~pagesfn.Pages`,
    or any ASGI app. Build the handler once, at import time of the function's module.

    :param api_gateway_base_path: a path prefix the events carry and the functions tree
        does not: the stage of an HTTP API (``"/prod"``) when it is not ``$default``, or a
        custom domain's API mapping. A request under it is served with the prefix as its
        ASGI ``root_path``, so the tree routes the rest and the links apps build keep it.
    :param lifespan: ``"auto"`` runs the app's lifespan startup now (for a ``Pages`` app,
        the mounted apps' startup), going on without it if the app does not support it;
        ``"on"`` requires the support; ``"off"`` skips it.
    :param text_mime_types: response content types sent as text; others are base64-encoded
        (Mangum's default: ``text/*``, JSON, JavaScript, XML).
    :param exclude_headers: response headers to leave out of what Lambda returns.
    """
    _mangum()  # before building anything
    settings: dict[str, Any] = {
        "api_gateway_base_path": api_gateway_base_path,
        "lifespan": lifespan,
        "text_mime_types": text_mime_types,
        "exclude_headers": exclude_headers,
    }
    if app is not None:
        if options or config_file is not None or os.fspath(project) != ".":
            raise TypeError(
                "lambda_handler(app=...) serves an app built already: give the project, "
                "config_file and settings to the app, not to lambda_handler"
            )
        return LambdaHandler(app, **settings)
    from pagesfn.serving.server import build_app, resolve

    config = resolve(project, "lambda", config_file, options)
    return LambdaHandler(build_app(config), owned=True, **settings)


def _mangum() -> type[Mangum]:
    try:
        from mangum import Mangum
    except ImportError as exc:
        raise ImportError(
            "the AWS Lambda handler needs Mangum: pip install 'mangum>=0.17'"
        ) from exc
    return Mangum


class LambdaHandler:
    """``handler(event, context)``: each Lambda invocation through Mangum to ``app``.

    Call it from synchronous code, one invocation at a time, as Lambda does. ``owned``:
    the handler closes the app
    when it closes. ``close()`` runs the lifespan shutdown and releases the app and the
    event loop; Lambda gives a function no notice before it ends an environment, so unless
    called it runs at interpreter exit at best.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        owned: bool = False,
        api_gateway_base_path: str = "/",
        lifespan: LifespanMode = "auto",
        text_mime_types: Sequence[str] | None = None,
        exclude_headers: Sequence[str] | None = None,
    ) -> None:
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
        _outside_running_loop()
        from pagesfn.app import Pages

        mangum = _mangum()
        self.app = app
        served = getattr(app, "pages", app)  # an app wrapped in the request log
        #: The ``Pages`` app served, whose ``wait_until`` work each invocation finishes.
        self.pages: Pages | None = served if isinstance(served, Pages) else None
        self.base_path = _base_path(api_gateway_base_path)
        # Left out here rather than by Mangum, which ignores them for HTTP API responses.
        self.exclude_headers = frozenset(name.lower().encode() for name in exclude_headers or ())
        self.loop = asyncio.new_event_loop()
        self._lifespan = Lifespan(app, "the app") if lifespan != "off" else None
        closing = self.pages if owned else None
        with self._current_loop():
            try:
                # Mangum looks the loop up when built and on every call: it finds this one.
                # Its lifespan handling is off; ``_serve`` applies the path prefix.
                self.mangum = mangum(
                    self._serve,
                    lifespan="off",
                    api_gateway_base_path="/",
                    text_mime_types=list(text_mime_types) if text_mime_types else None,
                )
                if self._lifespan is not None:
                    startup = _start(self._lifespan, required=lifespan == "on")
                    self.loop.run_until_complete(startup)
            except BaseException:
                _close(self.loop, None, closing)
                raise
        timeout = self.pages.shutdown_timeout if self.pages is not None else 30.0
        self._finalizer = weakref.finalize(
            self, _close, self.loop, self._lifespan, closing, timeout
        )

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            self.mangum.infer(event, context)
        except RuntimeError as exc:
            raise LambdaError(
                "the event is not an HTTP request from API Gateway (a REST or HTTP API), an "
                "Application Load Balancer or a function URL; API Gateway WebSocket APIs and "
                "other event sources are not served"
            ) from exc
        with self._current_loop():
            response: dict[str, Any] = self.mangum(event, context)
            if self.pages is not None:
                _finish_background(self.loop, self.pages, context)
        return response

    def close(self) -> None:
        """Shut the app's lifespan down (which finishes ``wait_until`` work), close the app
        if it was built here, and the event loop."""
        _outside_running_loop()
        self._finalizer()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        base = self.base_path
        if base:
            path: str = scope["path"]
            if path == base or path.startswith(base + "/"):
                # The ASGI convention: ``path`` stays whole and ``root_path`` names the part
                # the app is mounted under, which it leaves out when routing.
                scope = {**scope, "root_path": base + scope.get("root_path", "")}
        lifespan = self._lifespan
        if lifespan is not None and lifespan.state:
            scope = {**scope, "state": dict(lifespan.state)}
        if self.exclude_headers:
            send = _without_headers(send, self.exclude_headers)
        await self.app(scope, receive, send)

    @contextlib.contextmanager
    def _current_loop(self) -> Iterator[None]:
        _outside_running_loop()
        asyncio.set_event_loop(self.loop)
        try:
            yield
        finally:
            asyncio.set_event_loop(None)  # as ``asyncio.run`` leaves it

    def __repr__(self) -> str:
        return f"<LambdaHandler {self.app!r}>"


def _finish_background(loop: asyncio.AbstractEventLoop, pages: Pages, context: Any) -> None:
    # The environment is frozen once the handler returns: what ``wait_until`` started is
    # finished now, within the app's bound and the time the invocation has left.
    timeout = pages.shutdown_timeout
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        timeout = max(0.0, min(timeout, remaining() / 1000 - RESPONSE_MARGIN))
    if not loop.run_until_complete(pages.background.drain(timeout)):
        logger.warning(
            "wait_until work still running after %.1fs; it is frozen with the Lambda "
            "environment and resumes only if a later invocation thaws it",
            timeout,
        )


def _without_headers(send: Send, names: frozenset[bytes]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _outside_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise LambdaError(
        "the Lambda handler runs its own event loop: call it from synchronous code (as "
        "Lambda does), not from inside a running loop"
    )


def _base_path(value: str) -> str:
    """``"/prod"`` for ``"prod"``, ``"/prod/"`` or ``"/prod"``; ``""`` for ``"/"``."""
    stripped = value.strip("/")
    return "/" + stripped if stripped else ""


async def _start(lifespan: Lifespan, *, required: bool) -> None:
    """Start the app's lifespan; its failure, or (when ``required``) no support for the
    protocol at all, fails the handler's creation."""
    try:
        await lifespan.startup()
    except LifespanError as exc:
        raise LambdaError(str(exc)) from None
    if required and not lifespan.supported:
        raise LambdaError(
            "the app does not support the ASGI lifespan protocol and lifespan='on' "
            "requires it (use lifespan='auto' to go on without it)"
        )


def _close(
    loop: asyncio.AbstractEventLoop,
    lifespan: Lifespan | None,
    pages: Pages | None,
    timeout: float = 30.0,
) -> None:
    if loop.is_closed():
        return
    try:
        if lifespan is not None and not loop.is_running():
            # A Pages app bounds each step of its shutdown by its own timeout: the lifespan
            # shuts the mounted apps down, then finishes ``wait_until`` work.
            loop.run_until_complete(lifespan.shutdown(2 * timeout + 5))
        if pages is not None:
            pages.close()
        if not loop.is_running():
            loop.run_until_complete(_cancel_tasks())
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        if not loop.is_running():
            loop.close()


async def _cancel_tasks() -> None:
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)
