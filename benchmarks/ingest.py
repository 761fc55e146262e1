"""Ingest benchmark: modelyard's CSV ingest against plain pyarrow, on this machine.

Run from the repository root::

    .venv/bin/python -m benchmarks.ingest                 # ~1 GiB CSV (targets judged)
    .venv/bin/python -m benchmarks.ingest --quick         # ~100 MiB smoke run
    .venv/bin/python -m benchmarks.ingest --repeat 3 --keep

Method. A seeded CSV of ``--size-mb`` MiB (:mod:`benchmarks._ingest_data`: an id, 5
floats, 2 ints, 3 categories, a free-text column and a timestamp; ~7 M rows per GiB)
is generated in a cache folder, or reused from there. Each side then runs in a fresh
process with its own temp folder (:mod:`benchmarks._ingest_side`), one after the
other, alternating when ``--repeat`` > 1:

(a) ours: ``DataClient.ingest(csv, "bench")`` on a fresh SQLite database and local
    artifact folder: streaming CSV read, Parquet part, full profile, blob store, commit.
(b) floor: ``pyarrow.csv.read_csv`` + ``pyarrow.parquet.write_table``: the file read
    whole and written back, nothing else.

Seconds are measured inside the child (no interpreter start, no imports); MB/s is CSV
input MiB per second. Peak RSS is the child's ``ru_maxrss`` from ``os.wait4``, and its
CPU seconds (user + system, all threads) come from there too: CPU s well above seconds
means the side used more than one core; seconds well above CPU s, a busy machine. With
``--repeat N`` the fastest of N runs counts, and the largest peak RSS. Both sides read
the CSV from the page cache after the first run (the file fits in memory here).

Targets (judged at the full size only): ``throughput_ratio`` = ours MB/s ÷ floor MB/s
>= 0.5, and ours peak RSS < 700 MB. The last line of stdout is one JSON object:
``{"benchmark": "ingest", "throughput_ratio": ..., "peak_rss_mb": ...}`` plus details.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks._ingest_data import CsvFile, ensure_csv

REPO_ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 0.5
RSS_TARGET_MB = 700.0
FULL_SIZE_MB = 1024
QUICK_SIZE_MB = 100
_MIB = 1 << 20
SIDES = ("floor", "ours")


class BenchmarkError(RuntimeError):
    """A side failed, or the two sides disagree on how many rows the file holds."""


def default_cache_dir() -> Path:
    """``~/.cache/modelyard-bench`` if the home folder is writable, else one under $TMPDIR."""
    home = Path.home() / ".cache"
    if os.access(home if home.exists() else Path.home(), os.W_OK):
        return home / "modelyard-bench"
    return Path(tempfile.gettempdir()) / "modelyard-bench"


def run_side(side: str, csv: Path) -> dict[str, Any]:
    """Run one side in a fresh process and temp folder; its JSON plus its peak RSS.

    Raises:
        BenchmarkError: The side exited non-zero or printed no JSON line.
    """
    command = [sys.executable, "-m", "benchmarks._ingest_side", side, str(csv)]
    with tempfile.TemporaryDirectory(prefix=f"modelyard-bench-ingest-{side}-") as workdir:
        env = dict(os.environ, TMPDIR=workdir)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env = {k: v for k, v in env.items() if not k.startswith("MODELYARD_")}
        out, err = Path(workdir) / "stdout", Path(workdir) / "stderr"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            child = subprocess.Popen(
                [*command, workdir], cwd=workdir, env=env, stdout=stdout, stderr=stderr
            )
            # wait4, not RUSAGE_CHILDREN: the latter is the max over *all* children so far.
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        lines = out.read_text().strip().splitlines()
        if child.returncode != 0 or not lines:
            raise BenchmarkError(
                f"{' '.join(command)} failed (exit {child.returncode}):\n"
                f"{err.read_text()[-4000:]}{out.read_text()[-2000:]}"
            )
    result: dict[str, Any] = json.loads(lines[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole process, imports too
    return result


def run_all(csv: CsvFile, repeat: int, console: Console) -> dict[str, dict[str, Any]]:
    """Run both sides ``repeat`` times, alternating; keep each side's best time, max RSS.

    Raises:
        BenchmarkError: A side failed, or a side read a different number of rows.
    """
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for attempt in range(1, repeat + 1):
        for side in SIDES:
            with console.status(f"{side} side, run {attempt}/{repeat}..."):
                result = run_side(side, csv.path)
            if result["rows"] != csv.rows:
                raise BenchmarkError(
                    f"{side} read {result['rows']:,} rows but {csv.path} holds {csv.rows:,}"
                )
            runs[side].append(result)
    best = {}
    for side, results in runs.items():
        best[side] = dict(min(results, key=lambda r: r["seconds"]))
        best[side]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
        best[side]["all_seconds"] = [round(r["seconds"], 3) for r in results]
    return best


def summarize(csv: CsvFile, best: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    """The JSON summary: the ratio, ours' peak RSS, the targets and the raw numbers."""
    input_mb = csv.size / _MIB
    ours, floor = best["ours"], best["floor"]
    ratio = floor["seconds"] / ours["seconds"]  # = ours MB/s / floor MB/s
    sides = {
        side: {
            "seconds": round(best[side]["seconds"], 3),
            "all_seconds": best[side]["all_seconds"],
            "mb_per_s": round(input_mb / best[side]["seconds"], 1),
            "peak_rss_mb": round(best[side]["peak_rss_mb"], 1),
            "process_cpu_seconds": round(best[side]["cpu_seconds"], 2),
            "rows": best[side]["rows"],
            "parquet_mb": round(best[side]["parquet_bytes"] / _MIB, 1),
        }
        for side in SIDES
    }
    sides["ours"]["setup_seconds"] = round(ours["setup_seconds"], 3)
    return {
        "benchmark": "ingest",
        "throughput_ratio": round(ratio, 3),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "throughput_target_met": ratio >= RATIO_TARGET,
        "rss_target_met": ours["peak_rss_mb"] < RSS_TARGET_MB,
        "quick": quick,
        "csv_mb": round(input_mb, 1),
        "csv_rows": csv.rows,
        **sides,
    }


