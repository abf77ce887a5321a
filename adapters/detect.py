"""Decide whether an exported ``app`` is a WSGI or an ASGI application."""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass
from typing import Any

from asgiref.compatibility import guarantee_single_callable as _single_callable
from asgiref.sync import iscoroutinefunction


def guarantee_single_callable(app: Any) -> Any:
    return _single_callable(app)  # type: ignore[no-untyped-call]


class AppKind(enum.Enum):
    WSGI = "wsgi"
    ASGI = "asgi"

    @property
    def label(self) -> str:
        return f"{self.value.upper()} app"


class DetectionError(TypeError):
    """The exported object is not recognisably a WSGI or an ASGI application."""


@dataclass(frozen=True, slots=True)
class Declared:
    """An app whose protocol is stated by its author, for callables detection cannot read
    (and, for an ASGI app, whether it routes on the path below its mount)."""

    app: Any
    kind: AppKind
    strip_prefix: bool | None = None


def as_asgi(app: Any, *, strip_prefix: bool | None = None) -> Declared:
    """Declare ``app`` an ASGI application: ``app = as_asgi(x)``. A class, or a callable
    taking just the scope, is taken as ASGI 2 (double-callable); anything else as ASGI 3.

    ``strip_prefix=True`` hands the app the path below its mount (``scope["path"]`` and
    ``raw_path`` without the prefix, ``root_path`` still naming it): the convention of apps
    written before the ASGI spec said ``path`` includes ``root_path``. pagesfn knows the
    frameworks that need it (:data:`PREFIX_STRIPPED`); this is for the ones it cannot see,
    an app wrapped in a middleware for one. ``False`` keeps the full path whatever the app
    is.
    """
    return Declared(app, AppKind.ASGI, strip_prefix)


def as_wsgi(app: Any) -> Declared:
    """Declare ``app`` a WSGI (PEP 3333) application: ``app = as_wsgi(x)``."""
    return Declared(app, AppKind.WSGI)


@dataclass(frozen=True, slots=True)
class Detected:
    kind: AppKind
    app: Any  # for ASGI always the single-callable (ASGI 3) form
    #: Whether the (ASGI) app routes on the path below its mount, without the prefix.
    strip_prefix: bool = False


#: The ASGI apps that route on ``scope["path"]`` (or ``raw_path``) as the path below their
#: mount, by the module and name of their class (or a base class): under a prefix they
#: answer 404 to every route unless handed the path with the prefix taken off.
PREFIX_STRIPPED = frozenset(
    {
        ("falcon.asgi.app", "App"),  # routes on ``path`` as given (Falcon 3 and 4)
        ("sanic.app", "Sanic"),  # routes on ``raw_path`` and never reads ``root_path``
    }
)


def strips_prefix(app: Any) -> bool:
    """Whether ``app`` is an instance of a framework listed in :data:`PREFIX_STRIPPED`."""
    return any(
        (getattr(cls, "__module__", ""), cls.__qualname__) in PREFIX_STRIPPED
        for cls in type(app).__mro__
    )


_OVERRIDE_HINT = (
    "wrap it as `app = as_wsgi(obj)` or `app = as_asgi(obj)` "
    "(from pagesfn.adapters import as_wsgi, as_asgi)"
)


def detect(obj: Any) -> Detected:
    """Tell a WSGI app from an ASGI app by its call signature.

    ``async def (scope, receive, send)`` (a function or an object's ``__call__``) is ASGI 3,
    and so is a plain ``def`` taking those three (it returns the awaitable: a wrapper
    handing the call on to an ASGI app); a class, or a sync ``__call__(scope)``, is ASGI 2;
    a sync callable taking ``(environ, start_response)`` is WSGI. Raises
    :class:`DetectionError` otherwise.
    """
    if isinstance(obj, Declared):
        if not callable(obj.app):
            raise DetectionError(
                f"is declared a {obj.kind.label}, but what it wraps is a "
                f"{type(obj.app).__name__}, which cannot be called"
            )
        if obj.kind is AppKind.ASGI:
            app = obj.app
            # ASGI 2 when it reads as ASGI 2; otherwise ASGI 3, since what needs declaring is
            # mostly a ``*args`` wrapper around an ASGI 3 app (asgiref would guess ASGI 2).
            strip = strips_prefix(app) if obj.strip_prefix is None else obj.strip_prefix
            if inspect.isclass(app) or _positional_count(app) == 1:
                app = guarantee_single_callable(app)
            return Detected(AppKind.ASGI, app, strip)
        return Detected(AppKind.WSGI, obj.app)
    if not callable(obj):
        raise DetectionError(f"is a {type(obj).__name__}, not a WSGI or ASGI application")
    if inspect.isclass(obj):
        # An ASGI 2 application class: instantiated with the scope, then awaited.
        return Detected(AppKind.ASGI, guarantee_single_callable(obj))
    call = obj if inspect.isroutine(obj) else type(obj).__call__
    if iscoroutinefunction(obj) or iscoroutinefunction(call):
        return Detected(AppKind.ASGI, obj, strips_prefix(obj))
    positional = _positional_count(obj)
    if positional == 2:
        return Detected(AppKind.WSGI, obj)
    if positional == 3:
        # WSGI takes two; three are ASGI 3's, from a call that returns its awaitable.
        return Detected(AppKind.ASGI, obj, strips_prefix(obj))
    if positional == 1:
        return Detected(AppKind.ASGI, guarantee_single_callable(obj))
    what = "cannot be read" if positional is None else f"takes {positional} arguments"
    raise DetectionError(
        f"is a callable whose signature {what}, so pagesfn cannot tell WSGI from ASGI; "
        + _OVERRIDE_HINT
    )


def _positional_count(obj: Any) -> int | None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        positional = parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        if positional and parameter.default is parameter.empty:
            count += 1
    return count
