"""The adapter layer, installed as ``pagesfn.adapters``.

Three jobs, each in its own module: decide what a route module's ``app`` is
(:mod:`.detect`), rewrite requests for an app mounted under a prefix (:mod:`.mount`), and
bridge WSGI and ASGI both ways with bounded memory (:mod:`.wsgi_to_asgi`,
:mod:`.asgi_to_wsgi`), running mounted apps' lifespans (:mod:`.lifespan`).

``lambda_handler`` (with ``LambdaHandler`` and ``LambdaError``) is here too, for the
handler that serves a project from AWS Lambda: it lives with the other ways of serving a
project (:mod:`pagesfn.serving.aws_lambda`) and is imported on first use. The rest of
pagesfn imports this layer's modules, never this package, so that alias closes no cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .asgi_to_wsgi import ASGIBridge
from .detect import AppKind, Declared, DetectionError, as_asgi, as_wsgi, detect
from .lifespan import Lifespan, LifespanError, LifespanGroup
from .mount import PrefixStripped, mount_environ, mount_scope
from .mounted import MountedApp
from .wsgi_to_asgi import WSGIBridge, read_body

if TYPE_CHECKING:
    from ..serving.aws_lambda import LambdaError, LambdaHandler, lambda_handler

_LAMBDA = frozenset({"LambdaError", "LambdaHandler", "lambda_handler"})


def __getattr__(name: str) -> Any:
    if name not in _LAMBDA:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..serving import aws_lambda  # the serving layer: loaded only by those who ask

    value = getattr(aws_lambda, name)
    globals()[name] = value
    return value


__all__ = [
    "ASGIBridge",
    "AppKind",
    "Declared",
    "DetectionError",
    "LambdaError",
    "LambdaHandler",
    "Lifespan",
    "LifespanError",
    "LifespanGroup",
    "MountedApp",
    "PrefixStripped",
    "WSGIBridge",
    "as_asgi",
    "as_wsgi",
    "detect",
    "lambda_handler",
    "mount_environ",
    "mount_scope",
    "read_body",
]
