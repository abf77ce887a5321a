"""A mixed load on ``pagesfn serve``: many connections, every response checked, memory watched.

One small project holds the five kinds of request a site serves: a plain handler
(``functions/api/hello.py``), a Flask app and a FastAPI app mounted by catch-all route
files, a static file from ``public/``, and a handler writing and reading a KV binding
declared in ``pagesfn.toml`` (SQLite, the default backend). The real command serves it
(``python -m pagesfn serve PROJECT --workers N``), with 1 worker and then with 2.

The load is ``wrk`` in its own process, keeping 1,000 connections busy for 30 s with the
script ``load.lua``: it rotates through the six requests (the KV handler both written and
read) and checks every response, status and body, against the request it answers (each
dynamic request carries an id its answer echoes; a KV read asks for a key whose write has
been answered and must return the value written). Each server gets two such runs; its
resident memory (VmRSS summed over the server's processes, from ``/proc``) is read before
the load and after each run, and the second run must not grow it by more than 5%: a server
that keeps something per request would. A wrong response, a socket error or a non-2xx
status is a missed target. ``--quick`` makes two runs of a few seconds with 50
connections on 1 worker.

The CPU time of the server's processes, of wrk and of the rest of the machine during each
run is reported beside the throughput: on a small machine they share the cores, and a
busy neighbour (or a hypervisor's steal time) shows in the figures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent
from typing import Any

from . import serving
from .report import progress
from .results import Figure, Ratio, Result, Row
from .timing import BenchmarkError, Settings, Stats
from .trees import functions_tree

GROWTH_TARGET = 5.0  # % of resident memory the second run may add to what the first left
SCRIPT = Path(__file__).with_name("load.lua")
_TITLE = "pagesfn serve under a mixed load: throughput, latency, checked responses, memory"


@dataclass(frozen=True, slots=True)
class Plan:
    """How hard and how long: ``runs`` wrk runs of ``seconds`` with ``connections`` over
    ``threads`` threads against each server, one server per entry of ``workers``."""

    connections: int
    threads: int
    seconds: int
    workers: tuple[int, ...]
    runs: int = 2
    timeout: int = 10  # wrk's --timeout, seconds: an answer later than this is an error
    settle: float = 1.0  # seconds between the end of a run and reading the memory

    def wrk_options(self) -> str:
        return (
            f"-t{self.threads} -c{self.connections} -d{self.seconds}s"
            f" --timeout {self.timeout}s --latency"
        )


FULL_PLAN = Plan(connections=1000, threads=2, seconds=30, workers=(1, 2))
QUICK_PLAN = Plan(connections=50, threads=2, seconds=3, workers=(1,))
_NEEDED_FILES = 256  # open files a process needs besides its connections

STATIC_FILE = "public/assets/load.txt"
STATIC_URL = "/assets/load.txt"
SEED = ("seed", "seed-value")  # the key load.lua reads before any of its writes is answered
_SOCKET_ERRORS = ("connect", "read", "write", "timeout")  # wrk's counts of failed exchanges
_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc's CPU times


def static_text() -> str:
    """The static file: 64 numbered lines of 64 bytes (4 KiB)."""
    return "".join(
        f"static file of the load benchmark, line {line:02d} of 64 ".ljust(63, ".") + "\n"
        for line in range(1, 65)
    )


FILES = {
    "pagesfn.toml": "[kv]\nSTORE = {}\n",
    "functions/api/hello.py": dedent(
        """\
        async def on_request_get(context):
            return f"{context.request.args['id']} hello"
        """
    ),
    "functions/api/kv/[key].py": dedent(
        """\
        async def on_request_put(context):
            key = context.params["key"]
            await context.env["STORE"].put(key, await context.request.text())
            return f"{context.request.args['id']} stored {key}"


        async def on_request_get(context):
            key = context.params["key"]
            value = await context.env["STORE"].get(key)
            if value is None:
                return f"{context.request.args['id']} missing {key}", 404
            return f"{context.request.args['id']} read {key} {value}"
        """
    ),
    "functions/flask/[[default]].py": dedent(
        """\
        from flask import Flask, request

        app = Flask(__name__)


        @app.get("/hello")
        def hello():
            return f"{request.args['id']} flask"
        """
    ),
    "functions/fastapi/[[default]].py": dedent(
        """\
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/hello")
        async def hello(id: str):
            return {"id": id, "kind": "fastapi"}
        """
    ),
    STATIC_FILE: static_text(),
}

# What the servers must answer before the load starts: (method, path, body, answer).
CHECKS = (
    ("GET", "/api/hello?id=t0n1", None, b"t0n1 hello"),
    ("GET", "/flask/hello?id=t0n2", None, b"t0n2 flask"),
    ("GET", "/fastapi/hello?id=t0n3", None, b'{"id":"t0n3","kind":"fastapi"}'),
    ("GET", STATIC_URL, None, static_text().encode()),
    ("PUT", f"/api/kv/{SEED[0]}?id=t0n4", SEED[1].encode(), f"t0n4 stored {SEED[0]}".encode()),
    ("GET", f"/api/kv/{SEED[0]}?id=t0n5", None, f"t0n5 read {SEED[0]} {SEED[1]}".encode()),
)


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run, as ``load.lua`` reported it."""

    requests: int  # responses received
    seconds: float
    p50_ms: float
    p99_ms: float
    wrong: int  # responses with the wrong status or body
    socket_errors: int  # connect, read, write and timeout errors
    non_2xx: int  # wrk's count of statuses of 400 and above
    statuses: dict[str, int]
    kinds: dict[str, int]  # right answers by kind of request
    seed_reads: int  # KV reads sent while none of the run's writes had been answered
    examples: tuple[str, ...]  # a few wrong responses
    server_cpu: tuple[float, ...] = ()  # seconds, per server process, the command's first
    wrk_cpu: float = 0.0  # seconds
    machine_cpu: float | None = None  # seconds all processes of the machine were busy
    stolen: float | None = None  # seconds the hypervisor gave the machine's cores to others

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Run:
        errors = data["errors"]
        latency = data["latency_us"]
        return cls(
            requests=int(data["requests"]),
            seconds=data["duration_us"] / 1e6,
            p50_ms=latency["p50"] / 1000,
            p99_ms=latency["p99"] / 1000,
            wrong=int(data["wrong"]),
            socket_errors=sum(int(errors[name]) for name in _SOCKET_ERRORS),
            non_2xx=int(errors["status"]),
            statuses=dict(data["statuses"]),
            kinds=dict(data["kinds"]),
            seed_reads=int(data["seed_reads"]),
            examples=tuple(data["examples"]),
        )


