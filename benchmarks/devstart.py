"""How long ``pagesfn dev`` takes from the command to its first response.

The command runs as users run it (``python -m pagesfn dev TREE``, hot reload on: a
watching parent process and a server process it starts) on a tree of 10 and of 1,000
route files; the clock starts before the process does and stops when a request to a route
of the tree is answered. Each size is measured several times, and the median reported;
``--no-reload`` (one process) is reported beside it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from . import serving
from .report import progress
from .results import Figure, Ratio, Result
from .timing import BenchmarkError, Settings
from .trees import functions_tree, route_source

TARGET = 1.0  # seconds to the first response of `pagesfn dev` on 1,000 route files
SIZES = (10, 1_000)
REPETITIONS = 5
_TIMEOUT = 30.0


def tree_files(size: int) -> dict[str, str]:
    """``size`` route files, 25 to a folder."""
    return {
        f"functions/g{index // 25}/r{index % 25}.py": route_source(repr(f"r{index}"))
        for index in range(size)
    }


def run(settings: Settings) -> Result:
    sizes = SIZES[:1] if settings.quick else SIZES
    repetitions = 1 if settings.quick else REPETITIONS
    figures: list[Figure] = []
    ratios: list[Ratio] = []
    for size in sizes:
        with functions_tree(tree_files(size)) as project:
            for reload in (True, False):
                how = "hot reload" if reload else "--no-reload"
                progress("devstart", f"{size:,} files, {how}: {repetitions} start(s)")
                seconds = statistics.median(
                    _first_response(project, reload) for _ in range(repetitions)
                )
                label = f"pagesfn dev, {size:,} files, {how}: seconds to first response"
                if size == SIZES[-1] and reload:
                    ratios.append(Ratio(label, seconds, TARGET, at_least=False, unit=" s"))
                else:
                    figures.append(Figure(label, seconds * 1000, "ms"))
    return Result(
        "devstart",
        "pagesfn dev: from the command to the first response",
        (),
        tuple(ratios),
        tuple(figures),
        notes=(f"median of {repetitions} start(s); python -m pagesfn dev TREE --port PORT",),
    )


def _first_response(project: Path, reload: bool) -> float:
    port = serving.free_port()
    argv = [sys.executable, "-m", "pagesfn", "dev", str(project), "--port", str(port)]
    if not reload:
        argv.append("--no-reload")
    url = f"http://127.0.0.1:{port}/g0/r1"
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    try:
        while True:
            elapsed = time.perf_counter() - start
            if elapsed > _TIMEOUT or process.poll() is not None:
                raise BenchmarkError(f"pagesfn dev did not answer {url} ({elapsed:.1f} s)")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                time.sleep(0.005)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
