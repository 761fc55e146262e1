"""Serving benchmark: one registered model served by modelyard, MLflow, MLServer and a floor.

Run from the repository root (after ``make peers``, and with ``wrk`` installed)::

    .venv/bin/python -m benchmarks.serving                 # 15 s per run (judged)
    .venv/bin/python -m benchmarks.serving --quick         # 5 s per run (smoke)
    .venv/bin/python -m benchmarks.serving --granian       # + ours and the floor on granian
    .venv/bin/python -m benchmarks.serving --sides ours,floor --seconds 30

Method. One seeded scikit-learn Pipeline (``StandardScaler`` on 16 numeric columns,
``OneHotEncoder(handle_unknown="ignore")`` on 4 categorical ones, a
``GradientBoostingClassifier`` of 100 trees; :mod:`benchmarks._serving_model`) is
fitted once, then served, one server at a time, by each side of
:mod:`benchmarks._serving_sides`: ours (``modelyard serve``, adaptive batching on,
then off), ``mlflow models serve`` of the same fitted object, MLServer's scikit-learn
runtime (when it is in ``.venv-peers``) and the floor, a bare ASGI app answering a
constant body on ours' server stack (uvicorn, uvloop, httptools, same flags). Ours
registers the pipeline in a fresh home by hand (a tracked run holding the skops
file, the signature and a holdout sample, then ``ModelRegistry.register``, which
builds the parity-checked ONNX package ours serves). Every side gets the same number
of worker processes (``--workers``, 2) except MLServer (one process; its inference
pool is off).

Each server must first answer a single-row and a 100-row request with the
pipeline's own labels. Then ``wrk`` (:mod:`benchmarks._serving_wrk`) POSTs the
single-row body, then the 100-row one, over ``--connections`` keep-alive
connections from ``--threads`` threads, each for a ``--warmup`` run (discarded) and
a ``--seconds`` run (measured): req/s, p50, p99, non-2xx answers and socket errors.
wrk runs on the same machine and takes CPU from the servers, the same way for every
side. With ``--repeat R`` the sides alternate R times and each keeps its best run.

Ratios (single-row runs): ``ratio_vs_mlflow`` = ours req/s / MLflow req/s (target
>= 10), ``ratio_vs_floor`` = ours req/s / floor req/s (target >= 0.5), and ours must
have no errors. The table goes to stdout; the last line is
``{"benchmark": "serving", "ratio_vs_mlflow": ..., "ratio_vs_floor": ..., "p99_ms": ...}``
(``--details FILE`` writes every number as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks._serving_procs import ServerError, free_port, running
from benchmarks._serving_report import render
from benchmarks._serving_setup import (
    ROW_COUNTS,
    BenchmarkError,
    check_answers,
    prepare,
    write_bodies,
)
from benchmarks._serving_sides import REPO_ROOT, SIDES, Setup, Side
from benchmarks._serving_wrk import Load, LoadError, require_wrk, run_wrk

DEFAULT_SIDES = ("floor", "ours", "ours_nobatch", "mlflow", "mlserver")
GRANIAN_SIDES = ("floor_granian", "ours_granian")
OPTIONAL_SIDES = frozenset({"mlserver"})
LOAD_LIMIT = 3.0


def measure_side(
    side: Side,
    setup: Setup,
    bodies: dict[int, dict[str, Path]],
    expected: dict[int, list[str]],
    load: Load,
) -> dict[int, dict[str, Any]]:
    """Start the side's server, check it, run wrk on each body; the server always stops."""
    port = free_port()
    logs = setup.workdir / "logs"
    logs.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{port}{side.path}"
    results: dict[int, dict[str, Any]] = {}
    with running(side.command(setup, port), port, logs / f"{side.key}.log") as ready_s:
        check_answers(side, url, bodies, expected)
        for rows, paths in bodies.items():
            script = paths[side.protocol].with_suffix(".lua")
            wrk_log = logs / f"wrk-{side.key}-{rows}.log"
            if load.warmup_seconds > 0:
                run_wrk(url, script, load, load.warmup_seconds, wrk_log)
            results[rows] = run_wrk(url, script, load, load.seconds, wrk_log)
            results[rows]["ready_s"] = round(ready_s, 1)
    return results


