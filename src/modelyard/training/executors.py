"""Where trials run: this process, local worker processes, or Ray tasks.

Every executor runs the same :func:`~modelyard.training.search.run_trials` loop,
which pulls trials from the shared study until the budget is spent, so the
executors differ only in how they start workers.
"""

from __future__ import annotations

import multiprocessing
from typing import Any, Protocol

from modelyard.exceptions import MissingDependencyError, ModelyardError
from modelyard.training.search import SearchJob, run_trials

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "make_executor"]


class Executor(Protocol):
    """Runs ``n_workers`` copies of the trial loop and waits for them."""

    def run(self, job: SearchJob, n_workers: int) -> int:
        """Run the workers; returns the number of trials they ran."""
        ...


class LocalExecutor:
    """Worker 0 in this process, the others in spawned worker processes.

    Spawned workers start clean (no threads or connections inherited from this
    process), which costs an interpreter start each (~2 s) but is safe with the
    thread pools that pyarrow, DuckDB and BLAS keep. This process runs trials
    while they start instead of waiting for them.
    """

    def run(self, job: SearchJob, n_workers: int) -> int:
        """Run the trial loop in ``n_workers`` workers (this process included)."""
        if n_workers == 1:
            return run_trials(job)
        context = multiprocessing.get_context("spawn")
        with context.Pool(n_workers - 1) as pool:
            others = [pool.apply_async(run_trials, (job, i)) for i in range(1, n_workers)]
            here = run_trials(job, 0)
            return here + sum(r.get() for r in others)


class RayExecutor:
    """Ray tasks on a cluster (``address``) or a local Ray instance (``num_cpus``).

    The workers must reach the metadata database: use PostgreSQL for a real
    cluster; a local instance shares this machine's SQLite file.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus

    def run(self, job: SearchJob, n_workers: int) -> int:
        """Run the trial loop as ``n_workers`` Ray tasks, one CPU each."""
        try:
            import ray
        except ImportError as exc:
            raise MissingDependencyError(
                "executor: ray needs Ray; install it with pip install 'modelyard[ray]'",
                extra="ray",
            ) from exc
        started_here = not ray.is_initialized()
        if started_here:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                options["address"] = self.address
            else:
                options["num_cpus"] = self.num_cpus or n_workers
            ray.init(**options)
        try:
            remote: Any = ray.remote(num_cpus=1)(run_trials)
            shared = ray.put(job)
            return int(sum(ray.get([remote.remote(shared, i) for i in range(n_workers)])))
        except ray.exceptions.RayError as exc:
            raise ModelyardError(f"a Ray worker failed: {exc}") from exc
        finally:
            if started_here:
                ray.shutdown()


def make_executor(kind: str, address: str | None = None) -> Executor:
    """The executor named by the spec (``local`` or ``ray``)."""
    if kind == "ray":
        return RayExecutor(address)
    return LocalExecutor()
