"""`python -m storefront.serving`: several workers on one port, each with a socket of its own, so
connections opened together are spread over the workers; a dead or stuck worker replaced; all
stopped together; a taken port reported at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storefront.serving import listening_on
from tests.support.db import ROOT

APP = "tests.support.pid_app:create_app"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(port: int, workers: int, app: str = APP, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "storefront.serving", app, "--port", str(port), "--workers", str(workers), *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own: the server and its workers
    )


@contextmanager
def _serving(workers: int, *options: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """The test app served by `workers` workers on a free port, once they all listen; killed at
    the end if the test has not stopped it."""
    port = _free_port()
    process = _start(port, workers, APP, *options)
    try:
        _wait_for_listeners(port, workers, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for_listeners(port: int, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while listening_on(port) < count:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{listening_on(port)} of {count} workers listen"
        time.sleep(0.05)


def _wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text():
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.05)


def _connect_all(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def _worker_pids(port: int, count: int) -> set[int]:
    """The workers' process ids, as they answer."""
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < count:
        assert time.monotonic() < deadline, f"only {pids} answered"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            pids.add(_pid_of(connection))
    return pids


def _burst(port: int, workers: list[int]) -> Counter[int]:
    """Opens 32 connections while the workers are paused, as wrk or a proxy opening its pool does
    faster than a worker wakes; then which worker answers on each."""
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        connections = _connect_all(port, 32)
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    try:
        return Counter(_pid_of(connection) for connection in connections)
    finally:
        for connection in connections:
            connection.close()


def _pid_of(connection: socket.socket) -> int:
    connection.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
    return _answer(connection)


def _answer(connection: socket.socket) -> int:
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.split(b"\r\n\r\n", 1)[1]:
        chunk = connection.recv(4096)
        assert chunk, answer
        answer += chunk
    return int(answer.split(b"\r\n\r\n", 1)[1])


def test_connections_opened_together_are_spread_over_the_workers_and_all_stop_together() -> None:
    with _serving(2) as (port, process):
        workers = sorted(_worker_pids(port, 2))
        served = _burst(port, workers)
        # The kernel picks a worker's socket by a hash of each connection's addresses: fewer than
        # 4 of 32 for one of two workers happens about 3 times in a million.
        assert min(served[pid] for pid in workers) >= 4, served

        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"GET /frozen HTTP/1.1\r\nHost: shop\r\n\r\n")
            assert _answer(connection) > 1000  # what it built to serve is frozen, out of the collector's sight

        os.kill(workers[0], signal.SIGKILL)  # a worker that dies is replaced
        _wait_until_gone(workers[0])
        _wait_for_listeners(port, 2, process)
        now = _worker_pids(port, 2)
        assert workers[1] in now and workers[0] not in now, now

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
        assert listening_on(port) == 0
        for pid in now:  # no worker left behind
            _wait_until_gone(pid)


def test_a_worker_whose_event_loop_is_stuck_is_replaced() -> None:
    with _serving(1, "--hang-limit", "3") as (port, process):
        (stuck,) = _worker_pids(port, 1)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"GET /stuck HTTP/1.1\r\nHost: shop\r\n\r\n")  # its loop never runs again
            started = time.monotonic()
            _wait_until_gone(stuck)
        assert time.monotonic() - started > 1.5  # not before the limit (3 s since its last beat)
        _wait_for_listeners(port, 1, process)
        assert _worker_pids(port, 1) != {stuck}
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=40)
        assert process.returncode == 0
        assert f"worker {stuck} has not run its event loop for 3 s; killing it" in output
        assert f"worker {stuck} ended (exit -9); starting another" in output


def test_workers_paused_with_their_supervisor_are_not_taken_for_stuck() -> None:
    with _serving(1, "--hang-limit", "3") as (port, process):
        (worker,) = _worker_pids(port, 1)
        os.killpg(process.pid, signal.SIGSTOP)  # as a frozen cgroup or a paused machine: all of it
        time.sleep(6)
        os.killpg(process.pid, signal.SIGCONT)
        time.sleep(2)
        assert _worker_pids(port, 1) == {worker}
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=40)
        assert "killing it" not in output


def test_a_port_in_use_is_reported_at_once_and_nothing_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _start(port, 2)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "Address already in use" in output


def test_an_app_that_cannot_start_stops_the_server_instead_of_restarting_for_ever() -> None:
    port = _free_port()
    process = _start(port, 2, app="tests.support.pid_app:no_such_factory")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 3
    assert "could not start" in output
    assert "starting another" not in output