def render(summary: dict[str, Any], console: Console) -> None:
    """Print the comparison table and whether each target is met."""
    table = Table(
        title=f"Ingest of a {summary['csv_mb']:,.0f} MiB CSV ({summary['csv_rows']:,} rows)",
        caption=(
            "ours: DataClient.ingest (stream, Parquet, profile, blob, commit); "
            "floor: pyarrow.csv.read_csv + parquet.write_table. Seconds: timed inside the "
            "child; peak RSS and CPU s (user + system, all threads, imports included): of "
            "the child process."
        ),
    )
    table.add_column("side")
    for header in ("seconds", "MB/s", "peak RSS MB", "CPU s", "rows", "Parquet MB", "vs floor"):
        table.add_column(header, justify="right")
    floor_s = summary["floor"]["seconds"]
    for side, label in (("ours", "modelyard ingest"), ("floor", "pyarrow floor")):
        row = summary[side]
        table.add_row(
            label,
            f"{row['seconds']:.2f}",
            f"{row['mb_per_s']:,.1f}",
            f"{row['peak_rss_mb']:,.0f}",
            f"{row['process_cpu_seconds']:.1f}",
            f"{row['rows']:,}",
            f"{row['parquet_mb']:,.1f}",
            f"{floor_s / row['seconds']:.2f}x",
        )
    console.print(table)
    checks = (
        ("throughput_ratio", summary["throughput_ratio"], f">= {RATIO_TARGET:g}", "throughput"),
        ("ours peak RSS MB", summary["peak_rss_mb"], f"< {RSS_TARGET_MB:g}", "rss"),
    )
    for label, value, target, key in checks:
        met = summary[f"{key}_target_met"]
        verdict = "[green]met[/green]" if met else "[red]NOT met[/red]"
        if summary["quick"]:
            verdict = "not judged (targets apply to the full-size run only)"
        console.print(f"target {label} {target}: {value:g} -> {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``--size-mb``, ``--quick``, ``--repeat``, ``--keep`` and ``--cache-dir``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=None, help="CSV size in MiB (1024)")
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK_SIZE_MB} MiB CSV")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; best counts")
    parser.add_argument(
        "--keep", action="store_true", help="keep a CSV this run generated (reused next time)"
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the CSV is cached")
    args = parser.parse_args(argv)
    if args.size_mb is None:
        args.size_mb = QUICK_SIZE_MB if args.quick else FULL_SIZE_MB
    if args.size_mb < 1 or args.repeat < 1:
        parser.error("--size-mb and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Generate or reuse the CSV, run both sides, print the table and the JSON line."""
    args = parse_args(argv)
    console, errors = Console(), Console(stderr=True)
    if not console.is_terminal:
        console.width = 110  # a log or a pipe has no width; 80 would squeeze the table
    cache = args.cache_dir or default_cache_dir()
    with console.status(f"CSV of {args.size_mb} MiB in {cache}..."):
        csv = ensure_csv(cache, args.size_mb)
    state = "generated" if csv.generated else "reused from cache"
    console.print(f"CSV: {csv.path} ({csv.size / _MIB:,.0f} MiB, {csv.rows:,} rows, {state})")
    quick = args.quick or args.size_mb < FULL_SIZE_MB
    try:
        best = run_all(csv, args.repeat, console)
    except BenchmarkError as exc:
        errors.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    finally:
        if csv.generated and not args.keep:
            csv.path.unlink(missing_ok=True)
            csv.path.with_suffix(".json").unlink(missing_ok=True)
            console.print(f"removed {csv.path} (pass --keep to reuse it next time)")
    summary = summarize(csv, best, quick)
    render(summary, console)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
