"""Temporary functions trees, the ``Pages`` apps serving them and the Starlette routes a
user would write for the same files."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
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


def endpoint_source(body: str) -> str:
    """A Starlette endpoint module, the peer of :func:`route_source`: its ``endpoint``
    returns ``PlainTextResponse(<body>)``."""
    return (
        "from starlette.responses import PlainTextResponse\n\n\n"
        "async def endpoint(request):\n"
        f"    return PlainTextResponse({body})\n"
    )


def starlette_path(file: str) -> str:
    """The Starlette path of route file ``file``: ``g1/r2.py`` is ``/g1/r2``, ``g1/[id].py``
    is ``/g1/{id}`` and ``[[rest]].py`` is ``/{rest:path}``."""
    segments: list[str] = []
    for part in file.removesuffix(".py").split("/"):
        if part.startswith("[[") and part.endswith("]]"):
            segments.append(f"{{{part[2:-2]}:path}}")
        elif part.startswith("[") and part.endswith("]"):
            segments.append(f"{{{part[1:-1]}}}")
        else:
            segments.append(part)
    return "/" + "/".join(segments)


def written_order(files: Iterable[str]) -> list[str]:
    """Route files in the order a user lists their Starlette routes: sorted, the static
    routes of a folder before its parameter routes (Starlette's first match wins, so
    ``/g1/{id}`` listed first would answer ``/g1/r2``), catch-all routes last."""

    def key(file: str) -> tuple[bool, str, bool, str]:
        folder, _, name = file.rpartition("/")
        return name.startswith("[["), folder, name.startswith("["), name

    return sorted(files, key=key)


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
