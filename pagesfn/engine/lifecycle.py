"""The life of one request, the same on every face.

Each face (ASGI HTTP, ASGI WebSocket, WSGI) reads its protocol in, goes through these
phases in this order, and writes the answer out; what happens in each phase is decided
here, once:

1. **admit** (:meth:`Lifecycle.refusal`): the request head the face read against the
   limits; a refusal is answered at once. A body of unknown length is then counted by
   the face as it is read.
2. **shortcut** (:attr:`Lifecycle.shortcut`): a mounted app that owns its whole prefix,
   with nothing to run in front of it, is called straight away: no request object.
3. **prepare** (:attr:`Lifecycle.prepare`): the request routed: a finished response, a
   mounted app to call as is, or the :class:`~pagesfn.engine.flow.Flow` of handlers.
4. **run**: the face runs the flow its way (awaited on the loop, or in the server's
   thread), within the request timeout, and :meth:`Flow.recover` answers what it raised.
   A mounted app is called natively; :meth:`Lifecycle.mount_failed` answers its failures.
5. **finish** (:meth:`Lifecycle.finish`): the response to write (a 413 if the body passed
   the limit meanwhile), the streams the chain opened and will not send, for the face to
   close, and the request's uploads closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..adapters.mounted import MountedApp
from ..errors import BodyTimedOut, RequestRefused
from ..http.wrappers import Response
from .failures import Failures
from .flow import Flow
from .handler import MountCall
from .limits import BodyCounter, Limits
from .pipeline import Pipeline


class Lifecycle:
    """The phases of one app's requests; each face holds the app's one."""

    __slots__ = ("failures", "limits", "pipeline", "prepare", "shortcut")

    def __init__(self, pipeline: Pipeline, failures: Failures, limits: Limits) -> None:
        self.pipeline = pipeline
        self.failures = failures
        self.limits = limits
        # The two phases that are the pipeline's, bound as they are: they run for every
        # request, and a method of this class around each would cost a call.
        #: Shortcut: the mounted app and prefix that alone own an app-relative raw path,
        #: if any (:meth:`Pipeline.fast_mount`); ``None`` for a tree where none can.
        self.shortcut: Callable[[bytes], tuple[MountedApp, str] | None] | None = (
            pipeline.fast_mount if pipeline.mount_shortcut else None
        )
        #: Prepare: what answers a request, which the face built with the app's form
        #: limits (:meth:`Pipeline.prepare`).
        self.prepare = pipeline.prepare

    def refusal(self, checked: RequestRefused | bool) -> Response | None:
        """Admit: the answer to a head the face's check refused (``checked``, from
        ``check_request_head``), or ``None`` to go on."""
        if checked is True or checked is False:
            return None
        return self.failures.refused(checked)

    def finish(
        self, flow: Flow[Any], response: Response, counted: BodyCounter | None = None
    ) -> tuple[Response, Sequence[object]]:
        """Finish: the response to write for a flow that answered ``response`` (a 413 when
        the body ``counted`` passed the limit while the chain ran, whatever the chain
        made of it), and the streamed bodies that will not be sent, for the face to close:
        those the chain opened and did not answer with, and the body of a response the
        413 replaced. The request's uploaded files are closed: the handlers are done."""
        replaced = None
        if counted is not None and counted.exceeded:
            replaced = response.stream
            response = self.failures.refused(counted.refusal())
        abandoned: Sequence[object] = flow.abandoned(response.stream) if flow.opened else ()
        if replaced is not None and all(stream is not replaced for stream in abandoned):
            abandoned = [*abandoned, replaced]
        flow.request.close()
        return response, abandoned

    def mount_failed(
        self, call: MountCall, exc: BaseException, counted: BodyCounter | None = None
    ) -> Response:
        """The answer for a mounted app that raised ``exc`` before starting its response:
        a 413 when the body passed the limit, as the app's failure most likely comes of
        it."""
        if counted is not None and counted.exceeded:
            return self.failures.refused(counted.refusal())
        return self.failures.mount_failed(call, exc)

    def late(self, where: Flow[Any] | MountCall, timeout: float, reading: bool = False) -> Response:
        """The answer to a request cancelled at its deadline: 408 if it was ``reading``
        the rest of the body (the client's fault), else 504."""
        if reading:
            return self.failures.refused(BodyTimedOut(timeout))
        return self.failures.timed_out(where, timeout)
