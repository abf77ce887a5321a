"""One request's walk through middleware, its route, and the fallbacks behind them.

The chain is indexed: ``0 .. n-1`` are the middleware handlers that apply, ``n`` is the
route (a handler or a mounted app), ``n + 1`` the fallbacks (static assets, the origin,
404). ``context.next()`` runs the chain from the step after its own.

The walk is written once, as decisions that make no call themselves: :meth:`Flow.begin`
names the first call a step needs (a :data:`Call`: a handler with its context, a mounted
app, the static assets, the origin), :meth:`Flow.then` turns what that call gave into the
step's response or the next call, :meth:`Flow.note` records a call that raised. Two
drivers make the calls: :meth:`Flow.run` from a thread, :meth:`Flow.arun` on an event
loop. A sync handler reached from the loop runs in the thread pool; an async one reached
from a thread runs on the loop. Each face has one native way to call mounted apps and the
origin (awaited on ASGI, called on WSGI), and a driver crosses over to it when the other
world reaches them. (A generator driven twice would say the same; on the hot path its
creation and its ``StopIteration`` cost about a microsecond per request, these calls a
fifth of that.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..concurrency import as_coroutine, exit_error, from_ctrl_c
from ..errors import RequestTimedOut
from ..http.wrappers import Request, Response
from ..routing import NoMatch
from ..routing.matcher import Params
from .context import Context, request_id
from .failures import MOUNTED_APP
from .handler import Handler, MountCall

if TYPE_CHECKING:
    from .pipeline import Pipeline


# Not frozen, though never changed: made for every request (see routing.matcher.Match).
@dataclass(slots=True)
class Step:
    """A handler of the chain with the params of its file's pattern."""

    handler: Handler
    params: Params
    file: str


#: A face's per-request protocol state, which the chain hands back to it: ``(scope,
#: receive)`` or the WebSocket connection on the ASGI face, the environ on the WSGI face.
IO = TypeVar("IO")

#: What the route resolved to: a handler's step, a mounted app to call, a finished
#: response, or no match (the fallbacks).
Target = Step | MountCall | Response | NoMatch


class Face(Protocol[IO]):
    """What a face does its own way, for the flow."""

    #: Whether :meth:`call_mount` and :meth:`call_origin` return awaitables (ASGI) or
    #: responses (WSGI).
    native_async: bool
    #: The thread pool sync steps run in when the chain is run on the loop.
    executor: concurrent.futures.Executor

    def call_mount(
        self, call: MountCall, request: Request, flow: Flow[IO]
    ) -> Response | Awaitable[Response]:
        """The response of a mounted app, streamed."""

    def call_origin(self, request: Request, flow: Flow[IO]) -> Response | Awaitable[Response]:
        """The response of the origin server, streamed."""

    def background_loop(self) -> asyncio.AbstractEventLoop:
        """The loop async steps run on when the chain is run from a thread."""


# Results that are certainly not awaitable, checked before the slower test.
_PLAIN_RESULTS = frozenset({Response, str, bytes, dict, list, tuple})

#: The kinds of :data:`Call` a step asks its driver to make.
HANDLER, MOUNT, ASSETS, ORIGIN = "handler", "mount", "assets", "origin"
#: A call for the driver: ``(HANDLER, step, context)``, ``(MOUNT, mount_call, request)``,
#: ``(ASSETS, request, no_match)`` or ``(ORIGIN, request)``.
Call = tuple[Any, ...]


