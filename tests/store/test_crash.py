"""A writer killed with SIGKILL loses nothing it had been told was stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelyard.store import TrackingStore

CHILD = textwrap.dedent(
    """
    import sys
    from modelyard.store import TrackingStore

    store = TrackingStore(sys.argv[1])
    exp = store.get_or_create_experiment("crash")
    run_id = store.create_run(exp.experiment_id).run_id
    print(run_id, flush=True)
    step = 0
    while True:
        store.log_metric(run_id, "loss", step * 0.5, step=step)
        print(step, flush=True)  # only after log_metric returned
        step += 1
    """
)


@pytest.mark.slow
def test_sigkill_mid_logging_keeps_every_returned_point(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 1500:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    # The child kept logging while we read: steps it acknowledged before dying may
    # still sit unread in the pipe, so drain it to learn the last acknowledged step.
    for line in child.stdout:
        acknowledged = int(line)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = TrackingStore(url)
    history = store.get_metric_history(run_id, "loss")
    steps = [m.step for m in history]
    # Everything acknowledged is there; at most the one in flight may be too.
    assert steps[: acknowledged + 1] == list(range(acknowledged + 1))
    assert len(steps) <= acknowledged + 2
    assert store.get_run(run_id).data.metrics["loss"] == steps[-1] * 0.5
    store.close()
