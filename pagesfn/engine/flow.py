"""One request's walk through middleware, its route, and the fallbacks behind them.

The chain is indexed: ``0 .. n-1`` are the middleware handlers that apply, ``n`` is the
route (a handler or a mounted app), ``n + 1`` the fallbacks (static assets, the origin,
404). ``context.next()`` runs the chain from the step after its own.

Every step can be sync or async, and the chain is run from either world: :meth:`Flow.run`
in a thread, :meth:`Flow.arun` on an event loop. A sync step reached from the loop runs in
the thread pool; an async step reached from a thread runs on the loop. Each face has one
native way to call mounted apps and the origin (awaited on ASGI, called on WSGI), and the
flow crosses over to it when the other world reaches them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..concurrency import as_coroutine, exit_error, from_ctrl_c
from ..errors import RequestTimedOut
from ..http.wrappers import Request, Response
from ..routing import NoMatch
from ..routing.matcher import Params
from .context import Context, request_id
from .handler import Handler

if TYPE_CHECKING:
    from .pipeline import MountCall, Pipeline


@dataclass(frozen=True, slots=True)
class Step:
    """A handler of the chain with the params of its file's pattern."""

    handler: Handler
    params: Params
    file: str


class Face(Protocol):
    """What a face does its own way, for the flow."""

    #: Whether :meth:`call_mount` and :meth:`call_origin` return awaitables (ASGI) or
    #: responses (WSGI).
    native_async: bool
    #: The thread pool sync steps run in when the chain is run on the loop.
    executor: concurrent.futures.Executor

    def call_mount(self, call: MountCall, request: Request, flow: Flow) -> Any:
        """The response of a mounted app, streamed."""

    def call_origin(self, request: Request, flow: Flow) -> Any:
        """The response of the origin server, streamed."""

    def background_loop(self) -> asyncio.AbstractEventLoop:
        """The loop async steps run on when the chain is run from a thread."""


# Results that are certainly not awaitable, checked before the slower test.
_PLAIN_RESULTS = frozenset({Response, str, bytes, dict, list, tuple})


