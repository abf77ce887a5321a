"""The adapter layer, installed as ``pagesfn.adapters``.

Three jobs, each in its own module: decide what a route module's ``app`` is
(:mod:`.detect`), rewrite requests for an app mounted under a prefix (:mod:`.mount`), and
bridge WSGI and ASGI both ways with bounded memory (:mod:`.wsgi_to_asgi`,
:mod:`.asgi_to_wsgi`), running mounted apps' lifespans (:mod:`.lifespan`). Beside them, the
handler that serves a project from AWS Lambda (:mod:`.aws_lambda`, on Mangum).
"""

from __future__ import annotations

from .asgi_to_wsgi import ASGIBridge
from .aws_lambda import LambdaError, LambdaHandler, lambda_handler
from .detect import AppKind, Declared, DetectionError, as_asgi, as_wsgi, detect
from .lifespan import Lifespan, LifespanError, LifespanGroup
from .mount import mount_environ, mount_scope
from .mounted import MountedApp
from .wsgi_to_asgi import WSGIBridge, read_body

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
    "WSGIBridge",
    "as_asgi",
    "as_wsgi",
    "detect",
    "lambda_handler",
    "mount_environ",
    "mount_scope",
    "read_body",
]
