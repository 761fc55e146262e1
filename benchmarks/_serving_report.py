"""The console report of ``benchmarks/serving.py``: one table, the targets, the notes."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

RATIO_VS_MLFLOW_TARGET = 10.0
RATIO_VS_FLOOR_TARGET = 0.5


def _ratio(value: float | None, base: float | None) -> str:
    if not value or not base:
        return "-"
    return f"{value / base:.2f}x"


def _table(summary: dict[str, Any]) -> Table:
    load = summary["load"]
    table = Table(
        title=(
            f"Serving one sklearn pipeline (scale + one-hot + 100 boosted trees, 20 columns): "
            f"wrk {load['threads']} threads, {load['connections']} connections, "
            f"{load['seconds']:g} s (after {load['warmup_seconds']:g} s warm-up), "
            f"{summary['workers']} server workers, {summary['cpu_count']} CPUs shared with wrk"
        ),
        caption=(
            "req/s: answered requests per second; rows/s = req/s x rows per request. "
            "p50/p99: wrk's latency percentiles (of the best run). errors: non-2xx answers + "
            "socket errors, all runs. "
            "vs floor / vs MLflow: req/s over theirs at the same request size. "
            "With --repeat, each side's best run counts."
        ),
    )
    table.add_column("side")
    for header in ("rows per\nrequest", "req/s", "rows/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(header, justify="right")
    table.add_column("vs floor", justify="right")
    table.add_column("vs MLflow", justify="right")
    spread = summary["repeat"] > 1
    if spread:
        table.add_column("req/s of\nevery run", justify="right")
    for rows in summary["row_counts"]:
        results = summary["results"][str(rows)]
        floor = (results.get("floor") or {}).get("rps")
        mlflow = (results.get("mlflow") or {}).get("rps")
        for key, label in summary["labels"].items():
            got = results.get(key)
            if got is None:
                continue
            cells = [
                label,
                str(rows),
                f"{got['rps']:,.0f}",
                f"{got['rps'] * rows:,.0f}",
                f"{got['p50_ms']:.1f}",
                f"{got['p99_ms']:.1f}",
                f"{got['errors_all_runs']:,}",
                _ratio(got["rps"], floor),
                _ratio(got["rps"], mlflow),
            ]
            if spread:
                cells.append(", ".join(f"{v:,.0f}" for v in got["all_rps"]))
            table.add_row(*cells)
        table.add_section()
    return table


def _verdict(met: bool) -> str:
    return "[green]met[/green]" if met else "[red]NOT met[/red]"


def render(summary: dict[str, Any], console: Console) -> None:
    """Print the table, the registered formats, each target's verdict and the skipped sides."""
    console.print(_table(summary))
    versions, labels = summary["versions"], summary["labels"]
    peers = [
        f"{name} {versions[key]}"
        for key, name in (("mlflow", "MLflow"), ("mlserver", "MLServer"))
        if key in labels and key in versions
    ]
    same = f"; {' and '.join(peers)} serve the same fitted pipeline" if peers else ""
    console.print(
        f"ours serves {summary['ref']} from its {summary['served_format']!r} package "
        f"(packaged: {', '.join(summary['ours_formats'])}){same} (scikit-learn "
        f"{versions.get('sklearn', summary['sklearn'])}); every server's answers to both "
        "bodies were checked against the pipeline's own labels first."
    )
    for name, note in summary["skipped"].items():
        console.print(f"[yellow]skipped {name}:[/yellow] {note}")
    ratios = summary["ratios"]
    for key, target in (
        ("ratio_vs_mlflow", RATIO_VS_MLFLOW_TARGET),
        ("ratio_vs_floor", RATIO_VS_FLOOR_TARGET),
    ):
        value = ratios.get(key)
        shown = f"{value:.3f}" if value is not None else "n/a"
        met = value is not None and value >= target
        console.print(f"target {key} >= {target:g} (single row): {shown} -> {_verdict(met)}")
    errors = summary["ours_errors"]
    console.print(f"target zero errors (ours, every run): {errors:,} -> {_verdict(errors == 0)}")
    load = summary["loadavg_before"]
    console.print(
        f"load average before the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "(wrk and the servers share this machine's cores; other jobs skew every column)"
    )
