"""Per-request dispatch cost against the size of the functions tree.

Two trees, of 10 and of 10,000 route files (``g{i // 100}/r{i}.py``, a few
``g{k}/[id].py`` and a root ``[[rest]].py``), are served side by side and the same paths
are requested from both through the full ASGI app. The probed static and param routes
live in the last folder, ``g99``, and sort last in the table, so a matcher scanning
routes in order would show up as a large ratio.
"""

from __future__ import annotations

import math
from contextlib import ExitStack

from .report import progress
from .results import Figure, Ratio, Result, Row
from .timing import BenchmarkError, Case, Settings, measure, time_ratio
from .trees import functions_tree, pages_app, route_source

SIZES = (10, 10_000)
QUICK_SIZES = (10, 1_000)
TARGET = 1.2  # the large tree may cost at most this many times the small one

_LAST_GROUP = 99
_CATCHALL = "[[rest]].py"
_PROBE_PARAM = f"g{_LAST_GROUP}/[id].py"
_PROBE_STATIC = f"g{_LAST_GROUP}/r9999.py"

# (kind, path requested, the file that must answer it)
PROBES = (
    ("static", f"/g{_LAST_GROUP}/r9999", _PROBE_STATIC),
    ("param", f"/g{_LAST_GROUP}/12345", _PROBE_PARAM),
    ("catch-all", "/zz/a/b", _CATCHALL),
)


def layout(size: int) -> list[str]:
    """The ``size`` route files of a tree: the probes, up to 4 more param routes and
    static routes spread 100 to a folder."""
    if not 3 <= size <= 10_000:
        raise ValueError(f"a tree has 3 to 10,000 routes, not {size}")
    files = [_CATCHALL, _PROBE_PARAM]
    files += [f"g{k}/[id].py" for k in range(min(4, math.ceil(size / 100) - 1))]
    static = size - len(files) - 1
    files += [f"g{i // 100}/r{i}.py" for i in range(static)]
    files.append(_PROBE_STATIC)
    return files


def run(settings: Settings) -> Result:
    sizes = QUICK_SIZES if settings.quick else SIZES
    cases: list[Case] = []
    figures: list[Figure] = []
    with ExitStack() as stack:
        for size in sizes:
            files = layout(size)
            progress("dispatch", f"writing and loading a tree of {size:,} routes")
            root = stack.enter_context(functions_tree({f: route_source(repr(f)) for f in files}))
            app, built = stack.enter_context(pages_app(root))
            if len(app.routes) != size:
                raise BenchmarkError(f"{size:,} route files gave {len(app.routes):,} routes")
            figures.append(Figure(f"build Pages(tree), {size:,} routes", built / 1e6, "ms"))
            for kind, path, file in PROBES:
                cases.append(Case(f"{kind} {path} / {size:,} routes", app, path, file.encode()))
        progress("dispatch", f"timing {len(cases)} cases")
        stats = measure(cases, settings)

    rows: list[Row] = []
    ratios: list[Ratio] = []
    small, large = sizes
    for index, (kind, path, _) in enumerate(PROBES):
        # Cases are ordered size by size, each with every probe.
        of_small = stats[index]
        of_large = stats[len(PROBES) + index]
        rows.append(Row(f"{kind} {path}", f"{small:,} routes", of_small))
        rows.append(Row(f"{kind} {path}", f"{large:,} routes", of_large))
        label = f"{kind}: time with {large:,} routes / with {small:,}"
        ratios.append(Ratio(label, time_ratio(of_large, of_small), TARGET, at_least=False))
    return Result(
        "dispatch",
        "per-request dispatch cost vs tree size (full ASGI app)",
        tuple(rows),
        tuple(ratios),
        tuple(figures),
    )
