"""Server processes for ``benchmarks/serving.py``: start, wait until ready, always stop.

Every server starts in its own session (``start_new_session``), so it and every
process it spawns (uvicorn and granian workers, MLflow's uvicorn child) share one
process group; :func:`running` ends that whole group when its block exits, however
it exits: SIGTERM, then SIGKILL after a grace period, then SIGKILL to the group
once more for any straggler. Ports are fresh free ones, so a server that somehow
outlived its run cannot answer for the next side.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

STOP_GRACE_S = 15.0


class ServerError(RuntimeError):
    """A server exited before it was ready, or never became ready."""


@dataclass(frozen=True)
class ServerCommand:
    """How to start one server and how to tell that it is ready."""

    argv: Sequence[str]
    ready_path: str
    env: Mapping[str, str]
    cwd: Path
    ready_timeout_s: float = 180.0


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file (empty when it does not exist)."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float, log: Path) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took.

    Raises:
        ServerError: The process exited first, or ``timeout_s`` passed.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise ServerError(
                f"the server exited with {process.returncode} before {url} was ready; "
                f"its log ({log}):\n{tail(log)}"
            )
        if _ready(url):
            return time.perf_counter() - started
        time.sleep(0.25)
    raise ServerError(f"{url} not ready after {timeout_s:g} s; the log ({log}):\n{tail(log)}")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group: SIGTERM, then SIGKILL if it lingers."""
    pgid = process.pid  # the session leader: its pid is the group id
    _signal_group(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(pgid, signal.SIGKILL)
        process.wait(timeout=STOP_GRACE_S)
    time.sleep(0.2)  # let workers that saw the parent go finish exiting
    _signal_group(pgid, signal.SIGKILL)  # any straggler of the group


@contextlib.contextmanager
def running(command: ServerCommand, port: int, log: Path) -> Iterator[float]:
    """Run the server for the block; yield the seconds it took to get ready."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(command.argv),
            cwd=command.cwd,
            env=dict(command.env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}{command.ready_path}"
            yield wait_ready(process, url, command.ready_timeout_s, log)
        finally:
            stop(process)
