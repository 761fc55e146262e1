"""Load from ``wrk`` for ``benchmarks/serving.py``: a POST script, one run, its numbers.

``wrk`` (the Debian package) sends the same JSON body over a fixed number of
keep-alive connections for a fixed time. The Lua script sets the method, the
header and the body, and its ``done`` hook prints one line of exact numbers
(``WRKJSON {...}``): requests, duration, the latency percentiles in microseconds
from wrk's histogram, and the error counters (``status``: answers of 400 and up;
``connect``/``read``/``write``/``timeout``: socket errors). ``--latency`` also
prints wrk's own distribution, kept in the log.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK_INSTALL = "apt-get install -y wrk"
_MARK = "WRKJSON "
_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(%(path)s, "rb"))
wrk.body = file:read("*a")
file:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, '
    .. '"read": %%d, "write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%d, '
    .. '"p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


class LoadError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


@dataclass(frozen=True)
class Load:
    """How hard and how long to push: the same for every side."""

    connections: int = 32
    threads: int = 2
    seconds: float = 15.0
    warmup_seconds: float = 3.0
    timeout_s: float = 10.0


def require_wrk() -> str:
    """The path of ``wrk``.

    Raises:
        LoadError: It is not installed (the message says how to install it).
    """
    found = shutil.which("wrk")
    if found is None:
        raise LoadError(f"wrk is not installed; install it with `{WRK_INSTALL}` (Debian)")
    return found


def write_script(body: Path) -> Path:
    """The Lua script that POSTs the bytes of ``body``, beside it."""
    quoted = json.dumps(str(body.resolve()))  # a JSON string is a valid Lua string here
    script = body.with_suffix(".lua")
    script.write_text(_SCRIPT % {"path": quoted, "mark": _MARK})
    return script


def parse(output: str) -> dict[str, Any]:
    """The numbers of one run from wrk's output (req/s, ms, errors).

    Raises:
        LoadError: No ``WRKJSON`` line in ``output``.
    """
    line = next((ln for ln in output.splitlines() if ln.startswith(_MARK)), None)
    if line is None:
        raise LoadError(f"wrk printed no result line:\n{output[-2000:]}")
    raw: dict[str, Any] = json.loads(line[len(_MARK) :])
    seconds = raw["duration_us"] / 1e6
    sockets = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": raw["requests"] / seconds if seconds > 0 else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "non_2xx": raw["status"],
        "socket_errors": sockets,
        "errors": raw["status"] + sockets,
    }


def run_wrk(url: str, script: Path, load: Load, seconds: float, log: Path) -> dict[str, Any]:
    """One wrk run against ``url`` for ``seconds``; its output goes to ``log`` too.

    Raises:
        LoadError: wrk failed or printed no result line.
    """
    command = [
        require_wrk(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={load.timeout_s:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    with log.open("a") as sink:
        sink.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise LoadError(f"wrk exited with {done.returncode}:\n{done.stderr[-2000:]}")
    return parse(done.stdout)
