"""One side of ``benchmarks/training.py``, run in its own process: print one JSON line.

Run by the driver as ``python -m benchmarks._training_side SIDE WORKDIR --rows R
--trials N --family F`` with SIDE one of ``plain``, ``ours1`` (one worker),
``ours2`` (two worker processes) or ``quality``. Imports and the data are made
before the clock starts; what each side times is described in its module
(:mod:`benchmarks._training_plain`, :mod:`benchmarks._training_ours`).

Besides the wall seconds, the JSON line holds the CPU seconds of the timed part
(this process and any worker processes it reaped, user + system), the per-trial
durations from the Optuna study (start to completion of each trial), and the
best CV score. ``--profile FILE`` writes a cProfile of the timed part (use it with
``ours1``: the worker processes of ``ours2`` are not profiled).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna

SIDES = ("plain", "ours1", "ours2", "quality")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, once joined
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def trial_stats(
    trials: list[optuna.trial.FrozenTrial], started: datetime, ended: datetime
) -> dict[str, Any]:
    """Counts and durations of a study's trials (seconds, start to completion).

    ``started`` and ``ended`` bound the timed call (local time, as Optuna records
    trials): the seconds before the first trial started and after the last one ended
    are the call's fixed costs (``before_trials_seconds``, ``after_trials_seconds``).
    """
    spans = [
        (t.datetime_start, t.datetime_complete)
        for t in trials
        if t.datetime_start is not None and t.datetime_complete is not None
    ]
    durations = [(end - start).total_seconds() for start, end in spans]
    first = min((start for start, _ in spans), default=started)
    last = max((end for _, end in spans), default=started)
    states = [t.state.name for t in trials]
    return {
        "trials": states.count("COMPLETE"),
        "trials_other": len(states) - states.count("COMPLETE"),
        "trial_seconds_median": statistics.median(durations) if durations else None,
        "trial_seconds_sum": sum(durations),
        "search_span_seconds": (last - first).total_seconds(),
        "before_trials_seconds": (first - started).total_seconds(),
        "after_trials_seconds": (ended - last).total_seconds(),
    }


def _run(side: str, args: argparse.Namespace) -> dict[str, Any]:
    if side == "quality":
        from benchmarks._training_quality import run_quality

        return {"quality": run_quality(args.workdir)}
    from benchmarks._training_data import churn_frame

    frame = churn_frame(args.rows)
    profiler = cProfile.Profile() if args.profile else None
    before = _cpu_seconds()
    if profiler is not None:
        profiler.enable()
    if side == "plain":
        from benchmarks._training_plain import run_plain

        result = run_plain(frame, args.family, args.trials)
        trials = result.pop("study").get_trials()
    else:
        from benchmarks._training_ours import run_ours

        n_jobs = 1 if side == "ours1" else 2
        result = run_ours(frame, args.family, args.trials, n_jobs, args.workdir)
        trials = result.pop("study_trials")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    result["cpu_seconds"] = _cpu_seconds() - before
    result.update(trial_stats(trials, result.pop("started_at"), result.pop("ended_at")))
    return result


def main() -> None:
    """Run the side named on the command line and print its JSON line."""
    parser = argparse.ArgumentParser(description="one side of the training benchmark")
    parser.add_argument("side", choices=SIDES)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--family", default="linear")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    # Paid before any clock starts, the same for every side.
    import sklearn.linear_model  # noqa: F401

    import modelyard.training  # noqa: F401

    result = _run(args.side, args)
    result["side"] = args.side
    sys.stdout.flush()
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
