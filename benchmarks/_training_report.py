"""The console report of ``benchmarks/training.py``: the table, the targets, the quality bar."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_LABELS = {
    "plain": "plain loop (Optuna + Pipeline)",
    "ours1": "ours, train() 1 worker",
    "ours2": "ours, train() 2 workers",
}


def _table(summary: dict[str, Any]) -> Table:
    table = Table(
        title=(
            f"Training: {summary['trials']} trials of '{summary['family']}', 5-fold CV, "
            f"make_churn({summary['rows']:,}) - PII, {summary['cpu_count']} CPUs"
        ),
        caption=(
            "wall s: the whole call (prepare, search, refit; ours also tracking, study on "
            "disk, holdout, artifacts). trial s: median start-to-end of one trial. outside "
            "s: wall minus the trials (before the first starts + after the last ends). "
            "CPU s: user+system of the timed part, worker processes included."
        ),
    )
    table.add_column("side")
    for header in ("wall s", "trials", "trials/min", "best CV\nroc_auc"):
        table.add_column(header, justify="right")
    for header in ("trial s\n(median)", "outside trials s\n(before + after)", "CPU s\n(cores)"):
        table.add_column(header, justify="right")
    for side, label in _LABELS.items():
        row = summary[side]
        extra = f" (+{row['trials_other']} other)" if row["trials_other"] else ""
        median = row["trial_seconds_median"]
        table.add_row(
            label,
            f"{row['seconds']:.1f}",
            f"{row['trials']}{extra}",
            f"{row['trials_per_minute']:.1f}",
            f"{row['best_cv_roc_auc']:.5f}",
            f"{median:.2f}" if median is not None else "-",
            f"{row['before_trials_seconds']:.1f} + {row['after_trials_seconds']:.1f}",
            f"{row['cpu_seconds']:.0f} ({row['cpu_seconds'] / row['seconds']:.2f})",
        )
    return table


def _verdict(met: bool, judged: bool) -> str:
    if not judged:
        return "not judged (targets apply to the default size and family only)"
    return "[green]met[/green]" if met else "[red]NOT met[/red]"


def render(summary: dict[str, Any], console: Console, overhead: float, speedup: float) -> None:
    """Print the table, what was compared, each target's verdict and the quality bar."""
    console.print(_table(summary))
    console.print(
        "Compared: the same training rows (prepare: 80% of the rows, the 20% holdout set "
        "apart), the same preprocessing and estimator, the same TPE seed, parameter names "
        "and first (default) trial, the same folds; pruning off in ours so both fit N x 5 "
        "folds + 1 refit. Ours with 1 worker gives each model cpu_count threads, as does "
        "the plain loop; with 2 workers, cpu_count // 2 each. Two workers can only beat one "
        "on this machine where a fit gains little from a second thread (true of 'linear' "
        "and, at this size, 'lightgbm'; not of 'random_forest'); CPU s counts threads that "
        "spin-wait as busy."
    )
    if not summary["same_candidates"]:
        console.print(
            "[yellow]warning:[/yellow] the best CV scores of ours (1 worker) and the plain "
            "loop differ, so the two did not fit the same candidates"
        )
    judged = bool(summary["judged"])
    console.print(
        f"target overhead_ratio <= {overhead:g}: {summary['overhead_ratio']:.3f} "
        f"-> {_verdict(summary['overhead_target_met'], judged)}"
    )
    console.print(
        f"target parallel_speedup >= {speedup:g}: {summary['parallel_speedup']:.3f} "
        f"-> {_verdict(summary['speedup_target_met'], judged)}"
    )
    console.print(
        f"  (over the trials alone, first start to last end: {summary['search_speedup']:.3f}; "
        "the rest is starting the workers, prepare, the refit and the artifacts)"
    )
    for name, q in (summary.get("quality") or {}).items():
        verdict = "[green]met[/green]" if q["met"] else "[red]NOT met[/red]"
        console.print(
            f"quality {name} (default spec): CV {q['metric']} of the chosen model "
            f"({q['chosen']}, of {q['candidates']} candidates) = {q['score']:.4f}, target "
            f">= {q['target']:g} -> {verdict} ({q['seconds']:.0f} s)"
        )