@dataclass(frozen=True, slots=True)
class Served:
    """What one server did under the load."""

    workers: int
    runs: tuple[Run, ...]
    memory_kib: tuple[int, ...] | None  # before the load, then after each run; None: no /proc
    processes: int  # the server's processes: the command's, and its workers
    log_problems: tuple[str, ...]  # lines of the server's log that report an error
    stack: str  # the server, its event loop and its HTTP parser


def run(settings: Settings) -> Result:
    plan = QUICK_PLAN if settings.quick else FULL_PLAN
    notes: list[str] = []
    if serving.unavailable("load", notes, "flask", "fastapi"):
        return Result("load", _TITLE, (), (), notes=tuple(notes))
    served: list[Served] = []
    with open_files(plan.connections + _NEEDED_FILES, notes), functions_tree(FILES) as project:
        for workers in plan.workers:
            served.append(_serve_and_load(project, workers, plan))
    return _result(plan, served, notes)


@contextmanager
def open_files(needed: int, notes: list[str]) -> Iterator[None]:
    """Raise this process's soft limit on open files to its hard limit while the servers
    and wrk, which inherit it, run: each side of the load holds one file per connection.
    A hard limit below ``needed`` is noted (connections may then fail)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, 65536) if hard == resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        raised = wanted
    except (ValueError, OSError) as exc:
        raised = soft
        notes.append(f"open files: the soft limit could not be raised from {soft}: {exc}")
    if raised < needed:
        note = (
            f"open files: the limit is {raised} (hard {hard}), below the {needed} each side of"
            " the load needs: connections may fail for want of file descriptors"
        )
        notes.append(note)
        progress("load", note)
    elif raised > soft:
        notes.append(f"open files: soft limit {soft} raised to {raised} for the servers and wrk")
    else:
        notes.append(f"open files: soft limit already {soft}, the hard limit")
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def pagesfn_serve(workers: int, project: Path) -> serving.Server:
    """The command as a user runs it."""
    name = f"pagesfn serve --workers {workers}"
    return serving.pagesfn_serve(name, project, "--workers", str(workers))


def _serve_and_load(project: Path, workers: int, plan: Plan) -> Served:
    server = pagesfn_serve(workers, project)
    progress("load", f"starting {server.name}")
    with serving.start(server, project) as running:
        processes = _wait_for_workers(running, workers)
        check(running.url)
        memory = [_resident(running.pid)]
        runs: list[Run] = []
        for number in range(1, plan.runs + 1):
            progress(
                "load",
                f"{server.name}: run {number} of {plan.runs}: wrk {plan.wrk_options()}",
            )
            runs.append(measure(running, plan, project / STATIC_FILE))
            time.sleep(plan.settle)
            memory.append(_resident(running.pid))
            progress("load", _summary(runs[-1], memory[-1]))
        problems = _log_problems(running.log)
    measured = None if None in memory else tuple(m for m in memory if m is not None)
    return Served(workers, tuple(runs), measured, processes, problems, server.stack)


def check(url: str) -> None:
    """Fail unless the server answers each request of :data:`CHECKS` as expected; this also
    writes the key ``load.lua`` reads first."""
    for method, path, body, answer in CHECKS:
        status, got = serving.request(method, url + path, body)
        if status != 200 or got != answer:
            raise BenchmarkError(
                f"{method} {path} answered {status} {got[:120]!r}; expected 200 {answer[:120]!r}"
            )


def measure(running: serving.Running, plan: Plan, static: Path) -> Run:
    """:func:`load` against the server ``running``, with the CPU time the server's processes
    and wrk spent meanwhile: on a small machine they share the cores."""
    before = _cpu(running.pid)
    wrk_before = _children_cpu()
    machine_before = _machine_cpu()
    run = load(running.url, plan, static)
    machine_after = _machine_cpu()
    wrk_cpu = _children_cpu() - wrk_before
    after = _cpu(running.pid)
    run = dataclasses.replace(
        run,
        server_cpu=tuple(after[pid] - before.get(pid, 0.0) for pid in sorted(after)),
        wrk_cpu=wrk_cpu,
    )
    if machine_before is None or machine_after is None:
        return run
    (busy_before, stolen_before), (busy_after, stolen_after) = machine_before, machine_after
    return dataclasses.replace(
        run, machine_cpu=busy_after - busy_before, stolen=stolen_after - stolen_before
    )


def load(url: str, plan: Plan, static: Path) -> Run:
    """One wrk run of ``load.lua`` against ``url``; ``static`` is the file the static
    answers must equal."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchmarkError("wrk is not installed")
    argv = [wrk, *plan.wrk_options().split(), "-s", str(SCRIPT), url, "--", str(static)]
    done = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=plan.seconds + plan.timeout + 60,
        check=False,
    )
    marker = "LOAD-RESULT "
    lines = [line for line in done.stdout.splitlines() if line.startswith(marker)]
    if done.returncode != 0 or len(lines) != 1:
        raise BenchmarkError(f"wrk failed (status {done.returncode}):\n{done.stdout}{done.stderr}")
    return Run.parse(json.loads(lines[0].removeprefix(marker)))


