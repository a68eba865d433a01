"""How the shop is served in production: `python -m storefront.serving --workers N …`.

uvicorn's own `--workers N` binds one listening socket and every worker waits on it; when
several connections arrive at once (a proxy opening its pool, a crowd of visitors), the worker
that wakes first accepts nearly all of them and the others idle (measured with two workers and
32 connections opened together: 32 and 0, 31 and 1, 28 and 4). Here each worker listens on a
socket of its own on the same port (SO_REUSEPORT), and the kernel spreads new connections
over the workers by a hash of their addresses.

Each worker is a one-worker uvicorn server on Python's asyncio loop with `HttpProtocol`; this
process starts them, restarts one that dies or whose event loop stops running, and stops them
all on SIGTERM or SIGINT. A stuck worker must be replaced, not waited for: the kernel keeps
handing its socket a share of the new connections, which would wait for ever.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("storefront.serving")

RESTART_PAUSE_S = 1.0  # before a worker that ended is replaced
STOP_WAIT_S = 30.0  # for the workers to finish their requests on shutdown, then they are killed
BEAT_S = 1.0  # how often a worker's event loop says it runs
# A pause this long in this process's own loop (it sleeps 0.2 s) means it was stopped itself (SIGSTOP,
# a frozen cgroup, a paused machine), and with it its workers: their beats are then as old as the
# pause, and no sign of a hang.
PAUSED_S = 5.0
# A worker whose event loop has not run for this long is killed and replaced. Far above anything
# the shop does between two awaits (SQLite's busy timeout, 5 s, is the longest wait).
HANG_LIMIT_S = 30.0


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with Nagle's algorithm off on every connection.

    asyncio turns TCP_NODELAY on only for sockets it creates itself, naming TCP as their
    protocol; on a socket made elsewhere (uvicorn's `--workers N`, this module's workers) each
    answer on a kept-alive connection then waited for the client's delayed ACK, about 40 ms on
    Linux (https://github.com/Kludex/uvicorn/issues/3149). Setting it here holds for every way
    the socket was made."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other workers' sockets may share (SO_REUSEPORT): the
    kernel then hands each new connection to one of them. Not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_on(port: int) -> int:
    """How many sockets listen on the port, read from the kernel's tables (Linux): one per worker
    once they are all up."""
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                found += int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A"  # 0A: LISTEN
    return found


class _Server(uvicorn.Server):
    """uvicorn's server, telling its supervisor once it serves."""

    def __init__(self, config: uvicorn.Config, serving: ctypes.c_bool) -> None:
        super().__init__(config)
        self.serving = serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:  # asked to stop while starting
            return
        # What the worker built to serve (modules, templates, the catalogue) lives as long as it
        # does: frozen, out of the cyclic collector's sight, so that a full collection no longer
        # walks it. Under load such collections paused a worker for up to 100 ms, then 5 ms. (In
        # the same step as the socket starts listening: no request is served before.)
        gc.collect()
        gc.freeze()
        self.serving.value = True


def _worker(options: dict[str, Any], beat: ctypes.c_double, serving: ctypes.c_bool) -> None:
    """One worker (in a process of its own): a one-worker uvicorn server on its own socket. Its
    event loop writes the time into `beat` (`time.monotonic()`, the same clock in every process)
    every BEAT_S from its start; `serving` is set once the app has started and the socket listens."""
    config = uvicorn.Config(**options)
    try:
        sock = listening_socket(config.host, config.port)
    except OSError as error:
        logging.getLogger("uvicorn.error").error("cannot listen on %s:%s: %s", config.host, config.port, error)
        sys.exit(STARTUP_FAILURE)
    server = _Server(config, serving)

    async def beating() -> None:
        while True:
            beat.value = time.monotonic()
            await asyncio.sleep(BEAT_S)

    async def serve() -> None:
        heart = asyncio.create_task(beating())
        try:
            await server.serve(sockets=[sock])
        finally:
            heart.cancel()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:  # as uvicorn's Server.run
        runner.run(serve())


@dataclass
class _Worker:
    process: BaseProcess
    # Shared with the worker, without a lock (a worker killed while holding it would leave this
    # process waiting for ever; each value is written whole).
    beat: ctypes.c_double  # the last time its event loop ran; 0 before it runs
    serving: ctypes.c_bool  # whether it has started serving

    def stuck_for(self, awake_since: float) -> float:
        """How long its event loop has not run while its supervisor ran, awake since
        `awake_since` (0 before it runs)."""
        return time.monotonic() - max(self.beat.value, awake_since) if self.beat.value else 0.0


