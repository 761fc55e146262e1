"""Tables for datasets: versions, schema + profile, diffs, validation reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from rich import box
from rich.markup import escape
from rich.table import Table

from modelyard.cli._render import fmt_value, sparkline
from modelyard.data import ColumnChange, Dataset, Profile, ValidationReport

__all__ = ["arrow_table", "datasets_table", "diff_table", "profile_table", "report_table"]


def datasets_table(datasets: Sequence[Dataset], title: str | None = None) -> Table:
    """One row per dataset version: ref, rows, columns, size, hash, source, when, who."""
    table = Table(title=title)
    for name in ("dataset", "rows", "cols", "size", "hash", "source", "created", "by"):
        table.add_column(name, justify="right" if name in ("rows", "cols", "size") else "left")
    for d in datasets:
        table.add_row(
            escape(d.ref),
            f"{d.num_rows:,}",
            str(len(d.columns)),
            _size(d.num_bytes),
            d.content_hash[:12],
            escape(_source(d.source)),
            d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(d.created_by or ""),
        )
    return table


def profile_table(profile: Profile, masking: dict[str, str] | None = None) -> Table:
    """Schema and per-column statistics, with a histogram or the top values."""
    table = Table(title=f"profile ({profile.num_rows:,} rows)", box=box.SIMPLE_HEAD)
    widths = {"column": (8, 18), "type": (6, 16), "nulls": (6, 6), "distinct": (8, 9)}
    widths.update({"min": (5, 12), "mean": (5, 12), "max": (5, 12), "distribution": (10, 26)})
    for name, (low, high) in widths.items():
        table.add_column(
            name,
            justify="right" if name in ("nulls", "distinct") else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=low,
            max_width=high,
        )
    masking = masking or {}
    for column in profile.columns.values():
        nulls = f"{(column.null_fraction or 0) * 100:.1f}%"
        if column.histogram and column.histogram.get("counts"):
            shape = sparkline([float(c) for c in column.histogram["counts"]], width=20)
        elif column.top_values:
            shape = " · ".join(f"{_short(v, 14)} {c:,}" for v, c in column.top_values[:3])
        elif column.identifier_like:
            shape = "(identifier-like)"
        else:
            shape = ""
        cut = 10 if column.kind == "temporal" else 19  # dates, not seconds, fit the column
        type_text = column.type + (f" ({masking[column.name]})" if column.name in masking else "")
        table.add_row(
            escape(column.name),
            escape(type_text),
            nulls,
            f"{column.distinct:,}" if column.distinct is not None else "",
            *(
                escape(_stat(column.format_value(v))[:cut])
                for v in (column.min, column.mean, column.max)
            ),
            escape(shape),
        )
    return table


def diff_table(changes: Sequence[ColumnChange], old: str, new: str) -> Table:
    """Per column: added/removed/type change, and each statistic old → new."""
    table = Table(title=f"{old} → {new}")
    for name in ("column", "change", "nulls", "mean", "std", "distinct", "min", "max"):
        table.add_column(name, no_wrap=name == "column")
    for change in changes:
        if not change.changed:
            continue
        what = "" if change.change == "compared" else change.change
        if what == "type_changed":
            what = f"type {change.old_type} → {change.new_type}"
        cells = []
        for metric in change.metrics:
            if metric.old == metric.new:
                cells.append("")
            else:
                cells.append(f"{_stat(metric.old) or '—'} → {_stat(metric.new) or '—'}")
        table.add_row(escape(change.column), escape(what), *map(escape, cells))
    return table


def report_table(report: ValidationReport) -> Table:
    """One row per rule: verdict, action, failing rows, and sample failing values."""
    table = Table(title=f"validation ({report.num_rows:,} rows)")
    for name in ("", "rule", "on_fail", "failing", "detail", "samples"):
        table.add_column(name)
    for r in report.results:
        mark = "[green]ok[/]" if r.passed else "[red]FAIL[/]"
        failing = f"{r.failing_count:,} ({r.failing_percent:.2f}%)" if r.failing_count else ""
        samples = ", ".join(_short(s) for s in r.samples[:3])
        table.add_row(
            mark,
            escape(r.rule),
            r.on_fail,
            failing,
            escape(r.error or r.message),
            escape(samples),
        )
    return table


def arrow_table(data: pa.Table, limit: int) -> Table:
    """The first ``limit`` rows of a query result."""
    table = Table()
    for name in data.column_names:
        table.add_column(escape(name))
    for row in data.slice(0, limit).to_pylist():
        table.add_row(*(escape(_short(v)) for v in row.values()))
    return table


def _stat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return fmt_value(value)
    return str(value)


def _short(value: Any, width: int = 40) -> str:
    text = (
        "null" if value is None else (fmt_value(value) if isinstance(value, float) else str(value))
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def _size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _source(source: dict[str, Any]) -> str:
    kind = source.get("kind", "?")
    location = str(source.get("location", ""))
    if len(location) > 40:
        location = "…" + location[-39:]
    return f"{kind}: {location}" if location and location != "memory" else kind