class Flow:
    """The state of one request through its chain; built by :meth:`Pipeline.prepare`."""

    # Values most requests never change are class attributes: a request sets only what
    # it uses (this object is built for every request).
    opened: list[object] | None = None
    pass_through = False
    #: (exception, file, handler) of the innermost step an exception left.
    failed_in: tuple[BaseException, str, str] | None = None
    #: When the response is due (``time.monotonic()``) and the timeout, on the WSGI face,
    #: where nothing cancels a call: async steps are waited for until then, and a sync
    #: step that returns later has its result discarded. The ASGI face cancels instead.
    deadline: tuple[float, float] | None = None
    _uuid: str | None = None

    def __init__(
        self,
        pipeline: Pipeline,
        request: Request,
        steps: Sequence[Step],
        target: Any,
        schedule: Callable[[Any], None],
        face: Face,
        io: Any,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.pipeline = pipeline
        self.request = request
        self.steps = steps
        #: The route resolved for the original request (a rewrite resolves its own).
        self.target = target
        self.schedule = schedule
        #: ``context.data``, shared by every step.
        self.data: dict[str, Any] = {}
        #: The face running this flow and its per-request protocol state (scope and
        #: receive, or the environ).
        self.face = face
        self.io = io
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop async steps run on when the chain is run from a thread."""
        loop = self._loop
        if loop is None:
            loop = self._loop = self.face.background_loop()
        return loop

    @property
    def uuid(self) -> str:
        """The request's id, the same for every step of the chain."""
        value = self._uuid
        if value is None:
            value = self._uuid = request_id(self.request)
        return value

    @property
    def file(self) -> str | None:
        """The route file answering the request (a handler's, or a mounted app's)."""
        target = self.target
        if type(target) is Step:
            return target.file
        mount = getattr(target, "mount", None)  # a MountCall
        return None if mount is None else str(mount.file)

    def next(
        self, index: int, target: str | Request | None, from_async: bool, current: Request
    ) -> Any:
        if target is None:
            request = current
        elif isinstance(target, Request):
            request = target
        elif isinstance(target, str):
            request = current.replace(target)
        else:
            raise TypeError(f"next() takes a path or a Request, not {type(target).__name__}")
        return self.arun(index, request) if from_async else self.run(index, request)

    def abandoned(self, sent: object) -> list[object]:
        """Streamed bodies the chain opened (mounted apps', the origin's) that are not
        ``sent``: a middleware replaced them. The face closes them."""
        opened = self.opened
        return [stream for stream in opened if stream is not sent] if opened else []

    # -- from a thread -------------------------------------------------------------------

    def run(self, index: int = 0, request: Request | None = None) -> Response:
        """Run the chain from step ``index``, blocking; never on an event loop thread."""
        request, step, context = self._enter(index, request)
        if context is None:
            if isinstance(step, Response):
                return step
            if isinstance(step, NoMatch):
                return self._fallback(request, step)
            return self._mount(step, request)
        handler = step.handler
        try:
            result = self._await(handler.fn(context)) if handler.is_async else handler.fn(context)
            if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
                result = self._await(result)  # what an async handler returns is awaited too
            elif self.deadline is not None and time.monotonic() > self.deadline[0]:
                raise RequestTimedOut(self.deadline[1])
            return self.pipeline.step_result(result)
        except Exception as exc:
            self._note_failure(exc, step.file, handler.name)
            raise
        except (SystemExit, KeyboardInterrupt) as exc:
            if from_ctrl_c(exc):
                raise
            raise self._exited(exc, step) from exc

    def _mount(self, call: MountCall, request: Request) -> Response:
        try:
            return self._native(self.face.call_mount, call, request)
        except Exception as exc:
            self._note_failure(exc, call.mount.file, MOUNTED_APP)
            raise

    def _fallback(self, request: Request, found: NoMatch) -> Response:
        origin = self.pipeline.origin is not None
        response = self.pipeline.assets(request, found, final=not origin)
        if response is None:
            response = self._native(self.face.call_origin, request)
        return response

    def _native(self, call: Callable[..., Any], *args: Any) -> Response:
        result = call(*args, self)
        response: Response = self._await(result) if self.face.native_async else result
        if response.stream is not None:
            self._opened(response.stream)
        return response

    def _await(self, awaitable: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(as_coroutine(awaitable), self.loop)
        deadline = self.deadline
        if deadline is None:
            return future.result()
        try:
            return future.result(max(deadline[0] - time.monotonic(), 0.0))
        except TimeoutError:
            if future.done():
                raise  # the coroutine's own
            future.cancel()
            raise RequestTimedOut(deadline[1]) from None

    # -- on the loop ---------------------------------------------------------------------

    async def arun(self, index: int = 0, request: Request | None = None) -> Response:
        """Run the chain from step ``index`` on the running loop."""
        request, step, context = self._enter(index, request)
        if context is None:
            if isinstance(step, Response):
                return step
            if isinstance(step, NoMatch):
                return await self._afallback(request, step)
            return await self._amount(step, request)
        handler = step.handler
        try:
            if handler.is_async:
                result = await handler.fn(context)
            else:
                run: Callable[..., Any] = contextvars.copy_context().run
                result = await asyncio.get_running_loop().run_in_executor(
                    self.face.executor, run, handler.fn, context
                )
            if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
                result = await result
            return self.pipeline.step_result(result)
        except Exception as exc:
            self._note_failure(exc, step.file, handler.name)
            raise
        except (SystemExit, KeyboardInterrupt) as exc:
            raise self._exited(exc, step) from exc

    def _exited(self, exc: SystemExit | KeyboardInterrupt, step: Step) -> RuntimeError:
        """The error of this request alone that ``sys.exit()`` (or a ``KeyboardInterrupt``
        raised by code) in a handler becomes: out of the request, on the ASGI face it would
        stop the server's loop, and on the WSGI face end a sync worker."""
        error = exit_error(exc)
        self._note_failure(error, step.file, step.handler.name)
        return error

    async def _amount(self, call: MountCall, request: Request) -> Response:
        try:
            return await self._anative(self.face.call_mount, call, request)
        except Exception as exc:
            self._note_failure(exc, call.mount.file, MOUNTED_APP)
            raise

    async def _afallback(self, request: Request, found: NoMatch) -> Response:
        pipeline = self.pipeline
        origin = pipeline.origin is not None
        if pipeline.static is None:
            response = pipeline.assets(request, found, final=not origin)
        else:
            # Files are looked up (and small ones read) off the loop, in one hop.
            response = await asyncio.get_running_loop().run_in_executor(
                self.face.executor, pipeline.assets, request, found, not origin
            )
        if response is None:
            response = await self._anative(self.face.call_origin, request)
        return response

    async def _anative(self, call: Callable[..., Any], *args: Any) -> Response:
        response: Response
        if self.face.native_async:
            response = await call(*args, self)
        else:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(
                self.face.executor, functools.partial(call, *args, self)
            )
        if response.stream is not None:
            self._opened(response.stream)
        return response

    # -- failures ------------------------------------------------------------------------

    def recover(self, exc: Exception) -> Response:
        """The response for an exception that left the chain (from a thread)."""
        response = self.pipeline.chain_failed(self, exc)
        if response is not None:
            return response
        try:
            return self._fallback(self.request, _NOTHING)
        except Exception as again:
            return self.pipeline.chain_failed(self, again, passing=False) or _unreachable()

    async def arecover(self, exc: Exception) -> Response:
        """The response for an exception that left the chain (on the loop)."""
        response = self.pipeline.chain_failed(self, exc)
        if response is not None:
            return response
        try:
            return await self._afallback(self.request, _NOTHING)
        except Exception as again:
            return self.pipeline.chain_failed(self, again, passing=False) or _unreachable()

    # -- shared --------------------------------------------------------------------------

    def _enter(self, index: int, request: Request | None) -> tuple[Request, Any, Context | None]:
        """The request, the step ``index`` and, when the step is a handler to call, its
        context; otherwise the step is what the route resolved to (see :meth:`_step`)."""
        if request is None:
            request = self.request
        if index == len(self.steps) and request is self.request:
            step = self.target  # the route, as prepared: the usual first step
        else:
            step = self._step(index, request)
        if type(step) is not Step:
            return request, step, None
        context = Context(
            request, step.params, step.file, self.pipeline.settings, self.schedule,
            self.data, self, index, step.handler.is_async,
        )  # fmt: skip
        return request, step, context

    def _step(self, index: int, request: Request) -> Any:
        """Step ``index`` of the chain: a :class:`Step` to call, or what the route
        resolves to (a mounted app, a finished response, or no match: the fallbacks)."""
        steps = self.steps
        if index == len(steps):
            return self.target if request is self.request else self.pipeline.resolve(request)
        return steps[index] if index < len(steps) else _NOTHING

    def _opened(self, stream: object) -> None:
        if self.opened is None:
            self.opened = []
        self.opened.append(stream)

    def _note_failure(self, exc: BaseException, file: str, name: str) -> None:
        failed = self.failed_in
        if failed is None or failed[0] is not exc:
            self.failed_in = (exc, file, name)


_NOTHING = NoMatch(frozenset())
#: The handler name noted for a mounted app that raised.
MOUNTED_APP = "app"


def _unreachable() -> Response:
    raise AssertionError("chain_failed(passing=False) always answers")
