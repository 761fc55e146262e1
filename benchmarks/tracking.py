"""Tracking benchmark: modelyard against MLflow, on this machine, in one run.

Run from the repository root::

    .venv/bin/python -m benchmarks.tracking            # full: 2,000 calls, 1,000 runs, 5 reps
    .venv/bin/python -m benchmarks.tracking --quick    # short: 300 calls, 200 runs, 3 reps
    .venv/bin/python -m benchmarks.tracking --peers-python /path/to/python

(``make peers`` builds ``.venv-peers`` with the pinned MLflow; ``make bench`` runs this.)

Method. Each tool runs in its own subprocess (modelyard with this interpreter, MLflow
with the peers interpreter), one after the other, each with its working directory a
fresh temp folder and each on its *default embedded store* there: modelyard's
``my.connect(home=<folder>)``, MLflow's ``sqlite:///mlflow.db`` (``MLFLOW_*`` and
``MODELYARD_*`` variables are removed from the subprocesses' environment so neither is
pointed elsewhere). Each tool runs with the SQLite settings it ships with. One-time
setup is not timed: imports, creating and migrating the database, starting the run, and
the first call of each workload (a warm-up). The workloads, the same for both
(:mod:`benchmarks._workload`):

(a) ``log_metric``: N sequential ``log_metric("loss", value, step=i)`` calls inside one
    run (``run.log_metric`` / ``mlflow.log_metric``); reported as total seconds and
    calls/s. Afterwards each side checks that all N points were stored.
(b) ``search_runs``: R runs, each with 10 params and 10 metrics logged with the tool's
    batch API (not timed), then ``search_runs`` with the filter ``metrics.m0 > 0.5``
    returning every match (about half of the runs); the median of K timed repetitions.
    MLflow is called with ``output_format="list"``, so its default conversion to a
    pandas DataFrame is not counted against it. Both tools must return the same number
    of matches, the number the seeded data implies, or the benchmark fails.

Ratios: ``log_metric_ratio`` = modelyard calls/s ÷ MLflow calls/s (target ≥ 20);
``search_ratio`` = MLflow search time ÷ modelyard search time (target ≥ 10). The last
line of stdout is one JSON object with both ratios and the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks._workload import SEARCH_FILTER, expected_matches, make_runs

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_METRIC_TARGET = 20.0
SEARCH_TARGET = 10.0


class BenchmarkError(RuntimeError):
    """A side failed, or the two sides disagree on what they stored or found."""


@dataclass(frozen=True)
class Sizes:
    """How big the workloads are."""

    calls: int
    runs: int
    repeats: int


FULL = Sizes(calls=2000, runs=1000, repeats=5)
QUICK = Sizes(calls=300, runs=200, repeats=3)


def _side_env() -> dict[str, str]:
    """The environment for a side: no tool settings, the repo importable, MLflow quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELYARD_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["MLFLOW_LOGGING_LEVEL"] = "ERROR"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def run_side(python: Path, module: str, sizes: Sizes) -> dict[str, Any]:
    """Run one side in a fresh temp folder and return the JSON line it printed.

    Raises:
        BenchmarkError: The side exited non-zero or printed no JSON result.
    """
    command = [str(python), "-m", module, "--calls", str(sizes.calls)]
    command += ["--runs", str(sizes.runs), "--repeats", str(sizes.repeats)]
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as workdir:
        done = subprocess.run(
            command, cwd=workdir, env=_side_env(), capture_output=True, text=True, check=False
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchmarkError(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr}{done.stdout}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def check_agreement(ours: dict[str, Any], peer: dict[str, Any], sizes: Sizes) -> None:
    """Fail loudly unless both sides stored every point and found the same runs.

    Raises:
        BenchmarkError: Naming the tool and the numbers that disagree.
    """
    expected = expected_matches(make_runs(sizes.runs))
    for side in (ours, peer):
        if side["log_metric_points_stored"] != sizes.calls:
            raise BenchmarkError(
                f"{side['tool']} stored {side['log_metric_points_stored']} 'loss' points, "
                f"expected {sizes.calls}"
            )
        if not side["search_complete"]:
            raise BenchmarkError(f"{side['tool']} returned only part of the matches")
    if ours["search_matches"] != peer["search_matches"]:
        raise BenchmarkError(
            f"search_runs({SEARCH_FILTER!r}) disagrees: modelyard found "
            f"{ours['search_matches']} runs, MLflow {peer['search_matches']} "
            f"(the data implies {expected})"
        )
    if ours["search_matches"] != expected:
        raise BenchmarkError(
            f"both tools found {ours['search_matches']} runs for {SEARCH_FILTER!r}, "
            f"but the data implies {expected}"
        )


def summarize(ours: dict[str, Any], peer: dict[str, Any], sizes: Sizes) -> dict[str, Any]:
    """The JSON summary: both ratios, whether the targets are met, the raw numbers."""
    log_metric_ratio = peer["log_metric_seconds"] / ours["log_metric_seconds"]
    search_ratio = peer["search_seconds"] / ours["search_seconds"]
    sides = {
        side["tool"]: {
            "version": side["version"],
            "log_metric_seconds": round(side["log_metric_seconds"], 6),
            "log_metric_calls_per_s": round(sizes.calls / side["log_metric_seconds"], 1),
            "search_median_seconds": round(side["search_seconds"], 6),
            "search_all_seconds": [round(s, 6) for s in side["search_all_seconds"]],
        }
        for side in (ours, peer)
    }
    return {
        "benchmark": "tracking",
        "log_metric_ratio": round(log_metric_ratio, 2),
        "search_ratio": round(search_ratio, 2),
        "log_metric_target_met": log_metric_ratio >= LOG_METRIC_TARGET,
        "search_target_met": search_ratio >= SEARCH_TARGET,
        "log_metric_calls": sizes.calls,
        "search_runs": sizes.runs,
        "search_repeats": sizes.repeats,
        "search_matches": ours["search_matches"],
        **sides,
    }


def render(summary: dict[str, Any], console: Console, *, quick: bool = False) -> None:
    """Print the comparison table and whether each target is met.

    The targets are defined on the full workload; a ``--quick`` run is a smoke check
    (at 200 runs fixed costs weigh more and MLflow's superlinear search hurts it less).
    """
    table = Table(
        title="Tracking on the default embedded store: modelyard vs MLflow",
        caption=(
            f"log_metric: {summary['log_metric_calls']:,} sequential calls in one run. "
            f"search_runs: {SEARCH_FILTER!r} over {summary['search_runs']:,} runs "
            f"(10 params + 10 metrics each), {summary['search_matches']:,} matches, median "
            f"of {summary['search_repeats']}; MLflow with output_format='list' (no pandas)."
        ),
    )
    table.add_column("tool")
    for header in ("log_metric\ncalls/s", "log_metric\ntotal s", "log_metric\nratio"):
        table.add_column(header, justify="right")
    for header in ("search_runs\nqueries/s", "search_runs\nmedian ms", "search_runs\nratio"):
        table.add_column(header, justify="right")
    peer = summary["mlflow"]
    for tool, label in (("modelyard", "modelyard"), ("mlflow", "MLflow")):
        side = summary[tool]
        table.add_row(
            f"{label} {side['version']}",
            f"{side['log_metric_calls_per_s']:,.0f}",
            f"{side['log_metric_seconds']:.3f}",
            f"{peer['log_metric_seconds'] / side['log_metric_seconds']:.1f}x",
            f"{1 / side['search_median_seconds']:,.1f}",
            f"{side['search_median_seconds'] * 1000:.1f}",
            f"{peer['search_median_seconds'] / side['search_median_seconds']:.1f}x",
        )
    console.print(table)
    for name, target in (("log_metric", LOG_METRIC_TARGET), ("search", SEARCH_TARGET)):
        met = summary[f"{name}_target_met"]
        verdict = "[green]met[/green]" if met else "[red]NOT met[/red]"
        if quick:
            verdict = "not judged (--quick; targets apply to the full run)"
        console.print(
            f"target {name}_ratio >= {target:g}: {summary[f'{name}_ratio']:.2f} -> {verdict}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``--quick`` and ``--peers-python``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="300 calls, 200 runs, 3 search repetitions"
    )
    parser.add_argument(
        "--peers-python",
        type=Path,
        default=REPO_ROOT / ".venv-peers" / "bin" / "python",
        help="interpreter with MLflow installed (default: .venv-peers/bin/python; `make peers`)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run both sides, print the table, then the JSON line; return the exit code."""
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    # absolute(), not resolve(): a venv's python is a symlink that must stay unresolved.
    peers_python = args.peers_python.absolute()
    console, errors = Console(), Console(stderr=True)
    if not console.is_terminal:
        console.width = 110  # a log or a pipe has no width; 80 would squeeze the table
    if not peers_python.exists():
        errors.print(
            f"[red]{peers_python} does not exist[/red]: run `make peers` to build "
            ".venv-peers with MLflow, or pass --peers-python"
        )
        return 2
    try:
        with console.status("modelyard side..."):
            ours = run_side(Path(sys.executable), "benchmarks._modelyard_side", sizes)
        with console.status("MLflow side..."):
            peer = run_side(peers_python, "benchmarks._mlflow_side", sizes)
        check_agreement(ours, peer, sizes)
    except BenchmarkError as exc:
        errors.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    summary = summarize(ours, peer, sizes)
    summary["quick"] = args.quick
    render(summary, console, quick=args.quick)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
