"""Apps measured over HTTP: real servers as subprocesses on loopback, ``wrk`` as the load.

Each server is started from modules written to a temporary folder, on ``127.0.0.1`` and a
free port, waited for until it answers, and always terminated (``serve`` is a context
manager). ``wrk`` runs in its own process with keep-alive connections, for a bounded time;
its repetitions are interleaved across the servers as the in-process loop interleaves
cases, and each becomes one value of a :class:`~benchmarks.timing.Stats` (nanoseconds per
request at the measured throughput, so ``Stats.rps`` is wrk's requests per second).
``--quick`` loads each target once, briefly (:func:`load_for`): a smoke test of the
over-HTTP code, whose figures mean little.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .report import progress
from .timing import BenchmarkError, Settings, Stats

_HOST = "127.0.0.1"
_START_TIMEOUT = 30.0  # seconds a server has to answer its first request
_STOP_TIMEOUT = 10.0  # seconds a server has to exit after SIGTERM before it is killed
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc's CPU time unit


@dataclass(frozen=True, slots=True)
class Load:
    """How ``wrk`` loads each server: ``repetitions`` runs of ``seconds`` per target,
    interleaved, after one ``warmup`` run each (none when ``warmup`` is 0)."""

    repetitions: int = 5
    seconds: int = 3
    warmup: int = 1
    connections: int = 16
    threads: int = 1

    def describe(self) -> str:
        runs = f"{self.repetitions} interleaved runs" if self.repetitions > 1 else "1 run"
        warmup = f"after a {self.warmup} s warm-up" if self.warmup > 0 else "no warm-up"
        return (
            f"wrk -t{self.threads} -c{self.connections} (keep-alive), {runs} of"
            f" {self.seconds} s per case, {warmup}; us/req is 1 / throughput, calls/rep the"
            " median requests of one run"
        )


# ``--quick``: one short run per target and no warm-up, so the over-HTTP code runs (servers
# started, every target checked and loaded) in a few seconds; its figures are noise.
QUICK_LOAD = Load(repetitions=1, seconds=1, warmup=0)


def load_for(settings: Settings, full: Load) -> Load:
    """The load of a benchmark's over-HTTP part: ``full``, or :data:`QUICK_LOAD` in
    ``--quick``."""
    return QUICK_LOAD if settings.quick else full


@dataclass(frozen=True, slots=True)
class Server:
    """A server command; ``{port}`` in ``argv`` is replaced by the port it must bind.
    ``stack`` says what serves: the server and its version, its event loop and its HTTP
    parser (each row measured under it records it)."""

    name: str
    argv: tuple[str, ...]
    stack: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """One running server answering one path with ``expect``."""

    name: str
    url: str
    expect: bytes


def unavailable(benchmark: str, notes: list[str], *modules: str) -> bool:
    """Whether ``wrk`` or one of the Python ``modules`` is missing; if so, the over-HTTP
    part of ``benchmark`` is skipped with a note saying why."""
    missing = missing_tools(*modules)
    if missing:
        note = f"over HTTP: skipped: {', '.join(missing)} not installed"
        notes.append(note)
        progress(benchmark, note)
    return bool(missing)


def describe_servers(
    benchmark: str,
    notes: list[str],
    load: Load,
    servers: Sequence[Server],
    root: Path,
    no_gunicorn: bool,
) -> None:
    """Note the load and each server's command line, and a skipped gunicorn part."""
    notes.append(f"over HTTP: load from {load.describe()}")
    for server in servers:
        notes.append(f"  {server.name}: {command_line(server, root)}")
    if no_gunicorn:
        note = "WSGI over HTTP (gunicorn): skipped: gunicorn not installed"
        notes.append(note)
        progress(benchmark, note)


def missing_tools(*modules: str, wrk: bool = True) -> list[str]:
    """The tools among ``wrk`` and the Python ``modules`` that are not installed."""
    missing = ["wrk"] if wrk and shutil.which("wrk") is None else []
    return missing + [name for name in modules if importlib.util.find_spec(name) is None]


#: The address and the one worker of uvicorn and Granian (their flags are spelled alike).
_ONE_WORKER = ("--host", _HOST, "--port", "{port}", "--workers", "1")