def _wait_for_workers(running: serving.Running, workers: int, timeout: float = 30.0) -> int:
    """Wait until each of the server's ``workers`` has logged uvicorn's "Application startup
    complete" (it answers as soon as one has), or ``timeout`` seconds; the number of the
    server's processes then."""
    deadline = time.monotonic() + timeout
    while running.log is not None and time.monotonic() < deadline:
        text = running.log.read_text(encoding="utf-8", errors="replace")
        if text.count("Application startup complete") >= workers:
            break
        time.sleep(0.1)
    return len(serving.process_tree(running.pid))


def _cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of process ``pid`` and of each of its descendants, by id."""
    return {process.pid: process.cpu for process in serving.process_tree(pid)}


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended (wrk, once it has)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu() -> tuple[float, float] | None:
    """CPU seconds since boot, all cores together, that the machine's processes kept them
    busy (user, nice, system, irq and softirq time in ``/proc/stat``) and that the
    hypervisor gave them to other guests (steal time); None without ``/proc``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(field) for field in stat.readline().split()[1:]]
        busy = sum(ticks[0:3]) + sum(ticks[5:7])
        return busy / _TICKS, ticks[7] / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def _resident(pid: int) -> int | None:
    """The resident memory of process ``pid`` and its descendants together, in KiB."""
    sizes = [serving.resident_kib(process.pid) for process in serving.process_tree(pid)]
    known = [size for size in sizes if size is not None]
    return sum(known) if known else None


def _log_problems(log: Path | None) -> tuple[str, ...]:
    """Lines of the server's log that report an error or a traceback."""
    if log is None:
        return ()
    text = log.read_text(encoding="utf-8", errors="replace")
    words = ("Traceback", "ERROR", "Error", "Exception", "CRITICAL")
    return tuple(line for line in text.splitlines() if any(word in line for word in words))


def _summary(run: Run, memory: int | None) -> str:
    rss = "unknown" if memory is None else f"{memory / 1024:.1f} MiB"
    return (
        f"{run.requests:,} responses, {run.rps:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99"
        f" {run.p99_ms:.1f} ms, {run.wrong} wrong, {run.socket_errors} socket errors,"
        f" {run.non_2xx} non-2xx; RSS {rss}"
    )