class Workers:
    """Starts `count` workers, restarts one that dies or is stuck, stops them all when asked to."""

    def __init__(self, options: dict[str, Any], count: int, hang_limit: float = HANG_LIMIT_S) -> None:
        self.options = options
        self.count = count
        self.hang_limit = hang_limit  # 0: never
        self.workers: list[_Worker] = []
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter, as uvicorn's workers
        self._stopping = False

    @property
    def processes(self) -> list[BaseProcess]:
        return [worker.process for worker in self.workers]

    def _start_one(self) -> _Worker:
        beat = self._context.RawValue(ctypes.c_double, 0.0)
        serving = self._context.RawValue(ctypes.c_bool, False)
        process = self._context.Process(target=_worker, args=(self.options, beat, serving), name="storefront-worker")
        process.start()
        return _Worker(process, beat, serving)

    def stop(self, *_signal: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Serves until SIGTERM or SIGINT (0), or until a worker fails to start (STARTUP_FAILURE)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop)
        self.workers = [self._start_one() for _ in range(self.count)]
        failed = False
        awake_since = checked = time.monotonic()
        while not self._stopping:
            time.sleep(0.2)
            if (now := time.monotonic()) - checked > PAUSED_S:
                awake_since = now
            checked = now
            for index, worker in enumerate(self.workers):
                process = worker.process
                if (process.is_alive() and not self._killed_if_stuck(worker, awake_since)) or self._stopping:
                    continue
                if not worker.serving.value:  # the next one would fail alike
                    logger.error("a worker could not start (exit %s); stopping", process.exitcode)
                    failed = self._stopping = True
                    break
                logger.warning("worker %s ended (exit %s); starting another", process.pid, process.exitcode)
                time.sleep(RESTART_PAUSE_S)
                self.workers[index] = self._start_one()
        self._stop_all()
        return STARTUP_FAILURE if failed else 0

    def _killed_if_stuck(self, worker: _Worker, awake_since: float) -> bool:
        """Kills a worker whose event loop has not run for longer than the hang limit; whether it did."""
        stuck = worker.stuck_for(awake_since)
        if not self.hang_limit or stuck <= self.hang_limit:
            return False
        logger.error("worker %s has not run its event loop for %.0f s; killing it", worker.process.pid, stuck)
        worker.process.kill()  # its loop would never run a SIGTERM handler
        worker.process.join()
        return True

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                    os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes the requests under way
        deadline = time.monotonic() + STOP_WAIT_S
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def parse(argv: Sequence[str]) -> Workers:
    parser = argparse.ArgumentParser(
        prog="python -m storefront.serving",
        description="Serve the shop: N uvicorn workers, each on a socket of its own on one port.",
    )
    parser.add_argument("app", nargs="?", default="storefront.app:create_app", help="the app factory, module:name")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-For/-Proto from the proxy")
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1", help="the proxy's addresses")
    parser.add_argument("--access-log", action="store_true", help="log each request (off: the shop logs its own)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--loop", default="asyncio", help="uvicorn's event loop (default: Python's own)")
    parser.add_argument(
        "--hang-limit",
        type=float,
        default=HANG_LIMIT_S,
        metavar="SECONDS",
        help=f"replace a worker whose event loop has not run for this long (default {HANG_LIMIT_S:.0f}; 0: never)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.port == 0 and args.workers > 1:
        parser.error("--port 0 gives each worker a port of its own: name the port")
    if args.hang_limit < 0 or 0 < args.hang_limit <= 2 * BEAT_S:
        parser.error(f"--hang-limit must be 0 (never) or more than {2 * BEAT_S:.0f} seconds")
    options = {
        "app": args.app,
        "factory": True,
        "host": args.host,
        "port": args.port,
        "loop": args.loop,
        "http": "storefront.serving:HttpProtocol",
        "proxy_headers": args.proxy_headers,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "access_log": args.access_log,
        "log_level": args.log_level,
    }
    return Workers(options, args.workers, args.hang_limit)


def main(argv: Sequence[str] | None = None) -> int:
    workers = parse(sys.argv[1:] if argv is None else argv)
    options = workers.options
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    try:  # a clear answer at once when the port is taken, before any worker starts
        listening_socket(options["host"], options["port"]).close()
    except OSError as error:
        logger.error("cannot listen on %s:%s: %s", options["host"], options["port"], error)
        return STARTUP_FAILURE
    return workers.run()


if __name__ == "__main__":
    # Through the module's own name, so the workers (spawned) find `_worker` where they import it.
    from storefront.serving import main as serve

    raise SystemExit(serve())