class Flow(Generic[IO]):
    """The state of one request through its chain; built by :meth:`Pipeline.prepare`."""

    # Slots, every one set here: this object is built for every request, and an attribute
    # added to an instance's dict later (a deadline, a failure) would rebuild the dict.
    __slots__ = (
        "_loop",
        "_uuid",
        "data",
        "deadline",
        "face",
        "failed_in",
        "io",
        "opened",
        "pass_through",
        "pipeline",
        "request",
        "schedule",
        "steps",
        "target",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        request: Request,
        steps: Sequence[Step],
        target: Target,
        schedule: Callable[[Any], None],
        face: Face[IO],
        io: IO,
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
        #: Streamed bodies the chain opened (mounted apps', the origin's).
        self.opened: list[object] | None = None
        self.pass_through = False
        #: (exception, file, handler) of the innermost step an exception left.
        self.failed_in: tuple[BaseException, str, str] | None = None
        #: When the response is due (``time.monotonic()``) and the timeout, on the WSGI
        #: face, where nothing cancels a call: async steps are waited for until then, and
        #: a sync step that returns later has its result discarded. The ASGI face cancels
        #: instead.
        self.deadline: tuple[float, float] | None = None
        self._uuid: str | None = None

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
        return str(target.mount.file) if type(target) is MountCall else None

    def next(
        self, index: int, target: str | Request | None, from_async: bool, current: Request
    ) -> Response | Awaitable[Response]:
        """What ``context.next(target)`` of step ``index - 1`` returns: the rest of the
        chain's response, awaitable when the step is ``async``."""
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

    # -- the walk, decided once ----------------------------------------------------------

    def begin(self, index: int, request: Request | None) -> Response | Call:
        """The first call step ``index`` needs for ``request`` (the flow's own when
        ``None``), or its response when it needs none."""
        if request is None:
            request = self.request
        if index == len(self.steps) and request is self.request:
            step = self.target  # the route, as prepared: the usual first step
        else:
            step = self._step(index, request)
        if type(step) is Step:
            context = Context(
                request, step.params, step.file, self.pipeline.settings, self.schedule,
                self.data, self, index, step.handler.is_async,
            )  # fmt: skip
            return (HANDLER, step, context)
        if isinstance(step, Response):
            return step
        if isinstance(step, NoMatch):
            return (ASSETS, request, step)
        return (MOUNT, step, request)

    def then(self, call: Call, value: Any) -> Response | Call:
        """The step's response, given what ``call`` returned, or the next call it needs:
        the origin, for a request the static assets left unanswered."""
        kind = call[0]
        if kind is HANDLER:
            return self.pipeline.step_result(value)
        if kind is ASSETS and value is None:
            return (ORIGIN, call[1])
        response: Response = value
        if kind is not ASSETS and response.stream is not None:
            # A mounted app's or the origin's body: the face closes it if it is not sent.
            if self.opened is None:
                self.opened = []
            self.opened.append(response.stream)
        return response

    def note(self, call: Call, exc: BaseException) -> BaseException:
        """Record that ``call`` raised ``exc`` (the innermost step's file and handler are
        what the log names); what to raise instead: a ``SystemExit`` or a
        ``KeyboardInterrupt`` raised by code becomes an error of this request alone (out of
        the request, on the ASGI face it would stop the server's loop, and on the WSGI
        face end a sync worker)."""
        if isinstance(exc, SystemExit | KeyboardInterrupt):
            exc = exit_error(exc)
        kind = call[0]
        if kind is HANDLER:
            file, name = call[1].file, call[1].handler.name
        elif kind is MOUNT:
            file, name = str(call[1].mount.file), MOUNTED_APP
        else:
            return exc
        failed = self.failed_in
        if failed is None or failed[0] is not exc:
            self.failed_in = (exc, file, name)
        return exc

    def fallbacks(self) -> Call:
        """The call that answers from the static assets (then the origin) instead of the
        chain: :meth:`Context.pass_through_on_exception`."""
        return (ASSETS, self.request, _NOTHING)

    # -- from a thread -------------------------------------------------------------------

    def run(
        self, index: int = 0, request: Request | None = None, *, call: Call | None = None
    ) -> Response:
        """Run the chain from step ``index`` (or from ``call``), blocking; never on an event
        loop thread."""
        step = self.begin(index, request) if call is None else call
        while isinstance(step, tuple):
            current = step
            try:
                step = self.then(current, self._call(current))
            except Exception as exc:
                self.note(current, exc)
                raise
            except (SystemExit, KeyboardInterrupt) as exc:
                if from_ctrl_c(exc):
                    raise  # the user's Ctrl-C, in the main thread of a WSGI server
                raise self.note(current, exc) from exc
        return step

    def _call(self, call: Call) -> Any:
        kind = call[0]
        if kind is HANDLER:
            handler: Handler = call[1].handler
            result = handler.fn(call[2])
            if handler.is_async:
                result = self._await(result)
            if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
                result = self._await(result)  # what an async handler returns is awaited too
            elif self.deadline is not None and time.monotonic() > self.deadline[0]:
                raise RequestTimedOut(self.deadline[1])
            return result
        if kind is ASSETS:
            return self.pipeline.assets(call[1], call[2], final=self.pipeline.origin is None)
        face = self.face
        if kind is MOUNT:
            answer = face.call_mount(call[1], call[2], self)
        else:
            answer = face.call_origin(call[1], self)
        return self._await(answer) if face.native_async else answer

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

    def recover(self, exc: Exception) -> Response:
        """The response for an exception that left the chain (from a thread)."""
        response = self.pipeline.failures.chain_failed(self, exc)
        if response is not None:
            return response
        try:
            return self.run(call=self.fallbacks())
        except Exception as again:
            return self.pipeline.failures.chain_failed(self, again, passing=False)

    # -- on the loop ---------------------------------------------------------------------

    async def arun(
        self, index: int = 0, request: Request | None = None, *, call: Call | None = None
    ) -> Response:
        """Run the chain from step ``index`` (or from ``call``) on the running loop."""
        step = self.begin(index, request) if call is None else call
        while isinstance(step, tuple):
            current = step
            try:
                handler: Handler | None = current[1].handler if current[0] is HANDLER else None
                if handler is not None and handler.is_async:
                    # The usual call, made here: a coroutine and a call less per request.
                    value = await handler.fn(current[2])
                    if type(value) not in _PLAIN_RESULTS and inspect.isawaitable(value):
                        value = await value
                    step = self.pipeline.step_result(value)
                else:
                    step = self.then(current, await self._acall(current))
            except Exception as exc:
                self.note(current, exc)
                raise
            except (SystemExit, KeyboardInterrupt) as exc:
                raise self.note(current, exc) from exc
        return step

    async def _acall(self, call: Call) -> Any:
        kind = call[0]
        loop = asyncio.get_running_loop()
        executor = self.face.executor
        if kind is HANDLER:  # a sync handler: in the thread pool
            run: Callable[..., Any] = contextvars.copy_context().run
            result = await loop.run_in_executor(executor, run, call[1].handler.fn, call[2])
            if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
                result = await result
            return result
        pipeline = self.pipeline
        if kind is ASSETS:
            final = pipeline.origin is None
            if pipeline.static is None:
                return pipeline.assets(call[1], call[2], final)
            # Files are looked up (and small ones read) off the loop, in one hop.
            return await loop.run_in_executor(executor, pipeline.assets, call[1], call[2], final)
        face = self.face
        args = (call[1], call[2], self) if kind is MOUNT else (call[1], self)
        call_native = face.call_mount if kind is MOUNT else face.call_origin
        if face.native_async:
            answer = call_native(*args)
            return answer if isinstance(answer, Response) else await answer
        return await loop.run_in_executor(executor, functools.partial(call_native, *args))

    async def arecover(self, exc: Exception) -> Response:
        """The response for an exception that left the chain (on the loop)."""
        response = self.pipeline.failures.chain_failed(self, exc)
        if response is not None:
            return response
        try:
            return await self.arun(call=self.fallbacks())
        except Exception as again:
            return self.pipeline.failures.chain_failed(self, again, passing=False)

    # -- shared --------------------------------------------------------------------------

    def _step(self, index: int, request: Request) -> Target:
        """Step ``index`` of the chain: a :class:`Step` to call, or what the route
        resolves to (a mounted app, a finished response, or no match: the fallbacks)."""
        steps = self.steps
        if index == len(steps):
            return self.target if request is self.request else self.pipeline.resolve(request)
        return steps[index] if index < len(steps) else _NOTHING


_NOTHING = NoMatch(frozenset())