def run_all(
    sides: list[str],
    setup: Setup,
    bodies: dict[int, dict[str, Path]],
    expected: dict[int, list[str]],
    load: Load,
    repeat: int,
    console: Console,
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], dict[str, str]]:
    """Every side ``repeat`` times, alternating: every run by row count and side."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {str(rows): {} for rows in ROW_COUNTS}
    skipped: dict[str, str] = {}
    for attempt in range(1, repeat + 1):
        for key in sides:
            side = SIDES[key]
            if key in skipped:
                continue
            with console.status(f"{side.label}, run {attempt}/{repeat}..."):
                try:
                    measured = measure_side(side, setup, bodies, expected, load)
                except (ServerError, BenchmarkError, LoadError) as exc:
                    if key not in OPTIONAL_SIDES:
                        raise
                    skipped[key] = str(exc).splitlines()[0][:300]
                    continue
            for rows, result in measured.items():
                runs[str(rows)].setdefault(key, []).append(result)
    return runs, skipped


def best_runs(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, Any]]:
    """Each side's run with the most req/s, with every run's req/s and all errors added."""
    best: dict[str, dict[str, Any]] = {}
    for rows, sides in runs.items():
        best[rows] = {}
        for key, results in sides.items():
            chosen = dict(max(results, key=lambda r: r["rps"]))
            chosen["all_rps"] = [round(r["rps"], 1) for r in results]
            chosen["errors_all_runs"] = sum(r["errors"] for r in results)
            best[rows][key] = chosen
    return best


def summarize(
    results: dict[str, dict[str, Any]],
    info: dict[str, Any],
    sides: list[str],
    setup: Setup,
    load: Load,
) -> dict[str, Any]:
    """Every number, the ratios and the final line's fields."""
    single = results["1"]
    ours = single.get("ours", {})
    mlflow, floor = single.get("mlflow", {}), single.get("floor", {})
    ratios = {
        "ratio_vs_mlflow": round(ours["rps"] / mlflow["rps"], 3) if ours and mlflow else None,
        "ratio_vs_floor": round(ours["rps"] / floor["rps"], 3) if ours and floor else None,
    }
    formats = info["formats"]
    ours_errors = sum(
        results[str(rows)][key]["errors_all_runs"]
        for rows in ROW_COUNTS
        for key in sides
        if key.startswith("ours") and key in results[str(rows)]
    )
    return {
        "ratios": ratios,
        "p99_ms": round(ours["p99_ms"], 2) if ours else None,
        "ours_errors": ours_errors,
        "results": results,
        "row_counts": list(ROW_COUNTS),
        "labels": {key: SIDES[key].label for key in sides},
        "ref": info["ref"],
        "ours_formats": {
            k: ("parity ok" if v.get("parity", {}).get("ok") else v.get("unavailable", ""))
            for k, v in formats.items()
        },
        "served_format": "onnx" if "blob" in formats.get("onnx", {}) else next(iter(formats)),
        "versions": info.get("versions", {}),
        "sklearn": info["sklearn"],
        "workers": setup.workers,
        "cpu_count": os.cpu_count(),
        "load": {
            "connections": load.connections,
            "threads": load.threads,
            "seconds": load.seconds,
            "warmup_seconds": load.warmup_seconds,
        },
    }


