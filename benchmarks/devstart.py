"""How long ``pagesfn dev`` takes from the command to its first response.

The command runs as users run it (``python -m pagesfn dev TREE``, hot reload on: a
watching parent process and a server process it starts) on a tree of 10 and of 1,000
route files; the clock starts before the process does and stops when a request to a route
of the tree is answered. Each size is measured several times, and the median reported;
``--no-reload`` (one process) is reported beside it.

Byte code is cached as on a user's machine, whatever ``PYTHONDONTWRITEBYTECODE`` says
here: the commands write it to a folder of their own (``PYTHONPYCACHEPREFIX``), and one
untimed start of each command comes first, so every timed start finds it compiled.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
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


def environment(cache: Path) -> dict[str, str]:
    """The environment of a timed start: :func:`benchmarks.serving.environment` (this
    checkout importable), byte code written to and read from ``cache`` (not the checkout's
    ``__pycache__``), even where ``PYTHONDONTWRITEBYTECODE`` is set."""
    env = serving.environment()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def run(settings: Settings) -> Result:
    sizes = SIZES[:1] if settings.quick else SIZES
    repetitions = 1 if settings.quick else REPETITIONS
    figures: list[Figure] = []
    ratios: list[Ratio] = []
    with tempfile.TemporaryDirectory(prefix="pagesfn-bench-pyc-") as cache:
        env = environment(Path(cache))
        for size in sizes:
            with functions_tree(tree_files(size)) as project:
                for reload in (True, False):
                    how = "hot reload" if reload else "--no-reload"
                    progress("devstart", f"{size:,} files, {how}: 1 + {repetitions} start(s)")
                    first_response(project, reload, env)  # compiles what it imports
                    seconds = statistics.median(
                        first_response(project, reload, env) for _ in range(repetitions)
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
        notes=(
            f"median of {repetitions} start(s) after an untimed one, byte code cached;"
            " python -m pagesfn dev TREE --port PORT",
        ),
    )


def first_response(project: Path, reload: bool, env: Mapping[str, str]) -> float:
    """Seconds from starting ``pagesfn dev`` on ``project`` (with hot reload or
    ``--no-reload``, in environment ``env``) to its first response, to ``/g0/r1``."""
    port = serving.free_port()
    argv = [sys.executable, "-m", "pagesfn", "dev", str(project), "--port", str(port)]
    if not reload:
        argv.append("--no-reload")
    url = f"http://127.0.0.1:{port}/g0/r1"
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env)
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
