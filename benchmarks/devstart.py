"""Timing ``pagesfn dev`` from the command to its first response, for
:mod:`benchmarks.startup`.

The command runs as users run it (``python -m pagesfn dev TREE``; with hot reload, a
watching parent process and a server process it starts; with ``--no-reload``, one
process); the clock starts before the process does and stops when a request to a route of
the tree is answered.

Byte code is cached as on a user's machine, whatever ``PYTHONDONTWRITEBYTECODE`` says
here (:func:`environment`): the commands write it to a folder of their own
(``PYTHONPYCACHEPREFIX``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from . import serving
from .timing import BenchmarkError
from .trees import route_source

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
