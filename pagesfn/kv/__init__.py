"""KV storage bindings in the manner of Workers KV, on an embedded SQLite backend or on Redis.

Async handlers ``await env["VISITS"].get("visitCount")``; ``def`` handlers call the same
methods on ``env["VISITS"].sync``.
"""

from __future__ import annotations

from .namespace import KVError, KVKey, KVList, KVNamespace, KVValue, SyncKVNamespace
from .redis import redis_namespace
from .sqlite import sqlite_namespace

__all__ = [
    "KVError",
    "KVKey",
    "KVList",
    "KVNamespace",
    "KVValue",
    "SyncKVNamespace",
    "redis_namespace",
    "sqlite_namespace",
]
