"""Start-up time against tree size: from a fresh interpreter to an app ready to serve.

Trees of 10, 100, 1,000 and 10,000 route files (the layout of :mod:`benchmarks.dispatch`)
are started three ways, each start a new ``python -c`` process:

* ``Pages(tree)``: pagesfn as it starts by default, reading each file's handler names
  from its source and importing a module on its first request;
* ``Pages(tree, eager=True)``: pagesfn importing every module at start-up;
* Starlette: the same routes as endpoint modules, one a file, each imported with
  ``importlib`` and given to a ``Route`` in the order of the Starlette app of
  :mod:`benchmarks.dispatch`, as a user with that many endpoint modules would.

The child times itself from just before its first import of pagesfn or Starlette until
its app is built, and prints it; the parent times the whole process (interpreter start-up
and exit included). Byte code is cached as on a user's machine (see
:mod:`benchmarks.devstart`), one untimed start of each app and size first; the timed starts
are interleaved (A, B, C, A, B, C, ...) and the median of each reported.

Then ``pagesfn dev``, as users run it, from the command to its first response, on trees of
10 and 1,000 route files (25 to a folder), with hot reload and with ``--no-reload``
(:mod:`benchmarks.devstart`); hot reload on 1,000 files has a target.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import devstart
from .dispatch import layout
from .report import progress
from .results import Curve, Figure, Line, Ratio, Result
from .timing import BenchmarkError, Settings
from .trees import endpoint_source, functions_tree, route_source, starlette_path, written_order

SIZES = (10, 100, 1_000, 10_000)
QUICK_SIZES = (10, 100)
REPETITIONS = 5
DEV_SIZES = (10, 1_000)
DEV_TARGET = 1.0  # seconds to the first response of `pagesfn dev` on 1,000 route files
_TIMEOUT = 300.0  # seconds one start may take

# (name, what the child builds): "lazy" and "eager" a Pages app, "starlette" a Starlette one.
APPS = (
    ("pagesfn Pages(tree)", "lazy"),
    ("pagesfn Pages(tree, eager=True)", "eager"),
    ("Starlette importing the modules", "starlette"),
)
DEV = "pagesfn dev, first response"
# (line of the chart, hot reload or not)
DEV_MODES = ((f"{DEV}, hot reload", True), (f"{DEV}, --no-reload", False))

# The child: ``python -c CHILD KIND ROOT``, Starlette's routes ("path<TAB>file" lines) on
# stdin. It prints the seconds to its imports and to its app, and the app's route count.
CHILD = """\
import os
import sys
import time

kind, root = sys.argv[1:]
listed = [line.split("\\t") for line in sys.stdin.read().splitlines()]
start = time.perf_counter()
if kind == "starlette":
    import importlib.util

    from starlette.applications import Starlette
    from starlette.routing import Route

    imported = time.perf_counter()
    routes = []
    for index, (path, file) in enumerate(listed):
        location = os.path.join(root, file)
        spec = importlib.util.spec_from_file_location(f"endpoints{index}", location)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        routes.append(Route(path, module.endpoint))
    app = Starlette(routes=routes)
else:
    from pagesfn import Pages

    imported = time.perf_counter()
    app = Pages(root, eager=kind == "eager")
