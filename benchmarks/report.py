"""The machine a run happened on, the results table and the JSON record."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from typing import Any

from .results import Ratio, Result
from .timing import Settings

PACKAGES = (
    "pagesfn",
    "starlette",
    "werkzeug",
    "flask",
    "fastapi",
    "a2wsgi",
    "uvicorn",
    "gunicorn",
    "uvloop",
    "httptools",
    "granian",
)


def progress(benchmark: str, message: str) -> None:
    """A progress line on stderr, keeping stdout for the results."""
    print(f"[{benchmark}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "tools": {"wrk": wrk_version()},
    }


def wrk_version() -> str:
    """``wrk``'s version as it prints it, or ``"not installed"``."""
    path = shutil.which("wrk")
    if path is None:
        return "not installed"
    try:
        # ``wrk -v`` prints "wrk 4.1.0 [epoll] Copyright ..." and exits with status 1.
        done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown version"
    words = (done.stdout or done.stderr).split()
    return words[1] if len(words) >= 2 else "unknown version"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def header(info: dict[str, Any], settings: Settings) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    tools = ", ".join(f"{name} {version}" for name, version in info["tools"].items())
    mode = "quick smoke run, targets not checked" if settings.quick else "full run"
    return "\n".join(
        [
            "pagesfn benchmarks",
            f"  machine:  {info['cores']} cores, {info['python']}, {info['platform']}",
            f"  versions: {versions}",
            f"  tools:    {tools}",
            f"  method:   {settings.repetitions} interleaved repetitions of ~{settings.seconds:g} s"
            f" per case, median per request; {mode}",
        ]
    )


def render(result: Result, settings: Settings) -> str:
    lines = [f"{result.name}: {result.title}"]
    timed: list[list[str]] = []
    previous = None
    for row in result.rows:
        stats = row.stats
        timed.append(
            [
                row.group if row.group != previous else "",
                row.case,
                row.stack,
                f"{stats.median_us:,.2f}",
                f"{stats.rps:,.0f}",
                f"{stats.spread:.1%}",
                f"{stats.calls:,}",
            ]
        )
        previous = row.group
    if timed:
        unit = result.unit
        head = ["request", "served by", "on", f"us/{unit}", f"{unit}/s", "spread", "calls/rep"]
        lines += _table(head, timed, right=(3, 4, 5, 6))
    if result.ratios:
        lines.append("")
        rows = [
            [r.label, f"{r.value:.3f}{r.unit}", _target(r), _verdict(r, settings)]
            for r in result.ratios
        ]
        lines += _table(["ratio", "value", "target", ""], rows, right=(1, 2))
    if result.figures:
        lines.append("")
        rows = [[f.label, f"{f.value:,.1f} {f.unit}"] for f in result.figures]
        lines += _table(["measured", "value"], rows, right=(1,))
    if result.notes:
        lines.append("")
        lines += [f"  {note}" for note in result.notes]
    return "\n".join(lines)


def missed(results: Sequence[Result]) -> list[Ratio]:
    return [ratio for result in results for ratio in result.ratios if ratio.met is False]


def as_json(info: dict[str, Any], settings: Settings, results: Sequence[Result]) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "settings": asdict(settings),
        "benchmarks": [_result_json(result) for result in results],
    }


def _result_json(result: Result) -> dict[str, Any]:
    return {
        "name": result.name,
        "title": result.title,
        "rows": [
            {
                "request": row.group,
                "served_by": row.case,
                "served_on": row.stack,
                "median_us": row.stats.median_us,
                "requests_per_second": row.stats.rps,
                "spread": row.stats.spread,
                "calls_per_repetition": row.stats.calls,
                "ns_per_request": list(row.stats.ns_per_request),
            }
            for row in result.rows
        ],
        "ratios": [
            {
                "label": ratio.label,
                "value": ratio.value,
                "target": ratio.target,
                "at_least": ratio.at_least,
                "unit": ratio.unit,
                "met": ratio.met,
            }
            for ratio in result.ratios
        ],
        "figures": [asdict(figure) for figure in result.figures],
        "notes": list(result.notes),
        "curves": [asdict(curve) for curve in result.curves],
        "unit": result.unit,
    }


def _target(ratio: Ratio) -> str:
    if ratio.target is None:
        return ""
    return f"{'>=' if ratio.at_least else '<='} {ratio.target:.2f}{ratio.unit}"


def _verdict(ratio: Ratio, settings: Settings) -> str:
    if ratio.met is None:
        return ""
    if settings.quick:
        return "(not checked)"
    return "ok" if ratio.met else "MISSED"


def _table(head: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> list[str]:
    widths = [max(len(cells[i]) for cells in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  " + "  ".join(padded).rstrip()

    return [line(head), line(["-" * width for width in widths]), *map(line, rows)]
