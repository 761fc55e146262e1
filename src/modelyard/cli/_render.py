"""Turning runs and experiments into rich tables (shared by the CLI commands)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.markup import escape
from rich.table import Table

from modelyard.store import Experiment, Run

__all__ = [
    "experiments_table",
    "fmt_duration",
    "fmt_time",
    "fmt_value",
    "runs_table",
    "sparkline",
]

_STATUS_STYLE = {"FINISHED": "green", "FAILED": "red", "KILLED": "yellow", "RUNNING": "cyan"}


def fmt_time(ms: int | None) -> str:
    """Milliseconds since the epoch as local ``YYYY-MM-DD HH:MM:SS``."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start: int, end: int | None) -> str:
    """``1.2s`` / ``3m04s`` / ``-`` for a run still going."""
    if end is None:
        return "-"
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def fmt_value(value: float | str | None) -> str:
    """Metrics to 4 significant digits; strings escaped so rich prints them as they are."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return escape(str(value))


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 30) -> str:
    """A one-line chart of a metric's history (down-sampled to ``width`` points).

    Non-finite points (NaN, inf) show as a blank.
    """
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width - 1)] + [values[-1]]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low
    top = len(_BARS) - 1
    return "".join(
        " " if not math.isfinite(v) else _BARS[round((v - low) / span * top) if span else top // 2]
        for v in values
    )


def experiments_table(experiments: Sequence[Experiment]) -> Table:
    """One row per experiment."""
    table = Table(title="Experiments")
    table.add_column("ID", justify="right")
    table.add_column("Name", style="bold")
    table.add_column("Created")
    for exp in experiments:
        table.add_row(str(exp.experiment_id), escape(exp.name), fmt_time(exp.created_at))
    return table


def runs_table(
    runs: Sequence[Run],
    title: str = "Runs",
    metrics: Sequence[str] | None = None,
    max_metrics: int = 4,
) -> Table:
    """One row per run: short id, name (children indented), status, start, duration, metrics.

    Args:
        metrics: Metric columns to show; by default the ``max_metrics`` keys most runs have.
    """
    counts = Counter(k for run in runs for k in run.data.metrics)
    if metrics is None:
        metrics = sorted(counts, key=lambda k: (-counts[k], k))[:max_metrics]
    ids = {run.info.run_id for run in runs}
    table = Table(title=title)
    table.add_column("Run", style="dim", no_wrap=True)
    table.add_column("Name", style="bold", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Took", justify="right")
    for key in metrics:
        table.add_column(key, justify="right")
    for run in runs:
        info = run.info
        style = _STATUS_STYLE.get(info.status, "")
        nested = info.parent_run_id is not None and info.parent_run_id in ids
        table.add_row(
            info.run_id[:8],
            ("└ " if nested else "") + escape(info.name),
            f"[{style}]{info.status}[/]" if style else info.status,
            fmt_time(info.start_time)[5:16],
            fmt_duration(info.start_time, info.end_time),
            *(fmt_value(run.data.metrics.get(k)) for k in metrics),
        )
    hidden = len(set(counts) - set(metrics))
    if hidden:
        table.caption = f"{hidden} more metric(s): `modelyard runs show RUN_ID` or --metric KEY"
    return table