ready = time.perf_counter()
print(imported - start, ready - start, len(app.routes))
"""


@dataclass(frozen=True, slots=True)
class Start:
    """One start, in seconds: to the child's imports and to its app (timed in the child
    from just before its first import), and of the whole process (timed by the parent)."""

    imported: float
    ready: float
    process: float


@dataclass(frozen=True, slots=True)
class Tree:
    """What one app of one size starts on: its kind, its folder and (Starlette) its routes."""

    kind: str
    root: Path
    routes: str  # "path<TAB>file" lines, the order of the routes; empty for pagesfn
    size: int


def run(settings: Settings) -> Result:
    sizes = QUICK_SIZES if settings.quick else SIZES
    dev_sizes = DEV_SIZES[:1] if settings.quick else DEV_SIZES
    repetitions = 1 if settings.quick else REPETITIONS
    starts: dict[tuple[str, int], list[Start]] = {}
    dev: dict[tuple[str, int], float] = {}
    with ExitStack() as stack:
        env = devstart.environment(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        trees: dict[tuple[str, int], Tree] = {}
        for size in sizes:
            progress("startup", f"writing trees of {size:,} route files")
            files = layout(size)
            ours = stack.enter_context(functions_tree({f: route_source(repr(f)) for f in files}))
            theirs = stack.enter_context(
                functions_tree({f: endpoint_source(repr(f)) for f in files})
            )
            listed = "".join(f"{starlette_path(f)}\t{f}\n" for f in written_order(files))
            for name, kind in APPS:
                if kind == "starlette":
                    trees[name, size] = Tree(kind, theirs, listed, size)
                else:
                    trees[name, size] = Tree(kind, ours, "", size)
        progress("startup", f"{len(trees)} apps: an untimed start each (compiles the byte code)")
        for tree in trees.values():
            _start(tree, env)
        for repetition in range(repetitions):
            progress("startup", f"repetition {repetition + 1} of {repetitions}")
            for key, tree in trees.items():
                starts.setdefault(key, []).append(_start(tree, env))
        for size in dev_sizes:
            with functions_tree(devstart.tree_files(size)) as project:
                for name, reload in DEV_MODES:
                    progress("startup", f"{name}, {size:,} files: 1 + {repetitions} start(s)")
                    devstart.first_response(project, reload, env)
                    dev[name, size] = statistics.median(
                        devstart.first_response(project, reload, env) for _ in range(repetitions)
                    )
    return _result(sizes, repetitions, starts, dev)


def _start(tree: Tree, env: Mapping[str, str]) -> Start:
    """Start a fresh interpreter building the app of ``tree``; check its route count."""
    argv = [sys.executable, "-c", CHILD, tree.kind, str(tree.root)]
    begin = time.perf_counter()
    done = subprocess.run(
        argv, input=tree.routes, capture_output=True, text=True, env=dict(env), timeout=_TIMEOUT
    )
    process = time.perf_counter() - begin
    words = done.stdout.split()
    if done.returncode != 0 or len(words) != 3:
        raise BenchmarkError(
            f"{tree.kind} start-up on {tree.size:,} files failed (status {done.returncode}):"
            f"\n{done.stdout}{done.stderr}"
        )
    imported, ready, routes = float(words[0]), float(words[1]), int(words[2])
    if routes != tree.size:
        raise BenchmarkError(f"{tree.kind}: {tree.size:,} route files gave {routes:,} routes")
    return Start(imported, ready, process)


def _result(
    sizes: Sequence[int],
    repetitions: int,
    starts: Mapping[tuple[str, int], list[Start]],
    dev: Mapping[tuple[str, int], float],
) -> Result:
    figures: list[Figure] = []
    lines: list[Line] = []
    for name, _ in APPS:
        imports = [s.imported for size in sizes for s in starts[name, size]]
        figures.append(Figure(f"{name}: its imports, median of every start", _ms(imports), "ms"))
        for size in sizes:
            ready = [s.ready for s in starts[name, size]]
            figures.append(Figure(f"{name}, {size:,} files: to a ready app", _ms(ready), "ms"))
            process = [s.process for s in starts[name, size]]
            figures.append(Figure(f"{name}, {size:,} files: whole process", _ms(process), "ms"))
        points = tuple(
            (size, statistics.median(s.ready for s in starts[name, size])) for size in sizes
        )
        lines.append(Line(name, points))
    ratios: list[Ratio] = []
    for name, _ in DEV_MODES:
        points = tuple((size, seconds) for (line, size), seconds in dev.items() if line == name)
        lines.append(Line(name, points))
        for size, seconds in points:
            label = f"{name}, {size:,} files"
            if size == DEV_SIZES[-1] and name == DEV_MODES[0][0]:
                ratio = Ratio(f"{label}: seconds", seconds, DEV_TARGET, at_least=False, unit=" s")
                ratios.append(ratio)
            else:
                figures.append(Figure(label, seconds * 1000, "ms"))
    large = sizes[-1]
    peer = starts[APPS[-1][0], large]
    ratios += [
        Ratio(
            f"{large:,} files: Starlette seconds / {name} seconds, to a ready app",
            statistics.median(
                a.ready / b.ready for a, b in zip(peer, starts[name, large], strict=True)
            ),
        )
        for name, _ in APPS[:-1]
    ]
    return Result(
        "startup",
        "start-up time against tree size: a fresh interpreter to a ready app",
        (),
        tuple(ratios),
        tuple(figures),
        notes=(
            f"median of {repetitions} start(s) of each after an untimed one, byte code cached;"
            " python -c SCRIPT, timed in the child from its first import of the framework",
            f"{DEV}: python -m pagesfn dev TREE --port PORT [--no-reload], the clock started"
            " before the process, on trees of 25 route files to a folder",
        ),
        curves=(
            Curve(
                "startup",
                "Start-up time against tree size",
                "route files",
                "seconds to a ready app",
                tuple(lines),
                log_x=True,
                log_y=True,
            ),
        ),
    )


def _ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000
