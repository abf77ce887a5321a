"""Advanced mode: ``functions/_worker.py`` answers every request with fetch listeners.

As in the edge runtime's FetchEvent model, a listener calls ``event.respond_with(...)`` to
answer; a request nobody responds to goes on to the static assets and then the origin.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction

if TYPE_CHECKING:
    from ..http.wrappers import Request
    from .context import Context

Listener = Callable[["FetchEvent"], Any]

_listeners: contextvars.ContextVar[list[Listener] | None] = contextvars.ContextVar(
    "pagesfn_fetch_listeners", default=None
)


def add_event_listener(event_type: str, listener: Listener) -> None:
    """Register ``listener`` (sync or async) for the ``"fetch"`` events of ``_worker.py``.

    Call it at the module level of ``functions/_worker.py``. Listeners run in the order
    they were added until one calls :meth:`FetchEvent.respond_with`. Sync listeners run on
    the event loop, so they must not block; make a listener ``async`` to do I/O.
    """
    if event_type != "fetch":
        raise ValueError(f"only 'fetch' events exist, not {event_type!r}")
    if not callable(listener):
        raise TypeError(f"the listener must be callable, not {type(listener).__name__}")
    registry = _listeners.get()
    if registry is None:
        raise RuntimeError(
            "add_event_listener() registers the listeners of functions/_worker.py; "
            "call it at the module level of that file"
        )
    registry.append(listener)


@contextlib.contextmanager
def collecting_listeners() -> Iterator[list[Listener]]:
    """Collect the listeners a module registers while it is imported."""
    registry: list[Listener] = []
    token = _listeners.set(registry)
    try:
        yield registry
    finally:
        _listeners.reset(token)


class FetchEvent:
    """One request, as a fetch listener sees it."""

    __slots__ = ("_context", "_response")

    def __init__(self, context: Context) -> None:
        self._context = context
        self._response: Any = None

    @property
    def response(self) -> Any:
        """What :meth:`respond_with` was given, or ``None``."""
        return self._response

    @property
    def request(self) -> Request:
        return self._context.request

    @property
    def client_id(self) -> str:
        """The request's unique id (``context.uuid``)."""
        return self._context.uuid

    @property
    def context(self) -> Context:
        """The same ``context`` route handlers get: ``env``, ``params``, ``data``..."""
        return self._context

    def respond_with(self, response: Any) -> None:
        """Answer with ``response`` (anything a handler may return, or an awaitable of it)."""
        if self._response is not None:
            raise RuntimeError("respond_with() was already called for this request")
        if response is None:
            raise TypeError("respond_with() takes a response, not None")
        self._response = response

    def wait_until(self, work: Any) -> None:
        """Keep ``work`` running after the response is sent."""
        self._context.wait_until(work)

    def pass_through_on_exception(self) -> None:
        """If handling this request raises, answer from static assets or the origin
        instead of with an error."""
        self._context.pass_through_on_exception()


def fetch_handler(listeners: list[Listener]) -> Callable[[Context], Awaitable[Any]]:
    """One async handler that runs ``listeners`` and falls through when none responds."""
    ordered = [(listener, iscoroutinefunction(listener)) for listener in listeners]

    async def on_fetch(context: Context) -> Any:
        event = FetchEvent(context)
        for listener, is_async in ordered:
            result = listener(event)
            if is_async or inspect.isawaitable(result):
                await result
            if event.response is not None:
                break
        response = event.response
        if response is None:
            return await context.next()
        if inspect.isawaitable(response):
            response = await response
        return response

    return on_fetch
