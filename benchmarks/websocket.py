"""WebSocket echo round trips: an ``on_websocket`` handler against a Starlette
``WebSocketRoute`` doing the same echo, in the same run, each under a real uvicorn.

Both servers run once for the whole benchmark, on 127.0.0.1 and a free port, with the same
uvicorn command (:func:`benchmarks.serving.uvicorn` with ``--ws websockets-sansio``, the
implementation uvicorn picks by default and the one ``pagesfn dev`` and ``pagesfn serve``
subclass; the subclass changes only shutdown and refused handshakes). The load comes
from one process of its own (``python -m benchmarks.websocket PLAN``) with the
``websockets`` asyncio client: for each number of connections, it opens that many to each
server, warms both up, and then times rounds in which every connection makes the same
number of sequential round trips (send a small text message, receive its echo, check it).
The rounds alternate between the servers in pairs, pagesfn first then Starlette first
twice then pagesfn first (ABBA), so a burst of noise from the machine hits both; the
ratio is the median of the ratios of each pair. The client offers no compression, so the
round trips measure framing and the apps, not zlib.

With many connections the client comes close to being the bottleneck (on a small machine
it is nearly as busy as the server), which pulls the ratio towards 1; the CPU time each
server process spends per round trip (from ``/proc``, where there is one) is reported too,
as a measure that does not depend on how fast the client is.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from . import serving
from .report import progress
from .results import Figure, Ratio, Result, Row, paired
from .timing import BenchmarkError, Settings, Stats
from .trees import functions_tree

TARGET = 0.9  # pagesfn's round trips per second, in Starlette's

MESSAGE = "x" * 32  # the text message every round trip sends and expects back
CONNECTIONS = (1, 16)  # concurrent connections to each server, one part each
WS = "websockets-sansio"  # uvicorn's WebSocket implementation, for both servers
CASES = ("pagesfn on_websocket", "Starlette WebSocketRoute")

FUNCTIONS = "functions"
FILES = {
    f"{FUNCTIONS}/echo.py": (
        "async def on_websocket(socket):\n"
        "    await socket.accept()\n"
        "    async for message in socket:\n"
        "        await socket.send(message)\n"
    ),
    # What the servers import: the pagesfn app and its peer.
    "pages_server.py": (
        "from pathlib import Path\n\n"
        "from pagesfn import Pages\n\n"
        f"app = Pages(Path(__file__).parent / {FUNCTIONS!r})\n"
    ),
    "peer_server.py": "from benchmarks.websocket import starlette_app\n\napp = starlette_app()\n",
}


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


def starlette_app() -> Starlette:
    """The peer: the same echo as a Starlette endpoint at ``/echo``."""
    return Starlette(routes=[WebSocketRoute("/echo", echo)])


@dataclass(frozen=True, slots=True)
class Plan:
    """What the load generator does, for each of ``connections``: ``warmup`` seconds per
    server, then ``pairs`` pairs of rounds of about ``round_seconds`` each (or of
    ``round_trips`` per connection, when set: no calibration), fewer if the rounds take more
    than ``budget`` seconds in all (a slow or busy machine)."""

    urls: tuple[str, str]  # pagesfn's, then Starlette's
    pids: tuple[int, int]  # their server processes, whose CPU time is read from /proc
    connections: tuple[int, ...]
    pairs: int
    round_seconds: float
    warmup: float
    budget: float = 30.0
    round_trips: int | None = None

    def describe(self) -> str:
        if self.round_trips is not None:
            rounds = f"{self.round_trips} round trips per connection after one such round"
        else:
            rounds = f"~{self.round_seconds:g} s after a {self.warmup:g} s warm-up"
            rounds += f" (fewer pairs if they take more than {self.budget:g} s)"
        return (
            f"websockets {metadata.version('websockets')} asyncio client in its own process;"
            f" {' and '.join(map(str, self.connections))} connections to each server, each"
            f" making sequential round trips of a {len(MESSAGE)}-byte text message;"
            f" {self.pairs} pairs of rounds of {rounds} per server, in turn (ABBA);"
            " us/req is 1 / throughput of all connections together, calls/rep the round"
            " trips of one round"
        )


def plan(settings: Settings, urls: tuple[str, str], pids: tuple[int, int]) -> Plan:
    if settings.quick:  # a smoke run: two pairs of short rounds, no warm-up to speak of
        return Plan(urls, pids, CONNECTIONS, pairs=2, round_seconds=0, warmup=0, round_trips=8)
    return Plan(urls, pids, CONNECTIONS, pairs=60, round_seconds=0.2, warmup=1.0)


def run(settings: Settings) -> Result:
    notes: list[str] = []
    missing = serving.missing_tools("uvicorn", "websockets", wrk=False)
    if missing:
        note = f"skipped: {', '.join(missing)} not installed"
        progress("websocket", note)
        return Result("websocket", _TITLE, (), (), notes=(note,))
    with functions_tree(FILES) as root, ExitStack() as stack:
        servers = [
            _uvicorn(CASES[0], "pages_server:app", root),
            _uvicorn(CASES[1], "peer_server:app", root),
        ]
        running = []
        for server in servers:
            progress("websocket", f"starting uvicorn serving {server.name}")
            running.append(stack.enter_context(serving.start(server, root)))
        pages_url, peer_url = (r.url.replace("http://", "ws://", 1) + "/echo" for r in running)
        load = plan(settings, (pages_url, peer_url), (running[0].pid, running[1].pid))
        parts = _drive(load)
        notes.append(f"load: {load.describe()}")
        notes.append(
            f"servers: one uvicorn each, the same options, --ws {WS} for both (what uvicorn's"
            " auto picks with websockets installed; pagesfn dev/serve run a subclass of it"
            " that changes only shutdown and refused handshakes); no process pinned"
        )
        notes += [f"  {s.name}: {serving.command_line(s, root)}" for s in servers]
    rows: list[Row] = []
    ratios: list[Ratio] = []
    figures: list[Figure] = []
    for part in parts:
        connections = part["connections"]
        where = f"{connections} connection{'s' if connections > 1 else ''}"
        stats = [Stats(part["round_trips"], tuple(ns)) for ns in part["ns"]]
        label = f"{where}: pagesfn round trips/s / Starlette round trips/s"
        stacks = (servers[0].stack, servers[1].stack)
        added, ratio = paired(f"echo, {where}", CASES, stats, label, TARGET, stacks)
        rows += added
        ratios.append(ratio)
        cpu = part["server_cpu_us"]
        if cpu is not None:
            ours, theirs = cpu
            label = f"{where}: Starlette server CPU / pagesfn's, per round trip"
            ratios.append(Ratio(label, theirs / ours))
            figures.append(Figure(f"{where}: server CPU per round trip, pagesfn", ours, "us"))
            figures.append(Figure(f"{where}: server CPU per round trip, Starlette", theirs, "us"))
        figures.append(Figure(f"{where}: load generator busy", 100 * part["client_busy"], "%"))
    made = ", ".join(f"{len(part['ns'][0])} ({part['connections']})" for part in parts)
    notes.append(f"pairs of rounds made (connections): {made}")
    if any(part["server_cpu_us"] is None for part in parts):
        notes.append(
            "server CPU: not reported where the rounds are too short to measure it from"
            " /proc (--quick), or where there is no /proc"
        )
    notes.append(
        "the table's requests are round trips; server CPU is each uvicorn process's user +"
        " system time over all its rounds, over its round trips; 'load generator busy' is"
        " the client's CPU time over the rounds' wall time (100% = one core saturated)"
    )
    return Result("websocket", _TITLE, tuple(rows), tuple(ratios), tuple(figures), tuple(notes))


_TITLE = "WebSocket echo under uvicorn: pagesfn on_websocket vs Starlette WebSocketRoute"


def _uvicorn(name: str, target: str, root: Path) -> serving.Server:
    """The suite's uvicorn command, with the WebSocket implementation named: the same for
    both servers whatever ``auto`` picks in a given uvicorn."""
    base = serving.uvicorn(name, target, root)
    return serving.Server(name, (*base.argv, "--ws", WS), f"{base.stack}, {WS}")


def _drive(plan: Plan) -> list[dict[str, Any]]:
    """Run the load generator on ``plan``; its measurements, one part per number of
    connections."""
    argv = [sys.executable, "-m", "benchmarks.websocket", json.dumps(asdict(plan))]
    budget = 120 + 2 * (plan.budget + 2 * plan.warmup) * len(plan.connections)
    done = subprocess.run(
        argv,
        env=serving.environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        timeout=budget,
        check=False,
    )  # its progress and errors go to stderr, as the suite's do
    if done.returncode != 0:
        raise BenchmarkError(f"the WebSocket load generator failed (status {done.returncode})")
    parts: list[dict[str, Any]] = json.loads(done.stdout)
    return parts


# -- the load generator, in its own process --------------------------------------------------


async def _generate(plan: Plan) -> list[dict[str, Any]]:
    from websockets.asyncio.client import connect

    parts = []
    for count in plan.connections:
        progress("websocket", f"{count} connection(s) to each server")
        sockets = [
            await asyncio.gather(
                *(connect(url, compression=None, ping_interval=None) for _ in range(count))
            )
            for url in plan.urls
        ]
        try:
            parts.append(await _part(plan, count, sockets))
        finally:
            await asyncio.gather(*(ws.close() for side in sockets for ws in side))
    return parts


async def _part(plan: Plan, count: int, sockets: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Warm both servers up, size the rounds, and time ``plan.pairs`` pairs of them."""
    n = plan.round_trips
    if n is None:
        rates = []
        for side in sockets:
            elapsed, trips, probe = 0.0, 0, 16
            while elapsed < plan.warmup:
                start = time.perf_counter()
                await _round(side, probe)
                elapsed += time.perf_counter() - start
                trips += probe * count
                probe *= 2
            rates.append(trips / elapsed)
        n = max(1, math.ceil(plan.round_seconds * statistics.mean(rates) / count))
    else:
        for side in sockets:
            await _round(side, n)
    progress("websocket", f"{count} connection(s): {plan.pairs} pairs of rounds of {n} each")
    ns: list[list[float]] = [[], []]
    cpu = [0.0, 0.0]
    wall = busy = 0.0
    for pair in range(plan.pairs):
        if pair % 2 == 0 and wall > plan.budget:
            break  # after as many pairs of each order
        order = (0, 1) if pair % 4 in (0, 3) else (1, 0)
        for i in order:
            server = _cpu_seconds(plan.pids[i])
            client = time.process_time()
            start = time.perf_counter_ns()
            await _round(sockets[i], n)
            elapsed = time.perf_counter_ns() - start
            busy += time.process_time() - client
            wall += elapsed / 1e9
            ns[i].append(elapsed / (n * count))
            after = _cpu_seconds(plan.pids[i])
            if server is not None and after is not None:
                cpu[i] += after - server
    trips = len(ns[0]) * n * count  # per server
    measured = min(cpu) * _TICKS >= _MIN_TICKS
    progress("websocket", f"{count} connection(s): {len(ns[0])} pairs of rounds in {wall:.1f} s")
    return {
        "connections": count,
        "round_trips": n * count,
        "ns": ns,
        "server_cpu_us": [c / trips * 1e6 for c in cpu] if measured else None,
        "client_busy": busy / wall,
    }


async def _round(side: Sequence[Any], n: int) -> None:
    """``n`` round trips on each connection of ``side``, the connections concurrently."""
    await asyncio.gather(*(_echo(ws, n) for ws in side))


async def _echo(ws: Any, n: int) -> None:
    for _ in range(n):
        await ws.send(MESSAGE)
        answer = await ws.recv()
        if answer != MESSAGE:
            raise BenchmarkError(f"the echo answered {answer[:80]!r}, expected {MESSAGE!r}")


# /proc counts CPU time in clock ticks (10 ms): below a few hundred the figure says little.
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_MIN_TICKS = 200  # of CPU time per server and part, for its server CPU figure


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads), or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def main(argv: Sequence[str]) -> None:
    """The load generator: ``python -m benchmarks.websocket PLAN`` (a :class:`Plan` as
    JSON) prints its measurements as JSON."""
    raw = json.loads(argv[0])
    for name in ("urls", "pids", "connections"):
        raw[name] = tuple(raw[name])
    json.dump(asyncio.run(_generate(Plan(**raw))), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
