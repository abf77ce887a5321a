"""``python -m benchmarks [--quick] [--only NAME] [--json PATH] [--report DIR]``.

``--report docs`` writes the report, ``docs/benchmarks.md`` with its charts (see
:mod:`benchmarks.document`). The full run exits with status 1 when a target is missed
(after writing the report, which lists it); ``--quick`` checks none.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import dispatch, handler, kv, load, mounts, startup, static, websocket
from .report import as_json, header, machine, missed, render
from .results import Result
from .timing import FULL, QUICK, Settings

BENCHMARKS: dict[str, Callable[[Settings], Result]] = {
    "handler": handler.run,
    "mounts": mounts.run,
    "dispatch": dispatch.run,
    "startup": startup.run,
    "static": static.run,
    "kv": kv.run,
    "websocket": websocket.run,
    "load": load.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a few seconds; no targets checked"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        help="run this benchmark only (repeatable)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--report",
        metavar="DIR",
        type=Path,
        help="write the report: DIR/benchmarks.md, its charts and its JSON record",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.report is not None:
        # Before the run, not after it: a missing matplotlib must not waste one.
        from . import document
    started = time.monotonic()

    settings = QUICK if args.quick else FULL
    info = machine()
    print(header(info, settings), flush=True)
    results = []
    for name in args.only or list(BENCHMARKS):
        result = BENCHMARKS[name](settings)
        results.append(result)
        print(f"\n{render(result, settings)}", flush=True)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(as_json(info, settings, results), out, indent=2)
            out.write("\n")
    if args.report is not None:
        command = shlex.join(["python", "-m", "benchmarks", *argv])
        minutes = (time.monotonic() - started) / 60
        path = document.write(args.report, info, settings, results, command, minutes)
        print(f"\nreport written to {path}")
    if settings.quick:
        return 0
    failed = missed(results)
    print()
    if failed:
        print(f"{len(failed)} target(s) missed: " + "; ".join(r.label for r in failed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
