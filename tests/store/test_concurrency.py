"""Many processes writing to one store at once: every point lands, nobody fails."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from modelyard.store import TrackingStore
from modelyard.store.schema import latest_metrics, metrics

PROCESSES = 8
POINTS = 2_000


def _log_many(url: str, worker: int, errors: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        # Every worker opens the store itself, so eight of them may race to migrate
        # an empty database; that must be safe too.
        store = TrackingStore(url)
        exp = store.get_or_create_experiment("concurrency")
        run_id = store.create_run(exp.experiment_id, name=f"worker-{worker}").run_id
        for step in range(POINTS):
            store.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        store.close()
    except BaseException as exc:
        errors.put(f"worker {worker}: {type(exc).__name__}: {exc}")
        raise


def _hammer(url: str) -> None:
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_log_many, args=(url, w, errors)) for w in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
    reported = []
    while not errors.empty():
        reported.append(errors.get())
    assert reported == []
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    store = TrackingStore(url)
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(metrics)).scalar_one()
        per_run = conn.execute(
            select(
                metrics.c.run_id, func.count(), func.count(func.distinct(metrics.c.step))
            ).group_by(metrics.c.run_id)
        ).all()
        latest = conn.execute(select(latest_metrics.c.step)).scalars().all()
    store.close()
    assert total == PROCESSES * POINTS
    assert len(per_run) == PROCESSES
    assert all(count == POINTS and steps == POINTS for _, count, steps in per_run)
    assert latest == [POINTS - 1] * PROCESSES


@pytest.mark.slow
def test_eight_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    _hammer(f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_processes_on_postgres(pg_database: Callable[[], str]) -> None:
    _hammer(pg_database())


def test_threads_sharing_one_store(store: TrackingStore) -> None:
    """One store object used from many threads (each holds its own connection)."""
    import threading

    exp = store.get_or_create_experiment("threads").experiment_id
    run_ids = [store.create_run(exp).run_id for _ in range(4)]
    failures: list[BaseException] = []

    def work(run_id: str) -> None:
        try:
            for step in range(300):
                store.log_metric(run_id, "loss", float(step), step=step)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    for run_id in run_ids:
        assert len(store.get_metric_history(run_id, "loss")) == 300
        assert store.get_run(run_id).data.metrics == {"loss": 299.0}


def _log_from_fork(store: TrackingStore, run_id: str) -> None:
    for step in range(100, 200):
        store.log_metric(run_id, "loss", float(step), step=step)
    store.get_run(run_id)


def test_a_forked_child_can_keep_using_the_store(store: TrackingStore) -> None:
    """After fork the child opens its own connections instead of sharing the parent's."""
    exp = store.get_or_create_experiment("fork").experiment_id
    run_id = store.create_run(exp).run_id
    for step in range(100):  # the parent holds pooled and hot-path connections now
        store.log_metric(run_id, "loss", float(step), step=step)
    child = mp.get_context("fork").Process(target=_log_from_fork, args=(store, run_id))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    for step in range(200, 300):
        store.log_metric(run_id, "loss", float(step), step=step)
    assert [m.step for m in store.get_metric_history(run_id, "loss")] == list(range(300))
