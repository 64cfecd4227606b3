"""Several worker processes, each accepting on a listening socket of its own.

When workers share one listening socket, whichever wakes first takes every connection
waiting, so a burst of new connections can land almost all on one worker (62/2 was seen
with two). With `SO_REUSEPORT` each worker listens on a socket of its own, all bound to the
same address, and the kernel spreads new connections across them by a hash of each
connection's addresses and ports.

The sockets are bound here, in the supervising process, before any worker starts: a port
taken by something else is refused at once, and a worker that dies is replaced on the same
socket, so the connections waiting in its queue are served by the replacement rather than
lost. Each worker is uvicorn's `Server` run on its socket (uvicorn's public API); this
process only starts, watches and stops them.

Where the platform has no `SO_REUSEPORT` (Windows), the workers share one socket, as
uvicorn's own supervisor runs them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import uvicorn

from vicidid.web.drain import DrainingServer

STARTUP_FAILED = 3  # a worker's exit code when its app could not start (uvicorn's own)
STOP_SECONDS = 30.0  # how long a stopping worker may take to finish what it serves
STARTING_SECONDS = 10.0  # a worker that fails this soon after its start is not started again


def reuse_port() -> bool:
    """Whether each worker can have a listening socket of its own on one address."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening(family: socket.AddressFamily, address: tuple[str, int]) -> socket.socket:
    """A listening socket that other sockets may bind to the same address (`SO_REUSEPORT`)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(config: uvicorn.Config, sock: socket.socket, grace: float) -> None:
    """One worker: uvicorn's server on its socket (the target of a worker process), which
    drains for up to `grace` seconds on SIGTERM (web/drain.py)."""
    config.configure_logging()  # a spawned process starts without the parent's logging
    server = DrainingServer(config, grace)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILED)  # the app could not start; uvicorn has logged why


class Supervisor:
    """Starts a worker per socket, replaces one that dies, stops them all on SIGINT/SIGTERM."""

    def __init__(
        self,
        config: uvicorn.Config,
        sockets: list[socket.socket],
        grace: float = 0.0,
        target: Callable[[uvicorn.Config, socket.socket, float], None] = serve,
    ) -> None:
        self.config, self.sockets, self.target = config, sockets, target
        self.grace = grace  # seconds each worker may drain on SIGTERM
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess | None] = [None] * len(sockets)
        self.started = [0.0] * len(sockets)
        self.stopping = threading.Event()
        self.signal = signal.SIGTERM  # what the workers are sent when they are to stop
        self.exit_code = 0

    def start(self, index: int) -> None:
        process = self.context.Process(
            target=self.target,
            args=(self.config, self.sockets[index], self.grace),
            name=f"vicidid-worker-{index}",
            daemon=False,
        )
        process.start()
        self.processes[index] = process
        self.started[index] = time.monotonic()

    def run(self) -> int:
        """Serve until asked to stop; the exit code (3 when a worker could not start)."""
        previous = {
            sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for index in range(len(self.sockets)):
                self.start(index)
            while not self.stopping.wait(0.5):
                self.replace_dead()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code

    def on_signal(self, sig: int, frame: object) -> None:
        """Stop serving: the workers get the same signal (SIGTERM: they drain, SIGINT: they
        do not); a second one while they stop is passed on, so they skip their drain."""
        if self.stopping.is_set():
            self.send(sig)
        self.signal = signal.Signals(sig)
        self.stopping.set()

    def send(self, sig: int) -> None:
        for process in self.processes:
            if process is not None and process.pid is not None and process.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(process.pid, sig)

    def replace_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process is None or process.is_alive():
                continue
            process.join()
            # an exit of its own (not a signal, such as the OOM killer's) soon after its start
            failed = (process.exitcode or 0) > 0
            if process.exitcode == STARTUP_FAILED or (
                failed and time.monotonic() - self.started[index] < STARTING_SECONDS
            ):
                # the app cannot start (the database is unreadable, the settings are
                # wrong): starting it again would only fail again, so stop serving
                self.exit_code = STARTUP_FAILED
                self.stopping.set()
                return
            self.start(index)

    def stop(self) -> None:
        """Ask every worker to finish (on SIGTERM each drains, web/drain.py), then wait:
        up to the drain's grace and 30 s more, then it is killed."""
        # this process's copies of the sockets closed first: a worker that has drained and
        # exited then takes its socket with it, and the kernel sends new connections to
        # the workers still serving rather than to a queue nobody accepts from
        for sock in self.sockets:
            sock.close()
        alive = [p for p in self.processes if p is not None and p.is_alive()]
        self.send(self.signal)
        for process in alive:
            process.join(self.grace + STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
