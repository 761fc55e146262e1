"""Rich tables for registered models, versions, gates, evaluations and history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from modelyard.cli._render import fmt_time, fmt_value
from modelyard.store import ModelEvent, ModelVersion, RegisteredModel

__all__ = [
    "evaluation_tables",
    "formats_table",
    "gates_table",
    "history_table",
    "lineage_table",
    "models_table",
    "versions_table",
]

_MARK = {True: "[green]pass[/]", False: "[red]FAIL[/]"}


def models_table(models: Sequence[RegisteredModel]) -> Table:
    """One row per registered model."""
    table = Table(title="Registered models")
    for col in ("name", "latest", "aliases", "created", "description"):
        table.add_column(col)
    for m in models:
        aliases = ", ".join(f"{a}→v{v}" for a, v in m.aliases.items()) or "-"
        table.add_row(
            escape(m.name),
            str(m.latest_version or "-"),
            escape(aliases),
            fmt_time(m.created_at),
            escape(m.description or ""),
        )
    return table


def versions_table(versions: Sequence[ModelVersion]) -> Table:
    """One row per version with its main metrics and formats."""
    table = Table(title="Model versions")
    for col in ("version", "status", "aliases", "task", "metrics", "formats", "size", "run"):
        table.add_column(col)
    for v in versions:
        metrics = ", ".join(f"{k} {fmt_value(float(x))}" for k, x in _main_metrics(v)[:3])
        table.add_row(
            escape(v.ref),
            v.status,
            escape(", ".join(v.aliases) or "-"),
            v.task,
            metrics,
            ", ".join(v.available_formats()),
            _mb(v.size_bytes),
            v.run_id[:12],
        )
    return table


def lineage_table(version: ModelVersion) -> Table:
    """Where the version came from."""
    lin = version.lineage
    table = Table(title=f"{escape(version.ref)} — lineage", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("run", f"{version.run_id} ({lin.get('experiment') or '?'})"),
        ("data", f"{lin.get('data')} (hash {str(lin.get('dataset_hash') or '-')[:12]})"),
        ("split", _split(lin.get("split") or {})),
        ("target", lin.get("target")),
        ("model", f"{lin.get('candidate') or lin.get('family') or '?'}"),
        ("params", _short(lin.get("model_params"))),
        ("git commit", lin.get("git_commit") or "not recorded (not a git checkout)"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in (lin.get("libraries") or {}).items())),
        ("registered", f"{fmt_time(version.created_at)} by {version.created_by or '?'}"),
        ("status", version.status),
        ("aliases", ", ".join(version.aliases) or "-"),
    ]
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    return table


def formats_table(version: ModelVersion) -> Table:
    """Each packaged format: size, parity, latency, or why it is unavailable."""
    table = Table(title="Formats")
    for col in ("format", "size", "parity", "1 row p50/p99 ms", "1000 rows p50/p99 ms", "notes"):
        table.add_column(col)
    for name, entry in version.formats.items():
        if "blob" not in entry:
            table.add_row(
                name,
                "-",
                "-",
                "-",
                "-",
                f"[yellow]unavailable[/]: {escape(entry.get('unavailable', ''))}",
            )
            continue
        lat = entry.get("latency") or {}
        parity = entry.get("parity")
        notes = []
        if "accuracy_delta" in entry:
            notes.append(
                f"{entry.get('accuracy_metric', 'accuracy')} delta {entry['accuracy_delta']:+.4f}"
            )
        if entry.get("speedup"):
            notes.append(f"speed-up x{entry['speedup']}")
        table.add_row(
            name,
            _mb(entry.get("size", 0)),
            f"max diff {parity['max_abs_diff']:.1e}" if parity else "-",
            _pair(lat, "single"),
            _pair(lat, "batch"),
            escape("; ".join(notes)),
        )
    return table


def gates_table(doc: dict[str, Any]) -> Table:
    """Gate results: pass/fail, measured value and reason."""
    verdict = "passed" if doc.get("passed") else ("FORCED" if doc.get("forced") else "failed")
    table = Table(title=f"Promotion gates: {verdict}")
    for col in ("gate", "result", "measured", "reason"):
        table.add_column(col)
    for r in doc.get("results", []):
        table.add_row(
            escape(r["gate"]),
            _MARK[bool(r["passed"])],
            fmt_value(r.get("measured")),
            escape(r["reason"]),
        )
    return table


def evaluation_tables(doc: dict[str, Any]) -> list[Table]:
    """Metrics with confidence intervals, fairness by group, and the data checks."""
    tables = []
    metrics = Table(title=f"Holdout evaluation ({doc.get('rows')} rows)")
    for col in ("metric", "value", "95% CI"):
        metrics.add_column(col)
    for name, m in doc.get("metrics", {}).items():
        ci = f"[{fmt_value(m.get('ci_low'))}, {fmt_value(m.get('ci_high'))}]"
        metrics.add_row(name, fmt_value(m.get("value")), ci)
    tables.append(metrics)
    fairness = doc.get("fairness")
    if fairness:
        table = Table(
            title=f"Fairness by {escape(str(fairness['column']))}: demographic parity diff "
            f"{fmt_value(fairness.get('demographic_parity_difference'))}, equalized odds diff "
            f"{fmt_value(fairness.get('equalized_odds_difference'))}"
        )
        groups = fairness.get("groups", [])
        keys = [k for k in (groups[0] if groups else {}) if k != "group"]
        table.add_column("group")
        for key in keys:
            table.add_column(key)
        for g in groups:
            table.add_row(escape(str(g["group"])), *(fmt_value(_num(g.get(k))) for k in keys))
        tables.append(table)
    importance = doc.get("importance") or []
    if importance:
        table = Table(title="Permutation importance (top 10)")
        table.add_column("feature")
        table.add_column("importance")
        for row in importance[:10]:
            table.add_row(escape(str(row["feature"])), fmt_value(_num(row.get("mean"))))
        tables.append(table)
    return tables


def history_table(events: Sequence[ModelEvent]) -> Table:
    """Every registration, alias move and status change."""
    table = Table(title="History")
    for col in ("when", "event", "version", "change", "who", "why"):
        table.add_column(col)
    for e in events:
        if e.kind == "alias":
            change = f"{e.alias}: {e.from_value or '-'} → {e.to_value or '(removed)'}"
        elif e.kind == "status":
            change = f"{e.from_value} → {e.to_value}"
        else:
            change = ""
        table.add_row(
            fmt_time(e.at),
            e.kind,
            str(e.version or "-"),
            escape(change),
            escape(e.user or "?"),
            escape(e.reason or ""),
        )
    return table


def _main_metrics(version: ModelVersion) -> list[tuple[str, float]]:
    """The metrics with the one training optimised first."""
    primary = (version.lineage.get("params") or {}).get("metric")
    items = list(version.metrics.items())
    return sorted(items, key=lambda kv: kv[0] != primary)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 10_000 else f"{size / 1e3:.1f} kB"


def _pair(latency: dict[str, Any], prefix: str) -> str:
    if f"{prefix}_p50_ms" not in latency:
        return "-"
    return f"{latency[f'{prefix}_p50_ms']:.2f} / {latency[f'{prefix}_p99_ms']:.2f}"


def _split(split: dict[str, Any]) -> str:
    if "split" in split:
        return f"recorded split {split['split']!r}, part {split.get('part', 'test')!r}"
    if "fraction" in split:
        return f"random {split['fraction']:.0%} holdout"
    return "-"


def _short(value: Any, limit: int = 120) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
