"""What answers a route: a handler (a route file's function, and whether it is awaited),
or a mounted app with the prefix it is called under."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction

from ..adapters.mounted import MountedApp


@dataclass(frozen=True, slots=True)
class Handler:
    """A function of a route file (``on_request``, ``main``...) under its exported name."""

    fn: Callable[..., Any]
    name: str
    is_async: bool

    @classmethod
    def of(cls, fn: Callable[..., Any], name: str) -> Handler:
        return cls(fn, name, is_async_callable(fn))


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives an awaitable to await: an ``async def`` function, or an
    object whose ``__call__`` is one."""
    if iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with ``async def __call__``
    return call is not None and not inspect.isfunction(fn) and iscoroutinefunction(call)


@dataclass(slots=True)
class MountCall:
    """A request for a mounted app; ``prefix`` (decoded) is the part of the path it sits at."""

    mount: MountedApp
    prefix: str
    method: str
    path: str
