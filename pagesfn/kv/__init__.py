"""KV storage bindings in the manner of Workers KV, with an embedded SQLite backend.

Async handlers ``await env["VISITS"].get("visitCount")``; ``def`` handlers call the same
methods on ``env["VISITS"].sync``.
"""

from __future__ import annotations

from .namespace import KVError, KVKey, KVList, KVNamespace, KVValue, SyncKVNamespace
from .sqlite import sqlite_namespace

__all__ = [
    "KVError",
    "KVKey",
    "KVList",
    "KVNamespace",
    "KVValue",
    "SyncKVNamespace",
    "sqlite_namespace",
]
