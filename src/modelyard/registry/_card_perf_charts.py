"""Performance charts of the model card: metrics with CIs, ROC, PR, calibration,
confusion matrix, residuals. Each builder returns ``None`` when there is nothing
to draw (a missing part, or only missing values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelyard.registry._card_charts import (
    COLORS,
    MAX_POINTS,
    floats,
    label,
    new_figure,
    number,
    style_axes,
    thin,
    to_chart,
)
from modelyard.registry._card_doc import Chart, fmt

__all__ = [
    "calibration_chart",
    "confusion_chart",
    "metrics_chart",
    "pr_chart",
    "predicted_actual_chart",
    "residual_histogram",
    "roc_chart",
]

MAX_METRICS = 12
MAX_CLASSES = 10
MAX_MATRIX = 30
MAX_SCATTER = 1000


def metrics_chart(metrics: Mapping[str, Any]) -> Chart | None:
    """One row per metric: the value with its 95% CI as error bars, each on its own scale."""
    rows = []
    for name, entry in metrics.items():
        entry = entry if isinstance(entry, Mapping) else {"value": entry}
        value = number(entry.get("value"))
        if np.isfinite(value):
            rows.append((name, value, number(entry.get("ci_low")), number(entry.get("ci_high"))))
    rows = rows[:MAX_METRICS]
    if not rows:
        return None
    from matplotlib.figure import Figure  # matplotlib loads when a card is drawn

    fig = Figure(figsize=(5.2, 0.55 * len(rows) + 0.7), layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (name, value, low, high) in zip(axes, rows, strict=True):
        style_axes(ax)
        errors = None
        if np.isfinite(low) and np.isfinite(high):
            errors = [[max(value - low, 0.0)], [max(high - value, 0.0)]]
        ax.errorbar([value], [0], xerr=errors, fmt="o", color=COLORS[0], capsize=4, ms=5)
        ax.set_yticks([0], [label(name)])
        ax.set_ylim(-1, 1)
        ax.grid(False, axis="y")
    axes[-1].set_xlabel("value (bars: 95% confidence interval)", fontsize=8)
    return to_chart(fig, "Metrics on the holdout with 95% bootstrap confidence intervals")


def roc_chart(roc: Mapping[str, Any]) -> Chart | None:
    """ROC curve (binary) or one curve per class (multiclass, first ten classes)."""
    curves = _curves(roc, "fpr", "tpr", "auc")
    if not curves:
        return None
    fig, ax = new_figure(4.6, 3.8)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=0.8)
    for i, (name, x, y, auc) in enumerate(curves):
        ax.plot(x, y, color=COLORS[i % len(COLORS)], linewidth=1.6, label=f"{name}AUC {fmt(auc)}")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="False positive rate", ylabel="True positive rate")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return to_chart(fig, "ROC curve")


def pr_chart(pr: Mapping[str, Any]) -> Chart | None:
    """Precision-recall curve with its average precision."""
    curves = _curves(pr, "recall", "precision", "average_precision")
    if not curves:
        return None
    fig, ax = new_figure(4.6, 3.8)
    _, recall, precision, ap = curves[0]
    ax.plot(recall, precision, color=COLORS[1], linewidth=1.6, label=f"AP {fmt(ap)}")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="Recall", ylabel="Precision")
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    return to_chart(fig, "Precision-recall curve")


def calibration_chart(calibration: Mapping[str, Any]) -> Chart | None:
    """Reliability diagram (mean predicted vs observed frequency) over a count histogram."""
    pred, true, count = thin(
        floats(calibration.get("prob_pred")),
        floats(calibration.get("prob_true")),
        floats(calibration.get("count")),
    )
    keep = np.isfinite(pred) & np.isfinite(true)
    if not keep.any():
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for ax in (top, bottom):
        style_axes(ax)
    top.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=0.8)
    top.plot(pred[keep], true[keep], marker="o", ms=4, color=COLORS[0], linewidth=1.4)
    top.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="Observed frequency")
    counts = np.nan_to_num(count[keep])
    bottom.bar(pred[keep], counts, width=0.8 / max(int(keep.sum()), 1), color=COLORS[0])
    bottom.set(xlabel="Mean predicted probability", ylabel="Rows")
    brier = calibration.get("brier")
    return to_chart(fig, f"Calibration (Brier score {fmt(brier)})")


def confusion_chart(confusion: Mapping[str, Any]) -> Chart | None:
    """Confusion-matrix heatmap, coloured by row share (recall), annotated with counts."""
    labels = list(confusion.get("labels") or [])[:MAX_MATRIX]
    rows = confusion.get("matrix") or []
    size = len(labels)
    if size == 0 or len(rows) < size or any(len(floats(row)) < size for row in rows[:size]):
        return None
    matrix = np.array([floats(row)[:size] for row in rows[:size]])
    if not np.isfinite(matrix).any():
        return None
    totals = np.nansum(matrix, axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    fig, ax = new_figure(3.2 + 0.25 * size, 2.8 + 0.25 * size)
    ax.grid(False)
    ax.pcolormesh(np.nan_to_num(share), cmap="Blues", vmin=0, vmax=1, edgecolors="white")
    if size <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if share[i, j] > 0.6 else "#222222"
            ax.text(
                j + 0.5,
                i + 0.5,
                fmt(int(value)) if np.isfinite(value) else "—",
                ha="center",
                va="center",
                fontsize=8,
                color=color,
            )
    names = [label(v) for v in labels]
    ax.set_xticks(np.arange(size) + 0.5, names, rotation=45 if size > 4 else 0, ha="right")
    ax.set_yticks(np.arange(size) + 0.5, names)
    ax.invert_yaxis()
    ax.set(xlabel="Predicted", ylabel="Actual")
    return to_chart(fig, "Confusion matrix (colour: share of the actual class)")


def residual_histogram(residuals: Mapping[str, Any]) -> Chart | None:
    """Histogram of residuals (actual - predicted) from stored edges and counts."""
    histogram = residuals.get("histogram") or {}
    edges, counts = floats(histogram.get("edges")), floats(histogram.get("counts"))
    if len(edges) != len(counts) + 1 or len(counts) == 0 or not np.isfinite(edges).all():
        return None
    fig, ax = new_figure()
    ax.stairs(np.nan_to_num(counts), edges, fill=True, color=COLORS[0], alpha=0.85)
    ax.axvline(0, color="#444444", linewidth=0.8, linestyle="--")
    ax.set(xlabel="Residual (actual - predicted)", ylabel="Rows")
    return to_chart(fig, "Residual distribution")


def predicted_actual_chart(residuals: Mapping[str, Any]) -> Chart | None:
    """Predicted vs actual for a sample of holdout rows, with the identity line."""
    sample = residuals.get("sample") or {}
    actual, predicted = thin(
        floats(sample.get("actual")), floats(sample.get("predicted")), limit=MAX_SCATTER
    )
    keep = np.isfinite(actual) & np.isfinite(predicted)
    if not keep.any():
        return None
    fig, ax = new_figure(4.6, 4.0)
    low = float(min(actual[keep].min(), predicted[keep].min()))
    high = float(max(actual[keep].max(), predicted[keep].max()))
    ax.plot([low, high], [low, high], linestyle="--", color="#999999", linewidth=0.8)
    ax.scatter(actual[keep], predicted[keep], s=6, alpha=0.5, color=COLORS[0], linewidths=0)
    ax.set(xlabel="Actual", ylabel="Predicted")
    return to_chart(fig, "Predicted vs actual")


def _curves(
    document: Mapping[str, Any], x_key: str, y_key: str, score_key: str
) -> list[tuple[str, Any, Any, Any]]:
    """``(name prefix, x, y, score)`` per drawable curve, thinned to ``MAX_POINTS``."""
    per_class = document.get("per_class")
    if isinstance(per_class, Mapping):
        items = [(f"{label(k)}: ", v) for k, v in per_class.items() if isinstance(v, Mapping)]
    else:
        items = [("", document)]
    curves = []
    for name, part in items[:MAX_CLASSES]:
        x, y = thin(floats(part.get(x_key)), floats(part.get(y_key)), limit=MAX_POINTS)
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() >= 2:
            curves.append((name, x[keep], y[keep], part.get(score_key)))
    return curves