def fastest_uvicorn() -> tuple[str, str]:
    """uvicorn's fastest event loop and HTTP parser installed here: uvloop and httptools
    (what its ``standard`` extra installs), else asyncio and h11."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http


def uvicorn(name: str, target: str, app_dir: Path) -> Server:
    """uvicorn serving ``target`` (``module:attr`` in ``app_dir``) on its fastest stack,
    named on the command line: one worker, no access log."""
    loop, http = fastest_uvicorn()
    return Server(
        name,
        (
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--app-dir",
            str(app_dir),
            *_ONE_WORKER,
            "--loop",
            loop,
            "--http",
            http,
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
        ),
        f"uvicorn {_version('uvicorn')}, {loop}, {http}",
    )


def granian(name: str, target: str, app_dir: Path, interface: str = "asgi") -> Server:
    """Granian serving ``target`` (``module:attr`` in ``app_dir``) through its
    ``interface`` (``asgi`` or ``wsgi``): one worker, HTTP/1.1, uvloop where installed."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") and interface == "asgi" else "auto"
    return Server(
        name,
        (
            sys.executable,
            "-m",
            "granian",
            "--interface",
            interface,
            *_ONE_WORKER,
            "--http",
            "1",
            "--loop",
            loop,
            "--log-level",
            "warning",
            "--working-dir",
            str(app_dir),
            target,
        ),
        f"granian {_version('granian')} ({interface}), "
        + ("uvloop, " if loop == "uvloop" else "")
        + "hyper (Rust)",
    )


def pagesfn_serve(name: str, project: Path, *flags: str) -> Server:
    """``pagesfn serve`` as a user runs it on ``project`` (one worker unless ``flags``
    say otherwise); its stack is the one its processes report at start-up."""
    from pagesfn.serving.server import serving_stack

    server = flags[flags.index("--server") + 1] if "--server" in flags else "uvicorn"
    loop, parser = serving_stack(server)
    return Server(
        name,
        (sys.executable, "-m", "pagesfn", "serve", str(project), "--port", "{port}", *flags),
        f"pagesfn serve: {server} {_version(server)}, {loop}, {parser}",
    )


# gunicorn's worker for both WSGI servers: one gthread worker keeps connections alive, as
# wrk expects (the sync worker closes each one, so wrk would mostly time TCP handshakes).
GUNICORN_WORKER = ("gthread", 4)  # (worker class, threads)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def gunicorn(name: str, target: str, app_dir: Path) -> Server:
    """gunicorn serving ``target`` (``module:attr`` in ``app_dir``) with one worker of
    :data:`GUNICORN_WORKER`; the access log is off by default."""
    worker, threads = GUNICORN_WORKER
    return Server(
        name,
        (
            sys.executable,
            "-m",
            "gunicorn",
            target,
            "--chdir",
            str(app_dir),
            "--bind",
            f"{_HOST}:{{port}}",
            "--workers",
            "1",
            "--worker-class",
            worker,
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "3",
        ),
        f"gunicorn {_version('gunicorn')}, {worker} worker, {threads} threads",
    )


def command_line(server: Server, workdir: Path) -> str:
    """``server``'s command as a user would type it, ``workdir`` shown as ``TMP``."""
    argv = ["python" if arg == sys.executable else arg for arg in server.argv]
    return " ".join(argv).replace(str(workdir), "TMP").replace("{port}", "PORT")


@dataclass(frozen=True, slots=True)
class Running:
    """A server :func:`start` started: its base URL, its process id and its log file."""

    url: str
    pid: int
    log: Path | None = None


@contextmanager
def serve(server: Server, workdir: Path) -> Iterator[str]:
    """Start ``server`` (its log in ``workdir``) and yield its base URL once it answers;
    terminate it on exit."""
    with start(server, workdir) as running:
        yield running.url


@contextmanager
def start(server: Server, workdir: Path) -> Iterator[Running]:
    """:func:`serve`, yielding the server's process id with its URL (for what watches the
    process, such as its CPU time)."""
    port = free_port()
    argv = [arg.replace("{port}", str(port)) for arg in server.argv]
    log_path = workdir / f"{re.sub(r'[^a-z0-9]+', '-', server.name.lower())}.log"
    with open(log_path, "wb") as log:
        # A session of its own makes the server the leader of a process group, which its
        # workers join: what outlives it is found by that group when it is stopped.
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        leader = _process(process.pid)
        try:
            _wait_until_up(server.name, process, port, log_path)
            yield Running(f"http://{_HOST}:{port}", process.pid, log_path)
        finally:
            _stop(process, leader)


def check(target: Target) -> None:
    """Fail unless ``target`` answers 200 with the expected body."""
    status, body = _get(target.url)
    if status != 200 or body != target.expect:
        raise BenchmarkError(
            f"{target.name} answered GET {target.url} with {status} {body[:80]!r}; "
            f"expected 200 {target.expect!r}"
        )