def wait_for_quiet(console: Console, limit: float, wait_s: float) -> tuple[float, float, float]:
    """Wait (up to ``wait_s``) while the 1-minute load average is over ``limit``."""
    deadline = time.monotonic() + wait_s
    load = os.getloadavg()
    while load[0] > limit and time.monotonic() < deadline:
        with console.status(
            f"load average {load[0]:.2f} > {limit:g}: waiting for a quieter machine"
        ):
            time.sleep(10)
        load = os.getloadavg()
    if load[0] > limit:
        console.print(
            f"[yellow]warning:[/yellow] load average still {load[0]:.2f}; measuring anyway"
        )
    return load


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=None, help="measured run (15; --quick 5)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up run (3; --quick 1)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; the best counts")
    parser.add_argument("--quick", action="store_true", help="5 s runs; a smoke run")
    parser.add_argument(
        "--sides", default=",".join(DEFAULT_SIDES), help=f"comma list of: {', '.join(SIDES)}"
    )
    parser.add_argument("--granian", action="store_true", help="add ours and the floor on granian")
    parser.add_argument("--peers", type=Path, default=REPO_ROOT / ".venv-peers", help="peers venv")
    parser.add_argument("--details", type=Path, default=None, help="write every number here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--wait-load", type=float, default=300, help="seconds to wait for load < 3")
    args = parser.parse_args(argv)
    args.side_list = [s for s in args.sides.split(",") if s] + (
        list(GRANIAN_SIDES) if args.granian else []
    )
    unknown = [s for s in args.side_list if s not in SIDES]
    if unknown:
        parser.error(f"unknown side(s) {', '.join(unknown)}; choose from {', '.join(SIDES)}")
    if min(args.repeat, args.connections, args.threads, args.workers) < 1:
        parser.error("--repeat, --connections, --threads and --workers must be at least 1")
    return args


def check_tools(args: argparse.Namespace, console: Console) -> list[str]:
    """wrk, the peers venv and granian where asked; drop MLServer when it is not installed.

    Raises:
        BenchmarkError: A required tool is missing (the message says how to get it).
    """
    try:
        require_wrk()
    except LoadError as exc:
        raise BenchmarkError(str(exc)) from exc
    sides = list(args.side_list)
    bin_dir = args.peers / "bin"
    if "mlflow" in sides and not (bin_dir / "mlflow").exists():
        raise BenchmarkError(f"no MLflow in {args.peers}: run `make peers` first")
    if "mlserver" in sides and not (bin_dir / "mlserver").exists():
        console.print(f"[yellow]skipping MLServer:[/yellow] not installed in {args.peers}")
        sides.remove("mlserver")
    granian = Path(sys.executable).parent / "granian"
    if any(s.endswith("_granian") for s in sides) and not granian.exists():
        raise BenchmarkError(
            "granian is not installed in this environment (it is no dependency of modelyard): "
            f"`{Path(sys.executable).parent / 'pip'} install granian` to measure it"
        )
    return sides


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


def _measure(args: argparse.Namespace, sides: list[str], console: Console) -> dict[str, Any]:
    load = Load(
        connections=args.connections,
        threads=args.threads,
        seconds=args.seconds or (5.0 if args.quick else 15.0),
        warmup_seconds=args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0),
    )
    loadavg = wait_for_quiet(console, LOAD_LIMIT, args.wait_load)
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-serving-"))
    try:
        with console.status("fitting and registering the model..."):
            setup, fitted, info = prepare(workdir, args.peers / "bin", sides, args.workers)
            bodies, expected = write_bodies(fitted, workdir)
        runs, skipped = run_all(sides, setup, bodies, expected, load, args.repeat, console)
    finally:
        if args.keep:
            console.print(f"work folder (logs): {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    measured = [s for s in sides if s not in skipped]
    summary = summarize(best_runs(runs), info, measured, setup, load)
    summary.update(
        skipped=skipped, loadavg_before=list(loadavg), quick=args.quick, repeat=args.repeat
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    """Measure every side, print the table, then the JSON line."""
    args = parse_args(argv)
    console, errors = Console(), Console(stderr=True)
    if not console.is_terminal:
        console.width = 140  # a log or a pipe has no width; 80 would squeeze the table
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        sides = check_tools(args, console)
        summary = _measure(args, sides, console)
    except (BenchmarkError, ServerError, LoadError) as exc:
        errors.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    render(summary, console)
    if args.details is not None:
        args.details.write_text(json.dumps(summary, indent=2, default=str))
    final = {"benchmark": "serving", **summary["ratios"], "p99_ms": summary["p99_ms"]}
    print(json.dumps(final))
    return 0


if __name__ == "__main__":
    sys.exit(main())
