"""Temporary functions trees and the ``Pages`` apps serving them."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter_ns

from pagesfn import Pages, RouteWarning


def route_source(body: str) -> str:
    """A route file whose GET handler returns ``Response(<body>)``; ``body`` is an
    expression that may use ``context``."""
    return (
        "from pagesfn import Response\n\n\n"
        "async def on_request_get(context):\n"
        f"    return Response({body})\n"
    )


@contextmanager
def functions_tree(files: Mapping[str, str]) -> Iterator[Path]:
    """A temporary functions folder holding ``files`` (relative path -> source)."""
    with tempfile.TemporaryDirectory(prefix="pagesfn-bench-") as tmp:
        root = Path(tmp)
        for rel, source in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        yield root


@contextmanager
def pages_app(root: Path) -> Iterator[tuple[Pages, int]]:
    """``Pages(root)`` and the nanoseconds its construction took; the app's modules are
    unloaded and its threads released on exit. Route warnings are errors here: every
    file of a benchmark tree must be routed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RouteWarning)
        start = perf_counter_ns()
        app = Pages(root)
        built = perf_counter_ns() - start
    try:
        yield app, built
    finally:
        app.loader.unload()
        app.close()