def measure_http(targets: Sequence[Target], load: Load, benchmark: str) -> list[Stats]:
    """Load each of ``targets`` with wrk: a warm-up run each (unless ``load.warmup`` is 0),
    then ``load.repetitions`` interleaved runs (A, B, C, A, B, C, ...). Returns one
    :class:`Stats` each."""
    for target in targets:
        check(target)
    if load.warmup > 0:
        for target in targets:
            progress(benchmark, f"warming up {target.name}: GET {target.url}")
            _wrk(target, load, load.warmup)
    samples: list[list[float]] = [[] for _ in targets]
    counts: list[list[int]] = [[] for _ in targets]
    for repetition in range(load.repetitions):
        progress(benchmark, f"over HTTP: repetition {repetition + 1} of {load.repetitions}")
        for target, sample, count in zip(targets, samples, counts, strict=True):
            requests, rps = _wrk(target, load, load.seconds)
            sample.append(1e9 / rps)
            count.append(requests)
    return [
        Stats(round(statistics.median(count)), tuple(sample))
        for sample, count in zip(samples, counts, strict=True)
    ]


def _wrk(target: Target, load: Load, seconds: int) -> tuple[int, float]:
    """One wrk run against ``target``: (requests completed, requests per second)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchmarkError("wrk is not installed")
    argv = [
        wrk,
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        target.url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = done.stdout
    count = re.search(r"(\d+) requests in ", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode != 0 or count is None or rate is None:
        raise BenchmarkError(f"wrk failed against {target.name}:\n{out}{done.stderr}")
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise BenchmarkError(f"wrk saw errors from {target.name}:\n{out}")
    return int(count.group(1)), float(rate.group(1))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def environment() -> dict[str, str]:
    """The benchmark's environment, with this checkout importable (``benchmarks`` is not
    installed; the generated modules, and load generators run as ``python -m benchmarks.X``,
    import it)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    return request("GET", url, timeout=timeout)


def request(
    method: str, url: str, body: bytes | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One request to ``url`` (``http://host:port/path``) on a connection of its own: its
    status and body."""
    rest = url.removeprefix("http://")
    address, _, path = rest.partition("/")
    host, _, port = address.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, "/" + path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class Process:
    """A process as ``/proc`` shows it; ``started`` (clock ticks after boot) tells it from a
    later process given the same id, ``cpu`` is its user + system time so far (seconds)."""

    pid: int
    parent: int
    group: int
    started: int
    cpu: float


def processes() -> dict[int, Process]:
    """Every process of the machine, by id; empty without ``/proc``."""
    found: dict[int, Process] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if name.isdigit():
            process = _process(int(name))
            if process is not None:
                found[process.pid] = process
    return found


def process_tree(pid: int) -> list[Process]:
    """Process ``pid`` and all its descendants (a server's worker processes, and theirs),
    or an empty list when it is gone or there is no ``/proc``."""
    table = processes()
    if pid not in table:
        return []
    children: dict[int, list[Process]] = {}
    for process in table.values():
        children.setdefault(process.parent, []).append(process)
    tree = [table[pid]]
    for process in tree:
        tree += children.get(process.pid, [])
    return tree


def resident_kib(pid: int) -> int | None:
    """Process ``pid``'s resident memory (``VmRSS``) in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None  # a zombie has no VmRSS line


def _process(pid: int) -> Process | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # The command name (field 2) may hold spaces and parentheses: split after it.
            fields = stat.read().rpartition(")")[2].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        return Process(pid, int(fields[1]), int(fields[2]), int(fields[19]), cpu)
    except (OSError, IndexError, ValueError):
        return None


def _wait_until_up(name: str, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        code = process.poll()
        if code is not None:
            raise BenchmarkError(f"{name} exited with status {code} on start:\n{_tail(log)}")
        try:
            _get(f"http://{_HOST}:{port}/", timeout=5.0)  # any status will do
            return
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"{name} did not answer within {_START_TIMEOUT:g} s:\n{_tail(log)}"
                ) from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes], leader: Process | None) -> None:
    """Terminate ``process`` (killed if it does not exit in time), then kill what is left
    of the process group it led (``leader``: it, as started), such as the workers of a
    supervisor that crashed or was killed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if leader is not None:
        # Linux hands out no process id still in use as a group id: while one of its
        # members lives, the group is the server's.
        for member in processes().values():
            if member.group == leader.pid and member.started >= leader.started:
                with contextlib.suppress(OSError):
                    os.kill(member.pid, signal.SIGKILL)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