def _result(plan: Plan, served: Sequence[Served], notes: list[str]) -> Result:
    rows: list[Row] = []
    ratios: list[Ratio] = []
    figures: list[Figure] = []
    for server in served:
        where = f"{server.workers} worker{'s' if server.workers > 1 else ''}"
        stats = Stats(
            round(sum(r.requests for r in server.runs) / len(server.runs)),
            tuple(1e9 / r.rps for r in server.runs),
        )
        group = f"mixed, {plan.connections} connections"
        rows.append(Row(group, f"pagesfn serve, {where}", stats, server.stack))
        ratios += _targets(where, server)
        figures += _figures(where, server)
        notes += _server_notes(where, server)
    notes[:0] = [
        f"load: wrk {plan.wrk_options()} -s benchmarks/load.lua, in its own process;"
        f" {plan.runs} runs against each server; us/req is 1 / throughput, calls/rep the"
        " mean responses of a run",
        "requests in turn: GET /api/hello (async handler), GET /flask/hello (mounted Flask),"
        " GET /fastapi/hello (mounted FastAPI), GET /assets/load.txt (4 KiB from public/),"
        " PUT then GET /api/kv/KEY (async handler, SQLite KV binding); each dynamic request"
        " carries an id its answer must echo, each KV read must return the value written",
        "server: python -m pagesfn serve TMP --port PORT --workers N (no debug, no access"
        " log); RSS is VmRSS summed over its processes, shared pages counted once per process",
    ]
    return Result("load", _TITLE, tuple(rows), tuple(ratios), tuple(figures), tuple(notes))


def _targets(where: str, server: Served) -> list[Ratio]:
    wrong = sum(r.wrong for r in server.runs)
    errors = sum(r.socket_errors for r in server.runs)
    targets = [
        Ratio(f"{where}: wrong responses (status or body)", wrong, 0, False, " responses"),
        Ratio(f"{where}: socket errors (connect, read, write, timeout)", errors, 0, False, ""),
    ]
    memory = server.memory_kib
    if memory is not None:
        growth = 100 * (memory[-1] - memory[-2]) / memory[-2]
        label = f"{where}: RSS growth from after run 1 to after run 2"
        targets.append(Ratio(label, growth, GROWTH_TARGET, False, "%"))
    return targets


def _figures(where: str, server: Served) -> list[Figure]:
    figures: list[Figure] = []
    for number, run in enumerate(server.runs, 1):
        at = f"{where}, run {number}"
        figures += [
            Figure(f"{at}: throughput", run.rps, "req/s"),
            Figure(f"{at}: latency p50", run.p50_ms, "ms"),
            Figure(f"{at}: latency p99", run.p99_ms, "ms"),
            Figure(f"{at}: responses", run.requests, "responses"),
            Figure(f"{at}: non-2xx (wrk)", run.non_2xx, "responses"),
            Figure(f"{at}: server CPU", 100 * sum(run.server_cpu) / run.seconds, "% of a core"),
            Figure(f"{at}: wrk CPU", 100 * run.wrk_cpu / run.seconds, "% of a core"),
        ]
        if run.machine_cpu is not None:
            others = run.machine_cpu - sum(run.server_cpu) - run.wrk_cpu
            label = f"{at}: CPU of other processes of the machine"
            figures.append(Figure(label, max(0.0, 100 * others / run.seconds), "% of a core"))
        if run.stolen is not None:
            label = f"{at}: CPU stolen by the hypervisor"
            figures.append(Figure(label, 100 * run.stolen / run.seconds, "% of a core"))
    if server.memory_kib is not None:
        moments = ["before the load", *(f"after run {n}" for n in range(1, len(server.runs) + 1))]
        figures += [
            Figure(f"{where}: RSS {moment}", kib / 1024, "MiB")
            for moment, kib in zip(moments, server.memory_kib, strict=True)
        ]
    return figures


def _server_notes(where: str, server: Served) -> list[str]:
    notes = [
        f"{where}: {server.processes} server process(es) (uvicorn's supervisor,"
        " multiprocessing's resource tracker and the workers, when there are several)"
    ]
    for number, run in enumerate(server.runs, 1):
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(run.kinds.items()))
        statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(run.statuses.items()))
        notes.append(
            f"  run {number}: right answers by kind: {kinds}; statuses: {statuses};"
            f" KV reads of the key written before the run: {run.seed_reads}"
        )
        shares = ", ".join(f"{100 * cpu / run.seconds:.0f}%" for cpu in run.server_cpu)
        notes.append(f"    CPU of each server process, % of a core: {shares}")
        notes += [f"    wrong: {example!r}" for example in run.examples]
    if server.memory_kib is None:
        notes.append(f"{where}: resident memory not measured (no /proc)")
    if server.log_problems:
        notes.append(f"{where}: the server logged {len(server.log_problems)} error line(s):")
        notes += [f"    {line[:200]}" for line in server.log_problems[:10]]
    return notes
