"""The worker processes of ``pagesfn serve --workers N``.

N processes serve one listening socket. A worker that dies while serving (killed, out of
memory, ``os._exit()`` in app code) is replaced at once, whatever its exit status; a
worker that dies before it has started serving means the app cannot start (a mounted
app's lifespan failed): every worker is stopped and the command ends with status 3.
SIGINT and SIGTERM stop the workers gracefully, each within the server's shutdown timeout.

uvicorn's own supervisor stops the whole server when any worker exits with status 3, even
one that had been serving for hours; this one tells the two cases apart by whether the
worker said it was ready.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

logger = logging.getLogger("pagesfn")

#: The exit status of a command whose app could not start (uvicorn's, too).
STARTUP_FAILURE = 3

_spawn = multiprocessing.get_context("spawn")


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that tells the supervisor once it has started serving."""

    def __init__(self, config: uvicorn.Config, ready: multiprocessing.synchronize.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()


def _serve(
    config: uvicorn.Config,
    sockets: list[socket.socket],
    ready: multiprocessing.synchronize.Event,
) -> None:
    """The body of a worker process."""
    config.configure_logging()  # a spawned process starts with no logging set up
    server = _ReadyServer(config, ready)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole group
        server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


@dataclass
class _Worker:
    process: BaseProcess
    ready: multiprocessing.synchronize.Event


class Supervisor:
    """Run ``workers`` server processes of ``config`` until asked to stop."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        self.count = workers
        self.sockets = [config.bind_socket()]
        self.workers: list[_Worker] = []
        self.stopping = threading.Event()
        #: How long a worker gets to finish its requests when stopped.
        self.grace = float(config.timeout_graceful_shutdown or 30) + 5

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM, or a worker fails to start; the exit status."""
        previous = {
            number: signal.signal(number, self._stop) for number in (signal.SIGINT, signal.SIGTERM)
        }
        logger.info("Started parent process [%d]", os.getpid())
        status = 0
        try:
            self.workers = [self._start() for _ in range(self.count)]
            while not self.stopping.wait(0.2):
                failed = self._replace_the_dead()
                if failed:
                    status = STARTUP_FAILURE
                    break
        finally:
            self._stop_all()
            for number, handler in previous.items():
                signal.signal(number, handler)
            for sock in self.sockets:
                sock.close()
        logger.info("Stopping parent process [%d]", os.getpid())
        return status

    def _stop(self, number: int, frame: Any) -> None:
        self.stopping.set()

    def _start(self) -> _Worker:
        ready = _spawn.Event()
        process = _spawn.Process(target=_serve, args=(self.config, self.sockets, ready))
        process.start()
        return _Worker(process, ready)

    def _replace_the_dead(self) -> bool:
        """Start a worker for each one that died while serving; True when one died before
        it started serving (the app cannot start)."""
        for index, worker in enumerate(self.workers):
            process = worker.process
            if process.is_alive():
                continue
            process.join()
            if not worker.ready.is_set():
                logger.error(
                    "Worker process [%s] failed to start (status %s); stopping",
                    process.pid,
                    process.exitcode,
                )
                return True
            if self.stopping.is_set():
                return False
            logger.warning(
                "Worker process [%s] exited with status %s while serving; starting another",
                process.pid,
                process.exitcode,
            )
            self.workers[index] = self._start()
        return False

    def _stop_all(self) -> None:
        alive = [worker.process for worker in self.workers if worker.process.is_alive()]
        for process in alive:
            process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        for process in alive:
            process.join(self.grace)
            if process.is_alive():
                logger.error("Worker process [%s] did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
