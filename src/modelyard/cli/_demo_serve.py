"""The demo's serving step: start the server on the champion, send a burst, stop it.

The server runs as a real separate process (``python -m modelyard serve``), so
the demo shows what users run; it is stopped with SIGTERM, which drains
in-flight requests before exiting.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.table import Table

from modelyard.cli.app import console
from modelyard.exceptions import ModelyardError

__all__ = ["serve_burst"]

_READY_TIMEOUT_S = 120.0
_CONCURRENCY = 16


def serve_burst(
    home: Path, ref: str, records: list[dict[str, Any]], *, requests: int = 400
) -> None:
    """Serve ``ref`` from ``home``, send ``requests`` single-row requests, print latency."""
    port = _free_port()
    log_path = home / "demo-server.log"
    env = {**os.environ, "MODELYARD_HOME": str(home)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "serve", ref, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with console.status(f"starting the server on {ref}"):
                _wait_ready(url, process, log_path)
            latencies, answers = asyncio.run(_burst(url, ref.split("@")[0], records, requests))
            _show(url, latencies, answers, records)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            code = process.wait(60)
    # uvicorn re-raises the SIGTERM it handled once it has drained, hence -15 as well as 0.
    if code not in (0, -signal.SIGTERM):
        raise ModelyardError(f"the server exited with code {code}; its log: {log_path}")
    console.print("server stopped: SIGTERM, readiness off, in-flight requests drained")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelyardError(f"the server exited early; its log: {log_path}")
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise ModelyardError(f"the server was not ready after {_READY_TIMEOUT_S:g}s; log: {log_path}")


async def _burst(
    url: str, name: str, records: list[dict[str, Any]], requests: int
) -> tuple[list[float], list[dict[str, Any]]]:
    latencies: list[float] = []
    answers: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=_CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(first: int) -> None:
            for i in range(first, requests, _CONCURRENCY):
                started = time.perf_counter()
                answer = await client.post(
                    f"/v1/models/{name}:predict", json={"records": [records[i % len(records)]]}
                )
                latencies.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
                if i < len(records):
                    answers.append(answer.json())

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(_CONCURRENCY)))
        latencies.append(-(time.perf_counter() - started))  # total, marked negative
    return latencies, answers


def _show(
    url: str, latencies: list[float], answers: list[dict[str, Any]], records: list[dict[str, Any]]
) -> None:
    total_s = -latencies.pop()
    ms = np.asarray(latencies)
    table = Table(
        title=f"burst: {len(ms)} single-row requests, {_CONCURRENCY} at a time ({url}); "
        "client-side latency, Python client on the same cores"
    )
    for col in ("requests/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{len(ms) / total_s:,.0f}",
        f"{np.percentile(ms, 50):.2f}",
        f"{np.percentile(ms, 99):.2f}",
        f"{ms.max():.2f}",
    )
    console.print(table)
    sample = Table(title="a few predictions")
    for col in ("customer", "plan", "tenure", "churn?", "p(churn)", "model"):
        sample.add_column(col)
    for record, answer in list(zip(records, answers, strict=False))[:5]:
        sample.add_row(
            str(record.get("customer_id", "-"))[:10],
            str(record.get("plan", "-")),
            str(record.get("tenure_months", "-")),
            str(answer["predictions"][0]),
            f"{answer['probabilities'][0][-1]:.3f}",
            f"{answer['model']}@{answer['version']}",
        )
    console.print(sample)
