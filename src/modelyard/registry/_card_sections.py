"""The card sections drawn from the evaluation document: metrics, performance
charts, fairness, explanations and data checks.

Every builder tolerates a missing or partial evaluation (any value may be
``None``) and says so in the section instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelyard.registry import _card_explain_charts as explain
from modelyard.registry import _card_perf_charts as perf
from modelyard.registry._card_doc import (
    Block,
    Chart,
    Facts,
    Mark,
    Paragraph,
    Section,
    Span,
    Subheading,
    Table,
    fmt,
    percent,
)

__all__ = [
    "checks_section",
    "explanations_section",
    "fairness_section",
    "metrics_section",
    "not_evaluated",
    "performance_section",
]

MAX_PARTIAL_DEPENDENCE = 4
MAX_ROWS = 30
TITLES = {
    "feature": "Feature",
    "metric": "Metric",
    "score": "Score",
    "flagged": "Flagged",
    "test": "Test",
    "statistic": "Statistic",
    "p_value": "p-value",
    "effect": "Effect size",
    "drifted": "Drifted",
    "group": "Group",
    "rows": "Rows",
    "value": "Value",
    "selection_rate": "Selection rate",
    "tpr": "TPR",
    "fpr": "FPR",
}


def not_evaluated(ref: str) -> Paragraph:
    """The hint shown wherever an evaluation would be."""
    return Paragraph(("Not evaluated yet: run ", Span(f"modelyard models evaluate {ref}"), "."))


def metrics_section(
    evaluation: Mapping[str, Any] | None, flat: Mapping[str, Any], ref: str
) -> Section:
    """Holdout metrics with 95% CIs (table and chart), or the training metrics if not evaluated."""
    title = "Metrics"
    if evaluation is None:
        blocks: list[Block] = [not_evaluated(ref)]
        if flat:
            blocks.append(
                Paragraph(("Metrics recorded at training time (no confidence intervals):",))
            )
            blocks.append(
                Table(("Metric", "Value"), tuple((str(k), fmt(v)) for k, v in flat.items()))
            )
        return Section(title, tuple(blocks))
    metrics = _mapping(evaluation.get("metrics"))
    boot = _mapping(evaluation.get("bootstrap"))
    intro = (
        f"Measured on {fmt(evaluation.get('rows'))} holdout rows; 95% confidence intervals "
        f"from {fmt(boot.get('resamples'))} bootstrap resamples."
    )
    rows = []
    for name, entry in metrics.items():
        entry = _mapping(entry) if isinstance(entry, Mapping) else {"value": entry}
        low, high = entry.get("ci_low"), entry.get("ci_high")
        ci = f"{fmt(low)} to {fmt(high)}" if low is not None or high is not None else "—"
        rows.append((str(name), fmt(entry.get("value")), ci))
    blocks = [Paragraph((intro,)), Table(("Metric", "Value", "95% CI"), tuple(rows))]
    return Section(title, (*blocks, *_charts(perf.metrics_chart(metrics))))


def performance_section(evaluation: Mapping[str, Any] | None, task: str, ref: str) -> Section:
    """ROC, PR, calibration and confusion matrix, or residual charts; then slices."""
    title = "Performance charts"
    if evaluation is None:
        return Section(title, (not_evaluated(ref),))
    blocks: list[Block] = []
    if "regress" in str(evaluation.get("task") or task).lower():
        residuals = _mapping(evaluation.get("residuals"))
        blocks += _charts(
            perf.residual_histogram(residuals), perf.predicted_actual_chart(residuals)
        )
        keys = ("mean", "std", "mae", "p5", "p50", "p95", "max_abs")
        if residuals:
            blocks.append(Facts(tuple((f"Residual {k}", fmt(residuals.get(k))) for k in keys)))
    else:
        blocks += _charts(
            _part(evaluation, "roc", perf.roc_chart),
            _part(evaluation, "pr", perf.pr_chart),
            _part(evaluation, "calibration", perf.calibration_chart),
            _part(evaluation, "confusion_matrix", perf.confusion_chart),
        )
    if not blocks:
        blocks.append(Paragraph(("The evaluation holds no curves or residuals to draw.",)))
    for column, groups in _mapping(evaluation.get("slices")).items():
        blocks += _slice_blocks(str(column), groups)
    return Section(title, tuple(blocks))


def fairness_section(evaluation: Mapping[str, Any] | None, ref: str) -> Section:
    """Per-group rates of the sensitive column (table and chart) and the two gap metrics."""
    title = "Fairness"
    if evaluation is None:
        return Section(title, (not_evaluated(ref),))
    fairness = _mapping(evaluation.get("fairness"))
    if not fairness:
        text = "No sensitive column was evaluated; pass one to the evaluation to get this table."
        return Section(title, (Paragraph((text,)),))
    groups = [g for g in fairness.get("groups") or [] if isinstance(g, Mapping)]
    keys = _columns(groups, first=("group", "rows"))
    facts = Facts(
        (
            ("Sensitive column", str(fairness.get("column"))),
            ("Demographic parity difference", fmt(fairness.get("demographic_parity_difference"))),
            ("Equalized odds difference", fmt(fairness.get("equalized_odds_difference"))),
        )
    )
    table = _table(keys, groups)
    return Section(title, (facts, table, *_charts(explain.fairness_chart(fairness))))


def explanations_section(evaluation: Mapping[str, Any] | None, ref: str) -> Section:
    """Permutation importance, partial dependence of the top features, and SHAP."""
    title = "Explanations"
    if evaluation is None:
        return Section(title, (not_evaluated(ref),))
    importance = [e for e in evaluation.get("importance") or [] if isinstance(e, Mapping)]
    blocks: list[Block] = [Subheading("Permutation importance")]
    chart = explain.importance_chart(importance)
    blocks += _charts(chart) if chart else [Paragraph(("No importance was computed.",))]
    ranking = {str(e.get("feature")): i for i, e in enumerate(_by_value(importance, "mean"))}
    pd_entries = [e for e in evaluation.get("partial_dependence") or [] if isinstance(e, Mapping)]
    pd_entries.sort(key=lambda e: ranking.get(str(e.get("feature")), len(ranking)))
    pd_charts = [explain.partial_dependence_chart(e) for e in pd_entries[:MAX_PARTIAL_DEPENDENCE]]
    if any(pd_charts):
        blocks += [Subheading("Partial dependence"), *_charts(*pd_charts)]
    shap = _mapping(evaluation.get("shap"))
    blocks.append(Subheading("SHAP"))
    if shap.get("unavailable"):
        blocks.append(Paragraph((f"SHAP values unavailable: {shap['unavailable']}",)))
    else:
        chart = explain.shap_chart(shap)
        blocks += _charts(chart) if chart else [Paragraph(("No SHAP values were computed.",))]
    return Section(title, tuple(blocks))


def checks_section(evaluation: Mapping[str, Any] | None, ref: str) -> Section:
    """Target leakage, train/test duplicates and train/test shift."""
    title = "Data checks"
    if evaluation is None:
        return Section(title, (not_evaluated(ref),))
    checks = _mapping(evaluation.get("checks"))
    leakage = [e for e in checks.get("leakage") or [] if isinstance(e, Mapping)]
    shift = [e for e in checks.get("shift") or [] if isinstance(e, Mapping)]
    duplicates = _mapping(checks.get("duplicates"))
    blocks: list[Block] = [Subheading("Leakage")]
    leak_keys = ("feature", "metric", "score", "flagged")
    blocks.append(_table(leak_keys, _flagged_first(leakage, "flagged"), flag=("flagged", "bad")))
    blocks.append(Subheading("Duplicates"))
    text = (
        f"{fmt(duplicates.get('shared_rows'))} of {fmt(duplicates.get('test_rows'))} test rows "
        f"also appear in the training data ({percent(duplicates.get('fraction'))})."
        if duplicates
        else "No duplicate check was run."
    )
    blocks.append(Paragraph((text,)))
    blocks.append(Subheading("Train/test shift"))
    shift_keys = ("feature", "test", "statistic", "p_value", "effect", "drifted")
    blocks.append(_table(shift_keys, _flagged_first(shift, "drifted"), flag=("drifted", "warn")))
    return Section(title, tuple(blocks))


def _table(
    keys: Sequence[str],
    entries: Sequence[Mapping[str, Any]],
    *,
    flag: tuple[str, Mark] | None = None,
) -> Table:
    """A table of ``entries`` (first ``MAX_ROWS``), a row marked where ``flag[0]`` is true."""
    shown = entries[:MAX_ROWS]
    rows = tuple(tuple(fmt(e.get(k)) for k in keys) for e in shown)
    marks: tuple[Mark, ...] = ()
    if flag is not None:
        marks = tuple(flag[1] if e.get(flag[0]) is True else "" for e in shown)
    note = f"Showing {len(shown)} of {len(entries)} rows." if len(entries) > len(shown) else None
    if not entries:
        note = "Nothing to report."
    header = tuple(TITLES.get(k, k) for k in keys)
    return Table(header, rows, marks, note)


def _slice_blocks(column: str, groups: Any) -> list[Block]:
    entries = [g for g in groups or [] if isinstance(g, Mapping)]
    names = _columns([_mapping(g.get("metrics")) for g in entries], first=())
    flat = [
        {"value": g.get("value"), "rows": g.get("rows"), **_mapping(g.get("metrics"))}
        for g in entries
    ]
    return [Subheading(f"Slices by {column}"), _table(("value", "rows", *names), flat)]


def _columns(entries: Sequence[Mapping[str, Any]], first: Sequence[str]) -> tuple[str, ...]:
    keys = list(first)
    for entry in entries:
        keys += [str(k) for k in entry if str(k) not in keys]
    return tuple(keys)


def _flagged_first(entries: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    return sorted(entries, key=lambda e: e.get(key) is not True)


def _by_value(entries: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    def value(entry: Mapping[str, Any]) -> float:
        raw = entry.get(key)
        return float(raw) if isinstance(raw, int | float) and raw == raw else float("-inf")

    return sorted(entries, key=value, reverse=True)


def _part(
    evaluation: Mapping[str, Any], key: str, build: Callable[[Mapping[str, Any]], Chart | None]
) -> Chart | None:
    part = evaluation.get(key)
    return build(part) if isinstance(part, Mapping) else None


def _charts(*charts: Chart | None) -> list[Block]:
    return [c for c in charts if c is not None]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
